/**
 * One acquisition in a loop, and who owns it. Owns the `Entry` record (its
 * states: pending, ready, released), the owner of a set of keys, and the one
 * rule that catches a construction waiting for itself. It may not run effects
 * or touch a loop's state: acquisition, closing and eviction do.
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import type * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as LoopLocal from "../LoopLocal.js"
import { selfDependency } from "./errors.js"
import { equalKeys } from "./key.js"
import type { KeyTable } from "./table.js"
import { renderKey } from "./render.js"

/**
 * Who owns a set of keys in a loop's table: one per `singleton`,
 * `stickySingleton` or memoized function, and one shared by every `enterOnce`
 * and `sticky` (keyed by the resource's identity).
 *
 * @internal
 */
export interface Owner {
  readonly byIdentity: boolean
  /** What bounds its values in each loop; `undefined` for most owners, whose hits then check nothing more. */
  bounds: Bounds | undefined
  /** With an `id`: which kind of definition, of which API, it was made for; another under the same id is refused. */
  definedAs: string | undefined
}

/**
 * How many values an owner keeps per loop, and for how long (milliseconds);
 * `Infinity` where there is no bound.
 *
 * @internal
 */
export interface Bounds {
  readonly capacity: number
  readonly idleMs: number
  readonly ttlMs: number
}

/** @internal */
export const makeOwner = (byIdentity: boolean, bounds?: Bounds): Owner => ({
  byIdentity,
  bounds,
  definedAs: undefined
})

/** The value of an entry whose construction has not completed. @internal */
export const PENDING: unique symbol = Symbol.for("@loop-local/core/Pending")

/** What an entry has while its construction runs. @internal */
export interface Pending {
  readonly deferred: Deferred.Deferred<unknown, unknown>
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  /** Whether a close interrupts it: a Promise cannot be stopped, so a Promise-side construction is waited for. */
  readonly interruptible: boolean
  /** Settles the Promise its Promise-side waiters were given, once one is made. */
  tell: ((exit: Exit.Exit<unknown, unknown>) => void) | undefined
}

/**
 * Tells a construction's waiters its outcome: Effect waiters through its
 * `Deferred`, Promise waiters through the Promise they were given, which no
 * fiber then has to await the `Deferred` for.
 *
 * @internal
 */
export const tellWaiters = (pending: Pending, exit: Exit.Exit<unknown, unknown>): void => {
  Deferred.unsafeDone(pending.deferred, exit)
  pending.tell?.(exit)
}

/**
 * A construction in progress, as the chain of constructions a caller works
 * for records it: an `Entry` on the Effect side, a lighter record for the
 * Promise side's synchronous `singleton`.
 *
 * @internal
 */
export interface Construction {
  readonly table: KeyTable<Entry> | undefined
  readonly kind: LoopLocal.EntryKind
  readonly key: unknown
  readonly settled: boolean
}

/**
 * The error for a call that would wait for a construction its own caller works
 * for (directly or through others): it would wait for itself forever.
 *
 * @internal
 */
export const waitsForItself = (
  chain: ReadonlyArray<Construction>,
  table: KeyTable<Entry>,
  key: unknown
): Error | undefined => {
  for (const c of chain) {
    if (c.table === table && !c.settled && equalKeys(c.key, key)) return selfDependency(c.kind, key)
  }
  return undefined
}

/**
 * The constructions a fiber works for, outermost first, as a service of its
 * context: inherited by the construction fibers they start, so that a call
 * waiting for one of them, which would wait for itself, is caught. In the
 * context, not in a FiberRef: a construction changes its context anyway (its
 * `Scope`), and a cached resource's finalizer keeps what its acquisition's
 * fiber held, so a FiberRef of its own would cost every cached value a copy.
 *
 * @internal
 */
export interface Constructing {
  readonly _: unique symbol
}

/** @internal */
export const Constructing = Context.GenericTag<Constructing, ReadonlyArray<Construction>>(
  "@loop-local/core/Constructing"
)

/** The constructions the code with this context works for. @internal */
export const constructionsIn = (context: Context.Context<never>): ReadonlyArray<Construction> =>
  context.unsafeMap.get(Constructing.key) ?? []

/** The context of code working for `construction` too. @internal */
export const working = <R>(context: Context.Context<R>, construction: Construction): Context.Context<R> =>
  Context.add(context, Constructing, [...constructionsIn(context), construction]) as Context.Context<R>

/**
 * The chain of constructions of code running outside any fiber, as the host
 * tracks it (platform-node: AsyncLocalStorage). Effect code started from there
 * (`loop.runPromise`) continues that chain, so a cycle across the two APIs is
 * caught too.
 *
 * @internal
 */
export const outsideFibers = { chain: (): ReadonlyArray<Construction> => [] }

/**
 * What releases a value when its loop closes or it is forgotten: the scope it
 * was acquired in, or a release shared by every value of a definition (given
 * the value), so that a cached value keeps no closure of its own for it.
 *
 * @internal
 */
export interface Release {
  readonly run: (value: unknown) => Effect.Effect<void>
}

/**
 * One acquisition in a loop: pending while its construction runs, then ready,
 * holding the value and the release that the loop runs when it closes. A value
 * is kept as is; the wrappers the hits return (an `Exit` for Effect callers, a
 * Promise for Promise callers) are made on the first hit of each kind, so that
 * an entry pays only for the side that uses it.
 *
 * @internal
 */
export class Entry implements Construction {
  value: unknown = PENDING
  exit: Exit.Success<unknown, never> | undefined = undefined
  promise: Promise<unknown> | undefined = undefined
  pending: Pending | undefined = undefined
  release: Release | undefined = undefined
  /** When its release started (ms since the loop's start, plus 1); -1 once its outcome is recorded. */
  releaseState = 0
  /** Milliseconds since the loop's start (see `small`). */
  acquiredAt = 0
  acquireMs = 0
  /** Position in the loop's order of acquisition completion. */
  seq = 0
  /**
   * For a bounded owner: its count of uses when a call last asked for it (least recently used, idle time); -1 while
   * its value is a Promise still pending, which the owner's bounds do not count nor evict yet.
   */
  usedAt = 0
  /** Acquired by the Promise API: its failures are told to Promise users in their terms. */
  fromPromise = false
  constructor(
    readonly kind: LoopLocal.EntryKind,
    /** The key as its table stored it: a snapshot, never the caller's object, so it cannot change under the table. */
    public key: unknown,
    readonly table: KeyTable<Entry> | undefined
  ) {}

  get ready(): boolean {
    return this.value !== PENDING
  }

  get settled(): boolean {
    return this.value !== PENDING
  }
}

/**
 * Milliseconds as a small integer while they fit one: the difference of two
 * `Date.now()`s is a double to V8 even when whole, and a field that ever holds
 * a double is boxed in every entry. Larger values stay right, just boxed.
 *
 * @internal
 */
export const small = (ms: number): number => (ms < 0x3fffffff ? ms | 0 : ms)

/** The entry's value as an `Exit`, made once: what an Effect hit returns. @internal */
export const exitOf = (entry: Entry): Exit.Success<unknown, never> =>
  (entry.exit ??= Exit.succeed(entry.value) as Exit.Success<unknown, never>)

/**
 * How an entry is named for people: atExit finalizers have no key, so they are
 * named by their place in the order; a memoized layer by the services it
 * provides, once built.
 *
 * @internal
 */
export const keyText = (entry: Entry): string => {
  if (entry.kind === "atExit") return `#${entry.seq}`
  if (entry.kind === "memoize" && Layer.isLayer(entry.key) && Context.isContext(entry.value)) {
    return `Layer<${Array.from(entry.value.unsafeMap.keys()).join(", ")}>`
  }
  return renderKey(entry.key)
}
