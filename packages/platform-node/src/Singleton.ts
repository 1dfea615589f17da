/**
 * Singletons for Promise code: one value per loop and per arguments.
 *
 * @since 0.1.0
 */
import type { LoopLocal } from "@loop-local/core"
import * as core from "@loop-local/core/internal"
import * as internal from "./internal/current.js"

/**
 * Options of `singleton`.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { singleton, type SingletonOptions } from "@loop-local/platform-node"
 *
 * const byUrl: SingletonOptions<[{ url: string; attempt: number }]> = { key: (o) => o.url }
 * const client = singleton((o: { url: string; attempt: number }) => ({ url: o.url }), byUrl)
 * ```
 */
export interface SingletonOptions<Args extends ReadonlyArray<unknown>> {
  /** Derives the cache key from the arguments, instead of comparing the arguments themselves. */
  readonly key?: ((...args: Args) => unknown) | undefined
  /** At most this many values per loop: past it, the least recently used others are evicted. */
  readonly capacity?: number | undefined
  /** Milliseconds: a value no call asked for during this long is evicted. */
  readonly idleTimeToLive?: number | undefined
  /** Milliseconds: a value is evicted this long after its acquisition completed, used or not. */
  readonly timeToLive?: number | undefined
  /**
   * Definitions with the same id, in the realm (across module reloads and
   * package copies), share their values per loop.
   */
  readonly id?: string | undefined
}

/**
 * Options of `stickySingleton` for values of type `A`: `release` may be left
 * out when `A` disposes of itself (`Symbol.asyncDispose` or `Symbol.dispose`),
 * and is required otherwise, so that options annotated with this type are
 * accepted by `stickySingleton` as they are.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { stickySingleton, type StickySingletonOptions } from "@loop-local/platform-node"
 *
 * class Pool {
 *   constructor(readonly url: string) {}
 *   async end() {}
 * }
 * const options: StickySingletonOptions<[string], Pool> = { release: (p) => p.end(), capacity: 20 }
 * const pool = stickySingleton((url: string) => new Pool(url), options)
 * ```
 */
export type StickySingletonOptions<Args extends ReadonlyArray<unknown>, A> = SingletonOptions<Args> &
  ([A] extends [AsyncDisposable | Disposable]
    ? {
        /** Releases a value at the end of its loop; by default its `Symbol.asyncDispose`, else its `Symbol.dispose`. */
        readonly release?: ((value: A) => unknown) | undefined
      }
    : {
        /** Releases a value at the end of its loop: `A` has no `Symbol.asyncDispose` or `Symbol.dispose` to use. */
        readonly release: (value: A) => unknown
      })

/**
 * A cached function, with a way to drop one cached value.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { stickySingleton, type Cached } from "@loop-local/platform-node"
 *
 * const pool: Cached<[string], Promise<{ url: string; [Symbol.dispose](): void }>> =
 *   stickySingleton((url: string) => ({ url, [Symbol.dispose]() {} }))
 * await pool.invalidate("http://localhost")
 * ```
 */
export type Cached<Args extends ReadonlyArray<unknown>, T> = ((...args: Args) => T) & {
  /** Releases the value for these arguments now (if it has a release) and forgets it: the next call creates anew. */
  invalidate(...args: Args): Promise<void>
}

/**
 * What a cached function's call does on the current loop: `get` is given the
 * loop, the key, and the arguments (`undefined` for a single argument, which
 * is its own key). `onError` turns a throw (a closed loop, a key that cannot
 * be compared) into the function's kind of failure.
 */
const lookup =
  <Args extends ReadonlyArray<unknown>, T>(
    get: (loop: core.Loop, key: unknown, args: Args | undefined) => T,
    invalidate: (loop: core.Loop, key: unknown) => Promise<void>,
    onError: (error: unknown) => T
  ) =>
  (keyOf: (args: Args) => unknown): core.Lookup<Args, T, Promise<void>> => ({
    one: (key) => {
      try {
        return get(internal.currentLoop(), key, undefined)
      } catch (error) {
        return onError(error)
      }
    },
    many: (args) => {
      try {
        return get(internal.currentLoop(), keyOf(args), args)
      } catch (error) {
        return onError(error)
      }
    },
    invalidate: async (args) => invalidate(internal.currentLoop(), keyOf(args))
  })

/**
 * Caches `fn(...args)` per loop and per arguments: `fn` runs once per key per
 * loop, later and concurrent calls get the same result. When the result is a
 * Promise, every caller gets that Promise; if it rejects, it is forgotten so
 * that the next call runs `fn` again. A synchronous throw is not cached either.
 *
 * Arguments are compared by value (primitives by value; plain objects and
 * arrays structurally, key order irrelevant; anything else by identity), or by
 * `options.key(...args)`.
 *
 * `fn` runs once, in its first caller's context: what it reads besides its
 * arguments (a tenant in AsyncLocalStorage, a request's headers) is the first
 * caller's, for every later caller of that loop and key. Make what differs an
 * argument, or key by it with `options.key`.
 *
 * @since 0.1.0
 * @category singletons
 * @example
 * ```ts
 * import { singleton } from "@loop-local/platform-node"
 *
 * const loadConfig = singleton(async (env: string) => ({ env, loadedAt: Date.now() }))
 * const same = (await loadConfig("prod")) === (await loadConfig("prod")) // true
 * ```
 */
export const singleton = <Args extends ReadonlyArray<unknown>, T>(
  fn: (...args: Args) => T,
  options?: SingletonOptions<LoopLocal.NoInferArgs<Args>>
): Cached<Args, T> => {
  const { adopt, owner } = core.ownerOf("singleton", "singleton of the Promise API", options, core.requireMilliseconds)
  const get = (loop: core.Loop, key: unknown, args: Args | undefined): T => {
    const hit = core.lookup({ loop, owner, key })
    // A cycle is only possible where this call would wait: on a Promise (maybe the one of a construction it works
    // for), or on a construction it would start; a plain value is returned at once.
    if (hit !== undefined && !internal.isThenable(hit.value)) return hit.value as T
    const cycle = internal.selfDependency(loop, owner, key)
    if (cycle !== undefined) throw cycle
    if (hit !== undefined) return hit.value as T
    // The key as the caller passed it: the factory may fill in defaults on its arguments.
    const stored = core.copyKey(owner, key)
    const construction = internal.construction(loop, owner, "singleton", stored)
    let value: T
    try {
      value = internal.runFactory(construction, () =>
        args === undefined ? (fn as unknown as (arg: unknown) => T)(key) : fn(...args)
      )
    } finally {
      construction.settled = true
    }
    const entry = core.insert({ loop, owner, kind: "singleton", key: stored, value })
    if (internal.isThenable(value)) {
      construction.settled = false
      value.then(
        () => {
          construction.settled = true
        },
        () => {
          construction.settled = true
          core.remove(loop, entry)
        }
      )
    }
    return value
  }
  return core.keyed(
    "singleton",
    fn,
    options,
    lookup<Args, T>(
      get,
      async (loop, key) => {
        // Every construction in flight is waited for, a retry started meanwhile included, so that the value forgotten
        // is the last one built and no second construction of the key ever runs beside another.
        let seen = core.lookup({ loop, owner, key })
        while (seen !== undefined && internal.isThenable(seen.value)) {
          await Promise.resolve(seen.value).catch(() => undefined)
          const now = core.lookup({ loop, owner, key })
          if (now === seen) break
          seen = now
        }
        return core.invalidate({ loop, owner, key })
      },
      (error) => {
        throw error
      }
    ),
    adopt
  )
}

/**
 * The all-in-one: `factory(...args)` is created once per loop and per
 * arguments, shared by every later and concurrent caller, and released once
 * when its loop ends: by `options.release(value)`, else its
 * `Symbol.asyncDispose`, else its `Symbol.dispose`. A rejected (or throwing)
 * construction rejects every caller waiting for it and is not cached: the next
 * call retries. `invalidate(...args)` releases that value now and forgets it.
 * Like `singleton`, `factory` runs in its first caller's context: make what
 * differs between callers an argument, or key by it with `options.key`.
 *
 * @since 0.1.0
 * @category singletons
 * @example
 * ```ts
 * import { stickySingleton } from "@loop-local/platform-node"
 *
 * class Pool {
 *   constructor(readonly origin: string) {}
 *   async close() {}
 * }
 * const pool = stickySingleton((origin: string) => new Pool(origin), { release: (p) => p.close() })
 * export async function handler() {
 *   const p = await pool("http://127.0.0.1:8080") // one Pool per loop and origin
 * }
 * ```
 */
export function stickySingleton<Args extends ReadonlyArray<unknown>, A extends AsyncDisposable | Disposable>(
  factory: (...args: Args) => A | PromiseLike<A>,
  options?: StickySingletonOptions<LoopLocal.NoInferArgs<Args>, A>
): Cached<Args, Promise<A>>
export function stickySingleton<Args extends ReadonlyArray<unknown>, A>(
  factory: (...args: Args) => A | PromiseLike<A>,
  options: SingletonOptions<LoopLocal.NoInferArgs<Args>> & { readonly release: (value: A) => unknown }
): Cached<Args, Promise<A>>
// Options of a value type not known yet (a generic helper forwarding them): `release` is required as the type is.
export function stickySingleton<Args extends ReadonlyArray<unknown>, A>(
  factory: (...args: Args) => A | PromiseLike<A>,
  options: StickySingletonOptions<LoopLocal.NoInferArgs<Args>, A>
): Cached<Args, Promise<A>>
export function stickySingleton<Args extends ReadonlyArray<unknown>, A>(
  factory: (...args: Args) => A | PromiseLike<A>,
  options?: SingletonOptions<LoopLocal.NoInferArgs<Args>> & { readonly release?: ((value: A) => unknown) | undefined }
): Cached<Args, Promise<A>> {
  const releaseOption = options?.release
  if (releaseOption !== undefined) internal.requireFunction("stickySingleton's options.release", releaseOption)
  const release = releaseOption === undefined ? undefined : internal.releaseWith(releaseOption)
  const { adopt, owner } = core.ownerOf(
    "stickySingleton",
    "stickySingleton of the Promise API",
    options,
    core.requireMilliseconds
  )
  const get = (loop: core.Loop, key: unknown, args: Args | undefined): Promise<A> => {
    const entry = core.entryOf({ loop, owner, key })
    if (entry?.ready) return core.promiseOf(entry) as Promise<A>
    const cycle = internal.selfDependency(loop, owner, key)
    if (cycle !== undefined) return Promise.reject(cycle)
    return (
      entry !== undefined
        ? core.promiseOf(entry)
        : core.acquire({
            loop,
            owner,
            kind: "stickySingleton",
            key,
            chain: internal.currentChain(),
            make: () =>
              internal.acquirePromise(
                internal.construction(loop, owner, "stickySingleton", key),
                () =>
                  args === undefined
                    ? (factory as unknown as (arg: unknown) => A | PromiseLike<A>)(key)
                    : factory(...args),
                release
              )
          })
    ) as Promise<A>
  }
  return core.keyed(
    "stickySingleton",
    factory,
    options,
    lookup<Args, Promise<A>>(
      get,
      (loop, key) => core.invalidate({ loop, owner, key }),
      (error) => Promise.reject(error)
    ),
    adopt
  )
}
