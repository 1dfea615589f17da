/**
 * The seam between the engine and `@loop-local/platform-node`, published as
 * `@loop-local/core/internal`: NOT part of the public API, and free to change
 * in any release. `@loop-local/platform-node` pins the exact version of core
 * it was built with; nothing else may import it.
 *
 * Owns the Promise calling convention over a loop's table: synchronous calls
 * or Promises, made outside any fiber, that throw (or reject with)
 * `LoopClosedError` on a closed loop. The rules themselves stay in the
 * engine's modules.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as LoopLocal from "../LoopLocal.js"
import { insertReady } from "./acquire.js"
import { closeIfEmpty } from "./close.js"
import { type Acquired, construction } from "./construction.js"
import { type Construction, Constructing, Entry, type Owner, type Pending, type Release, small } from "./entry.js"
import { closedError } from "./errors.js"
import { forget, invalidate as invalidateEffect, touch, track } from "./evict.js"
import { isStructural, snapshot } from "./key.js"
import { assertOpen, type LoopImpl, LoopTag, tableOf } from "./loop.js"
import { closeLoop, defaultLoop as realmDefaultLoop, unsafeMakeLoop } from "./realm.js"

export { renewDefaultLoop } from "./realm.js"
import { requireMilliseconds } from "./validate.js"

export type { Acquired } from "./construction.js"
export {
  type Construction,
  constructionsIn,
  type Entry,
  makeOwner,
  type Owner,
  outsideFibers,
  type Release,
  waitsForItself
} from "./entry.js"
export { closedError, isLoopClosedError, LoopClosedError } from "./errors.js"
export { type Cached, type KeyedOptions, keyed, type Lookup, ownerOf } from "./keyed.js"
export { assertOpen, type LoopImpl as Loop, loopOf, tableOf } from "./loop.js"
export { realmOwner } from "./realm.js"
export { describe, requireFunction, requireMilliseconds, requireOptions } from "./validate.js"

/** The realm's default loop, the one of `LoopLocal.Default`. */
export const defaultLoop: () => LoopImpl = realmDefaultLoop

/** A new loop with a scope of its own, closed only by `close`; `deadlineMs` bounds its releases. */
export const makeLoop = (options?: { readonly deadlineMs?: number | undefined }): LoopImpl =>
  unsafeMakeLoop(requireMilliseconds("deadlineMs", options?.deadlineMs))

/** Closes a loop; resolves with its report. Later calls get the same report. */
export const close = (
  loop: LoopImpl,
  options?: { readonly deadlineMs?: number | undefined }
): Promise<LoopLocal.ShutdownReport> => {
  try {
    const deadlineMs = requireMilliseconds("deadlineMs", options?.deadlineMs)
    // Most loops of `run()` hold nothing at their end: they close at once, without running an effect.
    const report = loop.hasScope ? undefined : closeIfEmpty(loop)
    return report !== undefined ? Promise.resolve(report) : Effect.runPromise(closeLoop(loop, deadlineMs))
  } catch (error) {
    return Promise.reject(error)
  }
}

/** The loop's storage `Map`. */
export const storage = (loop: LoopImpl): Map<unknown, unknown> => {
  assertOpen(loop)
  return loop.storage
}

/** Settles like the effect, rejecting with the error itself (not a FiberFailure). */
const toPromise = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) =>
    Exit.isSuccess(exit) ? exit.value : Promise.reject(Cause.squash(exit.cause))
  )

/** The entry's value or construction as a Promise, made once per entry. */
const entryPromise = (entry: Entry): Promise<unknown> =>
  (entry.promise ??= entry.ready ? Promise.resolve(entry.value) : waiting(entry.pending!))

/**
 * The Promise of a construction's outcome, settled as its waiters are told
 * (`tellWaiters`). Made before they are: once its loop began closing, and its
 * waiters were told, no call of this module makes one.
 */
const waiting = (pending: Pending): Promise<unknown> =>
  new Promise((resolve, reject) => {
    pending.tell = (exit) => (Exit.isSuccess(exit) ? resolve(exit.value) : reject(Cause.squash(exit.cause)))
  })

/** Where a call looks: a loop, and an owner's keys in it. */
export interface Place {
  readonly loop: LoopImpl
  readonly owner: Owner
  readonly key: unknown
}

/** The hot path: the cached value (or its acquisition in flight) as the same Promise on every call; `undefined` on a miss. */
export const cachedPromise = (place: Place): Promise<unknown> | undefined => {
  if (place.loop.closing) return Promise.reject(closedError(place.loop.id))
  const entry = entryOf(place)
  return entry === undefined ? undefined : entryPromise(entry)
}

/** The entry for the key, ready or pending, or `undefined`. */
export const entryOf = ({ key, loop, owner }: Place): Entry | undefined => {
  assertOpen(loop)
  const table = loop.tables.get(owner)
  const entry = table?.get(key)
  // A bounded owner's hit is a use; one past its time to live is gone.
  return entry === undefined || owner.bounds === undefined || !entry.ready || touch(loop, owner, table!, entry)
    ? entry
    : undefined
}

/** The entry's value, or its construction, as a Promise: the same one every time. */
export const promiseOf = (entry: Entry): Promise<unknown> => entryPromise(entry)

/** The ready entry for the key, or `undefined` (acquisitions in flight are not returned). */
export const lookup = (place: Place): Entry | undefined => {
  const entry = entryOf(place)
  return entry?.ready ? entry : undefined
}

/** Starts a construction outside any fiber; its Promise is taken before, since it may settle within `runFork`. */
const start = <A, E>(
  loop: LoopImpl,
  entry: Entry,
  chain: ReadonlyArray<Construction>,
  make: () => Effect.Effect<Acquired<A>, E>
): Promise<A> => {
  const built = construction(loop, entry, "paired", make)
  const run = Effect.provideService(
    chain.length === 0 ? built : Effect.provideService(built, Constructing, chain),
    LoopTag,
    loop
  )
  const promise = entryPromise(entry)
  const fiber = Effect.runFork(run)
  if (entry.pending !== undefined) entry.pending.fiber = fiber
  return promise as Promise<A>
}

/**
 * Acquires `make()` for the key unless it is cached or in flight, sharing one
 * acquisition between concurrent callers; a failure is not cached.
 */
export const acquire = <A, E>(
  place: Place & {
    readonly kind: LoopLocal.EntryKind
    /** The constructions the caller works for: its construction continues the chain. */
    readonly chain: ReadonlyArray<Construction>
    readonly make: () => Effect.Effect<Acquired<A>, E>
  }
): Promise<A> => {
  const { loop } = place
  if (loop.closing) return Promise.reject(closedError(loop.id))
  const table = tableOf(loop, place.owner)
  const existing = table.get(place.key)
  if (existing !== undefined) return entryPromise(existing) as Promise<A>
  const entry = new Entry(place.kind, undefined, table)
  entry.key = table.set(place.key, entry)
  entry.fromPromise = true
  return start(loop, entry, place.chain, place.make)
}

/** Acquires a value with its release, every call anew; `key` only names it in `inspect` and reports. */
export const acquireEach = <A, E>(options: {
  readonly loop: LoopImpl
  readonly kind: LoopLocal.EntryKind
  readonly key: unknown
  readonly chain: ReadonlyArray<Construction>
  readonly acquisition: Effect.Effect<Acquired<A>, E>
}): Promise<A> => {
  const { loop } = options
  if (loop.closing) return Promise.reject(closedError(loop.id))
  const entry = new Entry(options.kind, options.key, undefined)
  entry.fromPromise = true
  return start(loop, entry, options.chain, () => options.acquisition)
}

/**
 * Stores a value that is already there under the owner's key (or under none),
 * with an optional release. A Promise not settled yet is a construction still
 * pending to a bounded owner: its capacity does not count it nor evict it,
 * and its times to live run from its fulfilment (a rejected one the caller
 * removes).
 */
export const insert = (options: {
  readonly loop: LoopImpl
  readonly owner?: Owner | undefined
  readonly kind: LoopLocal.EntryKind
  readonly key?: unknown
  readonly value?: unknown
  readonly release?: Release | undefined
}): Entry => {
  const { loop, owner, value } = options
  const table = owner === undefined ? undefined : tableOf(loop, owner)
  const pending = owner?.bounds !== undefined && isThenable(value)
  const entry = insertReady(loop, table, options.kind, options.key, value, options.release, pending)
  entry.fromPromise = true
  if (pending) {
    value.then(
      () => {
        if (loop.closing || entry.table?.get(entry.key) !== entry) return
        // Its acquisition completes now: its times to live count from here.
        entry.acquiredAt = small(Date.now() - loop.startedAt)
        entry.usedAt = 0
        if (loop.tracked.size > 0) track(loop, entry)
      },
      // The rejection is the caller's (it removes the entry); handled here so that this branch adds no unhandled one.
      () => {}
    )
  }
  return entry
}

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  u !== null &&
  (typeof u === "object" || typeof u === "function") &&
  typeof (u as PromiseLike<unknown>).then === "function"

/** The key as a table stores it: taken before a factory runs, which may change the arguments it is given. */
export const copyKey = (owner: Owner, key: unknown): unknown =>
  owner.byIdentity || !isStructural(key) ? key : snapshot(key, 0)

/** Forgets an inserted entry without releasing it (a rejected Promise that must not stay cached). */
export const remove: (loop: LoopImpl, entry: Entry) => void = forget

/** Releases the entry for the key now (waiting for an acquisition in flight) and forgets it. */
export const invalidate = ({ key, loop, owner }: Place): Promise<void> =>
  toPromise(Effect.provideService(invalidateEffect(owner, key), LoopTag, loop))
