import { describe, expect, it } from "vitest"
import { lines, spawnFixture } from "./child.js"

// These run the built package (dist/) with plain node: `pnpm test` builds before testing.

describe("the default loop in a process", () => {
  it("closes on beforeExit: a script that enters a resource and ends prints its release and exits 0", async () => {
    const { finished } = spawnFixture("before-exit.mjs")
    const { code, stdout, stderr } = await finished
    expect(stderr).toBe("")
    expect(lines(stdout)).toEqual(["main done", "released connection", "released pool db"])
    expect(code).toBe(0)
  })

  it("installs no signal handler on import or use, without closeOnSignals()", async () => {
    const { finished } = spawnFixture("no-handlers.mjs")
    const { code, stdout } = await finished
    expect(code).toBe(0)
    const { before, after } = JSON.parse(stdout) as { before: Array<number>; after: Array<number> }
    expect(after).toEqual(before)
  })

  it("gives each worker thread its own default loop, released when the worker ends normally", async () => {
    const { finished } = spawnFixture("worker.mjs")
    const { code, stdout, stderr } = await finished
    expect(stderr).toBe("")
    expect(code).toBe(0)
    const [report, ...rest] = lines(stdout)
    const { messages, code: workerCode } = JSON.parse(report!) as { messages: Array<string>; code: number }
    expect(workerCode).toBe(0)
    expect(messages).toEqual(["worker loop 1 serial 1 same true", "worker released db"])
    expect(rest).toEqual(["main released db"])
  })
})

describe("closeOnSignals", () => {
  for (const [signal, exitCode] of [
    ["SIGTERM", 143],
    ["SIGINT", 130]
  ] as const) {
    it(`on ${signal}, runs the release of a process with a pending timer, then exits ${exitCode}`, async () => {
      const { child, finished, waitFor } = spawnFixture("signals.mjs")
      await waitFor("ready")
      child.kill(signal)
      const { code, stdout, stderr } = await finished
      expect(lines(stdout)).toEqual(["ready", "released connection"])
      expect(stderr).toBe("")
      expect(code).toBe(exitCode)
    })
  }

  it("abandons a release that hangs past the deadline, names it on stderr, and still exits", async () => {
    const { child, finished, waitFor } = spawnFixture("signals.mjs", ["hang"], { DEADLINE_MS: "300" })
    await waitFor("ready")
    const sentAt = Date.now()
    child.kill("SIGTERM")
    const { code, stdout, stderr } = await finished
    expect(Date.now() - sentAt).toBeLessThan(5_000)
    expect(code).toBe(143)
    // A Promise user is warned on stderr in a plain line with the error's stack, then the shutdown report follows.
    expect(lines(stdout)).toEqual(["ready", "released connection"])
    expect(stderr).toMatch(
      /^loop-local: the release of atExit #\d+ abandoned after \d+ ms\nloop-local: the release of atExit #\d+ did not finish within the deadline \(300 ms\) and was abandoned\n/
    )
    expect(stderr).toMatch(
      /\nloop \d+ closed in \d+ ms: 1 released, 0 failed, 1 abandoned\n {2}abandoned +\d+ ms {2}atExit #\d+\n {2}ok +\d+ ms {2}enter \{\}/
    )
    expect(stderr).not.toMatch(/level=|fiberRuntime/)
  })

  it("exits at once on a second signal", async () => {
    const { child, finished, waitFor } = spawnFixture("signals.mjs", ["hang"], { DEADLINE_MS: "60000" })
    await waitFor("ready")
    child.kill("SIGINT")
    await new Promise((resolve) => setTimeout(resolve, 200))
    const sentAt = Date.now()
    child.kill("SIGINT")
    const { code } = await finished
    expect(Date.now() - sentAt).toBeLessThan(5_000)
    expect(code).toBe(130)
  })
})

describe("NodeLoopLocal.runMain", () => {
  it("on completion, closes the default loop and the process ends by itself with 0", async () => {
    const { finished } = spawnFixture("run-main.mjs", ["ok"])
    const { code, stdout, stderr } = await finished
    expect(stderr).toBe("")
    expect(lines(stdout)).toEqual(["using http://127.0.0.1:8080", "released pool http://127.0.0.1:8080"])
    expect(code).toBe(0)
  })

  it("on failure, releases, prints the cause and exits 1", async () => {
    const { finished } = spawnFixture("run-main.mjs", ["fail"])
    const { code, stdout, stderr } = await finished
    expect(lines(stdout)).toContain("released pool http://127.0.0.1:8080")
    expect(stdout + stderr).toMatch(/main went wrong/)
    expect(code).toBe(1)
  })

  it("prints the shutdown report on stderr and exits 1 when a release failed", async () => {
    const { finished } = spawnFixture("run-main.mjs", ["release-fails"])
    const { code, stdout, stderr } = await finished
    expect(lines(stdout)).toContain("released pool http://127.0.0.1:8080")
    expect(stderr).toMatch(
      /^loop \d+ closed in \d+ ms: 1 released, 1 failed, 0 abandoned\n {2}failed +\d+ ms {2}atExit #\d+: Error: flush failed\n {2}ok +\d+ ms {2}stickySingleton "http:\/\/127\.0\.0\.1:8080"/
    )
    expect(code).toBe(1)
  })

  for (const [signal, exitCode] of [
    ["SIGTERM", 143],
    ["SIGINT", 130]
  ] as const) {
    it(`on ${signal}, interrupts main, releases and exits ${exitCode}`, async () => {
      const { child, finished, waitFor } = spawnFixture("run-main.mjs", ["wait"])
      await waitFor("ready")
      child.kill(signal)
      const { code, stdout } = await finished
      expect(lines(stdout)).toEqual(["using http://127.0.0.1:8080", "ready", "released pool http://127.0.0.1:8080"])
      expect(code).toBe(exitCode)
    })
  }
})

describe("no leaks", () => {
  it("collects 2,000 closed loops and everything they cached, with a flat heap", async () => {
    const { finished } = spawnFixture("leak.mjs", ["2000"], {}, ["--expose-gc"])
    const { code, stdout, stderr } = await finished
    expect(stderr).toBe("")
    expect(code).toBe(0)
    const { registered, collected, heapGrowth } = JSON.parse(stdout) as {
      registered: number
      collected: number
      heapGrowth: number
    }
    expect(registered).toBeGreaterThanOrEqual(14_000)
    expect(collected).toBe(registered)
    // Flat: the last 1,000 loops left less than 768 KiB behind them, where a leaked loop (about a kilobyte) each would not.
    expect(heapGrowth).toBeLessThan(768 * 1024)
  }, 60_000)
})

describe("closeOnSignals under faults (found by trying it adversarially)", () => {
  it("with a top-level await run(main) failing under the signal, still runs every loop's releases, then exits 143", async () => {
    const { child, finished, waitFor } = spawnFixture("signal-run-main.mjs")
    await waitFor("ready")
    await new Promise((resolve) => setTimeout(resolve, 50))
    child.kill("SIGTERM")
    const { code, stdout, stderr } = await finished
    expect(lines(stdout)).toEqual(["ready", "run-loop client released", "default-loop metrics flushed", "exit 143"])
    expect(stderr).toMatch(/loop-local: while closing on SIGTERM: LoopClosedError/)
    expect(code).toBe(143)
  })

  it("releases values whose construction was in flight at the signal, on both APIs, before exiting", async () => {
    const { child, finished, waitFor } = spawnFixture("signal-in-flight.mjs")
    await waitFor("ready")
    child.kill("SIGTERM")
    const { code, stdout, stderr } = await finished
    const out = lines(stdout)
    expect(new Set(out)).toEqual(
      new Set([
        "ready",
        "promise-side caller: LoopClosedError",
        "effect-side caller: LoopClosedError",
        "promise-side constructed",
        "effect-side constructed",
        "promise-side released",
        "effect-side released",
        "exit 143"
      ])
    )
    expect(out.at(-1)).toBe("exit 143")
    expect(stderr).toBe("")
    expect(code).toBe(143)
  })
})
