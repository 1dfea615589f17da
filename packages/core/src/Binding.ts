/**
 * The loop's keyed-entry table for other calling conventions than Effect's:
 * what `@loop-local/platform-node` builds its Promise API on, so that Promise
 * callers and Effect callers share one table, one release order and one
 * lifetime. Application code does not need it.
 *
 * The functions here are synchronous or return Promises, run outside any
 * fiber, and throw (or reject with) `LoopClosedError` on a closed loop.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as key from "./internal/key.js"
import * as internal from "./internal/loop.js"
import type { EntryKind, Loop, ShutdownReport } from "./LoopLocal.js"

/**
 * Who owns a set of keys in a loop's table: one per cached function.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const owner: Binding.Owner = Binding.makeOwner({ byIdentity: true })
 * ```
 */
export interface Owner {
  readonly byIdentity: boolean
}

/**
 * One entry of a loop's table, as `insert` returns it.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const owner = Binding.makeOwner({ byIdentity: false })
 * const handle: Binding.Handle | undefined = Binding.lookup(Binding.defaultLoop(), owner, "key")
 * ```
 */
export interface Handle {
  readonly kind: EntryKind
  readonly value: unknown
}

const impl = (loop: Loop) => loop as internal.LoopImpl

/**
 * A new owner. With `byIdentity`, every key is compared as a `Map` compares
 * it; otherwise plain objects, arrays and `Equal` values by content.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const owner = Binding.makeOwner({ byIdentity: false })
 * ```
 */
export const makeOwner = (options: { readonly byIdentity: boolean }): Owner => internal.makeOwner(options.byIdentity)

/**
 * The key of a call's arguments, as the Effect API computes it: a single
 * argument is its own key.
 *
 * @since 0.1.0
 * @category keys
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * Binding.keyOfArgs(["postgres://db"]) // "postgres://db"
 * ```
 */
export const keyOfArgs: (args: ArrayLike<unknown>) => unknown = key.keyOfArgs

/**
 * Whether two keys are the same key, as a loop's table compares them.
 *
 * @since 0.1.0
 * @category keys
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * Binding.equalKeys({ host: "a", port: 1 }, { port: 1, host: "a" }) // true
 * ```
 */
export const equalKeys: (a: unknown, b: unknown) => boolean = key.equalKeys

/**
 * The error of a construction that asks for its own value (directly or through
 * others), which would wait for itself forever.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const error = Binding.selfDependency("stickySingleton", "postgres://db")
 * ```
 */
export const selfDependency = (kind: EntryKind, key: unknown): Error => internal.selfDependency({ kind, key })

/**
 * The realm's default loop, the one of `LoopLocal.Default`.
 *
 * @since 0.1.0
 * @category loops
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const loop = Binding.defaultLoop()
 * ```
 */
export const defaultLoop: () => Loop = internal.defaultLoop

/**
 * A new loop with a scope of its own, closed only by `close`. `deadlineMs`
 * (default 10 000) bounds its releases: at its close, and at `invalidate`.
 *
 * @since 0.1.0
 * @category loops
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const loop = Binding.makeLoop({ deadlineMs: 5_000 })
 * await Binding.close(loop)
 * ```
 */
export const makeLoop = (options?: { readonly deadlineMs?: number | undefined }): Loop =>
  internal.unsafeMakeLoop(options?.deadlineMs)

/**
 * Closes a loop and resolves with its report once every release has run or
 * been abandoned at the deadline (default 10 s). Later calls get the same
 * report.
 *
 * @since 0.1.0
 * @category loops
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const report = await Binding.close(Binding.makeLoop(), { deadlineMs: 1_000 })
 * ```
 */
export const close = (loop: Loop, options?: { readonly deadlineMs?: number | undefined }): Promise<ShutdownReport> =>
  internal.closePromise(impl(loop), options?.deadlineMs)

/**
 * The loop's storage `Map`.
 *
 * @since 0.1.0
 * @category storage
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * Binding.storage(Binding.defaultLoop()).set("k", "v")
 * ```
 */
export const storage = (loop: Loop): Map<unknown, unknown> => {
  const l = impl(loop)
  if (l.closing) throw internal.closedError(l.id)
  return l.storage
}

/**
 * The hot path: the cached value for `key` (or its acquisition in flight) as a
 * Promise, the same Promise on every call; `undefined` when nothing is cached.
 *
 * @since 0.1.0
 * @category cache
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const owner = Binding.makeOwner({ byIdentity: false })
 * Binding.cachedPromise(Binding.defaultLoop(), owner, "key") // undefined
 * ```
 */
export const cachedPromise = (loop: Loop, owner: Owner, key: unknown): Promise<unknown> | undefined =>
  internal.unsafeCachedPromise(impl(loop), owner, key)

/**
 * The entry holding the cached value for `key`, or `undefined` (acquisitions
 * in flight are not returned). Its `value` is the cached value itself, so that
 * a cached `undefined` is told from a miss.
 *
 * @since 0.1.0
 * @category cache
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const owner = Binding.makeOwner({ byIdentity: false })
 * Binding.lookup(Binding.defaultLoop(), owner, "key")?.value
 * ```
 */
export const lookup = (loop: Loop, owner: Owner, key: unknown): Handle | undefined =>
  internal.unsafeLookup(impl(loop), owner, key)

/**
 * A value with its release, as `acquire` and `acquireEach` take them.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import type { Binding } from "@loop-local/core"
 *
 * const acquired: Binding.Acquired<{ readonly id: number }> = { value: { id: 1 }, release: () => Effect.void }
 * ```
 */
export interface Acquired<A> {
  readonly value: A
  /** Makes the effect that releases `value`, when it is due. */
  readonly release: () => Effect.Effect<void>
}

/**
 * Acquires `make()` for `key` unless it is cached or in flight, sharing one
 * acquisition between concurrent callers; the release it yields runs when the
 * loop closes. Rejects with the acquisition's error; a failure is not cached.
 *
 * @since 0.1.0
 * @category cache
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Binding } from "@loop-local/core"
 *
 * const owner = Binding.makeOwner({ byIdentity: false })
 * const pool = await Binding.acquire(Binding.defaultLoop(), owner, "stickySingleton", "db", () =>
 *   Effect.succeed({ value: { db: true }, release: () => Effect.log("released") }))
 * ```
 */
export const acquire = <A, E>(
  loop: Loop,
  owner: Owner,
  kind: EntryKind,
  key: unknown,
  make: () => Effect.Effect<Acquired<A>, E>
): Promise<A> => internal.unsafeAcquire(impl(loop), owner, kind, key, make)

/**
 * Acquires a value with its release, every call anew; the release runs when
 * the loop closes. `key` only names it in `inspect` and shutdown reports.
 *
 * @since 0.1.0
 * @category cache
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Binding } from "@loop-local/core"
 *
 * const conn = await Binding.acquireEach(Binding.defaultLoop(), "enter", "conn",
 *   Effect.succeed({ value: {}, release: () => Effect.void }))
 * ```
 */
export const acquireEach = <A, E>(
  loop: Loop,
  kind: EntryKind,
  key: unknown,
  acquisition: Effect.Effect<Acquired<A>, E>
): Promise<A> => internal.unsafeAcquireEach(impl(loop), kind, key, acquisition)

/**
 * Stores a value that is already there (a synchronous result, a Promise, a
 * registered finalizer) under `key` of `owner` (or under no key), with an
 * optional release to run when the loop closes.
 *
 * @since 0.1.0
 * @category cache
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Binding } from "@loop-local/core"
 *
 * Binding.insert(Binding.defaultLoop(), undefined, "atExit", undefined, undefined, Effect.log("bye"))
 * ```
 */
export const insert = (
  loop: Loop,
  owner: Owner | undefined,
  kind: EntryKind,
  key: unknown,
  value: unknown,
  release: Effect.Effect<void> | undefined
): Handle => internal.unsafeInsert(impl(loop), owner, kind, key, value, release)

/**
 * Forgets an inserted entry without releasing it (a rejected Promise that must
 * not stay cached).
 *
 * @since 0.1.0
 * @category cache
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const loop = Binding.defaultLoop()
 * const owner = Binding.makeOwner({ byIdentity: false })
 * Binding.remove(loop, Binding.insert(loop, owner, "singleton", "k", 1, undefined))
 * ```
 */
export const remove = (loop: Loop, handle: Handle): void => internal.unsafeRemove(impl(loop), handle as internal.Entry)

/**
 * Releases the entry for `key` now (waiting for an acquisition in flight) and
 * forgets it.
 *
 * @since 0.1.0
 * @category cache
 * @example
 * ```ts
 * import { Binding } from "@loop-local/core"
 *
 * const owner = Binding.makeOwner({ byIdentity: false })
 * await Binding.invalidate(Binding.defaultLoop(), owner, "k")
 * ```
 */
export const invalidate = (loop: Loop, owner: Owner, key: unknown): Promise<void> =>
  internal.invalidatePromise(impl(loop), owner, key)
