import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { LoopLocal } from "../src/index.js"
import { makeLoop } from "./helpers.js"

class Db extends Context.Tag("Db")<Db, { readonly url: string; readonly build: number }>() {}

const countingDbLayer = (url = "postgres://db") => {
  const state = { built: 0, released: 0 }
  const layer = Layer.scoped(
    Db,
    Effect.acquireRelease(
      Effect.gen(function* () {
        yield* Effect.yieldNow()
        return { url, build: ++state.built }
      }),
      () => Effect.sync(() => void state.released++)
    )
  )
  return { state, layer }
}

describe("memoize(layer)", () => {
  it("builds once across 3 Effect.provide calls and 3 runPromise calls on one runtime, released at close", async () => {
    const { state, layer } = countingDbLayer()
    const DbLive = LoopLocal.memoize(layer)
    const useDb = Effect.provide(Db, DbLive)
    const loop = makeLoop()
    const inOneRun = await loop.runPromise(Effect.all([useDb, useDb, useDb]))
    const acrossRuns = [await loop.runPromise(useDb), await loop.runPromise(useDb), await loop.runPromise(useDb)]
    expect(new Set([...inOneRun, ...acrossRuns]).size).toBe(1)
    expect(state).toEqual({ built: 1, released: 0 })
    await loop.dispose()
    expect(state).toEqual({ built: 1, released: 1 })
  })

  it("shares one build between memoize calls of the same layer, and builds again in another loop", async () => {
    const { state, layer } = countingDbLayer()
    const loop1 = makeLoop()
    const loop2 = makeLoop()
    const a = await loop1.runPromise(Effect.provide(Db, LoopLocal.memoize(layer)))
    const b = await loop1.runPromise(Effect.provide(Db, LoopLocal.memoize(layer)))
    const c = await loop2.runPromise(Effect.provide(Db, LoopLocal.memoize(layer)))
    expect(a).toBe(b)
    expect(c).not.toBe(a)
    expect(state.built).toBe(2)
    await loop1.dispose()
    expect(state.released).toBe(1)
    await loop2.dispose()
    expect(state.released).toBe(2)
  })

  it("shares one build between concurrent provides", async () => {
    const { state, layer } = countingDbLayer()
    const DbLive = LoopLocal.memoize(layer)
    const loop = makeLoop()
    const all = await loop.runPromise(
      Effect.all(
        Array.from({ length: 10 }, () => Effect.provide(Db, DbLive)),
        { concurrency: "unbounded" }
      )
    )
    expect(new Set(all).size).toBe(1)
    expect(state.built).toBe(1)
    await loop.dispose()
  })

  it("does not cache a failed build: the next provide retries", async () => {
    let attempts = 0
    const Flaky = LoopLocal.memoize(
      Layer.effect(
        Db,
        Effect.suspend(() =>
          ++attempts === 1 ? Effect.fail("no route to host") : Effect.succeed({ url: "x", build: attempts })
        )
      )
    )
    const loop = makeLoop()
    expect(await loop.runPromise(Effect.either(Effect.provide(Db, Flaky)))).toMatchObject({ left: "no route to host" })
    expect(await loop.runPromise(Effect.provide(Db, Flaky))).toEqual({ url: "x", build: 2 })
    expect(await loop.runPromise(Effect.provide(Db, Flaky))).toEqual({ url: "x", build: 2 })
    await loop.dispose()
  })
})

describe("memoize(f)", () => {
  it("builds once per loop per argument key", async () => {
    const builds: Array<string> = []
    const released: Array<string> = []
    const DbFor = LoopLocal.memoize((url: string, options: { readonly poolSize: number }) =>
      Layer.scoped(
        Db,
        Effect.acquireRelease(
          Effect.sync(() => ({ url, build: builds.push(`${url}/${options.poolSize}`) })),
          () => Effect.sync(() => void released.push(url))
        )
      )
    )
    const loop = makeLoop()
    const urls = await loop.runPromise(
      Effect.all([
        Effect.provide(Db, DbFor("a", { poolSize: 5 })),
        Effect.provide(Db, DbFor("a", { poolSize: 5 })),
        Effect.provide(Db, DbFor("b", { poolSize: 5 })),
        Effect.provide(Db, DbFor("a", { poolSize: 6 }))
      ])
    )
    expect(urls[0]).toBe(urls[1])
    expect(builds).toEqual(["a/5", "b/5", "a/6"])
    await loop.dispose()
    expect(released).toEqual(["a", "b", "a"])
  })

  it("rejects what is neither a layer nor a function", () => {
    expect(() => LoopLocal.memoize(42 as never)).toThrow(TypeError)
  })
})
