import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, ManagedRuntime } from "effect"
import { LoopLocal } from "../src/index.js"
import { captureConsole } from "./helpers.js"

describe("LoopLocal.layerWith / makeWith", () => {
  it("layerWith({ deadline }) bounds the close: a hanging release is abandoned at that deadline and reported", async () => {
    const logs = captureConsole()
    const runtime = ManagedRuntime.make(LoopLocal.layerWith({ deadline: "50 millis" }))
    await runtime.runPromise(LoopLocal.atExit(Effect.never))
    const started = Date.now()
    const disposed = await runtime.dispose().then(
      () => "resolved",
      (e: unknown) => String(e)
    )
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(disposed).toMatch(/did not finish within the deadline \(50 ms\)/)
    expect(logs.map((l) => l.message)).toEqual([expect.stringMatching(/atExit #1 abandoned/)])
  })

  it("makeWith({ deadline }) does the same for a loop closed with a scope", async () => {
    const logs = captureConsole()
    const exit = await Effect.runPromiseExit(
      Effect.scoped(
        Effect.flatMap(LoopLocal.makeWith({ deadline: 30 }), (loop) =>
          Effect.promise(() => loop.runPromise(LoopLocal.atExit(Effect.never)))
        )
      )
    )
    expect(Exit.isFailure(exit) && String(exit.cause)).toMatch(/within the deadline \(30 ms\)/)
    expect(logs).toHaveLength(1)
  })

  it("rejects a deadline that is not a positive duration with a TypeError", () => {
    for (const deadline of [0, -1, Number.NaN, "soon", null]) {
      expect(() => LoopLocal.layerWith({ deadline: deadline as never })).toThrow(
        /layerWith's options.deadline must be a positive Duration/
      )
    }
    expect(() => LoopLocal.makeWith(5 as never)).toThrow(/makeWith's options must be an object, got the number 5/)
  })
})
