/**
 * Type-level tests of every public signature of `@loop-local/core`: what each one infers, how `R` and `E` flow from
 * the factories into the results, and (with `@ts-expect-error`) what must not compile. `tsc -b` (`pnpm typecheck`)
 * checks this file; the bodies are type-checked only and never run (vitest's `expectTypeOf` is a no-op at run time),
 * so the fixtures below can be `declare`d values.
 */
import type { Cause, Scope } from "effect"
import { Context, Duration, Effect, Layer } from "effect"
import { describe, expectTypeOf, it } from "vitest"
import type * as Core from "../src/index.js"
import { LoopLocal } from "../src/index.js"

/** The body is for the type checker only: it is never called. */
const types = (_body: () => void): void => undefined

type LL = LoopLocal.LoopLocal

class Db extends Context.Tag("Db")<Db, { readonly url: string }>() {}
class Tenant extends Context.Tag("Tenant")<Tenant, string>() {}
class DbError {
  readonly _tag = "DbError"
}

/** A scoped resource needing a service: R = Tenant | Scope. */
declare const scopedResource: Effect.Effect<number, DbError, Tenant | Scope.Scope>
/** A resource needing only a Scope. */
declare const onlyScoped: Effect.Effect<string, never, Scope.Scope>
/** An effect needing a service and no Scope. */
declare const needsTenant: Effect.Effect<number, DbError, Tenant>
declare const needsLoop: Effect.Effect<number, DbError, LL>
declare const report: LoopLocal.ShutdownReport
declare const u: unknown

describe("the public surface", () => {
  it("exports these values, each pinned below (a new export fails here until it has its type test)", () =>
    types(() => {
      expectTypeOf<keyof typeof Core>().toEqualTypeOf<"LoopLocal">()
      expectTypeOf<keyof typeof LoopLocal>().toEqualTypeOf<
        | "LoopLocal"
        | "LoopClosedError"
        | "isLoopClosedError"
        | "formatShutdownReport"
        | "make"
        | "makeWith"
        | "layer"
        | "layerWith"
        | "Default"
        | "runPromise"
        | "shutdown"
        | "storage"
        | "atExit"
        | "enter"
        | "enterOnce"
        | "sticky"
        | "singleton"
        | "stickySingleton"
        | "memoize"
        | "inspect"
      >()
    }))
})

describe("models", () => {
  it("Loop", () =>
    types(() => {
      expectTypeOf<LoopLocal.Loop>().toEqualTypeOf<{
        readonly id: number
        readonly scope: Scope.Scope
        readonly isClosed: boolean
        runPromise<A, E>(effect: Effect.Effect<A, E, LL>): Promise<A>
        inspect(): ReadonlyArray<LoopLocal.EntryInfo>
      }>()
      const loop = {} as LoopLocal.Loop
      expectTypeOf(loop.runPromise(needsLoop)).toEqualTypeOf<Promise<number>>()
      expectTypeOf(loop.runPromise(Effect.succeed("s" as const))).toEqualTypeOf<Promise<"s">>()
      // @ts-expect-error: a loop runs effects that need at most LoopLocal
      loop.runPromise(needsTenant)
      // @ts-expect-error: readonly
      loop.isClosed = true
    }))

  it("EntryKind, EntryInfo, ReleaseReport, ShutdownReport", () =>
    types(() => {
      expectTypeOf<LoopLocal.EntryKind>().toEqualTypeOf<
        "singleton" | "stickySingleton" | "enter" | "enterOnce" | "sticky" | "atExit" | "memoize"
      >()
      // @ts-expect-error: not a kind
      const _kind: LoopLocal.EntryKind = "layer"
      expectTypeOf<LoopLocal.EntryInfo>().toEqualTypeOf<{
        readonly kind: LoopLocal.EntryKind
        readonly key: string
        readonly acquiredAt: Date
        readonly acquireMs: number
      }>()
      expectTypeOf<LoopLocal.ReleaseReport>().toEqualTypeOf<{
        readonly kind: LoopLocal.EntryKind
        readonly key: string
        readonly durationMs: number
        readonly outcome: "ok" | "failed" | "abandoned"
        readonly cause: Cause.Cause<unknown> | undefined
      }>()
      expectTypeOf<LoopLocal.ShutdownReport>().toEqualTypeOf<{
        readonly loopId: number
        readonly releases: ReadonlyArray<LoopLocal.ReleaseReport>
        readonly durationMs: number
      }>()
    }))

  it("LoopOptions", () =>
    types(() => {
      expectTypeOf<LoopLocal.LoopOptions>().toEqualTypeOf<{
        readonly deadline?: Duration.DurationInput | undefined
      }>()
    }))
})

describe("the LoopLocal tag", () => {
  it("gives the Loop", () =>
    types(() => {
      const loop = Effect.gen(function* () {
        return yield* LoopLocal.LoopLocal
      })
      expectTypeOf(loop).toEqualTypeOf<Effect.Effect<LoopLocal.Loop, never, LL>>()
      expectTypeOf<Context.Tag.Service<LL>>().toEqualTypeOf<LoopLocal.Loop>()
    }))
})

describe("constructors and layers", () => {
  it("make, makeWith", () =>
    types(() => {
      expectTypeOf(LoopLocal.make).toEqualTypeOf<Effect.Effect<LoopLocal.Loop, never, Scope.Scope>>()
      expectTypeOf(LoopLocal.makeWith).toEqualTypeOf<
        (options: LoopLocal.LoopOptions) => Effect.Effect<LoopLocal.Loop, never, Scope.Scope>
      >()
      expectTypeOf(LoopLocal.makeWith({ deadline: "2 seconds" })).toEqualTypeOf<
        Effect.Effect<LoopLocal.Loop, never, Scope.Scope>
      >()
      LoopLocal.makeWith({ deadline: Duration.seconds(2) })
      LoopLocal.makeWith({ deadline: 2_000 })
      LoopLocal.makeWith({ deadline: undefined })
      LoopLocal.makeWith({})
      // @ts-expect-error: the options are required (use `make` without)
      LoopLocal.makeWith()
      // @ts-expect-error: not a DurationInput
      LoopLocal.makeWith({ deadline: "soon" })
      // @ts-expect-error: an unknown option
      LoopLocal.makeWith({ deadlineMs: 2_000 })
    }))

  it("layer, layerWith, Default", () =>
    types(() => {
      expectTypeOf(LoopLocal.layer).toEqualTypeOf<Layer.Layer<LL>>()
      expectTypeOf(LoopLocal.Default).toEqualTypeOf<Layer.Layer<LL, never, never>>()
      expectTypeOf(LoopLocal.layerWith).toEqualTypeOf<(options: LoopLocal.LoopOptions) => Layer.Layer<LL>>()
      expectTypeOf(LoopLocal.layerWith({ deadline: "2 seconds" })).toEqualTypeOf<Layer.Layer<LL>>()
      // @ts-expect-error: not a DurationInput
      LoopLocal.layerWith({ deadline: true })
      // Providing the layer removes LoopLocal from R.
      expectTypeOf(Effect.provide(needsLoop, LoopLocal.layer)).toEqualTypeOf<Effect.Effect<number, DbError, never>>()
      expectTypeOf(Effect.provide(needsLoop, LoopLocal.Default)).toEqualTypeOf<Effect.Effect<number, DbError, never>>()
    }))
})

describe("running", () => {
  it("runPromise", () =>
    types(() => {
      expectTypeOf(LoopLocal.runPromise(needsLoop)).toEqualTypeOf<Promise<number>>()
      expectTypeOf(LoopLocal.runPromise(Effect.fail(new DbError()))).toEqualTypeOf<Promise<never>>()
      expectTypeOf(LoopLocal.runPromise(LoopLocal.storage)).toEqualTypeOf<Promise<Map<unknown, unknown>>>()
      // @ts-expect-error: an effect needing another service
      LoopLocal.runPromise(needsTenant)
      // @ts-expect-error: an effect needing a Scope
      LoopLocal.runPromise(onlyScoped)
    }))

  it("shutdown", () =>
    types(() => {
      expectTypeOf(LoopLocal.shutdown).toEqualTypeOf<Effect.Effect<LoopLocal.ShutdownReport, never, never>>()
    }))
})

describe("storage, atExit, inspect", () => {
  it("storage", () =>
    types(() => {
      expectTypeOf(LoopLocal.storage).toEqualTypeOf<Effect.Effect<Map<unknown, unknown>, never, LL>>()
    }))

  it("atExit: R flows, E must be never", () =>
    types(() => {
      expectTypeOf(LoopLocal.atExit(Effect.log("bye"))).toEqualTypeOf<Effect.Effect<void, never, LL>>()
      expectTypeOf(LoopLocal.atExit(Effect.map(Tenant, (t) => t.length))).toEqualTypeOf<
        Effect.Effect<void, never, Tenant | LL>
      >()
      // @ts-expect-error: a finalizer may not fail (E must be never)
      LoopLocal.atExit(Effect.fail(new DbError()))
      // @ts-expect-error: not an Effect
      LoopLocal.atExit(() => undefined)
    }))

  it("inspect", () =>
    types(() => {
      expectTypeOf(LoopLocal.inspect).toEqualTypeOf<Effect.Effect<ReadonlyArray<LoopLocal.EntryInfo>, never, LL>>()
    }))
})

describe("enter, enterOnce, sticky", () => {
  it("enter removes Scope from R and keeps A, E and the other services", () =>
    types(() => {
      expectTypeOf(LoopLocal.enter(scopedResource)).toEqualTypeOf<Effect.Effect<number, DbError, Tenant | LL>>()
      expectTypeOf(LoopLocal.enter(onlyScoped)).toEqualTypeOf<Effect.Effect<string, never, LL>>()
      expectTypeOf(LoopLocal.enter(needsTenant)).toEqualTypeOf<Effect.Effect<number, DbError, Tenant | LL>>()
      // @ts-expect-error: not an Effect
      LoopLocal.enter(Promise.resolve(1))
    }))

  it("enterOnce removes Scope from R", () =>
    types(() => {
      expectTypeOf(LoopLocal.enterOnce(scopedResource)).toEqualTypeOf<Effect.Effect<number, DbError, Tenant | LL>>()
      expectTypeOf(LoopLocal.enterOnce(onlyScoped)).toEqualTypeOf<Effect.Effect<string, never, LL>>()
      // @ts-expect-error: not an Effect
      LoopLocal.enterOnce(1)
    }))

  it("sticky is a drop-in for the scoped effect: its R keeps Scope", () =>
    types(() => {
      expectTypeOf(LoopLocal.sticky(scopedResource)).toEqualTypeOf<
        Effect.Effect<number, DbError, Tenant | Scope.Scope | LL>
      >()
      expectTypeOf(LoopLocal.sticky(onlyScoped)).toEqualTypeOf<Effect.Effect<string, never, Scope.Scope | LL>>()
      expectTypeOf(LoopLocal.sticky(needsTenant)).toEqualTypeOf<Effect.Effect<number, DbError, Tenant | LL>>()
      // Usable where the scoped effect was: Effect.scoped and Layer.scoped remove the Scope.
      expectTypeOf(Effect.scoped(LoopLocal.sticky(scopedResource))).toEqualTypeOf<
        Effect.Effect<number, DbError, Tenant | LL>
      >()
      class Counter extends Context.Tag("Counter")<Counter, number>() {}
      expectTypeOf(Layer.scoped(Counter, LoopLocal.sticky(scopedResource))).toEqualTypeOf<
        Layer.Layer<Counter, DbError, Tenant | LL>
      >()
      // @ts-expect-error: not an Effect
      LoopLocal.sticky({})
    }))
})

describe("singleton", () => {
  it("infers the arguments, A, E and R from the factory", () =>
    types(() => {
      const Config = LoopLocal.singleton((env: string) => Effect.succeed({ env }))
      expectTypeOf(Config).toEqualTypeOf<LoopLocal.Keyed<[env: string], { env: string }, never, LL>>()
      expectTypeOf(Config("prod")).toEqualTypeOf<Effect.Effect<{ env: string }, never, LL>>()
      expectTypeOf(Config).parameters.toEqualTypeOf<[env: string]>()
      // @ts-expect-error: the argument's type is the factory's
      Config(1)
      // @ts-expect-error: as many arguments as the factory
      Config("prod", "again")

      const Greeting = LoopLocal.singleton((n: number, loud: boolean) =>
        Effect.map(Tenant, (t) => (loud ? `${t}:${n}!` : `${t}:${n}`))
      )
      expectTypeOf(Greeting).toEqualTypeOf<LoopLocal.Keyed<[n: number, loud: boolean], string, never, Tenant | LL>>()
      expectTypeOf(Greeting(1, true)).toEqualTypeOf<Effect.Effect<string, never, Tenant | LL>>()

      const Failing = LoopLocal.singleton((_: string) => needsTenant)
      expectTypeOf(Failing("a")).toEqualTypeOf<Effect.Effect<number, DbError, Tenant | LL>>()

      const NoArgs = LoopLocal.singleton(() => Effect.succeed(1))
      expectTypeOf(NoArgs).toEqualTypeOf<LoopLocal.Keyed<[], number, never, LL>>()
      expectTypeOf(NoArgs.invalidate).parameters.toEqualTypeOf<[]>()

      const Optional = LoopLocal.singleton((url: string, retries?: number) => Effect.succeed({ url, retries }))
      expectTypeOf(Optional).parameters.toEqualTypeOf<[url: string, retries?: number | undefined]>()
      Optional("u")
      Optional("u", 3)

      // @ts-expect-error: the factory must return an Effect
      LoopLocal.singleton((s: string) => s)
      // @ts-expect-error: not a function
      LoopLocal.singleton(Effect.succeed(1))
    }))

  it("rejects a factory whose effect needs a Scope: the result is never, so every use is an error", () =>
    types(() => {
      const Scoped = LoopLocal.singleton((_: string) => scopedResource)
      expectTypeOf(Scoped).toEqualTypeOf<never>()
      // @ts-expect-error: not callable: its value would be released at once; use stickySingleton
      Scoped("a")
      const OnlyScoped = LoopLocal.singleton(() => onlyScoped)
      // @ts-expect-error: not callable, with Scope alone in R
      OnlyScoped()
      const Acquired = LoopLocal.singleton((n: number) => Effect.acquireRelease(Effect.succeed(n), () => Effect.void))
      // @ts-expect-error: not callable, with Effect.acquireRelease
      Acquired(1)
      expectTypeOf(LoopLocal.stickySingleton(() => onlyScoped)).toEqualTypeOf<LoopLocal.Keyed<[], string, never, LL>>()

      expectTypeOf<LoopLocal.NoScopeSingleton<[string], number, never, Tenant | Scope.Scope>>().toEqualTypeOf<never>()
      expectTypeOf<LoopLocal.NoScopeSingleton<[string], number, never, Tenant>>().toEqualTypeOf<
        LoopLocal.Keyed<[string], number, never, Tenant | LL>
      >()
      expectTypeOf<LoopLocal.NoScope<never>>().toEqualTypeOf<unknown>()
      expectTypeOf<LoopLocal.NoScope<Tenant>>().toEqualTypeOf<unknown>()
      expectTypeOf<
        LoopLocal.NoScope<Scope.Scope>
      >().toEqualTypeOf<"loop-local: singleton's effect must not need a Scope (its value would be released at once); use stickySingleton">()
      expectTypeOf<
        LoopLocal.NoScope<Tenant | Scope.Scope>
      >().toEqualTypeOf<"loop-local: singleton's effect must not need a Scope (its value would be released at once); use stickySingleton">()
    }))

  it("accepts a generic helper whose R is a type parameter, and checks R at the helper's caller", () =>
    types(() => {
      // The helper of issue #14: it compiles, and is usable inside as the Keyed function it is.
      const cachedBy = <A, E, R>(f: (k: string) => Effect.Effect<A, E, R>) => LoopLocal.singleton(f)
      const withUse = <A, E, R>(f: (k: string) => Effect.Effect<A, E, R>) => {
        const cached = LoopLocal.singleton(f)
        const asKeyed: LoopLocal.Keyed<[k: string], A, E, R | LL> = cached
        return { get: (k: string) => Effect.map(cached(k), (a) => [a] as const), drop: cached.invalidate, asKeyed }
      }
      const bounded = <R extends Tenant>(effect: Effect.Effect<number, DbError, R>) =>
        LoopLocal.singleton((_: string) => effect, { capacity: 10 })

      const Config = cachedBy((env: string) => Effect.succeed({ env }))
      expectTypeOf(Config).toEqualTypeOf<LoopLocal.Keyed<[k: string], { env: string }, never, LL>>()
      expectTypeOf(withUse(() => needsTenant).get("a")).toEqualTypeOf<
        Effect.Effect<readonly [number], DbError, Tenant | LL>
      >()
      expectTypeOf(bounded(needsTenant)).toEqualTypeOf<LoopLocal.Keyed<[_: string], number, DbError, Tenant | LL>>()

      // Through the helper, a factory that needs a Scope is still refused, at the helper's caller.
      const Scoped = cachedBy(() => scopedResource)
      expectTypeOf(Scoped).toEqualTypeOf<never>()
      // @ts-expect-error: not callable: needs a Scope
      Scoped("a")
    }))

  it("invalidate takes the same arguments and needs only LoopLocal", () =>
    types(() => {
      const Greeting = LoopLocal.singleton((n: number, _loud: boolean) => Effect.map(Tenant, (t) => `${t}:${n}`))
      expectTypeOf(Greeting.invalidate).parameters.toEqualTypeOf<[n: number, _loud: boolean]>()
      expectTypeOf(Greeting.invalidate(1, true)).toEqualTypeOf<Effect.Effect<void, never, LL>>()
      // @ts-expect-error: the arguments' types are the factory's
      Greeting.invalidate("1", true)
      // @ts-expect-error: all the arguments
      Greeting.invalidate(1)
    }))

  it("options: KeyOptions of the same arguments", () =>
    types(() => {
      const byUrl = LoopLocal.singleton(
        (o: { readonly url: string; readonly requestId: string }) => Effect.succeed(o.url.length),
        {
          key: (o) => {
            expectTypeOf(o).toEqualTypeOf<{ readonly url: string; readonly requestId: string }>()
            return o.url
          },
          capacity: 10,
          idleTimeToLive: "5 minutes",
          timeToLive: Duration.hours(1),
          id: "by-url"
        }
      )
      expectTypeOf(byUrl).toEqualTypeOf<
        LoopLocal.Keyed<[o: { readonly url: string; readonly requestId: string }], number, never, LL>
      >()
      LoopLocal.singleton((a: string, b: number) => Effect.succeed(a.repeat(b)), {
        key: (a, b) => {
          expectTypeOf(a).toEqualTypeOf<string>()
          expectTypeOf(b).toEqualTypeOf<number>()
          return `${a}/${b}`
        }
      })
      // Durations: any DurationInput (a number is milliseconds); undefined is allowed for every field.
      LoopLocal.singleton((s: string) => Effect.succeed(s), { idleTimeToLive: 5_000, timeToLive: Infinity })
      LoopLocal.singleton((s: string) => Effect.succeed(s), {
        key: undefined,
        capacity: undefined,
        idleTimeToLive: undefined,
        timeToLive: undefined,
        id: undefined
      })
      // @ts-expect-error: the key function's argument is the factory's
      LoopLocal.singleton((s: string) => Effect.succeed(s), { key: (n: number) => n })
      // @ts-expect-error: capacity is a number
      LoopLocal.singleton((s: string) => Effect.succeed(s), { capacity: "10" })
      // @ts-expect-error: not a DurationInput
      LoopLocal.singleton((s: string) => Effect.succeed(s), { idleTimeToLive: "a while" })
      // @ts-expect-error: not a DurationInput
      LoopLocal.singleton((s: string) => Effect.succeed(s), { timeToLive: true })
      // @ts-expect-error: id is a string
      LoopLocal.singleton((s: string) => Effect.succeed(s), { id: Symbol("x") })
      // @ts-expect-error: an unknown option
      LoopLocal.singleton((s: string) => Effect.succeed(s), { ttl: 1 })
    }))

  it("a key function with fewer parameters does not narrow the arguments", () =>
    types(() => {
      // Args comes from the factory alone (NoInferArgs): a key reading only some of them keeps them all.
      const Client = LoopLocal.singleton((url: string, retries?: number) => Effect.succeed({ url, retries }), {
        key: (url) => url
      })
      expectTypeOf(Client).parameters.toEqualTypeOf<[url: string, retries?: number | undefined]>()
      Client("u", 3)
      const Pools = LoopLocal.stickySingleton((_url: string, _size?: number) => onlyScoped, { key: (url) => url })
      expectTypeOf(Pools).parameters.toEqualTypeOf<[_url: string, _size?: number | undefined]>()
      const DbFor = LoopLocal.memoize((url: string, _pool?: number) => Layer.succeed(Db, { url }), { key: (u) => u })
      expectTypeOf(DbFor).parameters.toEqualTypeOf<[url: string, _pool?: number | undefined]>()
      // The key's parameters still get their types from the factory's.
      // @ts-expect-error: url is a string
      LoopLocal.singleton((url: string) => Effect.succeed(url), { key: (url: number) => url })
    }))

  it("KeyOptions", () =>
    types(() => {
      expectTypeOf<LoopLocal.KeyOptions<[string, number]>>().toEqualTypeOf<{
        readonly key?: ((...args: [string, number]) => unknown) | undefined
        readonly capacity?: number | undefined
        readonly idleTimeToLive?: Duration.DurationInput | undefined
        readonly timeToLive?: Duration.DurationInput | undefined
        readonly id?: string | undefined
      }>()
      const options: LoopLocal.KeyOptions<[{ readonly url: string }]> = { key: (o) => o.url }
      expectTypeOf(LoopLocal.singleton((o: { readonly url: string }) => Effect.succeed(o), options)).toEqualTypeOf<
        LoopLocal.Keyed<[o: { readonly url: string }], { readonly url: string }, never, LL>
      >()
      // @ts-expect-error: options of other arguments
      LoopLocal.singleton((n: number) => Effect.succeed(n), options)
    }))
})

describe("stickySingleton", () => {
  it("removes Scope from R, keeps the other services, A and E", () =>
    types(() => {
      const Pool = LoopLocal.stickySingleton((_url: string) => scopedResource)
      expectTypeOf(Pool).toEqualTypeOf<LoopLocal.Keyed<[_url: string], number, DbError, Tenant | LL>>()
      expectTypeOf(Pool("postgres://")).toEqualTypeOf<Effect.Effect<number, DbError, Tenant | LL>>()
      expectTypeOf(Pool.invalidate("postgres://")).toEqualTypeOf<Effect.Effect<void, never, LL>>()
      expectTypeOf(Pool.invalidate).parameters.toEqualTypeOf<[_url: string]>()

      const Only = LoopLocal.stickySingleton(() => onlyScoped)
      expectTypeOf(Only).toEqualTypeOf<LoopLocal.Keyed<[], string, never, LL>>()

      const Acquired = LoopLocal.stickySingleton((url: string) =>
        Effect.acquireRelease(Effect.succeed({ url }), () => Effect.void)
      )
      expectTypeOf(Acquired).toEqualTypeOf<LoopLocal.Keyed<[url: string], { url: string }, never, LL>>()

      // Also takes an effect without Scope.
      expectTypeOf(LoopLocal.stickySingleton((_: number) => needsTenant)).toEqualTypeOf<
        LoopLocal.Keyed<[_: number], number, DbError, Tenant | LL>
      >()
      // @ts-expect-error: the factory must return an Effect
      LoopLocal.stickySingleton((s: string) => Promise.resolve(s))
    }))

  it("options: KeyOptions of the same arguments", () =>
    types(() => {
      LoopLocal.stickySingleton((_url: string, _size: number) => onlyScoped, {
        key: (url, size) => {
          expectTypeOf(url).toEqualTypeOf<string>()
          expectTypeOf(size).toEqualTypeOf<number>()
          return url
        },
        capacity: 4,
        idleTimeToLive: Duration.minutes(5),
        timeToLive: "1 hour",
        id: "pool"
      })
      // @ts-expect-error: not a DurationInput
      LoopLocal.stickySingleton((_url: string) => onlyScoped, { timeToLive: "forever" })
      // @ts-expect-error: the key function's argument is the factory's
      LoopLocal.stickySingleton((_url: string) => onlyScoped, { key: (n: number) => n })
    }))
})

describe("Keyed", () => {
  it("is a function of Args with invalidate(...Args): Effect<void, never, LoopLocal>", () =>
    types(() => {
      type K = LoopLocal.Keyed<[string, number], boolean, DbError, Tenant>
      expectTypeOf<Parameters<K>>().toEqualTypeOf<[string, number]>()
      expectTypeOf<ReturnType<K>>().toEqualTypeOf<Effect.Effect<boolean, DbError, Tenant>>()
      expectTypeOf<Parameters<K["invalidate"]>>().toEqualTypeOf<[string, number]>()
      expectTypeOf<ReturnType<K["invalidate"]>>().toEqualTypeOf<Effect.Effect<void, never, LL>>()
      // The documented annotation compiles.
      const Config: LoopLocal.Keyed<[string], { readonly env: string }, never, LL> = LoopLocal.singleton(
        (env: string) => Effect.succeed({ env })
      )
      expectTypeOf(Config.invalidate("prod")).toEqualTypeOf<Effect.Effect<void, never, LL>>()
      // @ts-expect-error: R needs LoopLocal
      const _noLoop: LoopLocal.Keyed<[string], { readonly env: string }, never, never> = Config
    }))
})

describe("memoize", () => {
  it("a Layer: a Layer with LoopLocal added to RIn", () =>
    types(() => {
      const DbLive = Layer.succeed(Db, { url: "postgres://" })
      expectTypeOf(LoopLocal.memoize(DbLive)).toEqualTypeOf<Layer.Layer<Db, never, LL>>()
      const Scoped = Layer.scoped(
        Db,
        Effect.acquireRelease(
          Effect.map(Tenant, (t) => ({ url: t })),
          () => Effect.void
        )
      )
      expectTypeOf(LoopLocal.memoize(Scoped)).toEqualTypeOf<Layer.Layer<Db, never, Tenant | LL>>()
      const Failing = Layer.effect(Db, Effect.as(needsTenant, { url: "x" }))
      expectTypeOf(LoopLocal.memoize(Failing)).toEqualTypeOf<Layer.Layer<Db, DbError, Tenant | LL>>()
      // Provided like any layer: what is left to provide is RIn.
      expectTypeOf(Effect.provide(Db, LoopLocal.memoize(DbLive))).toEqualTypeOf<
        Effect.Effect<{ readonly url: string }, never, LL>
      >()
      // @ts-expect-error: the Layer overload takes no options
      LoopLocal.memoize(DbLive, { capacity: 1 })
      // @ts-expect-error: neither a Layer nor a function
      LoopLocal.memoize(Effect.succeed(1))
    }))

  it("a function of arguments: MemoizedLayers with invalidate", () =>
    types(() => {
      const DbFor = LoopLocal.memoize((url: string) => Layer.succeed(Db, { url }))
      expectTypeOf(DbFor).toEqualTypeOf<LoopLocal.MemoizedLayers<[url: string], Db, never, LL>>()
      expectTypeOf(DbFor("postgres://")).toEqualTypeOf<Layer.Layer<Db, never, LL>>()
      expectTypeOf(DbFor.invalidate).parameters.toEqualTypeOf<[url: string]>()
      expectTypeOf(DbFor.invalidate("postgres://")).toEqualTypeOf<Effect.Effect<void, never, LL>>()
      // @ts-expect-error: the argument's type is the function's
      DbFor(1)
      // @ts-expect-error: the argument's type is the function's
      DbFor.invalidate(1)

      const WithDeps = LoopLocal.memoize((url: string, size: number) =>
        Layer.effect(
          Db,
          Effect.map(Effect.zip(Tenant, needsTenant), ([t, n]) => ({ url: `${t}:${url}:${size + n}` }))
        )
      )
      expectTypeOf(WithDeps).toEqualTypeOf<
        LoopLocal.MemoizedLayers<[url: string, size: number], Db, DbError, Tenant | LL>
      >()
      expectTypeOf(WithDeps("u", 1)).toEqualTypeOf<Layer.Layer<Db, DbError, Tenant | LL>>()

      // @ts-expect-error: the function must return a Layer
      LoopLocal.memoize((url: string) => Effect.succeed(url))
    }))

  it("options: KeyOptions of the same arguments", () =>
    types(() => {
      const DbFor = LoopLocal.memoize((url: string, pool: number) => Layer.succeed(Db, { url: `${url}/${pool}` }), {
        key: (url, pool) => {
          expectTypeOf(url).toEqualTypeOf<string>()
          expectTypeOf(pool).toEqualTypeOf<number>()
          return url
        },
        capacity: 10,
        idleTimeToLive: "10 minutes",
        timeToLive: Duration.hours(1),
        id: "db-for"
      })
      expectTypeOf(DbFor).toEqualTypeOf<LoopLocal.MemoizedLayers<[url: string, pool: number], Db, never, LL>>()
      const options: LoopLocal.KeyOptions<[string]> = { capacity: 1 }
      expectTypeOf(LoopLocal.memoize((url: string) => Layer.succeed(Db, { url }), options)).toEqualTypeOf<
        LoopLocal.MemoizedLayers<[url: string], Db, never, LL>
      >()
      // @ts-expect-error: capacity is a number
      LoopLocal.memoize((url: string) => Layer.succeed(Db, { url }), { capacity: true })
      // @ts-expect-error: not a DurationInput
      LoopLocal.memoize((url: string) => Layer.succeed(Db, { url }), { idleTimeToLive: "later" })
      // @ts-expect-error: the key function's argument is the function's
      LoopLocal.memoize((url: string) => Layer.succeed(Db, { url }), { key: (n: number) => n })
    }))

  it("MemoizedLayers", () =>
    types(() => {
      type M = LoopLocal.MemoizedLayers<[string], Db, DbError, Tenant>
      expectTypeOf<Parameters<M>>().toEqualTypeOf<[string]>()
      expectTypeOf<ReturnType<M>>().toEqualTypeOf<Layer.Layer<Db, DbError, Tenant>>()
      expectTypeOf<Parameters<M["invalidate"]>>().toEqualTypeOf<[string]>()
      expectTypeOf<ReturnType<M["invalidate"]>>().toEqualTypeOf<Effect.Effect<void, never, LL>>()
    }))
})

describe("errors", () => {
  it("LoopClosedError: a constructor and a yieldable error", () =>
    types(() => {
      const error = new LoopLocal.LoopClosedError({ loopId: 1, message: "closed" })
      expectTypeOf(error).toEqualTypeOf<LoopLocal.LoopClosedError>()
      expectTypeOf(error._tag).toEqualTypeOf<"LoopClosedError">()
      expectTypeOf(error.loopId).toEqualTypeOf<number>()
      expectTypeOf(error).toExtend<Cause.YieldableError>()
      expectTypeOf(error).toExtend<Error>()
      expectTypeOf(LoopLocal.LoopClosedError).toEqualTypeOf<
        new (args: {
          readonly loopId: number
          readonly message: string
        }) => LoopLocal.LoopClosedError
      >()
      // Yielded, it fails with itself.
      expectTypeOf(
        Effect.gen(function* () {
          return yield* error
        })
      ).toEqualTypeOf<Effect.Effect<never, LoopLocal.LoopClosedError, never>>()
      // @ts-expect-error: loopId is required
      new LoopLocal.LoopClosedError({ message: "closed" })
      if (u instanceof LoopLocal.LoopClosedError) expectTypeOf(u).toEqualTypeOf<LoopLocal.LoopClosedError>()
    }))

  it("isLoopClosedError is a type guard", () =>
    types(() => {
      expectTypeOf(LoopLocal.isLoopClosedError).toEqualTypeOf<(u: unknown) => u is LoopLocal.LoopClosedError>()
      expectTypeOf(LoopLocal.isLoopClosedError).guards.toEqualTypeOf<LoopLocal.LoopClosedError>()
      if (LoopLocal.isLoopClosedError(u)) {
        expectTypeOf(u).toEqualTypeOf<LoopLocal.LoopClosedError>()
        expectTypeOf(u.loopId).toEqualTypeOf<number>()
      }
      const defect = {} as LoopLocal.LoopClosedError | TypeError
      if (LoopLocal.isLoopClosedError(defect)) expectTypeOf(defect).toEqualTypeOf<LoopLocal.LoopClosedError>()
      else expectTypeOf(defect).toEqualTypeOf<TypeError>()
      // @ts-expect-error: unknown until narrowed
      u.loopId
    }))
})

describe("formatShutdownReport", () => {
  it("renders a ShutdownReport as a string", () =>
    types(() => {
      expectTypeOf(LoopLocal.formatShutdownReport).toEqualTypeOf<(report: LoopLocal.ShutdownReport) => string>()
      expectTypeOf(LoopLocal.formatShutdownReport(report)).toEqualTypeOf<string>()
      // @ts-expect-error: a ShutdownReport
      LoopLocal.formatShutdownReport({ loopId: 1 })
    }))
})
