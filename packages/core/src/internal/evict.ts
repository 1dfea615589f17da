/**
 * Forgetting and releasing one value outside a close: `invalidate`, and the
 * evictions of bounded owners (capacity, idle time and time to live), which
 * are invalidations nobody asked for. Owns the rule that a forgotten value is
 * released one event-loop turn later (so a caller it was just handed to
 * receives it unreleased), once; and the bounded owners' order of use and
 * sweeps. It never touches the close's order.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import type * as LoopLocal from "../LoopLocal.js"
import { endedBy, record, release } from "./close.js"
import type { Entry } from "./entry.js"
import type { KeyTable } from "./table.js"
import { nextTurn, startSweep, startWatch, stopSweep, stopTimer } from "./timers.js"
import { keyText, type Owner, small } from "./entry.js"
import { abandoned } from "./errors.js"
import { type LoopImpl, LoopTag, type Tracked, tableOf, withLoop } from "./loop.js"
import { countReleased, logStillRunning, mayPileUp, traced } from "./observe.js"

/**
 * Forgets one cached entry and releases it, waiting first for a construction
 * in flight. Bounded by the loop's deadline: past it, the release is left
 * running and the invalidation fails naming it.
 *
 * @internal
 */
export const invalidate = (owner: Owner, key: unknown): Effect.Effect<void, never, LoopLocal.LoopLocal> =>
  withLoop((loop) =>
    Effect.gen(function* () {
      const entry = loop.tables.get(owner)?.get(key)
      if (entry === undefined) return
      if (!entry.ready) {
        yield* Effect.exit(Deferred.await(entry.pending!.deferred))
        return yield* invalidate(owner, key)
      }
      forget(loop, entry)
      const release = entry.release
      entry.release = undefined
      if (release === undefined) return
      const text = keyText(entry)
      const released = traced(
        "loop-local.release",
        entry,
        Effect.provideService(
          Effect.suspend(() => release.run(entry.value)),
          LoopTag,
          loop
        ),
        text
      )
      // One event-loop turn first, so that a caller the value was just handed to receives it unreleased. A close
      // that begins meanwhile waits for this release (within its deadline) and reports it.
      const fiber = yield* Effect.forkDaemon(
        Effect.zipRight(
          nextTurn,
          Effect.suspend(() => {
            entry.releaseState = small(Date.now() - loop.startedAt + 1)
            return Effect.tap(Effect.exit(released), (exit) => {
              if (loop.closing) {
                record(
                  loop,
                  entry,
                  Exit.isSuccess(exit) ? "ok" : "failed",
                  Exit.isFailure(exit) ? exit.cause : undefined,
                  text
                )
              }
            })
          })
        )
      )
      loop.evicting.set(fiber, entry)
      fiber.addObserver(() => loop.evicting.delete(fiber))
      if (!(yield* endedBy([fiber], Date.now() + loop.deadlineMs)))
        return yield* Effect.die(abandoned(entry.kind, text, loop.deadlineMs))
      // The fiber's value is the release's exit: its failure is this invalidation's.
      return yield* Effect.flatten(Fiber.join(fiber))
    })
  )

/** Forgets an entry at once: its key, its place in the release order and in its owner's order of use. @internal */
export const forget = (loop: LoopImpl, entry: Entry): void => {
  if (entry.table !== undefined && entry.ready && mayPileUp(entry)) countReleased(loop, entry.kind, keyText(entry))
  entry.table?.delete(entry.key, entry)
  loop.releases.delete(entry)
  if (entry.table !== undefined) loop.tracked.get(entry.table)?.order.delete(entry)
}

/**
 * An eviction: forgotten now, released one event-loop turn later in the
 * background. Its failure is logged and reaches no caller; a close that
 * begins meanwhile waits for it and reports it.
 */
const evict = (loop: LoopImpl, entry: Entry): void => {
  forget(loop, entry)
  if (entry.release === undefined) return
  const key = keyText(entry)
  const started = Date.now()
  const fiber = Runtime.runFork(loop.runtime)(Effect.zipRight(nextTurn, release(loop, entry)))
  loop.evicting.set(fiber, entry)
  // Nobody waits for an eviction's release: one that hangs past the deadline is told now, not only at a close.
  const watch = startWatch(() => {
    if (!loop.closing) Runtime.runFork(loop.runtime)(logStillRunning(entry, key, Date.now() - started))
  }, loop.deadlineMs)
  fiber.addObserver(() => {
    loop.evicting.delete(fiber)
    stopTimer(watch)
  })
}

/**
 * A hit on a bounded owner's value: it becomes the most recently used.
 * `false` when its time to live has passed: it is evicted, and the call
 * constructs anew.
 *
 * @internal
 */
export const touch = (loop: LoopImpl, owner: Owner, table: KeyTable<Entry>, entry: Entry): boolean => {
  let tracked = loop.tracked.get(table)
  // Other bounds than this loop follows: a later definition under the owner's id, whose first call this may be.
  if (tracked === undefined || tracked.synced !== owner.bounds) tracked = follow(loop, owner, table)!
  // A Promise still pending: its construction is not over, so no time to live runs for it yet.
  if (entry.usedAt < 0) return true
  if (tracked.now - entry.acquiredAt >= owner.bounds!.ttlMs) {
    evict(loop, entry)
    return false
  }
  // A count, not a move in `order`: a Set deletes lazily, so moving one element on every hit slows every hit as
  // the owner holds more values.
  entry.usedAt = ++tracked.uses
  return true
}

/**
 * A bounded owner's value that just became ready: the most recently used,
 * and, past the capacity, the least recently used others are evicted.
 *
 * @internal
 */
export const track = (loop: LoopImpl, entry: Entry): void => {
  let tracked = entry.table === undefined ? undefined : loop.tracked.get(entry.table)
  if (tracked === undefined) return
  const bounds = tracked.owner.bounds
  if (bounds === undefined) return
  if (tracked.synced !== bounds) tracked = follow(loop, tracked.owner, tracked.table)!
  entry.usedAt = ++tracked.uses
  tracked.order.add(entry)
  while (tracked.order.size > bounds.capacity) {
    // The least recently used other: a scan, paid by a construction past the capacity, never by a hit.
    let lru: Entry | undefined
    for (const other of tracked.order)
      if (other !== entry && (lru === undefined || other.usedAt < lru.usedAt)) lru = other
    if (lru === undefined) break
    evict(loop, lru)
  }
  schedule(loop, tracked)
}

/**
 * This loop's state for an owner whose bounds changed since the loop last
 * followed them (a later definition under its id, at its first call; or the
 * first value of a bounded owner): made anew from the values it holds, its
 * order of use kept, so that values made while it had no bounds are bounded
 * too and the sweep runs at the new times' pace, or not at all.
 */
const follow = (loop: LoopImpl, owner: Owner, table: KeyTable<Entry>): Tracked | undefined => {
  const stale = loop.tracked.get(table)
  if (stale !== undefined && stale.synced === undefined && owner.bounds !== undefined) {
    schedule(loop, stale)
    return stale
  }
  if (stale !== undefined) {
    if (stale.sweep !== undefined) stopSweep(loop, stale.sweep)
    loop.tracked.delete(table)
  }
  tableOf(loop, owner)
  const tracked = loop.tracked.get(table)
  if (tracked === undefined) return undefined
  if (stale !== undefined) tracked.uses = stale.uses
  schedule(loop, tracked)
  return tracked
}

/** Starts, restarts or stops an owner's sweep in a loop, at the pace of its bounds' shorter time. */
const schedule = (loop: LoopImpl, tracked: Tracked): void => {
  const bounds = tracked.owner.bounds
  tracked.synced = bounds
  // A quarter of the shorter time: a value goes at most half its time late.
  const sweepMs =
    bounds === undefined ? Number.POSITIVE_INFINITY : Math.max(1, Math.min(bounds.idleMs, bounds.ttlMs) / 4)
  if (tracked.sweep !== undefined && tracked.sweepMs === sweepMs) return
  if (tracked.sweep !== undefined) stopSweep(loop, tracked.sweep)
  tracked.sweep = undefined
  tracked.sweepMs = 0
  tracked.marks.length = 0
  if (sweepMs === Number.POSITIVE_INFINITY || tracked.order.size === 0) return
  tracked.sweepMs = sweepMs
  tracked.sweep = startSweep(loop, Math.min(sweepMs, 0x7fffffff), () => sweep(loop, tracked))
}

const sweep = (loop: LoopImpl, tracked: Tracked): void => {
  const bounds = tracked.owner.bounds
  if (tracked.synced !== bounds || bounds === undefined) {
    follow(loop, tracked.owner, tracked.table)
    return
  }
  tracked.now = Date.now() - loop.startedAt
  // The use count at each recent sweep: a value not used since the sweep of idleTimeToLive (plus one sweep of slack)
  // ago is idle; one used within idleTimeToLive never is.
  tracked.marks.push(tracked.uses)
  const span = Math.ceil(bounds.idleMs / tracked.sweepMs) + 1
  if (tracked.marks.length > span + 1) tracked.marks.shift()
  const idleBefore = tracked.marks.length > span ? tracked.marks[0]! : -1
  for (const entry of tracked.order) {
    if (entry.usedAt <= idleBefore || tracked.now - entry.acquiredAt >= bounds.ttlMs) evict(loop, entry)
  }
  if (tracked.order.size === 0) {
    stopSweep(loop, tracked.sweep)
    tracked.sweep = undefined
    tracked.sweepMs = 0
  }
}
