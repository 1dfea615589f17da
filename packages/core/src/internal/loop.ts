import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as Scope from "effect/Scope"
import type * as LoopLocal from "../LoopLocal.js"
import { KeyTable, renderKey } from "./key.js"

/** @internal */
export const TagKey = "@loop-local/core/LoopLocal"

/** @internal */
export const LoopTag = Context.GenericTag<LoopLocal.LoopLocal, LoopLocal.Loop>(TagKey)

/** @internal */
export class LoopClosedError extends Data.TaggedError("LoopClosedError")<{
  readonly loopId: number
  readonly message: string
}> {}

/** @internal */
export const closedError = (loopId: number) =>
  new LoopClosedError({ loopId, message: `loop-local: loop ${loopId} is closed` })

/**
 * Who owns a set of keys in a loop's table: one per `singleton`,
 * `stickySingleton` or memoized layer, and one shared by every `enterOnce` and
 * `sticky` (keyed by the resource's identity).
 *
 * @internal
 */
export interface Owner {
  readonly byIdentity: boolean
}

/** @internal */
export const makeOwner = (byIdentity: boolean): Owner => ({ byIdentity })

/** The value of an entry whose construction has not completed. */
const PENDING: unique symbol = Symbol.for("@loop-local/core/Pending")

/** What an entry has while its construction runs. */
interface Pending {
  readonly deferred: Deferred.Deferred<unknown, unknown>
  fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
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
export class Entry {
  value: unknown = PENDING
  exit: Exit.Success<unknown, never> | undefined = undefined
  promise: Promise<unknown> | undefined = undefined
  pending: Pending | undefined = undefined
  /** Makes the release when it is due: a thunk is lighter to keep than an effect for every cached value. */
  release: (() => Effect.Effect<void>) | undefined = undefined
  /** When its release started (ms since the loop's start, plus 1); -1 once its outcome is recorded. */
  releaseState = 0
  /** Milliseconds since the loop's start (see `small`). */
  acquiredAt = 0
  acquireMs = 0
  /** Position in the loop's order of acquisition completion. */
  seq = 0
  constructor(
    readonly kind: LoopLocal.EntryKind,
    readonly key: unknown,
    readonly table: KeyTable<Entry> | undefined
  ) {}

  get ready(): boolean {
    return this.value !== PENDING
  }
}

/**
 * Milliseconds as a small integer while they fit one: the difference of two
 * `Date.now()`s is a double to V8 even when whole, and a field that ever holds
 * a double is boxed in every entry. Larger values stay right, just boxed.
 */
const small = (ms: number): number => (ms < 0x3fffffff ? ms | 0 : ms)

/** The entry's value as an `Exit`, made once: what an Effect hit returns. */
const exitOf = (entry: Entry): Exit.Success<unknown, never> =>
  (entry.exit ??= Exit.succeed(entry.value) as Exit.Success<unknown, never>)

/** @internal */
export class LoopImpl implements LoopLocal.Loop {
  readonly storage = new Map<unknown, unknown>()
  readonly tables = new Map<Owner, KeyTable<Entry>>()
  /** Entries holding a release, in order of acquisition completion. */
  readonly releases = new Set<Entry>()
  readonly pending = new Set<Entry>()
  readonly records: Array<LoopLocal.ReleaseReport> = []
  readonly closed: Deferred.Deferred<LoopLocal.ShutdownReport>
  /** Entry times are kept relative to this, as small integers. */
  readonly startedAt = Date.now()
  closing = false
  /** How long a close may take before the releases still running are abandoned. */
  deadlineMs = 10_000
  /** LOOP_LOCAL_DEBUG=1: log every acquisition and release as it happens. */
  readonly debug =
    (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.LOOP_LOCAL_DEBUG === "1"
  /** Set once the close has taken its snapshot of `releases`: later completions release at once. */
  releasing = false
  /** Counts completed acquisitions (and atExit registrations), to order them. */
  completed = 0

  constructor(
    readonly id: number,
    readonly scope: Scope.CloseableScope
  ) {
    this.closed = Deferred.unsafeMake(FiberId.none)
  }

  get isClosed(): boolean {
    return this.closing
  }

  runPromise<A, E>(effect: Effect.Effect<A, E, LoopLocal.LoopLocal>): Promise<A> {
    if (this.closing) return Promise.reject(closedError(this.id))
    return Effect.runPromise(Effect.provideService(effect, LoopTag, this))
  }

  die(): Effect.Effect<never> {
    return Effect.die(closedError(this.id))
  }

  /**
   * The loop's end: a finalizer on its scope, added first so that it runs
   * last. Constructions in flight are interrupted, then releases run one at a
   * time, last acquired first. At the deadline the release running then is
   * abandoned (left to finish on its own); each remaining one still starts, in
   * order, and is waited for until the event loop's next turn at most.
   */
  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    if (this.closing) return Deferred.await(this.closed)
    this.closing = true
    const started = Date.now()
    const deadline = started + this.deadlineMs
    const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
    for (const entry of this.pending) if (entry.pending?.fiber !== undefined) fibers.push(entry.pending.fiber)
    return Fiber.interruptAll(fibers).pipe(
      Effect.timeoutOption(Math.max(0, deadline - started)),
      // One turn of the event loop, so that every value already handed to a caller reaches it unreleased.
      Effect.zipRight(nextTurn),
      Effect.zipRight(Effect.suspend(() => this.releaseAll(deadline))),
      Effect.zipRight(
        Effect.suspend(() => {
          this.storage.clear()
          this.tables.clear()
          Deferred.unsafeDone(
            this.closed,
            Exit.succeed({ loopId: this.id, releases: this.records, durationMs: Date.now() - started })
          )
          const failures = this.records.flatMap((r) => (r.cause === undefined ? [] : [r.cause]))
          return failures.length === 0 ? Effect.void : Effect.failCause(failures.reduce(Cause.sequential))
        })
      )
    ) as Effect.Effect<void>
  })

  private releaseAll(deadline: number): Effect.Effect<void> {
    this.releasing = true
    const entries = Array.from(this.releases).reverse()
    this.releases.clear()
    let next = 0
    let overdue = false
    const inOrder = Effect.whileLoop({
      while: () => !overdue && next < entries.length,
      body: () => this.release(entries[next++]!),
      step: () => {}
    })
    return Effect.forkDaemon(inOrder).pipe(
      Effect.flatMap((fiber) => Effect.timeoutOption(Fiber.await(fiber), Math.max(0, deadline - Date.now()))),
      Effect.flatMap((done) => {
        if (done._tag === "Some") return Effect.void
        overdue = true
        const running = next > 0 ? this.record(entries[next - 1]!, "abandoned", undefined) : undefined
        // Every remaining release still starts, in order; each is waited for until the event loop's next turn at
        // most (what needs no I/O finishes), then abandoned to go on in the background so that the next can start.
        return Effect.zipRight(
          running === undefined ? Effect.void : logRelease(running),
          Effect.forEach(
            entries.slice(next),
            (entry) => {
              const fiber = Effect.runFork(this.release(entry), { immediate: true })
              if (fiber.unsafePoll() !== null) return Effect.void
              return Effect.flatMap(Effect.timeoutOption(Fiber.await(fiber), 0), (settled) => {
                const record = settled._tag === "None" ? this.record(entry, "abandoned", undefined) : undefined
                return record === undefined ? Effect.void : logRelease(record)
              })
            },
            { discard: true }
          )
        )
      })
    )
  }

  /** Runs one entry's release, recording its outcome for the shutdown report. */
  release(entry: Entry): Effect.Effect<void> {
    const release = entry.release
    if (release === undefined) return Effect.void
    entry.release = undefined
    return Effect.suspend(() => {
      entry.releaseState = small(Date.now() - this.startedAt + 1)
      const key = keyText(entry)
      return Effect.flatMap(Effect.exit(traced("loop-local.release", entry.kind, key, release())), (exit) => {
        const record = Exit.isSuccess(exit)
          ? this.record(entry, "ok", undefined, key)
          : this.record(entry, "failed", exit.cause, key)
        return record === undefined ? Effect.void : logRelease(record, this.debug)
      })
    })
  }

  /** Records an entry's release outcome once: a release abandoned at the deadline that ends later stays abandoned. */
  private record(
    entry: Entry,
    outcome: LoopLocal.ReleaseReport["outcome"],
    cause: Cause.Cause<unknown> | undefined,
    key = keyText(entry)
  ): LoopLocal.ReleaseReport | undefined {
    if (entry.releaseState === -1) return undefined
    const durationMs = entry.releaseState === 0 ? 0 : Date.now() - this.startedAt + 1 - entry.releaseState
    entry.releaseState = -1
    const record: LoopLocal.ReleaseReport = {
      kind: entry.kind,
      key,
      durationMs,
      outcome,
      cause: outcome === "abandoned" ? Cause.die(abandoned(entry.kind, key, this.deadlineMs)) : cause
    }
    this.records.push(record)
    return record
  }

  /** What the loop holds now, in order of acquisition completion. */
  inspect(): ReadonlyArray<LoopLocal.EntryInfo> {
    const held = new Set<Entry>(this.releases)
    for (const table of this.tables.values()) for (const entry of table.values()) if (entry.ready) held.add(entry)
    return Array.from(held)
      .sort((a, b) => a.seq - b.seq)
      .map((entry) => ({
        kind: entry.kind,
        key: keyText(entry),
        acquiredAt: new Date(this.startedAt + entry.acquiredAt),
        acquireMs: entry.acquireMs
      }))
  }
}

/**
 * The next turn of the event loop: every microtask queued before it (a
 * Promise's continuation, a fiber's resumption) has run by then. `setImmediate`
 * where the runtime has it (microseconds), else a zero timer.
 */
const nextTurn: Effect.Effect<void> = Effect.async((resume) => {
  const timers = globalThis as unknown as Timers
  if (typeof timers.setImmediate === "function" && typeof timers.clearImmediate === "function") {
    const handle = timers.setImmediate(() => resume(Effect.void))
    return Effect.sync(() => timers.clearImmediate!(handle))
  }
  const handle = timers.setTimeout(() => resume(Effect.void), 0)
  return Effect.sync(() => timers.clearTimeout(handle))
})

/** The timer functions of the JS runtime: core compiles without any runtime's types. */
interface Timers {
  readonly setImmediate?: (f: () => void) => unknown
  readonly clearImmediate?: (handle: unknown) => void
  readonly setTimeout: (f: () => void, ms: number) => unknown
  readonly clearTimeout: (handle: unknown) => void
}

/** An acquisition or a release, as a span of Effect's tracer: what users with an OpenTelemetry exporter see. */
const traced = <A, E, R>(
  name: string,
  kind: LoopLocal.EntryKind,
  key: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.withSpan(effect, name, { attributes: { kind, key } })

/** Logs, through Effect's logger, a release that failed, was abandoned or was slow (and, in debug, every one). */
const logRelease = (record: LoopLocal.ReleaseReport, debug = false): Effect.Effect<void> =>
  record.outcome !== "ok"
    ? Effect.logWarning(
        `loop-local: the release of ${record.kind} ${record.key} ${record.outcome} after ${record.durationMs} ms`,
        record.cause
      )
    : record.durationMs > 1_000
      ? Effect.logWarning(`loop-local: the release of ${record.kind} ${record.key} took ${record.durationMs} ms`)
      : debug
        ? Effect.logInfo(`loop-local: released ${record.kind} ${record.key} in ${record.durationMs} ms`)
        : Effect.void

const abandoned = (kind: LoopLocal.EntryKind, key: string, deadlineMs: number) =>
  new Error(
    `loop-local: the release of ${kind} ${key} did not finish within the deadline (${deadlineMs} ms) and was abandoned`
  )

/** atExit finalizers have no key: they are named by their place in the loop's order. */
const keyText = (entry: Entry): string => (entry.kind === "atExit" ? `#${entry.seq}` : renderKey(entry.key))

interface Realm {
  nextLoopId: number
  defaultLoop: LoopImpl | undefined
}

let realmCache: Realm | undefined

/** Shared by every copy of this package in the realm, so that there is one default loop and one id sequence. */
const realm = (): Realm => {
  if (realmCache !== undefined) return realmCache
  const slot = Symbol.for("@loop-local/core/Realm")
  const global = globalThis as { [slot]?: Realm }
  global[slot] ??= { nextLoopId: 1, defaultLoop: undefined }
  realmCache = global[slot]
  return realmCache
}

/** @internal */
export const makeLoop: Effect.Effect<LoopImpl, never, Scope.Scope> = Effect.flatMap(Scope.Scope, (parent) =>
  Effect.flatMap(Scope.fork(parent, ExecutionStrategy.sequential), (scope) => {
    const loop = new LoopImpl(realm().nextLoopId++, scope)
    return Effect.as(Scope.addFinalizer(scope, loop.close), loop)
  })
)

/** A loop with a scope of its own, closed only by `closeLoop`. @internal */
export const unsafeMakeLoop = (deadlineMs?: number): LoopImpl => {
  const scope = Effect.runSync(Scope.make())
  const loop = new LoopImpl(realm().nextLoopId++, scope)
  if (deadlineMs !== undefined) loop.deadlineMs = deadlineMs
  Effect.runSync(Scope.addFinalizer(scope, loop.close))
  return loop
}

/** @internal */
export const defaultLoop = (): LoopImpl => (realm().defaultLoop ??= unsafeMakeLoop(undefined))

/** Closes a loop and waits for its report; later calls wait for the same close. @internal */
export const closeLoop = (loop: LoopImpl, deadlineMs?: number): Effect.Effect<LoopLocal.ShutdownReport> =>
  Effect.suspend(() => {
    if (!loop.closing && deadlineMs !== undefined) loop.deadlineMs = deadlineMs
    return Effect.zipRight(Effect.exit(Scope.close(loop.scope, Exit.void)), Deferred.await(loop.closed))
  })

const loopOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): LoopImpl | undefined =>
  fiber.currentContext.unsafeMap.get(TagKey)

const unusable = (loop: LoopImpl | undefined): Effect.Effect<never> =>
  loop === undefined ? Effect.dieMessage("loop-local: no LoopLocal service in the context") : loop.die()

/**
 * Runs `f` on the fiber's loop, or fails with `LoopClosedError` if that loop
 * is closed.
 *
 * @internal
 */
export const withLoop = <A, E, R>(
  f: (loop: LoopImpl, fiber: Fiber.RuntimeFiber<unknown, unknown>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R | LoopLocal.LoopLocal> =>
  Effect.withFiberRuntime((fiber) => {
    const loop = loopOf(fiber)
    return loop === undefined || loop.closing ? unusable(loop) : f(loop, fiber)
  })

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
  const entry = loop.tables.get(owner)?.get(key)
  if (entry !== undefined && entry.value !== PENDING) return exitOf(entry) as Exit.Exit<A>
  return acquireShared(fiber, loop, owner, kind, scoped, key, () => (args === undefined ? f(key) : f(...args)))
}

const acquireShared = <A, E, R>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  loop: LoopImpl,
  owner: Owner,
  kind: LoopLocal.EntryKind,
  scoped: boolean,
  key: unknown,
  make: () => Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> => {
  const table = tableOf(loop, owner)
  const existing = table.get(key)
  if (existing !== undefined) {
    if (!existing.ready && fiber.getFiberRef(constructing).includes(existing)) {
      return Effect.die(selfDependency(existing))
    }
    return awaitEntry<A, E>(existing)
  }
  const entry = new Entry(kind, key, table)
  table.set(key, entry)
  return Effect.zipRight(construct(loop, entry, scoped ? "scoped" : "plain", make), awaitEntry<A, E>(entry))
}

/**
 * The entries whose construction the current fiber works for, outermost
 * first: inherited by the construction fibers they start, so that a call
 * waiting for one of them, which would wait for itself, is caught.
 */
const constructing = FiberRef.unsafeMake<ReadonlyArray<Entry>>([])

/** @internal */
export const selfDependency = (entry: { readonly kind: LoopLocal.EntryKind; readonly key: unknown }) =>
  new Error(
    `loop-local: the construction of ${entry.kind} ${renderKey(entry.key)} asked for the same ${entry.kind} and key, so it would wait for itself forever`
  )

const awaitEntry = <A, E>(entry: Entry): Effect.Effect<A, E> =>
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
): Effect.Effect<A, E, Exclude<R, Scope.Scope>> => {
  const entry = new Entry(kind, resource, undefined)
  return Effect.flatMap(
    construct(loop, entry, "scoped", () => resource),
    (fiber) => Effect.onInterrupt(awaitEntry<A, E>(entry), () => Fiber.interrupt(fiber))
  )
}

/**
 * A value acquired with its release: how the Promise API hands its values to a
 * loop, without a `Scope` for each.
 *
 * @internal
 */
export interface Acquired<A> {
  readonly value: A
  readonly release: () => Effect.Effect<void>
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
 */
const construction = <A, E, R>(
  loop: LoopImpl,
  entry: Entry,
  mode: Mode,
  make: () => Effect.Effect<A, E, R>
): Effect.Effect<void, never, Exclude<R, Scope.Scope>> => {
  entry.pending = { deferred: Deferred.unsafeMake(FiberId.none), fiber: undefined }
  loop.pending.add(entry)
  return Effect.uninterruptibleMask((restore) =>
    Effect.suspend(() => {
      if (loop.closing) return settle(loop, entry, Exit.interrupt(FiberId.none), undefined, 0)
      const started = Date.now()
      const made = traced(
        "loop-local.acquire",
        entry.kind,
        keyText(entry),
        Effect.locallyWith(make(), constructing, (chain) => [...chain, entry])
      )
      if (mode === "plain") {
        return Effect.flatMap(Effect.exit(restore(made)), (exit) => settle(loop, entry, exit, undefined, started))
      }
      if (mode === "paired") {
        return Effect.flatMap(Effect.exit(restore(made)), (exit) => {
          if (Exit.isFailure(exit)) return settle(loop, entry, exit, undefined, started)
          const acquired = exit.value as Acquired<unknown>
          return settle(loop, entry, Exit.succeed(acquired.value), acquired.release, started)
        })
      }
      return Effect.flatMap(Scope.make(), (scope) =>
        Effect.flatMap(Effect.exit(restore(Scope.extend(made, scope))), (exit) => {
          if (Exit.isSuccess(exit)) return settle(loop, entry, exit, () => Scope.close(scope, Exit.void), started)
          // The partial resource is released before any waiter sees the failure.
          return Effect.flatMap(Effect.exit(Scope.close(scope, exit)), (released) =>
            settle(
              loop,
              entry,
              Exit.isFailure(released) ? Exit.failCause(Cause.sequential(exit.cause, released.cause)) : exit,
              undefined,
              started
            )
          )
        })
      )
    })
  ) as Effect.Effect<void, never, Exclude<R, Scope.Scope>>
}

/** Starts a construction from inside a fiber: it inherits the caller's context. */
const construct = <A, E, R>(
  loop: LoopImpl,
  entry: Entry,
  mode: Mode,
  make: () => Effect.Effect<A, E, R>
): Effect.Effect<Fiber.RuntimeFiber<void>, never, Exclude<R, Scope.Scope>> =>
  Effect.tap(Effect.forkDaemon(construction(loop, entry, mode, make)), (fiber) => {
    if (entry.pending !== undefined) entry.pending.fiber = fiber
  })

/**
 * Starts a construction from outside any fiber (the Promise API), with the
 * loop as its only service, and returns the entry's Promise, taken before the
 * fiber starts since a construction may settle within `runFork`.
 */
const unsafeConstruct = <A, E>(loop: LoopImpl, entry: Entry, make: () => Effect.Effect<Acquired<A>, E>): Promise<A> => {
  const run = Effect.provideService(construction(loop, entry, "paired", make), LoopTag, loop)
  const promise = entryPromise(entry)
  const fiber = Effect.runFork(run)
  if (entry.pending !== undefined) entry.pending.fiber = fiber
  return promise as Promise<A>
}

const settle = <A, E>(
  loop: LoopImpl,
  entry: Entry,
  exit: Exit.Exit<A, E>,
  release: (() => Effect.Effect<void>) | undefined,
  started: number
): Effect.Effect<void> => {
  loop.pending.delete(entry)
  const deferred = entry.pending!.deferred
  entry.pending = undefined
  if (Exit.isFailure(exit)) {
    entry.table?.delete(entry.key, entry)
    const cause = loop.closing && Cause.isInterruptedOnly(exit.cause) ? Cause.die(closedError(loop.id)) : exit.cause
    Deferred.unsafeDone(deferred, Exit.failCause(cause))
    return Effect.void
  }
  const now = Date.now()
  entry.acquiredAt = small(now - loop.startedAt)
  entry.acquireMs = small(now - started)
  entry.seq = ++loop.completed
  entry.release = release
  if (!loop.closing) {
    if (entry.release !== undefined) loop.releases.add(entry)
    entry.value = exit.value
    // Not kept: a Promise-only entry never needs an Exit; an Effect hit makes its own once.
    Deferred.unsafeDone(deferred, Exit.succeed(exit.value))
    return loop.debug
      ? Effect.logInfo(`loop-local: acquired ${entry.kind} ${keyText(entry)} in ${entry.acquireMs} ms`)
      : Effect.void
  }
  // Completed although its loop began closing meanwhile: nobody gets the value, and it is released with the loop.
  entry.table?.delete(entry.key, entry)
  Deferred.unsafeDone(deferred, loop.die())
  if (entry.release === undefined) return Effect.void
  if (!loop.releasing) {
    loop.releases.add(entry)
    return Effect.void
  }
  return loop.release(entry)
}

/**
 * Forgets one cached entry and releases it, waiting first for a construction
 * in flight. The release starts one turn of the event loop later, so that
 * every caller the value was already handed to receives it unreleased. It is
 * bounded by the loop's deadline: past it, it is left running and the
 * invalidation fails naming it.
 *
 * @internal
 */
export const invalidate = (owner: Owner, key: unknown): Effect.Effect<void, never, LoopLocal.LoopLocal> =>
  withLoop((loop) => {
    const entry = loop.tables.get(owner)?.get(key)
    if (entry === undefined) return Effect.void
    if (!entry.ready) {
      return Effect.zipRight(Effect.exit(Deferred.await(entry.pending!.deferred)), invalidate(owner, key))
    }
    entry.table!.delete(key, entry)
    loop.releases.delete(entry)
    const release = entry.release
    entry.release = undefined
    if (release === undefined) return Effect.void
    const text = keyText(entry)
    return Effect.zipRight(
      nextTurn,
      Effect.forkDaemon(traced("loop-local.release", entry.kind, text, Effect.suspend(release)))
    ).pipe(
      Effect.flatMap((fiber) => Effect.timeoutOption(Fiber.await(fiber), loop.deadlineMs)),
      Effect.flatMap((done) =>
        done._tag === "Some" ? done.value : Effect.die(abandoned(entry.kind, text, loop.deadlineMs))
      )
    )
  })

/** @internal */
export const atExit = <R>(
  finalizer: Effect.Effect<unknown, never, R>
): Effect.Effect<void, never, R | LoopLocal.LoopLocal> =>
  withLoop((loop, fiber) => {
    const release = Effect.asVoid(Effect.provide(finalizer, fiber.currentContext as Context.Context<R>))
    unsafeInsert(loop, undefined, "atExit", undefined, undefined, release)
    return Effect.void
  })

// The Promise side's view of the same table: see Binding.ts.

const rejectWith = (cause: Cause.Cause<unknown>): Promise<never> => Promise.reject(Cause.squash(cause))

/** Settles like the effect, rejecting with the error itself (not a FiberFailure). */
const toPromise = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => (Exit.isSuccess(exit) ? exit.value : rejectWith(exit.cause)))

const entryPromise = (entry: Entry): Promise<unknown> =>
  (entry.promise ??= entry.ready ? Promise.resolve(entry.value) : toPromise(Deferred.await(entry.pending!.deferred)))

/** @internal */
export const unsafeCachedPromise = (loop: LoopImpl, owner: Owner, key: unknown): Promise<unknown> | undefined => {
  if (loop.closing) return Promise.reject(closedError(loop.id))
  const entry = loop.tables.get(owner)?.get(key)
  return entry === undefined ? undefined : entryPromise(entry)
}

/** @internal */
export const unsafeLookup = (loop: LoopImpl, owner: Owner, key: unknown): Entry | undefined => {
  if (loop.closing) throw closedError(loop.id)
  const entry = loop.tables.get(owner)?.get(key)
  return entry?.ready ? entry : undefined
}

const tableOf = (loop: LoopImpl, owner: Owner): KeyTable<Entry> => {
  let table = loop.tables.get(owner)
  if (table === undefined) {
    table = new KeyTable(owner.byIdentity)
    loop.tables.set(owner, table)
  }
  return table
}

/** @internal */
export const unsafeAcquire = <A, E>(
  loop: LoopImpl,
  owner: Owner,
  kind: LoopLocal.EntryKind,
  key: unknown,
  make: () => Effect.Effect<Acquired<A>, E>
): Promise<A> => {
  if (loop.closing) return Promise.reject(closedError(loop.id))
  const table = tableOf(loop, owner)
  const existing = table.get(key)
  if (existing !== undefined) return entryPromise(existing) as Promise<A>
  const entry = new Entry(kind, key, table)
  table.set(key, entry)
  return unsafeConstruct(loop, entry, make)
}

/** @internal */
export const unsafeAcquireEach = <A, E>(
  loop: LoopImpl,
  kind: LoopLocal.EntryKind,
  key: unknown,
  resource: Effect.Effect<Acquired<A>, E>
): Promise<A> => {
  if (loop.closing) return Promise.reject(closedError(loop.id))
  return unsafeConstruct(loop, new Entry(kind, key, undefined), () => resource)
}

/** @internal */
export const unsafeInsert = (
  loop: LoopImpl,
  owner: Owner | undefined,
  kind: LoopLocal.EntryKind,
  key: unknown,
  value: unknown,
  release: Effect.Effect<void> | undefined
): Entry => {
  if (loop.closing) throw closedError(loop.id)
  const entry = new Entry(kind, key, owner === undefined ? undefined : tableOf(loop, owner))
  entry.value = value
  entry.acquiredAt = small(Date.now() - loop.startedAt)
  entry.seq = ++loop.completed
  if (release !== undefined) {
    entry.release = () => release
    loop.releases.add(entry)
  }
  entry.table?.set(key, entry)
  return entry
}

/** @internal */
export const unsafeRemove = (loop: LoopImpl, entry: Entry): void => {
  entry.table?.delete(entry.key, entry)
  loop.releases.delete(entry)
}

/** @internal */
export const invalidatePromise = (loop: LoopImpl, owner: Owner, key: unknown): Promise<void> =>
  toPromise(Effect.provideService(invalidate(owner, key), LoopTag, loop))

/** @internal */
export const closePromise = (loop: LoopImpl, deadlineMs: number | undefined): Promise<LoopLocal.ShutdownReport> =>
  Effect.runPromise(closeLoop(loop, deadlineMs))
