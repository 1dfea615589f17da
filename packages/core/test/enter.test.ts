import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import { LoopLocal } from "../src/index.js"
import { isLoopClosed, makeCounter, makeLoop } from "./helpers.js"

describe("enter", () => {
  it("acquires on every call and releases everything when its loop closes (ported: enter twice, twice more)", async () => {
    const { state, resource } = makeCounter()
    const twice = Effect.all([LoopLocal.enter(resource), LoopLocal.enter(resource)])

    const loop1 = makeLoop()
    const first = await loop1.runPromise(twice)
    const second = await loop1.runPromise(twice)
    expect(state.acquired).toBe(4)
    expect(state.released).toBe(0)
    expect([...first, ...second].map((r) => r.n)).toEqual([1, 2, 3, 4])
    expect([...first, ...second].some((r) => r.released)).toBe(false)
    await loop1.dispose()
    expect(state.released).toBe(4)
    expect([...first, ...second].every((r) => r.released)).toBe(true)

    const loop2 = makeLoop()
    await loop2.runPromise(twice)
    await loop2.runPromise(twice)
    expect(state.acquired).toBe(8)
    expect(state.released).toBe(4)
    await loop2.dispose()
    expect(state.released).toBe(8)
  })

  it.effect("uses the loop's lifetime, not the caller's scope", () =>
    Effect.gen(function* () {
      const { state, resource } = makeCounter()
      const loopScope = yield* Scope.make()
      const loop = yield* Scope.extend(LoopLocal.make, loopScope)
      yield* Effect.scoped(Effect.provideService(LoopLocal.enter(resource), LoopLocal.LoopLocal, loop))
      expect(state).toMatchObject({ acquired: 1, released: 0 })
      yield* Scope.close(loopScope, Exit.void)
      expect(state).toMatchObject({ acquired: 1, released: 1 })
    })
  )

  it("releases a partial acquisition when the caller is interrupted, and keeps nothing", async () => {
    const log: Array<string> = []
    const twoSteps = Effect.gen(function* () {
      yield* Effect.acquireRelease(
        Effect.sync(() => log.push("a1")),
        () => Effect.sync(() => log.push("r1"))
      )
      yield* Effect.never
    })
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        const fiber = yield* Effect.fork(LoopLocal.enter(twoSteps))
        while (log.length === 0) yield* Effect.yieldNow()
        yield* Fiber.interrupt(fiber)
      })
    )
    expect(log).toEqual(["a1", "r1"])
    expect(await loop.runPromise(LoopLocal.inspect)).toEqual([])
    await loop.dispose()
    expect(log).toEqual(["a1", "r1"])
  })

  it("fails with LoopClosedError once its loop is closed", async () => {
    const { state, resource } = makeCounter()
    const loop = makeLoop()
    const live = await loop.runtime()
    await loop.dispose()
    const exit = await Effect.runPromiseExit(Effect.provide(LoopLocal.enter(resource), live))
    expect(isLoopClosed(exit)).toBe(true)
    expect(state.acquired).toBe(0)
  })
})
