/**
 * A loop's state and how code finds its loop. Owns `LoopImpl` (the storage
 * map, the keyed-entry tables, the release order, the constructions in
 * flight, the close's report) and the one closed-loop check. It decides
 * nothing about acquiring or releasing: `acquire.ts`, `close.ts` and
 * `evict.ts` do, on this state.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type * as LoopLocal from "../LoopLocal.js"
import { type Bounds, Constructing, type Entry, keyText, type Owner, outsideFibers } from "./entry.js"
import { closedError, isLoopClosedError } from "./errors.js"
import { KeyTable } from "./table.js"
import { debugEnabled } from "./observe.js"

/** @internal */
export const TagKey = "@loop-local/core/LoopLocal"

/** @internal */
export const LoopTag = Context.GenericTag<LoopLocal.LoopLocal, LoopLocal.Loop>(TagKey)

/** @internal */
export class LoopImpl implements LoopLocal.Loop {
  readonly storage = new Map<unknown, unknown>()
  readonly tables = new Map<Owner, KeyTable<Entry>>()
  /** Entries holding a release, in order of acquisition completion. */
  readonly releases = new Set<Entry>()
  readonly pending = new Set<Entry>()
  readonly records: Array<LoopLocal.ReleaseReport> = []
  /** Entry times are kept relative to this, as small integers. */
  readonly startedAt = Date.now()
  readonly debug = debugEnabled()
  closing = false
  /** How long a close may take before the releases still running are abandoned. */
  deadlineMs = 10_000
  /** Set once the close has taken its snapshot of `releases`: later completions release at once. */
  releasing = false
  /** Counts completed acquisitions (and atExit registrations), to order them. */
  completed = 0
  /** Set once the close's report is delivered: outcomes after it are only logged. */
  sealed = false
  /** How many values it holds per kind and rendered key, to tell a pile-up made by mistake. */
  readonly held = new Map<string, number>()
  warnedPileUp = false
  /** The state of each bounded owner's table (capacity, times to live). */
  readonly tracked = new Map<KeyTable<Entry>, Tracked>()
  /** The interval timers of owners with a time to live, cleared when the loop closes. */
  readonly sweeps = new Set<unknown>()
  /** Releases started by `invalidate` and still running: a close waits for them. */
  readonly evicting = new Map<Fiber.RuntimeFiber<unknown, unknown>, Entry>()
  /**
   * What work nobody waits for (an eviction's release, its warnings) runs
   * with: the runtime of the fiber that made the loop, so that the program's
   * logger and tracer see it, as `RcMap`'s evictions run in its maker's context.
   */
  runtime: Runtime.Runtime<never> = Runtime.defaultRuntime

  constructor(
    readonly id: number,
    private scopeOrMake: Scope.CloseableScope | (() => Scope.CloseableScope)
  ) {}

  /**
   * The loop's scope, closing it closes the loop. A loop of the Promise side
   * makes it on first use: most never need one, and a close without one runs
   * no scope's finalizers.
   */
  get scope(): Scope.CloseableScope {
    if (typeof this.scopeOrMake === "function") this.scopeOrMake = this.scopeOrMake()
    return this.scopeOrMake
  }

  /** Whether the scope was made: if not, nothing was registered in it, and the close can run directly. */
  get hasScope(): boolean {
    return typeof this.scopeOrMake !== "function"
  }

  private layers: Layer.MemoMap | undefined
  private closedDeferred: Deferred.Deferred<LoopLocal.ShutdownReport> | undefined
  /** The close's report, once delivered. */
  report: LoopLocal.ShutdownReport | undefined

  /**
   * Done with the close's report. Made when first awaited (a second close
   * while the first runs, a close of the loop's scope): a `Deferred` costs
   * more to make than the rest of a loop, and most loops are closed once.
   */
  get closed(): Deferred.Deferred<LoopLocal.ShutdownReport> {
    if (this.closedDeferred === undefined) {
      this.closedDeferred = Deferred.unsafeMake(FiberId.none)
      if (this.report !== undefined) Deferred.unsafeDone(this.closedDeferred, Exit.succeed(this.report))
    }
    return this.closedDeferred
  }

  /** Delivers the close's report. */
  deliver(report: LoopLocal.ShutdownReport): void {
    this.report = report
    if (this.closedDeferred !== undefined) Deferred.unsafeDone(this.closedDeferred, Exit.succeed(report))
  }

  /** The loop's one `MemoMap`, made on first use: every memoized layer of the loop builds with it. */
  memoMap(): Layer.MemoMap {
    if (this.layers === undefined) this.layers = Effect.runSync(Layer.makeMemoMap)
    return this.layers
  }

  forgetMemoMap(): void {
    this.layers = undefined
  }

  get isClosed(): boolean {
    return this.closing
  }

  runPromise<A, E>(effect: Effect.Effect<A, E, LoopLocal.LoopLocal>): Promise<A> {
    if (this.closing) return Promise.reject(closedError(this.id))
    // Effect code started by a construction outside any fiber continues its chain, so a cycle across the APIs is caught.
    const chain = outsideFibers.chain()
    const run = Effect.provideService(
      chain.length === 0 ? effect : Effect.provideService(effect, Constructing, chain),
      LoopTag,
      this
    )
    return Effect.runPromiseExit(run).then((exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      // A use of this loop after it closed is told as such, not as a FiberFailure.
      const closed = Cause.find(exit.cause, (c) =>
        Cause.isDieType(c) && isLoopClosedError(c.defect) ? Option.some(c.defect) : Option.none()
      )
      throw Option.isSome(closed) ? closed.value : Runtime.makeFiberFailure(exit.cause)
    })
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
 * A bounded owner's values in one loop, a count of their uses, and a coarse
 * clock its sweeps advance, so that a hit reads no clock and moves nothing.
 *
 * @internal
 */
export interface Tracked {
  readonly owner: Owner
  readonly table: KeyTable<Entry>
  /** The owner's bounds its values and sweep follow: others, once a later definition under its id is called. */
  synced: Bounds | undefined
  /** Its ready values, in the order they became ready. */
  readonly order: Set<Entry>
  /** Counts the uses of its values: an entry's `usedAt` is the count at its last use. */
  uses: number
  /** The use count at each recent sweep, oldest first. */
  readonly marks: Array<number>
  /** Milliseconds since the loop's start, as of the last sweep. */
  now: number
  sweep: unknown
  sweepMs: number
}

/** The closed-loop check of every synchronous entry point: throws `LoopClosedError`. @internal */
export const assertOpen = (loop: LoopImpl): void => {
  if (loop.closing) throw closedError(loop.id)
}

/** @internal */
export const loopOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): LoopImpl | undefined =>
  fiber.currentContext.unsafeMap.get(TagKey)

/** What a fiber gets without a usable loop: the closed-loop check of every Effect entry point. @internal */
export const unusable = (loop: LoopImpl | undefined): Effect.Effect<never> =>
  loop === undefined
    ? Effect.dieMessage("loop-local: no LoopLocal service in the context")
    : Effect.die(closedError(loop.id))

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

/** The owner's table in this loop, made on first use (with its bounded state, for a bounded owner). @internal */
export const tableOf = (loop: LoopImpl, owner: Owner): KeyTable<Entry> => {
  let table = loop.tables.get(owner)
  if (table === undefined) {
    table = new KeyTable(owner.byIdentity)
    loop.tables.set(owner, table)
  }
  if (owner.bounds !== undefined && !loop.tracked.has(table)) {
    // An owner bounded only now (a definition under a shared id) takes the values it already holds in their order.
    const held = Array.from(table.values()).filter((entry) => entry.ready && entry.usedAt >= 0)
    loop.tracked.set(table, {
      owner,
      table,
      synced: undefined,
      order: new Set(held.sort((a, b) => a.seq - b.seq)),
      uses: 0,
      marks: [],
      now: Date.now() - loop.startedAt,
      sweep: undefined,
      sweepMs: 0
    })
  }
  return table
}
