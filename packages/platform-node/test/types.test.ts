/**
 * Type-level tests of every public signature of `@loop-local/platform-node`: what each one infers, which overload
 * takes which values, and (with `@ts-expect-error`) what must not compile. `tsc -b` (`pnpm typecheck`) checks this
 * file; the bodies are type-checked only and never run (they would start loops, install signal handlers, run a main
 * program), so the fixtures below can be `declare`d values.
 */
import type { LoopLocal } from "@loop-local/core"
import type { Scope } from "effect"
import { Context, Effect } from "effect"
import { describe, expectTypeOf, it } from "vitest"
import type * as PlatformNode from "../src/index.js"
import {
  atExit,
  type Cached,
  type CloseOptions,
  closeOnSignals,
  currentLoop,
  enter,
  enterOnce,
  formatShutdownReport,
  NodeLoopLocal,
  run,
  type ShutdownOptions,
  type SignalOptions,
  type SingletonOptions,
  shutdown,
  singleton,
  type StickySingletonOptions,
  sticky,
  stickySingleton,
  storage
} from "../src/index.js"

/** The body is for the type checker only: it is never called. */
const types = (_body: () => void): void => undefined

/** Released by its `Symbol.asyncDispose`. */
class AsyncClient {
  constructor(readonly url: string) {}
  async [Symbol.asyncDispose](): Promise<void> {}
}
/** Released by its `Symbol.dispose`. */
class SyncClient {
  constructor(readonly url: string) {}
  [Symbol.dispose](): void {}
}
/** Neither: needs a release. */
class Pool {
  constructor(readonly url: string) {}
  async end(): Promise<void> {}
}

class Tenant extends Context.Tag("Tenant")<Tenant, string>() {}

declare const report: LoopLocal.ShutdownReport
declare const asyncClient: AsyncClient
declare const syncClient: SyncClient
declare const pool: Pool

describe("the public surface", () => {
  it("exports these values, each pinned below (a new export fails here until it has its type test)", () =>
    types(() => {
      expectTypeOf<keyof typeof PlatformNode>().toEqualTypeOf<
        | "NodeLoopLocal"
        | "atExit"
        | "closeOnSignals"
        | "currentLoop"
        | "run"
        | "shutdown"
        | "storage"
        | "singleton"
        | "stickySingleton"
        | "enter"
        | "enterOnce"
        | "sticky"
        | "formatShutdownReport"
      >()
      expectTypeOf<keyof typeof NodeLoopLocal>().toEqualTypeOf<"runMain">()
    }))
})

describe("singleton", () => {
  it("caches the function's own result type, Promise or not", () =>
    types(() => {
      const config = singleton(async (env: string) => ({ env }))
      expectTypeOf(config).toEqualTypeOf<Cached<[env: string], Promise<{ env: string }>>>()
      expectTypeOf(config("prod")).toEqualTypeOf<Promise<{ env: string }>>()

      const sync = singleton((a: string, b: number) => a.repeat(b))
      expectTypeOf(sync).toEqualTypeOf<Cached<[a: string, b: number], string>>()
      expectTypeOf(sync("x", 2)).toEqualTypeOf<string>()

      const none = singleton(() => 1)
      expectTypeOf(none).toEqualTypeOf<Cached<[], number>>()

      const optional = singleton((url: string, retries?: number) => ({ url, retries }))
      expectTypeOf(optional).parameters.toEqualTypeOf<[url: string, retries?: number | undefined]>()

      // @ts-expect-error: the argument's type is the function's
      config(1)
      // @ts-expect-error: as many arguments as the function
      config()
      // @ts-expect-error: not a function
      singleton(Promise.resolve(1))
    }))

  it("invalidate takes the same arguments and returns Promise<void>", () =>
    types(() => {
      const sync = singleton((a: string, b: number) => a.repeat(b))
      expectTypeOf(sync.invalidate).parameters.toEqualTypeOf<[a: string, b: number]>()
      expectTypeOf(sync.invalidate("x", 2)).toEqualTypeOf<Promise<void>>()
      // @ts-expect-error: the arguments' types are the function's
      sync.invalidate(2, "x")
    }))

  it("options: SingletonOptions of the same arguments, durations in milliseconds", () =>
    types(() => {
      const byUrl = singleton((o: { url: string; attempt: number }) => ({ url: o.url }), {
        key: (o) => {
          expectTypeOf(o).toEqualTypeOf<{ url: string; attempt: number }>()
          return o.url
        },
        capacity: 10,
        idleTimeToLive: 60_000,
        timeToLive: 3_600_000,
        id: "by-url"
      })
      expectTypeOf(byUrl).toEqualTypeOf<Cached<[o: { url: string; attempt: number }], { url: string }>>()
      singleton((a: string, b: number) => a.repeat(b), {
        key: (a, b) => {
          expectTypeOf(a).toEqualTypeOf<string>()
          expectTypeOf(b).toEqualTypeOf<number>()
          return a
        }
      })
      singleton((s: string) => s, {
        key: undefined,
        capacity: undefined,
        idleTimeToLive: undefined,
        timeToLive: undefined,
        id: undefined
      })
      // @ts-expect-error: milliseconds, not a Duration string (that is the Effect side)
      singleton((s: string) => s, { idleTimeToLive: "5 minutes" })
      // @ts-expect-error: milliseconds, not a Duration string
      singleton((s: string) => s, { timeToLive: "1 hour" })
      // @ts-expect-error: capacity is a number
      singleton((s: string) => s, { capacity: "10" })
      // @ts-expect-error: id is a string
      singleton((s: string) => s, { id: 1 })
      // @ts-expect-error: the key function's argument is the function's
      singleton((s: string) => s, { key: (n: number) => n })
      // @ts-expect-error: no release for a singleton (that is stickySingleton)
      singleton((s: string) => s, { release: () => undefined })
    }))

  it("a key function with fewer parameters does not narrow the arguments", () =>
    types(() => {
      // As on the Effect side: Args comes from the function alone, whatever the key reads.
      const client = singleton((url: string, retries?: number) => ({ url, retries }), { key: (url) => url })
      expectTypeOf(client).parameters.toEqualTypeOf<[url: string, retries?: number | undefined]>()
      client("u", 3)
      const rest = singleton((...xs: Array<number>) => xs.length, { key: (x) => x })
      expectTypeOf(rest).parameters.toEqualTypeOf<Array<number>>()
      const clients = stickySingleton((url: string, _size?: number) => new AsyncClient(url), { key: (url) => url })
      expectTypeOf(clients).parameters.toEqualTypeOf<[url: string, _size?: number | undefined]>()
    }))

  it("SingletonOptions", () =>
    types(() => {
      expectTypeOf<SingletonOptions<[string, number]>>().toEqualTypeOf<{
        readonly key?: ((...args: [string, number]) => unknown) | undefined
        readonly capacity?: number | undefined
        readonly idleTimeToLive?: number | undefined
        readonly timeToLive?: number | undefined
        readonly id?: string | undefined
      }>()
      const byUrl: SingletonOptions<[{ url: string; attempt: number }]> = { key: (o) => o.url }
      expectTypeOf(singleton((o: { url: string; attempt: number }) => o.url, byUrl)).toEqualTypeOf<
        Cached<[o: { url: string; attempt: number }], string>
      >()
    }))
})

describe("stickySingleton", () => {
  it("a disposable value needs no release", () =>
    types(() => {
      const a = stickySingleton((url: string) => new AsyncClient(url))
      expectTypeOf(a).toEqualTypeOf<Cached<[url: string], Promise<AsyncClient>>>()
      expectTypeOf(a("u")).toEqualTypeOf<Promise<AsyncClient>>()
      expectTypeOf(a.invalidate("u")).toEqualTypeOf<Promise<void>>()
      expectTypeOf(a.invalidate).parameters.toEqualTypeOf<[url: string]>()

      const s = stickySingleton((url: string) => new SyncClient(url), { capacity: 2 })
      expectTypeOf(s).toEqualTypeOf<Cached<[url: string], Promise<SyncClient>>>()

      // An async factory: the value is what its Promise resolves to.
      const p = stickySingleton(async (url: string, _size: number) => new AsyncClient(url))
      expectTypeOf(p).toEqualTypeOf<Cached<[url: string, _size: number], Promise<AsyncClient>>>()

      // A factory that is sometimes async.
      const m = stickySingleton((url: string) =>
        url === "" ? new SyncClient(url) : Promise.resolve(new SyncClient(url))
      )
      expectTypeOf(m).toEqualTypeOf<Cached<[url: string], Promise<SyncClient>>>()

      // A literal with Symbol.dispose.
      const literal = stickySingleton((url: string) => ({ url, [Symbol.dispose]() {} }))
      expectTypeOf(literal).toEqualTypeOf<Cached<[url: string], Promise<{ url: string; [Symbol.dispose](): void }>>>()

      // A disposable value may still be given a release: then its own disposal is not used.
      const released = stickySingleton((url: string) => new AsyncClient(url), {
        release: (c) => {
          expectTypeOf(c).toEqualTypeOf<AsyncClient>()
        }
      })
      expectTypeOf(released).toEqualTypeOf<Cached<[url: string], Promise<AsyncClient>>>()
    }))

  it("any other value requires release", () =>
    types(() => {
      const pools = stickySingleton((url: string) => new Pool(url), {
        release: (p) => {
          expectTypeOf(p).toEqualTypeOf<Pool>()
          return p.end()
        }
      })
      expectTypeOf(pools).toEqualTypeOf<Cached<[url: string], Promise<Pool>>>()
      expectTypeOf(pools("u")).toEqualTypeOf<Promise<Pool>>()
      expectTypeOf(pools.invalidate("u")).toEqualTypeOf<Promise<void>>()

      const asyncPools = stickySingleton(async (url: string) => new Pool(url), { release: async (p) => p.end() })
      expectTypeOf(asyncPools).toEqualTypeOf<Cached<[url: string], Promise<Pool>>>()

      // @ts-expect-error: a plain object without release
      stickySingleton((url: string) => ({ url }))
      // @ts-expect-error: a class instance without Symbol.asyncDispose / Symbol.dispose, without release
      stickySingleton((url: string) => new Pool(url))
      // @ts-expect-error: options, but no release
      stickySingleton((url: string) => new Pool(url), { capacity: 2 })
      // @ts-expect-error: the release must be a function
      stickySingleton((url: string) => new Pool(url), { release: "end" })
      // @ts-expect-error: the release takes the value
      stickySingleton((url: string) => new Pool(url), { release: (s: string) => s })
      // @ts-expect-error: a Promise of a plain object without release
      stickySingleton(async (url: string) => ({ url }))
    }))

  it("options: StickySingletonOptions of the same arguments and value", () =>
    types(() => {
      stickySingleton((url: string, size: number) => new Pool(`${url}/${size}`), {
        release: (p) => p.end(),
        key: (url, size) => {
          expectTypeOf(url).toEqualTypeOf<string>()
          expectTypeOf(size).toEqualTypeOf<number>()
          return url
        },
        capacity: 4,
        idleTimeToLive: 60_000,
        timeToLive: 3_600_000,
        id: "pools"
      })
      stickySingleton((url: string) => new AsyncClient(url), { key: undefined, id: undefined })
      // @ts-expect-error: milliseconds, not a Duration string
      stickySingleton((url: string) => new AsyncClient(url), { idleTimeToLive: "1 minute" })
      // @ts-expect-error: milliseconds, not a Duration string
      stickySingleton((url: string) => new Pool(url), { release: (p) => p.end(), timeToLive: "1 hour" })

      expectTypeOf<StickySingletonOptions<[string], Pool>>().toEqualTypeOf<
        SingletonOptions<[string]> & { readonly release: (value: Pool) => unknown }
      >()
      expectTypeOf<StickySingletonOptions<[string], AsyncClient>>().toEqualTypeOf<
        SingletonOptions<[string]> & { readonly release?: ((value: AsyncClient) => unknown) | undefined }
      >()
      expectTypeOf<StickySingletonOptions<[string], Pool>>().toExtend<SingletonOptions<[string]>>()
    }))

  it("options annotated as StickySingletonOptions are accepted as they are", () =>
    types(() => {
      // A value that needs a release: the annotated type requires it, and stickySingleton takes the variable.
      const annotated: StickySingletonOptions<[string], Pool> = { release: (p) => p.end(), capacity: 20 }
      expectTypeOf(stickySingleton((url: string) => new Pool(url), annotated)).toEqualTypeOf<
        Cached<[url: string], Promise<Pool>>
      >()
      // @ts-expect-error: release is required for a value that does not dispose of itself
      const missing: StickySingletonOptions<[string], Pool> = { capacity: 20 }
      // @ts-expect-error: the annotated options are for another value
      stickySingleton((url: string) => new Pool(url), {} as StickySingletonOptions<[string], AsyncClient>)
      // `satisfies` compiles as before.
      const checked = { release: (p: Pool) => p.end() } satisfies StickySingletonOptions<[string], Pool>
      expectTypeOf(stickySingleton((url: string) => new Pool(url), checked)).toEqualTypeOf<
        Cached<[url: string], Promise<Pool>>
      >()
      // A disposable value: release may be left out, or forwarded as possibly undefined.
      const forClients: StickySingletonOptions<[string], AsyncClient> = { capacity: 2 }
      expectTypeOf(stickySingleton((url: string) => new AsyncClient(url), forClients)).toEqualTypeOf<
        Cached<[url: string], Promise<AsyncClient>>
      >()
      const forwarded = undefined as ((c: AsyncClient) => unknown) | undefined
      expectTypeOf(stickySingleton((url: string) => new AsyncClient(url), { release: forwarded })).toEqualTypeOf<
        Cached<[url: string], Promise<AsyncClient>>
      >()
      // A generic helper forwarding its options.
      const pooled = <A>(make: (url: string) => A, options: StickySingletonOptions<[string], A>) =>
        stickySingleton(make, options)
      expectTypeOf(pooled((url) => new Pool(url), { release: (p) => p.end() })).toEqualTypeOf<
        Cached<[string], Promise<Pool>>
      >()
      void missing
    }))
})

describe("Cached", () => {
  it("is a function of Args with invalidate(...Args): Promise<void>", () =>
    types(() => {
      type C = Cached<[string, number], Promise<boolean>>
      expectTypeOf<Parameters<C>>().toEqualTypeOf<[string, number]>()
      expectTypeOf<ReturnType<C>>().toEqualTypeOf<Promise<boolean>>()
      expectTypeOf<Parameters<C["invalidate"]>>().toEqualTypeOf<[string, number]>()
      expectTypeOf<ReturnType<C["invalidate"]>>().toEqualTypeOf<Promise<void>>()
      // The documented annotation compiles.
      const documented: Cached<[string], Promise<{ url: string; [Symbol.dispose](): void }>> = stickySingleton(
        (url: string) => ({ url, [Symbol.dispose]() {} })
      )
      expectTypeOf(documented.invalidate("http://localhost")).toEqualTypeOf<Promise<void>>()
    }))
})

describe("enter, enterOnce", () => {
  it("enter: a disposable value or Promise of one needs no release", () =>
    types(() => {
      expectTypeOf(enter(asyncClient)).toEqualTypeOf<Promise<AsyncClient>>()
      expectTypeOf(enter(syncClient)).toEqualTypeOf<Promise<SyncClient>>()
      expectTypeOf(enter(Promise.resolve(asyncClient))).toEqualTypeOf<Promise<AsyncClient>>()
      expectTypeOf(enter(asyncClient as AsyncDisposable | Disposable)).toEqualTypeOf<
        Promise<AsyncDisposable | Disposable>
      >()
    }))

  it("enter: any other value requires a release of that value", () =>
    types(() => {
      expectTypeOf(
        enter(pool, (p) => {
          expectTypeOf(p).toEqualTypeOf<Pool>()
          return p.end()
        })
      ).toEqualTypeOf<Promise<Pool>>()
      expectTypeOf(enter(Promise.resolve(pool), (p) => p.end())).toEqualTypeOf<Promise<Pool>>()
      expectTypeOf(enter({ end() {} }, (s) => s.end())).toEqualTypeOf<Promise<{ end(): void }>>()
      // A disposable value may still be given a release.
      expectTypeOf(enter(asyncClient, (c) => c.url)).toEqualTypeOf<Promise<AsyncClient>>()
      // @ts-expect-error: a plain object without release
      enter({ plain: true })
      // @ts-expect-error: a Promise of a non-disposable value without release
      enter(Promise.resolve(pool))
      // @ts-expect-error: the release takes the value
      enter(pool, (s: string) => s)
      // @ts-expect-error: the release must be a function
      enter(pool, "end")
    }))

  it("enterOnce: the same overloads", () =>
    types(() => {
      expectTypeOf(enterOnce(asyncClient)).toEqualTypeOf<Promise<AsyncClient>>()
      expectTypeOf(enterOnce(syncClient)).toEqualTypeOf<Promise<SyncClient>>()
      expectTypeOf(enterOnce(Promise.resolve(syncClient))).toEqualTypeOf<Promise<SyncClient>>()
      expectTypeOf(
        enterOnce(pool, (p) => {
          expectTypeOf(p).toEqualTypeOf<Pool>()
          return p.end()
        })
      ).toEqualTypeOf<Promise<Pool>>()
      expectTypeOf(enterOnce(Promise.resolve(pool), (p) => p.end())).toEqualTypeOf<Promise<Pool>>()
      // @ts-expect-error: a plain object without release
      enterOnce({ close: async () => {} })
      // @ts-expect-error: a Promise of a non-disposable value without release
      enterOnce(Promise.resolve(pool))
      // @ts-expect-error: the release takes the value
      enterOnce(pool, (n: number) => n)
    }))
})

describe("sticky", () => {
  it("returns the same type as given, for disposable values only", () =>
    types(() => {
      expectTypeOf(sticky(asyncClient)).toEqualTypeOf<AsyncClient>()
      expectTypeOf(sticky(syncClient)).toEqualTypeOf<SyncClient>()
      const literal = { n: 1, [Symbol.dispose]() {} }
      expectTypeOf(sticky(literal)).toEqualTypeOf<{ n: number; [Symbol.dispose](): void }>()
      expectTypeOf(sticky(asyncClient as AsyncDisposable | Disposable)).toEqualTypeOf<AsyncDisposable | Disposable>()
      // @ts-expect-error: not disposable
      sticky(pool)
      // @ts-expect-error: a Promise is not disposable: sticky takes the value itself
      sticky(Promise.resolve(asyncClient))
      // @ts-expect-error: no release argument
      sticky(pool, (p: Pool) => p.end())
    }))

  it("is usable with await using and using", () =>
    types(async () => {
      await using client = sticky(asyncClient)
      expectTypeOf(client).toEqualTypeOf<AsyncClient>()
      using sync = sticky(syncClient)
      expectTypeOf(sync).toEqualTypeOf<SyncClient>()
    }))
})

describe("run", () => {
  it("returns a Promise of main's result, sync or async", () =>
    types(() => {
      expectTypeOf(run(() => 1)).toEqualTypeOf<Promise<number>>()
      expectTypeOf(run(async () => "s")).toEqualTypeOf<Promise<string>>()
      expectTypeOf(run(async () => {})).toEqualTypeOf<Promise<void>>()
      expectTypeOf(run(() => {})).toEqualTypeOf<Promise<void>>()
      expectTypeOf(run((): PromiseLike<{ ok: true }> => Promise.resolve({ ok: true }))).toEqualTypeOf<
        Promise<{ ok: true }>
      >()
      expectTypeOf(run(() => 1, { deadlineMs: 5_000 })).toEqualTypeOf<Promise<number>>()
      expectTypeOf(run(() => 1, { deadlineMs: undefined })).toEqualTypeOf<Promise<number>>()
      expectTypeOf(run).toEqualTypeOf<<T>(main: () => T | PromiseLike<T>, options?: CloseOptions) => Promise<T>>()
      // @ts-expect-error: main takes no arguments
      run((n: number) => n)
      // @ts-expect-error: main is a function
      run(Promise.resolve(1))
      // @ts-expect-error: run's options are CloseOptions: no drain
      run(() => 1, { drain: () => undefined })
      // @ts-expect-error: deadlineMs is a number of milliseconds
      run(() => 1, { deadlineMs: "5 seconds" })
    }))

  it("CloseOptions", () =>
    types(() => {
      expectTypeOf<CloseOptions>().toEqualTypeOf<{ readonly deadlineMs?: number | undefined }>()
    }))
})

describe("shutdown, closeOnSignals", () => {
  it("shutdown resolves with the report", () =>
    types(() => {
      expectTypeOf(shutdown).toEqualTypeOf<(options?: ShutdownOptions) => Promise<LoopLocal.ShutdownReport>>()
      expectTypeOf(shutdown()).toEqualTypeOf<Promise<LoopLocal.ShutdownReport>>()
      shutdown({ deadlineMs: 2_000, renew: true, drain: async () => {} })
      shutdown({ drain: () => 1 })
      // Every field also takes undefined (exactOptionalPropertyTypes).
      shutdown({ deadlineMs: undefined, drain: undefined, renew: undefined })
      // @ts-expect-error: deadlineMs is a number of milliseconds
      shutdown({ deadlineMs: "2 seconds" })
      // @ts-expect-error: renew is a boolean
      shutdown({ renew: "yes" })
      // @ts-expect-error: drain is a function
      shutdown({ drain: Promise.resolve() })
      // @ts-expect-error: exit is closeOnSignals's
      shutdown({ exit: false })
    }))

  it("ShutdownOptions", () =>
    types(() => {
      expectTypeOf<ShutdownOptions>().toEqualTypeOf<{
        readonly deadlineMs?: number | undefined
        readonly drain?: (() => unknown) | undefined
        readonly renew?: boolean | undefined
      }>()
      expectTypeOf<ShutdownOptions>().toExtend<CloseOptions>()
    }))

  it("closeOnSignals returns a function that removes the handlers", () =>
    types(() => {
      expectTypeOf(closeOnSignals).toEqualTypeOf<(options?: SignalOptions) => () => void>()
      expectTypeOf(closeOnSignals()).toEqualTypeOf<() => void>()
      expectTypeOf(closeOnSignals({ deadlineMs: 5_000, drain: async () => {}, exit: false })).toEqualTypeOf<
        () => void
      >()
      closeOnSignals({ deadlineMs: undefined, drain: undefined, exit: undefined })
      // @ts-expect-error: exit is a boolean
      closeOnSignals({ exit: 0 })
      // @ts-expect-error: deadlineMs is a number of milliseconds
      closeOnSignals({ deadlineMs: "5 seconds" })
      // @ts-expect-error: renew is shutdown's
      closeOnSignals({ renew: true })
    }))

  it("SignalOptions", () =>
    types(() => {
      expectTypeOf<SignalOptions>().toEqualTypeOf<{
        readonly deadlineMs?: number | undefined
        readonly drain?: (() => unknown) | undefined
        readonly exit?: boolean | undefined
      }>()
      expectTypeOf<SignalOptions>().toExtend<CloseOptions>()
    }))
})

describe("currentLoop, storage, atExit, formatShutdownReport", () => {
  it("currentLoop returns LoopLocal.Loop", () =>
    types(() => {
      expectTypeOf(currentLoop).toEqualTypeOf<() => LoopLocal.Loop>()
      expectTypeOf(currentLoop().runPromise(Effect.succeed(1))).toEqualTypeOf<Promise<number>>()
      expectTypeOf(currentLoop().inspect()).toEqualTypeOf<ReadonlyArray<LoopLocal.EntryInfo>>()
    }))

  it("storage returns the loop's Map", () =>
    types(() => {
      expectTypeOf(storage).toEqualTypeOf<() => Map<unknown, unknown>>()
    }))

  it("atExit takes a function of no arguments", () =>
    types(() => {
      expectTypeOf(atExit).toEqualTypeOf<(fn: () => unknown) => void>()
      atExit(async () => {})
      atExit(() => 1)
      // @ts-expect-error: a function, not a Promise
      atExit(Promise.resolve())
      // @ts-expect-error: called with no arguments
      atExit((reason: string) => reason)
    }))

  it("formatShutdownReport", () =>
    types(() => {
      expectTypeOf(formatShutdownReport).toEqualTypeOf<(report: LoopLocal.ShutdownReport) => string>()
      expectTypeOf(formatShutdownReport(report)).toEqualTypeOf<string>()
      // @ts-expect-error: a ShutdownReport
      formatShutdownReport({ releases: [] })
    }))
})

describe("NodeLoopLocal.runMain", () => {
  it("accepts Effect<A, E, LoopLocal> only", () =>
    types(() => {
      expectTypeOf(NodeLoopLocal.runMain).toEqualTypeOf<
        <A, E>(effect: Effect.Effect<A, E, LoopLocal.LoopLocal>, options?: NodeLoopLocal.RunMainOptions) => void
      >()
      expectTypeOf(NodeLoopLocal.runMain(Effect.log("hello"))).toEqualTypeOf<void>()
      NodeLoopLocal.runMain(Effect.fail("boom" as const))
      NodeLoopLocal.runMain(Effect.flatMap(Effect.void, () => currentLoopEffect))
      NodeLoopLocal.runMain(Effect.log("hello"), {
        deadlineMs: 5_000,
        disablePrettyLogger: true,
        disableErrorReporting: false,
        drain: async () => {}
      })
      NodeLoopLocal.runMain(Effect.void, {
        deadlineMs: undefined,
        disablePrettyLogger: undefined,
        disableErrorReporting: undefined,
        drain: undefined
      })
      // @ts-expect-error: an effect needing another service
      NodeLoopLocal.runMain(Effect.map(Tenant, (t) => t.length))
      // @ts-expect-error: an effect needing a Scope (wrap it in Effect.scoped)
      NodeLoopLocal.runMain(Effect.void as Effect.Effect<void, never, Scope.Scope>)
      // @ts-expect-error: not an Effect
      NodeLoopLocal.runMain(Promise.resolve())
      // @ts-expect-error: deadlineMs is a number of milliseconds
      NodeLoopLocal.runMain(Effect.void, { deadlineMs: "5 seconds" })
      // @ts-expect-error: exit is closeOnSignals's
      NodeLoopLocal.runMain(Effect.void, { exit: false })
    }))

  it("RunMainOptions", () =>
    types(() => {
      expectTypeOf<NodeLoopLocal.RunMainOptions>().toEqualTypeOf<{
        readonly disableErrorReporting?: boolean | undefined
        readonly disablePrettyLogger?: boolean | undefined
        readonly deadlineMs?: number | undefined
        readonly drain?: (() => unknown) | undefined
      }>()
    }))
})

/** An effect needing exactly LoopLocal, as a main program may. */
declare const currentLoopEffect: Effect.Effect<LoopLocal.Loop, never, LoopLocal.LoopLocal>
