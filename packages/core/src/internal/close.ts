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
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import type * as Option from "effect/Option"
import type * as LoopLocal from "../LoopLocal.js"
import { type Entry, keyText, small, tellWaiters } from "./entry.js"
import { abandoned, closedError, unfinished } from "./errors.js"
import { type LoopImpl, LoopTag } from "./loop.js"
import { logRelease, traced } from "./observe.js"
import { nextTurn, stopSweeps } from "./timers.js"

/**
 * Waits for `wait` until the deadline (ms since the epoch). The wait itself is
 * interruptible: a close runs as a scope finalizer, uninterruptibly, and a
 * timeout can only stop a wait it can interrupt.
 *
 * @internal
 */
export const waitUntil = <A>(wait: Effect.Effect<A>, deadline: number): Effect.Effect<Option.Option<A>> =>
  Effect.timeoutOption(Effect.interruptible(wait), Math.max(0, deadline - Date.now()))

/**
 * The loop's end, as the finalizer of its scope (added first, so it runs
 * last). Waiters of unfinished constructions are failed at once and the
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
    loop.closing = true
    return Effect.gen(function* () {
      const started = Date.now()
      const deadline = started + loop.deadlineMs
      const constructions = new Map<Fiber.RuntimeFiber<unknown, unknown>, Entry>()
      for (const entry of loop.pending) {
        // Taken now: a construction that settles during the releases still runs its value's release in its fiber.
        if (entry.pending!.fiber !== undefined) constructions.set(entry.pending!.fiber, entry)
        // A construction stuck in an uninterruptible region must not hang its waiters, nor hold up the releases.
        tellWaiters(entry.pending!, Exit.die(closedError(loop.id)))
        if (entry.pending!.interruptible) entry.pending!.fiber?.unsafeInterruptAsFork(FiberId.none)
      }
      stopSweeps(loop)
      // A loop that holds nothing to release closes at once: the wait below is only for values being handed out.
      if (loop.releases.size > 0 || constructions.size > 0 || loop.evicting.size > 0) {
        // One turn of the event loop, so that every value already handed to a caller reaches it unreleased.
        yield* nextTurn
        yield* releaseAll(loop, deadline)
        yield* awaitStragglers(loop, constructions, deadline)
      } else {
        loop.releasing = true
      }
      loop.storage.clear()
      loop.tables.clear()
      loop.sealed = true
      Deferred.unsafeDone(
        loop.closed,
        Exit.succeed({ loopId: loop.id, releases: loop.records, durationMs: Date.now() - started })
      )
      const failures = loop.records.flatMap((r) => (r.cause === undefined ? [] : [r.cause]))
      if (failures.length > 0) return yield* Effect.failCause(failures.reduce(Cause.sequential))
    }) as Effect.Effect<void>
  })

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
    if (running.size === 0) return
    const done = yield* waitUntil(Fiber.awaitAll(running.keys()), deadline)
    if (done._tag === "Some") return
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
    const inOrder = Effect.whileLoop({
      while: () => !overdue && next < entries.length,
      body: () => release(loop, entries[next++]!),
      step: () => {}
    })
    const fiber = yield* Effect.forkDaemon(inOrder)
    const done = yield* waitUntil(Fiber.await(fiber), deadline)
    if (done._tag === "Some") return
    overdue = true
    const running = next > 0 ? record(loop, entries[next - 1]!, "abandoned", undefined) : undefined
    if (running !== undefined) yield* logRelease(running, false, entries[next - 1]!.fromPromise)
    // Every remaining release still starts, in order; each is waited for until the event loop's next turn at most
    // (what needs no I/O finishes), then abandoned to go on in the background so that the next can start.
    for (const entry of entries.slice(next)) {
      const late = Effect.runFork(release(loop, entry), { immediate: true })
      if (late.unsafePoll() !== null) continue
      const settled = yield* waitUntil(Fiber.await(late), Date.now())
      const overrun = settled._tag === "None" ? record(loop, entry, "abandoned", undefined) : undefined
      if (overrun !== undefined) yield* logRelease(overrun, false, entry.fromPromise)
    }
  })

/** Runs one entry's release, recording its outcome for the shutdown report. @internal */
export const release = (loop: LoopImpl, entry: Entry): Effect.Effect<void> => {
  const make = entry.release
  if (make === undefined) return Effect.void
  entry.release = undefined
  return Effect.suspend(() => {
    entry.releaseState = small(Date.now() - loop.startedAt + 1)
    const key = keyText(entry)
    // Provided, so that code in a release finds the loop being closed, and any use of it fails as closed.
    const released = traced(
      "loop-local.release",
      entry.kind,
      key,
      Effect.provideService(make.run(entry.value), LoopTag, loop)
    )
    return Effect.flatMap(Effect.exit(released), (exit) => {
      const outcome = Exit.isSuccess(exit)
        ? record(loop, entry, "ok", undefined, key)
        : record(loop, entry, "failed", exit.cause, key)
      return outcome === undefined ? Effect.void : logRelease(outcome, loop.debug, entry.fromPromise)
    })
  })
}

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
