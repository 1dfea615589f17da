/**
 * One construction, from its start to its settling: how a factory's effect is
 * run (with no `Scope`, in a `Scope` of its own the loop closes, or paired
 * with its release by the Promise side), on a fiber of its own that only the
 * close interrupts; then the value made ready and put in the release order,
 * or the entry forgotten and its waiters failed. It never looks a key up.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Scope from "effect/Scope"
import { record, release as releaseEntry } from "./close.js"
import { type Entry, keyText, type Release, small, tellWaiters, working } from "./entry.js"
import { closedError } from "./errors.js"
import { track } from "./evict.js"
import type { LoopImpl } from "./loop.js"
import { logRelease, noteAcquired, traced } from "./observe.js"
import { ConstructionScope } from "./scope.js"
import { describe } from "./validate.js"

/**
 * A value acquired with its release: how the Promise API hands its values to a
 * loop, without a `Scope` for each.
 *
 * @internal
 */
export interface Acquired<A> {
  readonly value: A
  readonly release: Release
}

/**
 * How a construction's effect is acquired: `plain` needs no release, `scoped`
 * runs in a `Scope` of its own that the loop closes, `paired` yields its value
 * with its release.
 *
 * @internal
 */
export type Mode = "plain" | "scoped" | "paired"

/**
 * The construction of `entry`, to run on a fiber of its own so that a
 * waiter's interruption cannot interrupt it; only the loop's close does.
 * Registers the entry as pending at once, before the fiber starts.
 *
 * @internal
 */
export const construction = <A, E, R>(
  loop: LoopImpl,
  entry: Entry,
  mode: Mode,
  make: () => Effect.Effect<A, E, R>
): Effect.Effect<void, never, Exclude<R, Scope.Scope>> => {
  entry.pending = {
    deferred: Deferred.unsafeMake(FiberId.none),
    fiber: undefined,
    interruptible: mode !== "paired",
    tell: undefined
  }
  loop.pending.add(entry)
  return Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      if (loop.closing) return settle(loop, entry, Exit.interrupt(FiberId.none), undefined, 0)
      const started = Date.now()
      const effect = make()
      if (!Effect.isEffect(effect)) return settle(loop, entry, Exit.die(notAnEffect(entry, effect)), undefined, started)
      const made = traced("loop-local.acquire", entry, effect)
      if (mode === "paired") {
        const paired = Effect.mapInputContext(made, (context: Context.Context<R>) => working(context, entry))
        return Effect.flatMap(Effect.exit(restore(paired)), (exit) => {
          if (Exit.isFailure(exit)) return settle(loop, entry, exit, undefined, started)
          const acquired = exit.value as Acquired<unknown>
          return settle(loop, entry, Exit.succeed(acquired.value), acquired.release, started)
        })
      }
      const scope = new ConstructionScope()
      const inScope = Effect.mapInputContext(
        made,
        (context: Context.Context<Exclude<R, Scope.Scope>>) =>
          Context.add(working(context, entry), Scope.Scope, scope) as Context.Context<R>
      )
      return Effect.flatMap(Effect.exit(restore(inScope)), (exit) => scoped(loop, entry, mode, scope, exit, started))
    })
  ) as Effect.Effect<void, never, Exclude<R, Scope.Scope>>
}

/**
 * Ends a construction run in `scope`. Made here, not inside the construction's callbacks: the scope stays with the
 * value as its release, and nothing it keeps may keep the construction's effect and callbacks alive.
 */
const scoped = (
  loop: LoopImpl,
  entry: Entry,
  mode: Mode,
  scope: ConstructionScope,
  exit: Exit.Exit<unknown, unknown>,
  started: number
): Effect.Effect<void> => {
  if (Exit.isSuccess(exit) && mode === "scoped") return settle(loop, entry, exit, scope, started)
  // A plain construction that registered a release belongs in `stickySingleton`.
  if (Exit.isSuccess(exit) && !scope.used) return settle(loop, entry, exit, undefined, started)
  const outcome = Exit.isSuccess(exit) ? Exit.die(scopedSingleton(entry)) : exit
  // A construction cut short by the close may already have released part of what it acquired as it unwound (a
  // memoized layer's build closes its own scope): those releases' failures are in its exit, which nobody awaits any
  // more, so they are the close's to report.
  const unwound = loop.closing && Exit.isFailure(exit) ? releaseFailures(exit.cause) : undefined
  if (unwound !== undefined) {
    return Effect.zipRight(reportPartial(loop, entry, unwound), finish(loop, entry, scope, outcome, started))
  }
  return finish(loop, entry, scope, outcome, started)
}

/**
 * Ends a plain or scoped construction that failed (or a plain one that registered a release): what it acquired is
 * released before any waiter sees the failure, or with the close if the close cut it short.
 */
const finish = (
  loop: LoopImpl,
  entry: Entry,
  scope: ConstructionScope,
  outcome: Exit.Exit<unknown, unknown>,
  started: number
): Effect.Effect<void> => {
  // What a construction cut short by the close acquired is released with the close, reported and logged.
  if (loop.closing && scope.used) return settle(loop, entry, outcome, scope, started)
  // The partial resource is released before any waiter sees the failure.
  return Effect.flatMap(Effect.exit(scope.close(outcome)), (released) =>
    Effect.zipRight(
      // A failure of that release while the loop closes is the close's; one after the caller of an `enter` was
      // interrupted reaches nobody: both are logged, as any release that fails.
      Exit.isFailure(released) && (loop.closing || Exit.isInterrupted(outcome))
        ? reportPartial(loop, entry, released.cause)
        : Effect.void,
      settle(
        loop,
        entry,
        Exit.isFailure(released)
          ? Exit.failCause(Exit.isFailure(outcome) ? Cause.sequential(outcome.cause, released.cause) : released.cause)
          : outcome,
        undefined,
        started
      )
    )
  )
}

/**
 * The defects in the exit of a construction cut short by its loop's close: what failed as it unwound. A release
 * (a finalizer) cannot fail with a typed error, so a typed failure is the construction's own and is left out.
 */
const releaseFailures = (cause: Cause.Cause<unknown>): Cause.Cause<never> | undefined => {
  const defects = Array.from(Cause.defects(cause))
  return defects.length === 0 ? undefined : defects.map((d) => Cause.die(d)).reduce(Cause.sequential)
}

const notAnEffect = (entry: Entry, u: unknown) =>
  new TypeError(
    `loop-local: the factory of ${entry.kind} ${keyText(entry)} must return an Effect, got ${
      u instanceof Promise ? "a Promise (wrap it: Effect.tryPromise(() => ...))" : describe(u)
    }`
  )

const scopedSingleton = (entry: Entry) =>
  new TypeError(
    `loop-local: the effect of ${entry.kind} ${keyText(entry)} needs a Scope (it registers a release), so its value would be released at once; use stickySingleton for resources`
  )

/**
 * Ends a construction: ready and in the release order, or forgotten with its
 * waiters failed. A value (or a partial one) that arrives after its loop began
 * closing is released with the close, as any other.
 */
const settle = <A, E>(
  loop: LoopImpl,
  entry: Entry,
  exit: Exit.Exit<A, E>,
  release: Release | undefined,
  started: number
): Effect.Effect<void> => {
  loop.pending.delete(entry)
  const pending = entry.pending!
  entry.pending = undefined
  entry.release = release
  if (Exit.isFailure(exit)) {
    entry.table?.delete(entry.key, entry)
    const cause = loop.closing && Cause.isInterruptedOnly(exit.cause) ? Cause.die(closedError(loop.id)) : exit.cause
    tellWaiters(pending, Exit.failCause(cause))
    return release === undefined ? Effect.void : releaseLate(loop, entry)
  }
  const now = Date.now()
  entry.acquiredAt = small(now - loop.startedAt)
  entry.acquireMs = small(now - started)
  entry.seq = ++loop.completed
  if (!loop.closing) {
    if (release !== undefined) loop.releases.add(entry)
    entry.value = exit.value
    // The Promise its Promise-side waiters were given is not kept: a value nobody asks for again keeps none, and the
    // first hit makes a resolved one.
    entry.promise = undefined
    if (loop.tracked.size > 0) track(loop, entry)
    // Not kept: a Promise-only entry never needs an Exit; an Effect hit makes its own once.
    tellWaiters(pending, Exit.succeed(exit.value))
    return noteAcquired(loop, entry, entry.acquireMs)
  }
  // Its waiters were told at the close's start; nobody gets the value, but its release is given it.
  entry.value = exit.value
  entry.table?.delete(entry.key, entry)
  tellWaiters(pending, Exit.die(closedError(loop.id)))
  return release === undefined ? Effect.void : releaseLate(loop, entry)
}

/** Before the close has taken its order of releases, a late entry joins it; after, it is released at once. */
const releaseLate = (loop: LoopImpl, entry: Entry): Effect.Effect<void> => {
  if (loop.releasing) return releaseEntry(loop, entry)
  loop.releases.add(entry)
  return Effect.void
}

/** Reports the failed release of a construction's partial resource, as the close reports any release. */
const reportPartial = (loop: LoopImpl, entry: Entry, cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  const report = record(loop, entry, "failed", cause)
  return report === undefined ? Effect.void : logRelease(report, loop.debug, entry.fromPromise)
}
