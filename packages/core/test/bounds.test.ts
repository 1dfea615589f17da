/**
 * Bounded entries and stable identity on the Effect API (DESIGN.md "Bounded
 * entries" and "Stable identity across reloads"); platform-node's
 * test/bounds.test.ts covers the Promise API.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer } from "effect"
import { LoopLocal } from "../src/index.js"
import * as Binding from "../src/internal/binding.js"
import { captureConsole, makeLoop } from "./helpers.js"

const turn = Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))

const pools = (options: LoopLocal.KeyOptions<[string]>) => {
  const log: Array<string> = []
  let made = 0
  const Pool = LoopLocal.stickySingleton(
    (key: string) =>
      Effect.acquireRelease(
        Effect.sync(() => ({ key, n: ++made })),
        (p) => Effect.sync(() => void log.push(`released ${p.key}`))
      ),
    options
  )
  return { log, Pool, made: () => made }
}

describe("capacity (Effect)", () => {
  it("evicts the least recently used others past it, released a turn later; a hit is a use", async () => {
    const { log, Pool } = pools({ capacity: 2 })
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        const a = yield* Pool("a")
        yield* Pool("b")
        expect(yield* Pool("a")).toBe(a)
        yield* Pool("c")
        expect(log).toEqual([])
        yield* turn
        expect(log).toEqual(["released b"])
        const held = yield* LoopLocal.inspect
        expect(held.map((e) => e.key)).toEqual(['"a"', '"c"'])
      })
    )
    await loop.dispose()
  })

  it("bounds memoize(f)'s builds per loop too, and memoize(f).invalidate rebuilds", async () => {
    class Db extends Context.Tag("Db")<Db, { readonly url: string; readonly n: number }>() {}
    const log: Array<string> = []
    let builds = 0
    const DbFor = LoopLocal.memoize(
      (url: string) =>
        Layer.scoped(
          Db,
          Effect.acquireRelease(
            Effect.sync(() => ({ url, n: ++builds })),
            (db) => Effect.sync(() => void log.push(`closed ${db.url}`))
          )
        ),
      { capacity: 1 }
    )
    const loop = makeLoop()
    const first = await loop.runPromise(Effect.provide(Db, DbFor("a")))
    expect(await loop.runPromise(Effect.provide(Db, DbFor("a")))).toBe(first)
    await loop.runPromise(Effect.provide(Db, DbFor("b")))
    await loop.runPromise(turn)
    expect(log).toEqual(["closed a"])
    await loop.runPromise(DbFor.invalidate("b"))
    expect(log).toEqual(["closed a", "closed b"])
    expect((await loop.runPromise(Effect.provide(Db, DbFor("b")))).n).toBe(3)
    await loop.dispose()
  })
})

describe("times to live (Effect)", () => {
  it("timeToLive: the next call after it constructs anew; idleTimeToLive: an unused value goes", async () => {
    const ttl = pools({ timeToLive: "30 millis" })
    const idle = pools({ idleTimeToLive: "30 millis" })
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        const first = yield* ttl.Pool("token")
        yield* idle.Pool("idle")
        yield* Effect.sleep("60 millis")
        const second = yield* ttl.Pool("token")
        expect(second).not.toBe(first)
        yield* turn
        expect(ttl.log).toEqual(["released token"])
        expect(idle.log).toEqual(["released idle"])
      })
    )
    await loop.dispose()
  })

  it("rejects a duration that is not positive with a TypeError at definition", () => {
    for (const d of [0, -1, "soon", Number.NaN]) {
      expect(() => pools({ idleTimeToLive: d as never })).toThrow(/idleTimeToLive must be a positive Duration/)
      expect(() => pools({ timeToLive: d as never })).toThrow(/timeToLive must be a positive Duration/)
    }
    expect(() => pools({ capacity: 0 })).toThrow(/capacity must be a positive integer/)
  })
})

describe("eviction during a close (Effect)", () => {
  it("a failing eviction release is logged, reaches no caller, and a close waits for one still running", async () => {
    const logs = captureConsole()
    let calls = 0
    const Pool = LoopLocal.stickySingleton(
      (key: string) =>
        Effect.acquireRelease(Effect.succeed(key), (k) =>
          k === "a" ? Effect.die(new Error("close failed")) : Effect.sleep("40 millis")
        ),
      { capacity: 1 }
    )
    const loop = Binding.makeLoop()
    await loop.runPromise(Pool("a"))
    const exit = await loop.runPromise(
      Effect.exit(
        Effect.zipRight(
          Pool("b"),
          Effect.sync(() => ++calls)
        )
      )
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    await loop.runPromise(Effect.zipRight(turn, Pool("c")))
    const report = await Binding.close(loop)
    // b's eviction release was still running when the close began: awaited, and in the report.
    expect(report.releases.map((r) => `${r.key} ${r.outcome}`).sort()).toEqual(['"b" ok', '"c" ok'])
    expect(logs.map((l) => l.message)).toEqual([expect.stringMatching(/release of stickySingleton "a" failed/)])
  })
})

describe("id (Effect)", () => {
  it("shares values between definitions under one id, and invalidate from any forgets for all", async () => {
    let made = 0
    const define = () =>
      LoopLocal.stickySingleton(
        (url: string) =>
          Effect.acquireRelease(
            Effect.sync(() => ({ url, n: ++made })),
            () => Effect.void
          ),
        { id: "core-bounds-test/db" }
      )
    const [A, B] = [define(), define()]
    const loop = makeLoop()
    const a = await loop.runPromise(A("x"))
    expect(await loop.runPromise(B("x"))).toBe(a)
    await loop.runPromise(B.invalidate("x"))
    expect((await loop.runPromise(A("x"))).n).toBe(2)
    expect(() => LoopLocal.singleton((u: string) => Effect.succeed(u), { id: "core-bounds-test/db" })).toThrow(
      TypeError
    )
    await loop.dispose()
  })
})
