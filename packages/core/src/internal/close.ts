/**
 * A loop's end. Owns the order of releases (last completed first), the
 * deadline after which releases still running are abandoned, and the report
 * of every release's outcome. It reads the loop's state and empties it; it
 * never starts a construction.
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Runtime from "effect/Runtime"
import type * as LoopLocal from "../LoopLocal.js"
import { type Entry, keyText, small, tellWaiters } from "./entry.js"
import { abandoned, closedError, unfinished } from "./errors.js"
import { type LoopImpl, LoopTag } from "./loop.js"
import { logRelease, makesSpans, span } from "./observe.js"
import { nextTurn, startTimer, stopSweeps, stopTimer } from "./timers.js"

/**
 * Whether every fiber has ended by the deadline (ms since the epoch). It
 * watches the fibers and sets one timer, where a timeout would race a sleep
 * on fibers of its own: a cost every close that waits would pay. Its own
 * timer ends it, so it holds even where it cannot be interrupted (a close runs
 * as a scope finalizer, uninterruptibly).
 *
 * @internal
 */
export const endedBy = (
  fibers: ReadonlyArray<Fiber.RuntimeFiber<unknown, unknown>>,
  deadline: number
): Effect.Effect<boolean> =>
  Effect.async<boolean>((resume) => {
    const running = fibers.filter((fiber) => fiber.unsafePoll() === null)
    if (running.length === 0) return resume(Effect.succeed(true))
    let left = running.length
    const unwatch = () => {
      stopTimer(timer)
      for (const fiber of running) fiber.removeObserver(ended)
    }
    const ended = () => {
      if (--left > 0) return
      unwatch()
      resume(Effect.succeed(true))
    }
    const timer = startTimer(
      () => {
        unwatch()
        resume(Effect.succeed(false))
      },
      Math.max(0, deadline - Date.now())
    )
    for (const fiber of running) fiber.addObserver(ended)
    return Effect.sync(unwatch)
  })

/**
 * The loop's end, as a finalizer of the scope it closes with (added when the
 * loop is made, so it runs after what was added to the loop's scope), or run
 * directly when that scope was never made. Waiters of unfinished constructions are failed at once and the
 * constructions interrupted (a Promise-side one cannot be, and is waited
 * for). One event-loop turn later, releases run one at a time, last acquired
 * first; then what is still running (constructions, releases started by
 * `invalidate`) is waited for. At the deadline what still runs is abandoned
 * and named in the report; a value that arrives later is still released.
 *
 * @internal
 */
export const close = (loop: LoopImpl): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (loop.closing) return Deferred.await(loop.closed)
    const started = Date.now()
    const constructions = stopConstructions(loop)
    // A loop that holds nothing to release closes at once: the wait below is only for values being handed out.
    if (loop.releases.size === 0 && constructions.size === 0 && loop.evicting.size === 0) {
      seal(loop, started)
      return Effect.void
    }
    return Effect.gen(function* () {
      const deadline = started + loop.deadlineMs
      // One turn of the event loop, so that every value already handed to a caller reaches it unreleased.
      yield* nextTurn
      yield* releaseAll(loop, deadline)
      if (constructions.size > 0 || loop.evicting.size > 0) yield* awaitStragglers(loop, constructions, deadline)
      seal(loop, started)
      const failures = loop.records.flatMap((r) => (r.cause === undefined ? [] : [r.cause]))
      if (failures.length > 0) return yield* Effect.failCause(failures.reduce(Cause.sequential))
    }) as Effect.Effect<void>
  })

/**
 * Closes a loop that holds nothing and has nothing running, at once and
 * without running an effect (most loops of `run()`); returns its report, or
 * `undefined` if the loop needs `close` (or is already closed).
 *
 * @internal
 */
export const closeIfEmpty = (loop: LoopImpl): LoopLocal.ShutdownReport | undefined => {
  if (loop.closing || loop.pending.size > 0 || loop.releases.size > 0 || loop.evicting.size > 0) return undefined
  const started = Date.now()
  stopConstructions(loop)
  return seal(loop, started)
}

/**
 * Begins the close: waiters of unfinished constructions fail at once and the
 * constructions are interrupted; returns those that run on a fiber, to be
 * waited for.
 */
const stopConstructions = (loop: LoopImpl): Map<Fiber.RuntimeFiber<unknown, unknown>, Entry> => {
  loop.closing = true
  const constructions = new Map<Fiber.RuntimeFiber<unknown, unknown>, Entry>()
  for (const entry of loop.pending) {
    // Taken now: a construction that settles during the releases still runs its value's release in its fiber.
    if (entry.pending!.fiber !== undefined) constructions.set(entry.pending!.fiber, entry)
    // A construction stuck in an uninterruptible region must not hang its waiters, nor hold up the releases.
    tellWaiters(entry.pending!, Exit.die(closedError(loop.id)))
    if (entry.pending!.interruptible) entry.pending!.fiber?.unsafeInterruptAsFork(FiberId.none)
  }
  stopSweeps(loop)
  return constructions
}

/** Ends the close: the loop forgets what it held, and its report is delivered. */
const seal = (loop: LoopImpl, started: number): LoopLocal.ShutdownReport => {
  // A value that arrives from now on is released at once.
  loop.releasing = true
  loop.storage.clear()
  loop.tables.clear()
  loop.sealed = true
  const report = { loopId: loop.id, releases: loop.records, durationMs: Date.now() - started }
  loop.deliver(report)
  return report
}

/**
 * Waits, until the deadline, for the constructions that were running when the
 * close began (a value that arrives is released as it settles) and for the
 * releases `invalidate` started; what still runs then is reported abandoned.
 */
const awaitStragglers = (
  loop: LoopImpl,
  constructions: ReadonlyMap<Fiber.RuntimeFiber<unknown, unknown>, Entry>,
  deadline: number
) =>
  Effect.gen(function* () {
    const running = new Map([...loop.evicting, ...constructions])
    if (yield* endedBy(Array.from(running.keys()), deadline)) return
    for (const [fiber, entry] of running) {
      if (fiber.unsafePoll() !== null) continue
      const report = record(loop, entry, "abandoned", undefined)
      if (report !== undefined) yield* logRelease(report, false, entry.fromPromise)
    }
  })

const releaseAll = (loop: LoopImpl, deadline: number): Effect.Effect<void> =>
  Effect.gen(function* () {
    loop.releasing = true
    const entries = Array.from(loop.releases).reverse()
    loop.releases.clear()
    let next = 0
    let overdue = false
    const spans = makesSpans(yield* Effect.tracer)
    const inOrder = Effect.provideService(
      Effect.whileLoop({
        while: () => !overdue && next < entries.length,
        body: () => releaseInLoop(loop, entries[next++]!, spans),
        step: () => {}
      }),
      LoopTag,
      loop
    )
    // Started at once, on this fiber's runtime: releases that need no I/O have run when it returns, and only a
    // release still running makes the close wait, until the deadline.
    const runtime = yield* Effect.runtime<never>()
    const fiber = Runtime.runFork(runtime)(inOrder)
    if (yield* endedBy([fiber], deadline)) return
    overdue = true
    const running = next > 0 ? record(loop, entries[next - 1]!, "abandoned", undefined) : undefined
    if (running !== undefined) yield* logRelease(running, false, entries[next - 1]!.fromPromise)
    // Every remaining release still starts, in order; each is waited for until the event loop's next turn at most
    // (what needs no I/O finishes), then abandoned to go on in the background so that the next can start.
    for (const entry of entries.slice(next)) {
      const late = Runtime.runFork(runtime)(release(loop, entry), { immediate: true })
      if (late.unsafePoll() !== null) continue
      const overrun = (yield* endedBy([late], Date.now())) ? undefined : record(loop, entry, "abandoned", undefined)
      if (overrun !== undefined) yield* logRelease(overrun, false, entry.fromPromise)
    }
  })

/**
 * Runs one entry's release, recording its outcome for the shutdown report.
 * The loop being closed is provided, so that code in a release finds it, and
 * any use of it fails as closed.
 *
 * @internal
 */
export const release = (loop: LoopImpl, entry: Entry): Effect.Effect<void> =>
  Effect.provideService(
    Effect.flatMap(Effect.tracer, (tracer) => releaseInLoop(loop, entry, makesSpans(tracer))),
    LoopTag,
    loop
  )

/**
 * `release` on a fiber given the loop already, and told whether to make a
 * span: the close's releases in order, which read both once for them all.
 */
const releaseInLoop = (loop: LoopImpl, entry: Entry, spans: boolean): Effect.Effect<void> => {
  const make = entry.release
  if (make === undefined) return Effect.void
  entry.release = undefined
  return Effect.suspend(() => {
    entry.releaseState = small(Date.now() - loop.startedAt + 1)
    const key = keyText(entry)
    return Effect.matchCauseEffect(
      spans ? span("loop-local.release", entry, make.run(entry.value), key) : make.run(entry.value),
      {
        onFailure: (cause) => logged(loop, entry, record(loop, entry, "failed", cause, key)),
        onSuccess: () => logged(loop, entry, record(loop, entry, "ok", undefined, key))
      }
    )
  })
}

const logged = (loop: LoopImpl, entry: Entry, report: LoopLocal.ReleaseReport | undefined): Effect.Effect<void> =>
  report === undefined ? Effect.void : logRelease(report, loop.debug, entry.fromPromise)

/** Records an entry's release outcome once: a release abandoned at the deadline that ends later stays abandoned. @internal */
export const record = (
  loop: LoopImpl,
  entry: Entry,
  outcome: LoopLocal.ReleaseReport["outcome"],
  cause: Cause.Cause<unknown> | undefined,
  key = keyText(entry)
): LoopLocal.ReleaseReport | undefined => {
  if (entry.releaseState === -1) return undefined
  const durationMs = entry.releaseState === 0 ? 0 : Date.now() - loop.startedAt + 1 - entry.releaseState
  // A construction abandoned now may still bring a value, whose release outcome is then logged too.
  if (entry.pending === undefined) entry.releaseState = -1
  const report: LoopLocal.ReleaseReport = {
    kind: entry.kind,
    key,
    durationMs,
    outcome,
    cause:
      outcome !== "abandoned"
        ? cause
        : Cause.die(
            entry.pending === undefined
              ? abandoned(entry.kind, key, loop.deadlineMs)
              : unfinished(entry.kind, key, loop.deadlineMs)
          )
  }
  // Outside a close (an invalidation) or after its report was delivered, an outcome is only logged.
  if (loop.closing && !loop.sealed) loop.records.push(report)
  return report
}
