import { availableParallelism } from "node:os"
import { beforeAll, describe, expect, it } from "vitest"
import { lines } from "./child.js"
import { compileExamples, spawnBounded, startDownstream } from "./servers.js"

// The worker recipes (examples/worker-threads.ts, examples/piscina.ts, compiled to test/fixtures/dist/ with types
// stripped) and their controls run with plain node against the built package (dist/): `pnpm test` builds first.
// Each worker (one per core: availableParallelism()) uses an undici Pool to a downstream service this test runs, from the worker's own default loop;
// the pool's release prints "downstream pool closed". (Counting the downstream's open connections would tell
// nothing here: a terminated worker's sockets are closed with its event loop, released or not.)

beforeAll(() => compileExamples())
const WORKERS = availableParallelism()

/** Runs the fixture; with `signal`, sends it once the fixture has printed "ready". */
const runWorkers = async (fixture: string, args: ReadonlyArray<string>, signal?: NodeJS.Signals) => {
  const downstream = await startDownstream(20)
  try {
    const { child, finished, waitFor } = spawnBounded(fixture, { DOWNSTREAM_URL: downstream.url }, 20_000, args)
    if (signal !== undefined) {
      await waitFor("ready")
      child.kill(signal)
    }
    const { code, stdout, stderr } = await finished
    const out = lines(stdout)
    return {
      code,
      stderr,
      stdout: out.filter((l) => l !== "downstream pool closed"),
      released: out.filter((l) => l === "downstream pool closed").length,
      open: await downstream.settled(1_000)
    }
  } finally {
    await downstream.close()
  }
}

describe("worker threads", () => {
  it(`worker.terminate() runs none of a worker's releases: 0 of ${WORKERS}`, async () => {
    const run = await runWorkers("workers-terminate.mjs", ["threads"])
    expect(run).toEqual({ code: 0, stderr: "", stdout: ["all workers terminated"], released: 0, open: 0 })
  })

  it(`neither does SIGTERM under the main thread's plain closeOnSignals(): 0 of ${WORKERS}, exit 143`, async () => {
    const run = await runWorkers("workers-terminate.mjs", ["signal"], "SIGTERM")
    expect(run).toEqual({ code: 143, stderr: "", stdout: ["ready"], released: 0, open: 0 })
  })

  it(`the recipe (closeWorker in the drain: a close message, shutdown() in the worker) runs every release: ${WORKERS} of ${WORKERS}, exit 143`, async () => {
    const run = await runWorkers("dist/worker-threads.js", [], "SIGTERM")
    expect(run).toEqual({ code: 143, stderr: "", stdout: ["ready"], released: WORKERS, open: 0 })
  })
})

describe("piscina", () => {
  it(`pool.destroy() runs none of the workers' releases: 0 of ${WORKERS}`, async () => {
    const run = await runWorkers("workers-terminate.mjs", ["piscina"])
    expect(run).toEqual({ code: 0, stderr: "", stdout: ["pool destroyed"], released: 0, open: 0 })
  })

  it(`the recipe (a BroadcastChannel asks every worker to run shutdown() before destroy) runs every release: ${WORKERS} of ${WORKERS}`, async () => {
    const run = await runWorkers("dist/piscina.js", [])
    expect(run).toEqual({ code: 0, stderr: "", stdout: ["pool destroyed"], released: WORKERS, open: 0 })
  })
})
