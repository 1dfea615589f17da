import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Option } from "effect"
import { LoopLocal } from "../src/index.js"
import { captureConsole, makeLoop } from "./helpers.js"

class Config extends Context.Tag("Config")<Config, { readonly n: number }>() {}
class Db extends Context.Tag("Db")<Db, { readonly config: number }>() {}
class Cache extends Context.Tag("Cache")<Cache, { readonly config: number }>() {}

describe("memoized layers", () => {
  it("share one MemoMap per loop: a sub-layer two memoized layers depend on is built once", async () => {
    let configs = 0
    const ConfigLive = Layer.effect(
      Config,
      Effect.sync(() => ({ n: ++configs }))
    )
    const DbLive = LoopLocal.memoize(
      Layer.effect(
        Db,
        Effect.map(Config, (c) => ({ config: c.n }))
      ).pipe(Layer.provide(ConfigLive))
    )
    const CacheLive = LoopLocal.memoize(
      Layer.effect(
        Cache,
        Effect.map(Config, (c) => ({ config: c.n }))
      ).pipe(Layer.provide(ConfigLive))
    )
    const loop = makeLoop()
    const [db, cache] = await loop.runPromise(
      Effect.all([Effect.provide(Db, DbLive), Effect.provide(Cache, CacheLive)])
    )
    expect(configs).toBe(1)
    expect(db.config).toBe(cache.config)
    await loop.dispose()
  })

  it("are named in inspect by the services they provide", async () => {
    const loop = makeLoop()
    await loop.runPromise(Effect.provide(Db, LoopLocal.memoize(Layer.succeed(Db, { config: 1 }))))
    const held = await loop.runPromise(LoopLocal.inspect)
    expect(held.map((e) => `${e.kind} ${e.key}`)).toEqual(["memoize Layer<Db>"])
    await loop.dispose()
  })
})

describe("a pile-up made by mistake", () => {
  it("is warned about once per loop: a layer memoized per request holds a build per request", async () => {
    const logs = captureConsole()
    const loop = makeLoop()
    const handle = (i: number) => Effect.provide(Db, LoopLocal.memoize(Layer.succeed(Db, { config: i }))) // a new layer, so a new key, per call
    for (let i = 0; i < 25; i++) await loop.runPromise(handle(i))
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(
          /holds 10 memoize values whose keys all read Layer<Db>: each call makes a new key.*module level.*options.key.*options.id/
        ),
        cause: ""
      }
    ])
    await loop.dispose()
  })

  it("is not warned about for ten distinct keys", async () => {
    const logs = captureConsole()
    const Pool = LoopLocal.stickySingleton((url: string) =>
      Effect.acquireRelease(Effect.succeed(url), () => Effect.void)
    )
    const loop = makeLoop()
    for (let i = 0; i < 20; i++) await loop.runPromise(Pool(`postgres://db-${i}`))
    expect(logs).toEqual([])
    await loop.dispose()
  })
})

describe("LoopLocal.isLoopClosedError", () => {
  it("is the guard for the defect of a closed loop", async () => {
    const loop = makeLoop()
    const runtimeLoop = await loop.runPromise(LoopLocal.LoopLocal)
    await loop.dispose()
    const exit = await Effect.runPromiseExit(Effect.provideService(LoopLocal.storage, LoopLocal.LoopLocal, runtimeLoop))
    const defect = Exit.isFailure(exit)
      ? Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.flatMap((c) => Option.fromNullable(c))))
      : undefined
    expect(defect).toBeDefined()
    const caught = await Effect.runPromise(
      Effect.catchSomeDefect(Effect.provideService(LoopLocal.storage, LoopLocal.LoopLocal, runtimeLoop), (d) =>
        LoopLocal.isLoopClosedError(d) ? Option.some(Effect.succeed("closed")) : Option.none()
      )
    )
    expect(caught).toBe("closed")
    expect(LoopLocal.isLoopClosedError(new Error("x"))).toBe(false)
    expect(LoopLocal.isLoopClosedError({ _tag: "LoopClosedError", loopId: 3 })).toBe(true)
  })
})
