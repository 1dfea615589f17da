/**
 * Getting a value into a loop: the hit path, the miss path that starts the
 * one construction concurrent callers share (`construction.ts` runs it), and
 * values stored as they are. Owns `getOrAcquire`, the hot path of every keyed
 * primitive. It releases nothing.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import type * as LoopLocal from "../LoopLocal.js"
import { constructionsIn, Entry, exitOf, type Owner, PENDING, type Release, small, waitsForItself } from "./entry.js"
import { assertOpen, type LoopImpl, loopOf, tableOf, unusable } from "./loop.js"
import { touch, track } from "./evict.js"
import { construction, type Mode } from "./construction.js"
import { noteAcquired } from "./observe.js"

/**
 * The cached value for `key` on the fiber's loop, or the shared acquisition
 * of `f(key)` (or `f(...args)` when `args` are given). This is the hot path of
 * every keyed primitive: a hit reads two maps and returns the entry's `Exit`
 * (made on the first Effect hit, then reused), so callers wrap it in
 * `Effect.withFiberRuntime` and allocate nothing else.
 *
 * @internal
 */
export const getOrAcquire = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  owner: Owner,
  kind: LoopLocal.EntryKind,
  scoped: boolean,
  // biome-ignore lint/suspicious/noExplicitAny: each primitive's own signature types f's arguments
  f: (...args: ReadonlyArray<any>) => Effect.Effect<A, E, R>,
  key: unknown,
  args: ReadonlyArray<unknown> | undefined
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> => {
  const loop = loopOf(fiber)
  if (loop === undefined || loop.closing) return unusable(loop)
  const table = loop.tables.get(owner)
  const entry = table?.get(key)
  if (
    entry !== undefined &&
    entry.value !== PENDING &&
    (owner.bounds === undefined || touch(loop, owner, table!, entry))
  ) {
    return exitOf(entry) as Exit.Exit<A>
  }
  return acquireShared(fiber, loop, owner, kind, scoped, key, () => (args === undefined ? f(key) : f(...args)))
}

/**
 * The miss path. Making the entry and forking its construction are one
 * uninterruptible step: an interruption landing between the two would leave
 * the key pending with no fiber to finish it, and every later caller waiting
 * forever.
 */
const acquireShared = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  loop: LoopImpl,
  owner: Owner,
  kind: LoopLocal.EntryKind,
  scoped: boolean,
  key: unknown,
  make: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      if (loop.closing) return unusable(loop)
      const table = tableOf(loop, owner)
      const found = table.get(key)
      const existing =
        found?.ready && owner.bounds !== undefined && !touch(loop, owner, table, found) ? undefined : found
      if (existing !== undefined) {
        const cycle = existing.ready ? undefined : waitsForItself(constructionsIn(fiber.currentContext), table, key)
        return cycle === undefined ? restore(awaitEntry<A, E>(existing)) : Effect.die(cycle)
      }
      const entry = new Entry(kind, undefined, table)
      entry.key = table.set(key, entry)
      return Effect.zipRight(
        construct(loop, entry, scoped ? "scoped" : "plain", make),
        restore(awaitEntry<A, E>(entry))
      )
    })
  )

/** @internal */
export const awaitEntry = <A, E>(entry: Entry): Effect.Effect<A, E> =>
  (entry.ready ? exitOf(entry) : Deferred.await(entry.pending!.deferred)) as Effect.Effect<A, E>

/**
 * An acquisition of its own for each call (`enter`): the caller's interruption
 * interrupts it, and the partial resource is released.
 *
 * @internal
 */
export const acquireUnshared = <A, E, R>(
  loop: LoopImpl,
  kind: LoopLocal.EntryKind,
  resource: Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> =>
  Effect.uninterruptibleMask((restore) => {
    const entry = new Entry(kind, resource, undefined)
    const started = construct(loop, entry, "scoped", () => resource)
    // Taken now: should the scheduler yield before the fork's continuation, the construction may have settled.
    const outcome = Deferred.await(entry.pending!.deferred) as Effect.Effect<A, E>
    return Effect.flatMap(
      started,
      // Not waited for: a partial resource whose release hangs must not hang the interrupted caller (nor, through it,
      // a program's shutdown); the loop's close bounds it by its deadline.
      (fiber) => Effect.onInterrupt(restore(outcome), () => Fiber.interruptFork(fiber))
    )
  })

/**
 * Starts a construction from inside a fiber: it inherits the caller's context,
 * but not the uninterruptible region it is started from, so that the close
 * can interrupt it.
 */
const construct = <A, E, R>(
  loop: LoopImpl,
  entry: Entry,
  mode: Mode,
  make: () => Effect.Effect<A, E, R>
): Effect.Effect<Fiber.RuntimeFiber<void>, never, Exclude<R, Scope.Scope>> =>
  Effect.tap(Effect.forkDaemon(Effect.interruptible(construction(loop, entry, mode, make))), (fiber) => {
    if (entry.pending !== undefined) entry.pending.fiber = fiber
  })

/**
 * Stores a value that is already there (a synchronous result, a registered
 * finalizer) as a ready entry of `table` (or of no table), with an optional
 * release for the loop's close, given the value. `untracked`: a bounded owner's order of use
 * takes it later, when the caller says it completed (a Promise that settles).
 *
 * @internal
 */
export const insertReady = (
  loop: LoopImpl,
  table: ReturnType<typeof tableOf> | undefined,
  kind: LoopLocal.EntryKind,
  key: unknown,
  value: unknown,
  release: Release | undefined,
  untracked = false
): Entry => {
  assertOpen(loop)
  const entry = new Entry(kind, key, table)
  entry.value = value
  entry.acquiredAt = small(Date.now() - loop.startedAt)
  entry.seq = ++loop.completed
  if (release !== undefined) {
    entry.release = release
    loop.releases.add(entry)
  }
  if (table !== undefined) {
    entry.key = table.set(key, entry)
    if (untracked) entry.usedAt = -1
    else if (loop.tracked.size > 0) track(loop, entry)
  }
  Effect.runSync(noteAcquired(loop, entry, 0))
  return entry
}
