import { spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, describe, expect, it } from "vitest"

// Runs the project in test/fixtures/vitest-setup (three spec files, each checking that it runs on a fresh default
// loop, that the earlier files' loops of its worker were released, and that a module-level stickySingleton gives it
// a value of its own) with the workspace's Vitest, under each pool and isolation mode, with and without the README's
// setup file (vitest.setup.ts). The fixture imports the built package (dist/): `pnpm test` builds first.

const projectDir = fileURLToPath(new URL("./fixtures/vitest-setup/", import.meta.url))
const vitestBin = fileURLToPath(new URL("../../../node_modules/.bin/vitest", import.meta.url))
const scratch = mkdtempSync(join(tmpdir(), "loop-local-vitest-setup-"))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

interface Outcome {
  readonly passed: number
  readonly failed: number
  /** Per file: its status and the message of an error outside its tests (a failing afterAll). */
  readonly files: Record<string, { readonly status: string; readonly message: string }>
  /** The lines the fixture's releases wrote, in order. */
  readonly released: Array<string>
  /** What Vitest's default reporter printed. */
  readonly output: string
  readonly ms: number
}

// Two runs at a time: each is a Vitest of its own, with its workers.
let running = 0
const queue: Array<() => void> = []
const slot = async () => {
  if (running >= 2) await new Promise<void>((resolve) => queue.push(resolve))
  running++
  return () => {
    running--
    queue.shift()?.()
  }
}

let runs = 0
const vitest = async (args: ReadonlyArray<string>): Promise<Outcome> => {
  const release = await slot()
  const started = Date.now()
  const id = ++runs
  const report = join(scratch, `report-${id}.json`)
  const releaseLog = join(scratch, `released-${id}.txt`)
  // The outer Vitest's variables would make the inner one think it runs inside a worker; no colours in its output.
  let output = ""
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(VITEST|TINYPOOL|FORCE_COLOR)/.test(k)))
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        vitestBin,
        ["run", ...args, "--reporter=default", "--reporter=json", `--outputFile.json=${report}`],
        {
          cwd: projectDir,
          env: { ...env, NO_COLOR: "1", RELEASE_LOG: releaseLog },
          stdio: ["ignore", "pipe", "pipe"]
        }
      )
      child.stdout!.on("data", (chunk: Buffer) => {
        output += chunk.toString()
      })
      child.stderr!.on("data", (chunk: Buffer) => {
        output += chunk.toString()
      })
      const timer = setTimeout(() => child.kill("SIGKILL"), 50_000)
      child.on("error", reject)
      child.on("close", (code) => {
        clearTimeout(timer)
        if (code === 0 || code === 1) resolve()
        else reject(new Error(`vitest ${args.join(" ")} exited ${code}: ${output}`))
      })
    })
    const json = JSON.parse(readFileSync(report, "utf8")) as {
      numPassedTests: number
      numFailedTests: number
      testResults: Array<{ name: string; status: string; message: string }>
    }
    let released: Array<string> = []
    try {
      released = readFileSync(releaseLog, "utf8").split("\n").filter(Boolean)
    } catch {}
    return {
      passed: json.numPassedTests,
      failed: json.numFailedTests,
      files: Object.fromEntries(
        json.testResults.map((r) => [r.name.slice(projectDir.length), { status: r.status, message: r.message }])
      ),
      released,
      output,
      ms: Date.now() - started
    }
  } finally {
    release()
  }
}

const modes = [
  ["forks", false],
  ["threads", false],
  ["forks", true],
  ["threads", true]
] as const
// --no-isolate with one worker: the three files share it, the case the setup file is for.
const argsOf = (pool: string, noIsolate: boolean) =>
  noIsolate ? [`--pool=${pool}`, "--no-isolate", "--maxWorkers=1", "--minWorkers=1"] : [`--pool=${pool}`]

describe.concurrent("a Vitest setup file with afterAll(() => shutdown({ renew: true }))", () => {
  for (const [pool, noIsolate] of modes) {
    it(`gives every file a fresh loop and runs its releases: --pool=${pool}${noIsolate ? " --no-isolate" : ""}`, {
      timeout: 90_000
    }, async () => {
      const outcome = await vitest(argsOf(pool, noIsolate))
      expect(outcome.failed).toBe(0)
      expect(outcome.passed).toBe(9)
      // Each file's client and atExit were released, in that file's loop, once; under --no-isolate in loops 1, 2, 3.
      expect([...outcome.released].sort()).toEqual(
        ["a", "b", "c"].flatMap((f) => [
          expect.stringMatching(new RegExp(`^${f}: atExit ran \\(loop \\d+\\)$`)),
          expect.stringMatching(new RegExp(`^${f}: client released \\(loop \\d+\\)$`))
        ])
      )
      if (noIsolate) expect(new Set(outcome.released.map((l) => /loop (\d+)/.exec(l)![1])).size).toBe(3)
    })
  }

  it("without it, under --pool=threads (isolated), every file passes but none of its releases runs", {
    timeout: 90_000
  }, async () => {
    const outcome = await vitest(["--config", "vitest.no-setup.config.ts", ...argsOf("threads", false)])
    expect(outcome).toMatchObject({ passed: 9, failed: 0, released: [] })
  })

  for (const pool of ["forks", "threads"]) {
    it(`without it, under --pool=${pool} --no-isolate, the later files share the first file's loop: 6 of 9 fail`, {
      timeout: 90_000
    }, async () => {
      const outcome = await vitest(["--config", "vitest.no-setup.config.ts", ...argsOf(pool, true)])
      expect(outcome).toMatchObject({ passed: 3, failed: 6, released: [] })
    })
  }

  it("with a hanging release (2 s deadlines), fails each file naming it, not with 'Hook timed out'", {
    timeout: 90_000
  }, async () => {
    const outcome = await vitest(["--config", "vitest.deadline.config.ts"])
    expect(outcome.passed).toBe(2)
    expect(outcome.files["deadline/promise.spec.ts"]).toEqual({
      status: "failed",
      message: expect.stringMatching(/^loop \d+ closed in \d+ ms: 0 released, 0 failed, 1 abandoned\n {2}abandoned/)
    })
    expect(outcome.files["deadline/effect.spec.ts"]?.status).toBe("failed")
    expect(outcome.output).toMatch(
      /FAIL {2}deadline\/effect\.spec\.ts > an Effect test with a hanging release\nError: loop-local: the release of atExit #1 did not finish within the deadline \(2000 ms\)/
    )
    expect(outcome.output).not.toMatch(/Hook timed out/)
  })
})
