/**
 * Library bugs the extended model test (model.test.ts) found on the current
 * code, each as a minimal reproduction: they fail until src/ is fixed.
 */
import { describe, expect, it } from "vitest"
import { run, singleton } from "../src/index.js"

describe("the Promise API's singleton, with a factory that fills in defaults on its argument", () => {
  // Model: `4: constructions 0 and 1 of promiseSingleton 1 on loop 2 overlap` (seed 20261125). The key is
  // snapshotted when the entry is inserted, after the factory ran, so it is the mutated argument: a caller passing
  // the same options again never hits, and every call runs the factory again beside the first (DESIGN: "a key is
  // snapshotted when its entry is made"; the Effect side and the Promise stickySingleton make it before the factory).
  it("keys the call by the argument as the caller passed it: the second equal call hits", async () => {
    await run(async () => {
      let calls = 0
      const client = singleton(async (options: { host: string; max?: number }) => {
        options.max ??= 10
        calls++
        return { options }
      })
      const first = await client({ host: "db" })
      const second = await client({ host: "db" })
      expect(calls).toBe(1)
      expect(second).toBe(first)
    })
  })

  it("keys the call by the arguments as passed when the factory pushes to an array argument", async () => {
    await run(async () => {
      let calls = 0
      const load = singleton((hosts: Array<string>) => {
        hosts.push("replica")
        calls++
        return calls
      })
      load(["db"])
      load(["db"])
      expect(calls).toBe(1)
    })
  })
})
