import { Cause, Effect, Layer, ManagedRuntime } from "effect"
import { describe, expect, it, vi } from "vitest"
import { type Logged, recordLogs } from "./helpers.js"

// This file closes the realm's default loop at its end: Vitest runs each test file in a process of its own.
const importCopy = async () => {
  vi.resetModules()
  return (await import("../src/index.js")).LoopLocal
}

describe("the default loop", () => {
  it("is shared by two copies of the package", async () => {
    const A = await importCopy()
    const B = await importCopy()
    expect(A).not.toBe(B)
    expect(A.LoopLocal).not.toBe(B.LoopLocal)
    const [loopA, loopB] = [await A.runPromise(A.LoopLocal), await B.runPromise(B.LoopLocal)]
    expect(loopA).toBe(loopB)
    expect(await A.runPromise(A.storage)).toBe(await B.runPromise(B.storage))
    // A singleton of one copy, run by the other copy's entry point, lands in the same table.
    let runs = 0
    const Client = A.singleton((url: string) => Effect.sync(() => ({ url, n: ++runs })))
    const viaA = await A.runPromise(Client("http://x"))
    const viaB = await B.runPromise(Client("http://x"))
    expect(viaB).toBe(viaA)
    expect(runs).toBe(1)
    const viaLayer = await Effect.runPromise(Effect.provide(Client("http://x"), B.Default))
    expect(viaLayer).toBe(viaA)
  })

  it("is provided, not owned, by LoopLocal.Default: disposing a runtime built from it closes nothing", async () => {
    const LoopLocal = await importCopy()
    const runtime = ManagedRuntime.make(Layer.merge(LoopLocal.Default, Layer.empty))
    const released: Array<string> = []
    await runtime.runPromise(LoopLocal.atExit(Effect.sync(() => released.push("default"))))
    const loop = await runtime.runPromise(LoopLocal.LoopLocal)
    await runtime.dispose()
    expect(loop.isClosed).toBe(false)
    expect(released).toEqual([])
    expect(await LoopLocal.runPromise(LoopLocal.LoopLocal)).toBe(loop)
  })

  it("shutdown closes it once, reports each release, and later uses fail with LoopClosedError", async () => {
    const LoopLocal = await importCopy()
    const log: Array<string> = []
    await LoopLocal.runPromise(
      Effect.gen(function* () {
        yield* LoopLocal.enter(Effect.acquireRelease(Effect.succeed("conn"), () => Effect.sync(() => log.push("conn"))))
        yield* LoopLocal.atExit(Effect.die(new Error("flush failed")))
        yield* LoopLocal.atExit(Effect.sync(() => log.push("last")))
      })
    )
    // Each shutdown has the recording logger: whichever one runs the close logs its failed release there.
    const logs: Array<Logged> = []
    const shutdown = Effect.provide(LoopLocal.shutdown, recordLogs(logs))
    const [report, again] = await Promise.all([Effect.runPromise(shutdown), Effect.runPromise(shutdown)])
    expect(again).toBe(report)
    expect(await Effect.runPromise(shutdown)).toBe(report)
    // "default" (registered by the previous test on this realm's loop) ran too: the loop is one.
    expect(log).toEqual(["last", "conn"])
    expect(report.releases.map((r) => [r.kind, r.outcome])).toEqual([
      ["atExit", "ok"],
      ["atExit", "failed"],
      ["enter", "ok"],
      ["atExit", "ok"]
    ])
    const failed = report.releases[1]!
    expect(Cause.pretty(failed.cause!)).toMatch(/flush failed/)
    expect(report.releases.every((r) => r.durationMs >= 0)).toBe(true)
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(
          new RegExp(`^loop-local: the release of atExit ${failed.key} failed after \\d+ ms$`)
        ),
        cause: expect.stringMatching(/^Error: flush failed\n/)
      }
    ])
    await expect(LoopLocal.runPromise(LoopLocal.storage)).rejects.toMatchObject({ _tag: "LoopClosedError" })
  })
})
