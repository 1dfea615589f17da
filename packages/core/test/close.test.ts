import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { LoopLocal } from "../src/index.js"
import { captureConsole, isLoopClosed, type Logged, makeCounter, makeLoop, recordLogs } from "./helpers.js"

const logged = (log: Array<string>, name: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      log.push(`+${name}`)
      return name
    }),
    () => Effect.sync(() => void log.push(`-${name}`))
  )

/** A loop of its own, closed through its scope, so that the close's exit can be seen. */
const withOwnLoop = Effect.gen(function* () {
  const scope = yield* Scope.make()
  const loop = yield* Scope.extend(LoopLocal.make, scope)
  const run = <A, E>(effect: Effect.Effect<A, E, LoopLocal.LoopLocal>) =>
    Effect.provideService(effect, LoopLocal.LoopLocal, loop)
  return { loop, run, close: Effect.exit(Scope.close(scope, Exit.void)) }
})

describe("closing a loop", () => {
  it.effect("releases in reverse order of acquisition completion across all kinds", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const { close, run } = yield* withOwnLoop
      class Cache extends Context.Tag("Cache")<Cache, string>() {}
      const Inner = LoopLocal.stickySingleton((k: string) => logged(log, `inner:${k}`))
      // Built from Inner, so Inner completes first and Outer must be released first.
      const Outer = LoopLocal.stickySingleton((k: string) => Effect.zipRight(Inner(k), logged(log, `outer:${k}`)))
      const once = logged(log, "once")
      const CacheLive = LoopLocal.memoize(Layer.scoped(Cache, logged(log, "layer")))
      yield* run(
        Effect.gen(function* () {
          yield* LoopLocal.enter(logged(log, "enter"))
          yield* Outer("x")
          yield* LoopLocal.atExit(Effect.sync(() => log.push("-atExit")))
          yield* Effect.scoped(LoopLocal.sticky(once))
          yield* Effect.provide(Cache, CacheLive)
          yield* LoopLocal.enterOnce(logged(log, "enterOnce"))
        })
      )
      const acquired = log.filter((l) => l.startsWith("+")).map((l) => l.slice(1))
      expect(acquired).toEqual(["enter", "inner:x", "outer:x", "once", "layer", "enterOnce"])
      log.length = 0
      yield* close
      expect(log).toEqual(["-enterOnce", "-layer", "-once", "-atExit", "-outer:x", "-inner:x", "-enter"])
    })
  )

  it.effect("runs every release although some fail, throw or die, and reports every failure in the close's Cause", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const { close, run } = yield* withOwnLoop
      yield* run(
        Effect.gen(function* () {
          yield* LoopLocal.atExit(Effect.sync(() => log.push("first")))
          yield* LoopLocal.atExit(
            Effect.sync(() => {
              throw new Error("thrown in release")
            })
          )
          yield* LoopLocal.atExit(Effect.sync(() => log.push("middle")))
          yield* LoopLocal.enter(Effect.acquireRelease(Effect.void, () => Effect.die(new Error("died in release"))))
          yield* LoopLocal.atExit(Effect.promise(() => Promise.reject(new Error("rejected in release"))))
          yield* LoopLocal.atExit(Effect.sync(() => log.push("last")))
        })
      )
      const logs: Array<Logged> = []
      const exit = yield* Effect.provide(close, recordLogs(logs))
      expect(log).toEqual(["last", "middle", "first"])
      expect(Exit.isFailure(exit)).toBe(true)
      const messages = Exit.isFailure(exit)
        ? Cause.defects(exit.cause)
            .pipe((c) => Array.from(c))
            .map((e) => (e as Error).message)
        : []
      expect(messages).toEqual(["rejected in release", "died in release", "thrown in release"])
      // The close's fiber logs each failure as a warning, naming the release.
      expect(logs).toEqual(
        [
          ["atExit #5", "rejected in release"],
          ["enter \\[Effect\\]", "died in release"],
          ["atExit #2", "thrown in release"]
        ].map(([release, error]) => ({
          level: "WARN",
          message: expect.stringMatching(new RegExp(`^loop-local: the release of ${release} failed after \\d+ ms$`)),
          cause: expect.stringMatching(new RegExp(`^Error: ${error}\\n`))
        }))
      )
    })
  )

  it("rejects ManagedRuntime.dispose with the failure, after running the other releases", async () => {
    const logs = captureConsole()
    const log: Array<string> = []
    const loop = makeLoop()
    await loop.runPromise(
      Effect.all([LoopLocal.atExit(Effect.sync(() => log.push("ok"))), LoopLocal.atExit(Effect.die("bad release"))])
    )
    await expect(loop.dispose()).rejects.toThrow(/bad release/)
    expect(log).toEqual(["ok"])
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of atExit #2 failed after \d+ ms$/),
        cause: "Error: bad release"
      }
    ])
  })

  it.effect("closing twice is a no-op", () =>
    Effect.gen(function* () {
      const { state, resource } = makeCounter()
      const scope = yield* Scope.make()
      const loop = yield* Scope.extend(LoopLocal.make, scope)
      yield* Effect.provideService(LoopLocal.enter(resource), LoopLocal.LoopLocal, loop)
      expect(loop.isClosed).toBe(false)
      yield* Scope.close(scope, Exit.void)
      yield* Scope.close(scope, Exit.void)
      expect(loop.isClosed).toBe(true)
      expect(state).toMatchObject({ acquired: 1, released: 1 })
    })
  )

  it.effect(
    "interrupts a construction in flight; its partial resource is released and its waiters get LoopClosedError",
    () =>
      Effect.gen(function* () {
        const log: Array<string> = []
        const { close, run } = yield* withOwnLoop
        const Slow = LoopLocal.stickySingleton((_: string) =>
          Effect.gen(function* () {
            yield* logged(log, "socket")
            return yield* Effect.never
          })
        )
        const waiters = yield* Effect.forEach([1, 2, 3], () => Effect.fork(run(Slow("x"))))
        while (log.length === 0) yield* Effect.yieldNow()
        yield* close
        expect(log).toEqual(["+socket", "-socket"])
        for (const waiter of waiters) expect(isLoopClosed(yield* Fiber.await(waiter))).toBe(true)
      })
  )

  it.effect(
    "releases at once a construction that completes although its loop closed, and its waiters get LoopClosedError",
    () =>
      Effect.gen(function* () {
        const log: Array<string> = []
        const { close, run } = yield* withOwnLoop
        const started = yield* Deferred.make<void>()
        const Stubborn = LoopLocal.stickySingleton((_: string) =>
          Effect.uninterruptible(
            Effect.gen(function* () {
              yield* Deferred.succeed(started, undefined)
              for (let i = 0; i < 10; i++) yield* Effect.yieldNow()
              return yield* logged(log, "stubborn")
            })
          )
        )
        const waiter = yield* Effect.fork(run(Stubborn("x")))
        yield* Deferred.await(started)
        yield* close
        expect(log).toEqual(["+stubborn", "-stubborn"])
        expect(isLoopClosed(yield* Fiber.await(waiter))).toBe(true)
      })
  )

  it("closing one loop releases only what it holds", async () => {
    const { state, resource } = makeCounter()
    const Pool = LoopLocal.stickySingleton((_: string) => resource)
    const loop1 = makeLoop()
    const loop2 = makeLoop()
    const a = await loop1.runPromise(Pool("x"))
    const b = await loop2.runPromise(Pool("x"))
    expect(a).not.toBe(b)
    await loop1.dispose()
    expect(a.released).toBe(true)
    expect(b.released).toBe(false)
    expect(await loop2.runPromise(Pool("x"))).toBe(b)
    await loop2.dispose()
    expect(b.released).toBe(true)
    expect(state).toMatchObject({ acquired: 2, released: 2 })
  })

  it("gives LoopClosedError to every primitive, and to Loop.runPromise, once closed", async () => {
    const { resource } = makeCounter()
    class Svc extends Context.Tag("Svc")<Svc, number>() {}
    const single = LoopLocal.singleton((k: string) => Effect.succeed(k))
    const sticky = LoopLocal.stickySingleton((_: string) => resource)
    const loop = makeLoop()
    const rt = await loop.runtime()
    const theLoop = await loop.runPromise(LoopLocal.LoopLocal)
    await loop.dispose()
    const uses: Array<Effect.Effect<unknown, unknown, LoopLocal.LoopLocal>> = [
      LoopLocal.storage,
      LoopLocal.atExit(Effect.void),
      LoopLocal.enter(resource),
      LoopLocal.enterOnce(resource),
      Effect.scoped(LoopLocal.sticky(resource)),
      single("x"),
      single.invalidate("x"),
      sticky("x"),
      sticky.invalidate("x"),
      Effect.provide(Svc, LoopLocal.memoize(Layer.succeed(Svc, 1))),
      LoopLocal.inspect
    ]
    for (const use of uses) expect(isLoopClosed(await Effect.runPromiseExit(Effect.provide(use, rt)))).toBe(true)
    expect(theLoop.isClosed).toBe(true)
    await expect(theLoop.runPromise(Effect.void)).rejects.toMatchObject({ _tag: "LoopClosedError", loopId: theLoop.id })
  })

  it("numbers loops uniquely and increasingly", async () => {
    const ids: Array<number> = []
    for (let i = 0; i < 3; i++) {
      const loop = makeLoop()
      ids.push((await loop.runPromise(LoopLocal.LoopLocal)).id)
      await loop.dispose()
    }
    expect(ids[1]).toBeGreaterThan(ids[0]!)
    expect(ids[2]).toBeGreaterThan(ids[1]!)
  })

  it("runs effects on a loop through Loop.runPromise, sharing the loop's values", async () => {
    const single = LoopLocal.singleton((k: string) => Effect.sync(() => ({ k })))
    const loop = makeLoop()
    const theLoop = await loop.runPromise(LoopLocal.LoopLocal)
    const a = await loop.runPromise(single("x"))
    const b = await theLoop.runPromise(single("x"))
    expect(a).toBe(b)
    await loop.dispose()
  })
})

describe("inspect", () => {
  it("lists what a loop holds, in order of acquisition, with readable keys and passwords masked", async () => {
    const Pool = LoopLocal.stickySingleton((url: string) => Effect.succeed({ url }))
    const Config = LoopLocal.singleton((o: { readonly env: string }) => Effect.succeed(o))
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        yield* Pool("postgres://app:s3cret@db.internal:5432/app")
        yield* Config({ env: "prod" })
        yield* LoopLocal.atExit(Effect.void)
      })
    )
    const entries = await loop.runPromise(LoopLocal.inspect)
    expect(entries.map((e) => [e.kind, e.key])).toEqual([
      ["stickySingleton", '"postgres://app:***@db.internal:5432/app"'],
      ["singleton", '{ env: "prod" }'],
      ["atExit", "#3"]
    ])
    expect(entries.every((e) => e.acquiredAt instanceof Date && e.acquireMs >= 0)).toBe(true)
    await loop.runPromise(Pool.invalidate("postgres://app:s3cret@db.internal:5432/app"))
    expect((await loop.runPromise(LoopLocal.inspect)).map((e) => e.kind)).toEqual(["singleton", "atExit"])
    await loop.dispose()
  })
})
