/**
 * Loop-local storage, singletons and deferred releases for Effect.
 *
 * A loop is a lifetime: an Effect `Scope` plus a table of what was acquired in
 * it. Expensive things (pools, clients, browsers) are acquired once per loop
 * and per key, reused by every caller, and released when the loop closes, last
 * acquired first.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as acquire from "./internal/acquire.js"
import * as errors from "./internal/errors.js"
import { invalidate } from "./internal/evict.js"
import { type Cached, type KeyedOptions, keyed as keyedWith, ownerOf } from "./internal/keyed.js"
import * as loops from "./internal/loop.js"
import * as realm from "./internal/realm.js"
import { describe, requireOptions } from "./internal/validate.js"

/**
 * A lifetime: its scope closing is its end, at which everything acquired in it
 * is released.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const program = Effect.gen(function* () {
 *   const loop = yield* LoopLocal.LoopLocal
 *   return loop.id
 * })
 * ```
 */
export interface Loop {
  /** Unique in the realm, increasing. */
  readonly id: number
  /** The loop's scope: closing it is the loop's end. */
  readonly scope: Scope.Scope
  /** True from the moment the loop begins to close. */
  readonly isClosed: boolean
  /** Runs an effect on this loop. Rejects with `LoopClosedError` once the loop is closed. */
  runPromise<A, E>(effect: Effect.Effect<A, E, LoopLocal>): Promise<A>
  /** What the loop holds now, in order of acquisition completion: as `LoopLocal.inspect`, for Promise callers. */
  inspect(): ReadonlyArray<EntryInfo>
}

/**
 * The service giving the current loop.
 *
 * @since 0.1.0
 * @category tags
 * @example
 * ```ts
 * import { Effect, ManagedRuntime } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const runtime = ManagedRuntime.make(LoopLocal.layer)
 * await runtime.runPromise(Effect.map(LoopLocal.LoopLocal, (loop) => loop.id))
 * await runtime.dispose()
 * ```
 */
export class LoopLocal extends Context.Tag(loops.TagKey)<LoopLocal, Loop>() {}

/**
 * What any use of a closed loop gets. On the Effect side it is a defect
 * (`Effect.die`), since using a lifetime after its end is a bug in the caller.
 *
 * @since 0.1.0
 * @category errors
 * @example
 * ```ts
 * import { Cause, Effect, Exit, Option } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const isClosedLoop = (exit: Exit.Exit<unknown, unknown>) =>
 *   Exit.isFailure(exit) &&
 *   Option.exists(Cause.dieOption(exit.cause), (e) => e instanceof LoopLocal.LoopClosedError)
 * ```
 */
export const LoopClosedError: new (args: { readonly loopId: number; readonly message: string }) => LoopClosedError =
  errors.LoopClosedError

/**
 * Whether `u` is a `LoopClosedError` (of any copy of this package): the guard
 * to catch the defect, as `Cause.isExceededCapacityException` is for Effect's.
 *
 * @since 0.2.0
 * @category errors
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const orClosed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
 *   Effect.catchSomeDefect(effect, (defect) =>
 *     LoopLocal.isLoopClosedError(defect) ? Option.some(Effect.succeed("closed" as const)) : Option.none()
 *   )
 * ```
 */
export const isLoopClosedError: (u: unknown) => u is LoopClosedError = errors.isLoopClosedError

/**
 * @since 0.1.0
 * @category errors
 */
export interface LoopClosedError extends Cause.YieldableError {
  readonly _tag: "LoopClosedError"
  readonly loopId: number
}

/**
 * Which primitive acquired an entry.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import type { LoopLocal } from "@loop-local/core"
 *
 * const released: LoopLocal.EntryKind = "stickySingleton"
 * ```
 */
export type EntryKind = "singleton" | "stickySingleton" | "enter" | "enterOnce" | "sticky" | "atExit" | "memoize"

/**
 * One thing a loop holds, as `inspect` lists it.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const keys = Effect.map(LoopLocal.inspect, (entries: ReadonlyArray<LoopLocal.EntryInfo>) => entries.map((e) => e.key))
 * ```
 */
export interface EntryInfo {
  readonly kind: EntryKind
  /** The arguments or resource it is keyed by, rendered for people (passwords in URLs masked). */
  readonly key: string
  readonly acquiredAt: Date
  /** How long the acquisition took, in milliseconds. */
  readonly acquireMs: number
}

/**
 * The outcome of one release when a loop closed.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import type { LoopLocal } from "@loop-local/core"
 *
 * const failed = (report: LoopLocal.ShutdownReport): ReadonlyArray<LoopLocal.ReleaseReport> =>
 *   report.releases.filter((r) => r.outcome !== "ok")
 * ```
 */
export interface ReleaseReport {
  readonly kind: EntryKind
  readonly key: string
  /** How long the release ran, or, when abandoned, how long it was waited for. */
  readonly durationMs: number
  /** `abandoned`: still running at the close's deadline, and left to finish on its own. */
  readonly outcome: "ok" | "failed" | "abandoned"
  /** Why it failed, or why it was abandoned; `undefined` when it went well. */
  readonly cause: Cause.Cause<unknown> | undefined
}

/**
 * What closing a loop released, in the order it ran the releases.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const report: LoopLocal.ShutdownReport = await Effect.runPromise(LoopLocal.shutdown)
 * console.log(`${report.releases.length} released in ${report.durationMs} ms`)
 * ```
 */
export interface ShutdownReport {
  readonly loopId: number
  readonly releases: ReadonlyArray<ReleaseReport>
  readonly durationMs: number
}

/**
 * Renders a shutdown report as a short table: one line per release (outcome,
 * duration, kind and key, and the error of a failure), after a summary line.
 *
 * @since 0.1.0
 * @category observability
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const report = await Effect.runPromise(LoopLocal.shutdown)
 * console.error(LoopLocal.formatShutdownReport(report))
 * ```
 */
export const formatShutdownReport = (report: ShutdownReport): string => {
  if (typeof report !== "object" || report === null || !Array.isArray(report.releases)) {
    throw new TypeError(`loop-local: formatShutdownReport expects a ShutdownReport, got ${describe(report)}`)
  }
  const count = (outcome: ReleaseReport["outcome"]) => report.releases.filter((r) => r.outcome === outcome).length
  const lines = [
    `loop ${report.loopId} closed in ${report.durationMs} ms: ${count("ok")} released, ${count("failed")} failed, ${count("abandoned")} abandoned`
  ]
  for (const r of report.releases) {
    const error = r.outcome === "failed" && r.cause !== undefined ? `: ${String(Cause.squash(r.cause))}` : ""
    lines.push(`  ${r.outcome.padEnd(9)} ${`${r.durationMs} ms`.padStart(9)}  ${r.kind} ${r.key}${error}`)
  }
  return lines.join("\n")
}

/**
 * A new loop, closed when the given scope closes.
 *
 * @since 0.1.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const program = Effect.scoped(Effect.map(LoopLocal.make, (loop) => loop.id))
 * ```
 */
export const make: Effect.Effect<Loop, never, Scope.Scope> = realm.makeLoop()

/**
 * Options of `makeWith` and `layerWith`.
 *
 * @since 0.2.0
 * @category models
 * @example
 * ```ts
 * import type { LoopLocal } from "@loop-local/core"
 *
 * // Below Vitest's 10 s hook timeout, so a hanging release shows in the report, not as "Hook timed out".
 * const inTests: LoopLocal.LoopOptions = { deadline: "2 seconds" }
 * ```
 */
export interface LoopOptions {
  /** How long a close may run releases before those still running are abandoned (default 10 seconds). */
  readonly deadline?: Duration.DurationInput | undefined
}

const deadlineOf = (what: string, options: LoopOptions | undefined): number | undefined => {
  requireOptions(`${what}'s options`, options)
  if (options?.deadline === undefined) return undefined
  const decoded = Duration.decodeUnknown(options.deadline)
  if (Option.isNone(decoded) || !Duration.greaterThan(decoded.value, Duration.zero)) {
    throw new TypeError(
      `loop-local: ${what}'s options.deadline must be a positive Duration, got ${describe(options.deadline)}`
    )
  }
  return Duration.toMillis(decoded.value)
}

/**
 * `make` with options: a new loop closed with the given scope, whose close
 * abandons releases still running after `deadline`.
 *
 * @since 0.2.0
 * @category constructors
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const program = Effect.scoped(Effect.map(LoopLocal.makeWith({ deadline: "2 seconds" }), (loop) => loop.id))
 * ```
 */
export const makeWith = (options: LoopOptions): Effect.Effect<Loop, never, Scope.Scope> =>
  realm.makeLoop(deadlineOf("makeWith", options))

/**
 * A new loop per build of this layer, closed with the layer.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { Effect, ManagedRuntime } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const runtime = ManagedRuntime.make(LoopLocal.layer)
 * await runtime.runPromise(LoopLocal.atExit(Effect.log("bye")))
 * await runtime.dispose() // logs "bye"
 * ```
 */
export const layer: Layer.Layer<LoopLocal> = Layer.scoped(LoopLocal, make)

/**
 * `layer` with options: a new loop per build, closed with the layer, whose
 * close abandons releases still running after `deadline`.
 *
 * @since 0.2.0
 * @category layers
 * @example
 * ```ts
 * import { ManagedRuntime } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const runtime = ManagedRuntime.make(LoopLocal.layerWith({ deadline: "2 seconds" }))
 * await runtime.dispose()
 * ```
 */
export const layerWith = (options: LoopOptions): Layer.Layer<LoopLocal> => {
  const deadlineMs = deadlineOf("layerWith", options)
  return Layer.scoped(LoopLocal, realm.makeLoop(deadlineMs))
}

/**
 * The realm's default loop (one per process or worker thread, shared by every
 * copy of this package). This layer does not own it: its teardown closes
 * nothing; `shutdown` does.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * await Effect.runPromise(Effect.provide(LoopLocal.storage, LoopLocal.Default))
 * ```
 */
export const Default: Layer.Layer<LoopLocal> = Layer.sync(LoopLocal, realm.defaultLoop)

/**
 * Runs an effect on the default loop.
 *
 * @since 0.1.0
 * @category running
 * @example
 * ```ts
 * import { LoopLocal } from "@loop-local/core"
 *
 * const map = await LoopLocal.runPromise(LoopLocal.storage)
 * ```
 */
export const runPromise = <A, E>(effect: Effect.Effect<A, E, LoopLocal>): Promise<A> =>
  realm.defaultLoop().runPromise(effect)

/**
 * Closes the default loop now, running its releases, and reports them.
 * Idempotent: later calls wait for the same close and get the same report.
 *
 * @since 0.1.0
 * @category running
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const report = await Effect.runPromise(LoopLocal.shutdown)
 * ```
 */
export const shutdown: Effect.Effect<ShutdownReport> = Effect.suspend(() => realm.closeLoop(realm.defaultLoop()))

/**
 * The loop's own `Map`: the same for every call in one loop, another in
 * another loop.
 *
 * @since 0.1.0
 * @category storage
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const visits = Effect.map(LoopLocal.storage, (map) => {
 *   const n = ((map.get("visits") as number | undefined) ?? 0) + 1
 *   map.set("visits", n)
 *   return n
 * })
 * ```
 */
export const storage: Effect.Effect<Map<unknown, unknown>, never, LoopLocal> = loops.withLoop((loop) =>
  Effect.succeed(loop.storage)
)

const requireEffect = (what: string, u: unknown): void => {
  if (!Effect.isEffect(u)) throw new TypeError(`loop-local: ${what} expects an Effect, got ${describe(u)}`)
}

/**
 * Registers a finalizer to run when the loop closes, in reverse order of
 * registration together with every release of the loop. It runs with the
 * context it was registered in.
 *
 * @since 0.1.0
 * @category finalization
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const program = LoopLocal.atExit(Effect.log("the loop is closing"))
 * ```
 */
export const atExit = <R>(finalizer: Effect.Effect<unknown, never, R>): Effect.Effect<void, never, R | LoopLocal> => {
  requireEffect("atExit", finalizer)
  return loops.withLoop((loop, fiber) => {
    const release = Effect.asVoid(Effect.provide(finalizer, fiber.currentContext as Context.Context<R>))
    acquire.insertReady(loop, undefined, "atExit", undefined, undefined, { run: () => release })
    return Effect.void
  })
}

/**
 * Acquires a scoped resource now, with the loop's lifetime: its release runs
 * when the loop closes. Every call acquires again.
 *
 * @since 0.1.0
 * @category acquisition
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const connection = Effect.acquireRelease(
 *   Effect.sync(() => ({ open: true })),
 *   (c) => Effect.sync(() => { c.open = false })
 * )
 * const program = Effect.map(LoopLocal.enter(connection), (c) => c.open)
 * ```
 */
export const enter = <A, E, R>(
  resource: Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, Scope.Scope> | LoopLocal> => {
  requireEffect("enter", resource)
  return loops.withLoop((loop) => acquire.acquireUnshared(loop, "enter", resource))
}

const identity = <A>(a: A): A => a

/** `enterOnce` and `sticky` share one key space, the resource's identity, with every copy of this package. */
const onceOwner = realm.realmOwner("identity", true)

/**
 * Like `enter`, but once per loop per resource (the `Effect` value, by
 * identity): later and concurrent calls share the first acquisition.
 *
 * @since 0.1.0
 * @category acquisition
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const browser = Effect.acquireRelease(Effect.sync(() => ({ pages: 0 })), () => Effect.void)
 * const program = Effect.gen(function* () {
 *   const a = yield* LoopLocal.enterOnce(browser)
 *   const b = yield* LoopLocal.enterOnce(browser)
 *   return a === b // true
 * })
 * ```
 */
export const enterOnce = <A, E, R>(
  resource: Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, Scope.Scope> | LoopLocal> => {
  requireEffect("enterOnce", resource)
  return Effect.withFiberRuntime((fiber) =>
    acquire.getOrAcquire(fiber, onceOwner, "enterOnce", true, identity<Effect.Effect<A, E, R>>, resource, undefined)
  )
}

/**
 * A drop-in replacement for a scoped resource: usable wherever it was
 * (`Effect.scoped`, `Layer.scoped`), but the first use acquires it for the
 * whole loop, every later use yields the same value, the caller's scope
 * closing releases nothing, and the release runs once when the loop closes.
 *
 * @since 0.1.0
 * @category acquisition
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const client = LoopLocal.sticky(
 *   Effect.acquireRelease(Effect.sync(() => ({ id: 1 })), () => Effect.log("closed"))
 * )
 * const program = Effect.scoped(client) // releases nothing when this scope closes
 * ```
 */
export const sticky = <A, E, R>(resource: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | LoopLocal> => {
  requireEffect("sticky", resource)
  return Effect.withFiberRuntime((fiber) =>
    acquire.getOrAcquire(fiber, onceOwner, "sticky", true, identity<Effect.Effect<A, E, R>>, resource, undefined)
  )
}

/**
 * A function whose result is cached per loop and per arguments, with a way to
 * drop one cached result.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const Config: LoopLocal.Keyed<[string], { readonly env: string }, never, LoopLocal.LoopLocal> =
 *   LoopLocal.singleton((env: string) => Effect.succeed({ env }))
 * const reload = Config.invalidate("prod")
 * ```
 */
export type Keyed<Args extends ReadonlyArray<unknown>, A, E, R> = ((...args: Args) => Effect.Effect<A, E, R>) & {
  /** Releases the instance for these arguments now (if it holds a release) and forgets it; the next call acquires anew. */
  invalidate(...args: Args): Effect.Effect<void, never, LoopLocal>
}

/**
 * Options of `singleton` and `stickySingleton`.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const byUrl: LoopLocal.KeyOptions<[{ readonly url: string; readonly requestId: string }]> = { key: (o) => o.url }
 * const Client = LoopLocal.singleton((o: { readonly url: string; readonly requestId: string }) => Effect.succeed(o), byUrl)
 * ```
 */
export interface KeyOptions<Args extends ReadonlyArray<unknown>> {
  /** Derives the cache key from the arguments, instead of comparing the arguments themselves. */
  readonly key?: ((...args: Args) => unknown) | undefined
  /** At most this many values per loop: past it, the least recently used others are evicted. */
  readonly capacity?: number | undefined
  /** A value no call asked for during this long is evicted. */
  readonly idleTimeToLive?: Duration.DurationInput | undefined
  /** A value is evicted this long after its acquisition completed, used or not (tokens, credentials, DNS). */
  readonly timeToLive?: Duration.DurationInput | undefined
  /**
   * Definitions with the same id, in the realm (across module reloads and
   * package copies), share their values per loop.
   */
  readonly id?: string | undefined
}

/**
 * The arguments as the factory declares them, not inferred from
 * `options.key`: a key that reads fewer of them must not narrow the cached
 * function's parameters.
 *
 * @since 0.2.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const Client = LoopLocal.singleton((url: string, retries?: number) => Effect.succeed({ url, retries }), {
 *   key: (url) => url
 * })
 * const program = Client("http://api", 3) // retries is still a parameter
 * type Args = LoopLocal.NoInferArgs<[string, number?]>
 * ```
 */
export type NoInferArgs<Args extends ReadonlyArray<unknown>> = [Args][Args extends unknown ? 0 : never]

/** A duration option as milliseconds: positive, `Infinity` for never; `undefined` when not given. */
const millisOf = (option: string, u: unknown): number | undefined => {
  if (u === undefined) return undefined
  const decoded = Duration.decodeUnknown(u)
  if (Option.isNone(decoded) || !Duration.greaterThan(decoded.value, Duration.zero)) {
    throw new TypeError(`loop-local: ${option} must be a positive Duration, got ${describe(u)}`)
  }
  return Duration.toMillis(decoded.value)
}

const keyed = <Args extends ReadonlyArray<unknown>, A, E, R>(
  kind: EntryKind,
  scoped: boolean,
  f: (...args: Args) => Effect.Effect<A, E, R>,
  options: KeyedOptions<Args> | undefined
): Keyed<Args, A, E, Exclude<R, Scope.Scope> | LoopLocal> => {
  const { adopt, owner } = ownerOf(kind, `${kind} of the Effect API`, options, millisOf)
  type Result = Effect.Effect<A, E, Exclude<R, Scope.Scope> | LoopLocal>
  const cached: Cached<Args, Result, Effect.Effect<void, never, LoopLocal>> = keyedWith(
    kind,
    f,
    options,
    (keyOf) => ({
      // Each path is a function of its own so that its closure captures only its own variables: a one-argument hit
      // allocates the returned effect and a closure over that argument, nothing more.
      one: (key) =>
        Effect.withFiberRuntime((fiber) => acquire.getOrAcquire(fiber, owner, kind, scoped, f, key, undefined)),
      many: (args) =>
        Effect.withFiberRuntime((fiber) => acquire.getOrAcquire(fiber, owner, kind, scoped, f, keyOf(args), args)),
      invalidate: (args) => Effect.suspend(() => invalidate(owner, keyOf(args)))
    }),
    adopt
  )
  return cached
}

/**
 * Caches `f(...args)` per loop and per arguments: the effect runs once per key
 * per loop, later calls yield the same value. For effects that need no
 * `Scope`; use `stickySingleton` for resources: for a factory whose effect
 * visibly needs a `Scope` the result is `never`, so every use of it is a type
 * error, and one that registers a release anyway (through a cast) fails with a
 * defect naming `stickySingleton`, its value released. While `R` is a type
 * parameter (a generic helper around `singleton`) the check waits for the
 * helper's caller: see `NoScopeSingleton`.
 *
 * Arguments are compared by value: primitives by value, plain objects and
 * arrays structurally (deep, key order irrelevant), `Equal` values by
 * `Equal`/`Hash`, anything else by identity; `options.key` overrides.
 * Concurrent first calls share one run; a failure is not cached.
 *
 * The effect runs once, in its first caller's context: a singleton reading a
 * `Tenant` service, first called under "acme", gives acme's value to every
 * later caller of that loop and key, "globex" too. Pass the service's value
 * as an argument, or key by it with `options.key`, to get one value per tenant.
 *
 * @since 0.1.0
 * @category singletons
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const Config = LoopLocal.singleton((env: string) => Effect.sync(() => ({ env, loadedAt: Date.now() })))
 * const program = Effect.gen(function* () {
 *   const a = yield* Config("prod")
 *   const b = yield* Config("prod")
 *   return a === b // true
 * })
 * ```
 */
export const singleton = <Args extends ReadonlyArray<unknown>, A, E, R>(
  f: (...args: Args) => Effect.Effect<A, E, R>,
  options?: KeyOptions<NoInferArgs<Args>>
): NoScopeSingleton<Args, A, E, R> => keyed("singleton", false, f, options) as NoScopeSingleton<Args, A, E, R>

/**
 * What `singleton` returns: the `Keyed` function, or `never` when the
 * factory's effect visibly needs a `Scope` (its value would be released as
 * soon as the first caller's scope closed), so that any call, `invalidate` or
 * use of it is a type error.
 *
 * The check is on the result, not on the factory: TypeScript cannot decide a
 * condition on a type parameter, and a parameter type holding an undecided
 * condition accepts only what both of its outcomes accept, so a check on the
 * factory rejects every generic helper (`<A, E, R>(f: (k: string) =>
 * Effect<A, E, R>) => singleton(f)`). A result that is `never` on failure
 * stays undecided in the helper yet usable there as the `Keyed` function
 * (an undecided condition whose other outcome is `never` reads as its first),
 * and is decided at the helper's caller, with the caller's `R`.
 *
 * @since 0.2.0
 * @category singletons
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const cachedBy = <A, E, R>(f: (key: string) => Effect.Effect<A, E, R>): LoopLocal.NoScopeSingleton<[string], A, E, R> =>
 *   LoopLocal.singleton(f)
 * const Config = cachedBy((env: string) => Effect.succeed({ env }))
 * const program = Config("prod")
 * ```
 */
export type NoScopeSingleton<Args extends ReadonlyArray<unknown>, A, E, R> = [Extract<R, Scope.Scope>] extends [never]
  ? Keyed<Args, A, E, R | LoopLocal>
  : never

/**
 * Whether an effect's requirements `R` leave out `Scope`: `unknown` when
 * they do, else the reason as a message (its value would be released as soon
 * as the first caller's scope closed). `NoScopeSingleton` is the check
 * `singleton` applies.
 *
 * @since 0.2.0
 * @category singletons
 * @example
 * ```ts
 * import type { Scope } from "effect"
 * import type { LoopLocal } from "@loop-local/core"
 *
 * const ok: LoopLocal.NoScope<never> = undefined as unknown
 * ```
 */
export type NoScope<R> = [Extract<R, Scope.Scope>] extends [never]
  ? unknown
  : "loop-local: singleton's effect must not need a Scope (its value would be released at once); use stickySingleton"

/**
 * `singleton` over scoped effects: acquired once per loop per key, released
 * when the loop closes (or on `invalidate`, or when evicted by `capacity`,
 * `idleTimeToLive` or `timeToLive`). Like `singleton`, it runs once in its
 * first caller's context: services it reads are the first caller's, for every
 * later caller of that key; make what differs an argument or `options.key`.
 *
 * @since 0.1.0
 * @category singletons
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const Pool = LoopLocal.stickySingleton((url: string) =>
 *   Effect.acquireRelease(
 *     Effect.sync(() => ({ url, connections: 0 })),
 *     (pool) => Effect.log(`closing ${pool.url}`)
 *   )
 * )
 * const program = Effect.flatMap(Pool("postgres://localhost/app"), (pool) => Effect.log(pool.url))
 * ```
 */
export const stickySingleton = <Args extends ReadonlyArray<unknown>, A, E, R>(
  f: (...args: Args) => Effect.Effect<A, E, R>,
  options?: KeyOptions<NoInferArgs<Args>>
): Keyed<Args, A, E, Exclude<R, Scope.Scope> | LoopLocal> => keyed("stickySingleton", true, f, options)

/** Any layer: `memoize`'s implementation, whose overloads give the types. */
// biome-ignore lint/suspicious/noExplicitAny: the overloads above type every use
type AnyLayer = Layer.Layer<any, any, any>

/**
 * Built with its loop's one `MemoMap`: a sub-layer that two memoized layers
 * share is built once in that loop. A `MemoMap` keeps a failed build's failure,
 * so after a failure the loop starts a fresh one: the next use retries.
 */
const buildLayer = (layer: AnyLayer) =>
  Effect.flatMap(Effect.scope, (scope) =>
    loops.withLoop((loop) =>
      Effect.onError(Layer.buildWithMemoMap(layer, loop.memoMap(), scope), () =>
        Effect.sync(() => loop.forgetMemoMap())
      )
    )
  )

/** Every `memoize(layer)` of one layer shares one build per loop. */
const layerOwner = realm.realmOwner("memoize", true)

/**
 * A layer built once per loop however often it is provided (across
 * `Effect.provide` calls and `runPromise` calls), released when the loop
 * closes. Given a function returning layers, memoizes per arguments.
 *
 * @since 0.1.0
 * @category layers
 * @example
 * ```ts
 * import { Context, Effect, Layer } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * class Db extends Context.Tag("Db")<Db, { readonly url: string }>() {}
 * const DbLive = LoopLocal.memoize(Layer.scoped(Db, Effect.acquireRelease(
 *   Effect.sync(() => ({ url: "postgres://localhost/app" })),
 *   () => Effect.log("db closed")
 * )))
 * const handler = Effect.provide(Db, DbLive) // built once per loop
 * ```
 */
export const memoize: {
  <ROut, E, RIn>(layer: Layer.Layer<ROut, E, RIn>): Layer.Layer<ROut, E, RIn | LoopLocal>
  <Args extends ReadonlyArray<unknown>, ROut, E, RIn>(
    f: (...args: Args) => Layer.Layer<ROut, E, RIn>,
    options?: KeyOptions<NoInferArgs<Args>>
  ): MemoizedLayers<Args, ROut, E, RIn | LoopLocal>
} = (
  self: AnyLayer | ((...args: ReadonlyArray<unknown>) => AnyLayer),
  options?: KeyOptions<ReadonlyArray<unknown>>
  // biome-ignore lint/suspicious/noExplicitAny: the overloads above type every use
): any => {
  if (Layer.isLayer(self)) {
    return Layer.effectContext(
      Effect.withFiberRuntime<Context.Context<never>, unknown, unknown>((fiber) =>
        acquire.getOrAcquire(fiber, layerOwner, "memoize", true, buildLayer, self, undefined)
      )
    )
  }
  if (typeof self !== "function") {
    throw new TypeError(`loop-local: memoize expects a Layer or a function returning Layers, got ${describe(self)}`)
  }
  const build = keyed(
    "memoize",
    true,
    (...args: ReadonlyArray<unknown>) => {
      const layer = self(...args)
      if (!Layer.isLayer(layer)) {
        return Effect.die(new TypeError(`loop-local: memoize's function must return a Layer, got ${describe(layer)}`))
      }
      return buildLayer(layer)
    },
    options
  )
  return Object.assign((...args: ReadonlyArray<unknown>) => Layer.effectContext(build(...args)), {
    invalidate: build.invalidate
  })
}

/**
 * What `memoize(f)` returns: a layer per arguments, built once per loop and
 * key, with a way to drop one build.
 *
 * @since 0.2.0
 * @category models
 * @example
 * ```ts
 * import { Context, Effect, Layer } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * class Db extends Context.Tag("Db")<Db, { readonly url: string }>() {}
 * const DbFor: LoopLocal.MemoizedLayers<[string], Db, never, LoopLocal.LoopLocal> = LoopLocal.memoize(
 *   (url: string) => Layer.succeed(Db, { url }),
 *   { capacity: 10 }
 * )
 * const rebuild = DbFor.invalidate("postgres://db")
 * ```
 */
export type MemoizedLayers<Args extends ReadonlyArray<unknown>, ROut, E, RIn> = ((
  ...args: Args
) => Layer.Layer<ROut, E, RIn>) & {
  /** Releases the build for these arguments now and forgets it: the next use builds anew. */
  invalidate(...args: Args): Effect.Effect<void, never, LoopLocal>
}

/**
 * What the loop holds now: every cached value and every pending release, in
 * order of acquisition completion.
 *
 * @since 0.1.0
 * @category observability
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 *
 * const program = Effect.flatMap(LoopLocal.inspect, (entries) =>
 *   Effect.log(entries.map((e) => `${e.kind} ${e.key}`).join("\n")))
 * ```
 */
export const inspect: Effect.Effect<ReadonlyArray<EntryInfo>, never, LoopLocal> = loops.withLoop((loop) =>
  Effect.sync(() => loop.inspect())
)
