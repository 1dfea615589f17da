/**
 * Regression tests for the findings of the adversarial trial that concern the
 * Effect API (issue "Tried adversarially, part 1"): each failed before its fix.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Layer, Option } from "effect"
import { vi } from "vitest"
import { LoopLocal } from "../src/index.js"
import { makeLoop } from "./helpers.js"

const defectOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.dieOption(exit.cause)) : undefined

describe("singleton refuses scoped factories", () => {
  it("fails with a defect naming stickySingleton, and releases what the factory acquired", async () => {
    const released: Array<string> = []
    // A cast is the only way past the type error pinned below.
    const scoped = ((name: string) =>
      Effect.acquireRelease(Effect.succeed({ name }), (r) => Effect.sync(() => released.push(r.name)))) as unknown as (
      name: string
    ) => Effect.Effect<{ name: string }>
    const Scoped = LoopLocal.singleton(scoped)
    const loop = makeLoop()
    const exit = await loop.runPromise(Effect.exit(Effect.scoped(Scoped("x"))))
    const defect = defectOf(exit)
    expect(defect).toBeInstanceOf(TypeError)
    expect(String(defect)).toMatch(/needs a Scope.*use stickySingleton/)
    expect(released).toEqual(["x"])
    // Not cached: the next call tries again (and is refused again), rather than serving a released value.
    const again = await loop.runPromise(Effect.exit(Effect.scoped(Scoped("x"))))
    expect(String(defectOf(again))).toMatch(/use stickySingleton/)
    expect(released).toEqual(["x", "x"])
    await loop.dispose()
  })

  it("is a type error to use", () => {
    const Scoped = LoopLocal.singleton((n: number) => Effect.acquireRelease(Effect.succeed(n), () => Effect.void))
    // @ts-expect-error a singleton whose factory's effect needs a Scope is never
    expect(() => Scoped(1)).not.toThrow()
    LoopLocal.singleton((n: number) => Effect.succeed(n))(1)
  })

  it("still lets a singleton read its services", async () => {
    class Tenant extends Context.Tag("Tenant")<Tenant, string>() {}
    const Greeting = LoopLocal.singleton((n: number) => Effect.map(Tenant, (t) => `${t}:${n}`))
    const loop = makeLoop()
    expect(await loop.runPromise(Effect.provideService(Greeting(1), Tenant, "acme"))).toBe("acme:1")
    await loop.dispose()
  })
})

describe("memoize(layer) across two copies of the package", () => {
  it("builds once per loop, whichever copy provides it", async () => {
    vi.resetModules()
    const A = (await import("../src/index.js")).LoopLocal
    vi.resetModules()
    const B = (await import("../src/index.js")).LoopLocal
    expect(A).not.toBe(B)
    class Db extends Context.Tag("Db")<Db, { readonly n: number }>() {}
    let builds = 0
    const DbLive = Layer.scoped(
      Db,
      Effect.acquireRelease(
        Effect.sync(() => ({ n: ++builds })),
        () => Effect.void
      )
    )
    const runtime = makeLoop()
    const viaA = await runtime.runPromise(Effect.provide(Db, A.memoize(DbLive)))
    const viaB = await runtime.runPromise(Effect.provide(Db, B.memoize(DbLive)))
    expect(viaB).toBe(viaA)
    expect(builds).toBe(1)
    await runtime.dispose()
  })
})

describe("clear errors for bad input", () => {
  it("names null as null", () => {
    expect(() => LoopLocal.stickySingleton(null as never)).toThrow(/expects a function.*got null/)
    expect(() => LoopLocal.enter(null as never)).toThrow(/enter expects an Effect, got null/)
    expect(() => LoopLocal.memoize(null as never)).toThrow(/memoize expects a Layer or a function.*got null/)
  })

  it("says what memoize's function returned when it is not a Layer", async () => {
    const loop = makeLoop()
    const exit = await loop.runPromise(
      Effect.exit(Effect.scoped(Layer.build(LoopLocal.memoize(() => 5 as unknown as Layer.Layer<never>)())))
    )
    expect(String(defectOf(exit))).toMatch(/memoize's function must return a Layer, got the number 5/)
    await loop.dispose()
  })

  it("says what a factory returned when it is not an Effect, naming a Promise", async () => {
    const loop = makeLoop()
    const viaPromise = LoopLocal.stickySingleton(() => Promise.resolve(1) as unknown as Effect.Effect<number>)
    const exit = await loop.runPromise(Effect.exit(viaPromise()))
    expect(String(defectOf(exit))).toMatch(/must return an Effect, got a Promise \(wrap it: Effect\.tryPromise/)
    const viaNumber = LoopLocal.singleton((n: number) => n as unknown as Effect.Effect<number>)
    expect(String(defectOf(await loop.runPromise(Effect.exit(viaNumber(5)))))).toMatch(
      /factory of singleton 5 must return an Effect, got the number 5/
    )
    await loop.dispose()
  })

  it("formatShutdownReport rejects what is not a report with a TypeError", () => {
    expect(() => LoopLocal.formatShutdownReport(null as never)).toThrow(
      /formatShutdownReport expects a ShutdownReport, got null/
    )
    expect(() => LoopLocal.formatShutdownReport({} as never)).toThrow(TypeError)
  })
})
