import { LoopLocal as LoopLocalModule } from "@loop-local/core"
import type { LoopLocal } from "@loop-local/core"
import * as core from "@loop-local/core/internal"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { AsyncLocalStorage } from "node:async_hooks"

/**
 * What an async call tree is bound to: its loop, and the constructions it
 * works for (a factory's own calls), to catch one asking for itself.
 *
 * @internal
 */
export interface Bound {
  readonly loop: core.Loop
  readonly constructing: ReadonlyArray<core.Construction>
}

/** A construction in progress, as the Promise side records it: `settled` once its factory's result has settled. @internal */
export interface Construction extends core.Construction {
  readonly loop: core.Loop
  settled: boolean
}

/** @internal */
export const construction = (
  loop: core.Loop,
  owner: core.Owner,
  kind: LoopLocal.EntryKind,
  key: unknown
): Construction => ({ loop, table: core.tableOf(loop, owner), kind, key, settled: false })

interface NodeRealm {
  /** The loop bound by `run()` for an async call tree, and the constructions that tree works for. */
  readonly bound: AsyncLocalStorage<Bound>
  /** Loops of `run()` calls still open, closed too when a signal arrives. */
  readonly runLoops: Set<core.Loop>
}

const slot = Symbol.for("@loop-local/platform-node/Realm")

/**
 * Shared by every copy of this package in the realm: a loop bound by one
 * copy's `run()` is the current loop for every copy. The `beforeExit` hook is
 * installed once per realm, with it.
 *
 * @internal
 */
export const nodeRealm: NodeRealm = (() => {
  const global = globalThis as { [slot]?: NodeRealm }
  if (global[slot] === undefined) {
    process.on("beforeExit", closeDefaultBeforeExit)
    global[slot] = { bound: new AsyncLocalStorage(), runLoops: new Set() }
  }
  return global[slot]
})()

/**
 * A script that simply ends releases what its default loop holds. The close
 * schedules work, so `beforeExit` comes again once it is done; then the loop
 * is closed and nothing is done, letting the process exit.
 */
function closeDefaultBeforeExit() {
  const loop = core.defaultLoop()
  if (!loop.isClosed) void core.close(loop)
}

/**
 * The loop of a Promise-API call. Made while an Effect fiber runs, it is that
 * fiber's `LoopLocal` service: AsyncLocalStorage does not follow a fiber woken
 * by another loop's fiber (a shared semaphore or queue), so it decides only
 * outside fibers, and the default loop outside any `run()`.
 *
 * @internal
 */
export const currentLoop = (): core.Loop => {
  const fiber = Fiber.getCurrentFiber()
  if (fiber._tag === "Some") {
    const loop = core.loopOf(fiber.value)
    if (loop !== undefined) return loop
  }
  return nodeRealm.bound.getStore()?.loop ?? core.defaultLoop()
}

/** The constructions the current call works for, found where its loop is: in the fiber, else in the call tree. @internal */
export const currentChain = (): ReadonlyArray<core.Construction> => {
  const fiber = Fiber.getCurrentFiber()
  if (fiber._tag === "Some" && core.loopOf(fiber.value) !== undefined)
    return core.constructionsIn(fiber.value.currentContext)
  return nodeRealm.bound.getStore()?.constructing ?? []
}

core.outsideFibers.chain = currentChain

/**
 * The error for a call that would wait for a construction its caller works
 * for and that has not settled: it would wait forever.
 *
 * @internal
 */
export const selfDependency = (loop: core.Loop, owner: core.Owner, key: unknown): Error | undefined => {
  const chain = currentChain()
  return chain.length === 0 ? undefined : core.waitsForItself(chain, core.tableOf(loop, owner), key)
}

/**
 * Runs a factory for `construction`: with its loop as the current loop, and
 * the construction added to the chain its caller works for.
 *
 * @internal
 */
export const runFactory = <A>(construction: Construction, factory: () => A): A =>
  nodeRealm.bound.run({ loop: construction.loop, constructing: [...currentChain(), construction] }, factory)

/** @internal */
export const requireFunction = core.requireFunction

/**
 * How a value is released: `release` if given, else its `Symbol.asyncDispose`, else its `Symbol.dispose`. Each is
 * shared by every value it releases, so that a cached value keeps no closure of its own for it.
 *
 * @internal
 */
export const releaseOf = (value: unknown, release: core.Release | undefined): core.Release | TypeError => {
  if (release !== undefined) return release
  if (Effect.isEffect(value)) {
    return new TypeError(
      "loop-local: the value is an Effect, which Promise code cannot release; use the Effect API (LoopLocal.stickySingleton, LoopLocal.enter) or pass the result of currentLoop().runPromise(effect)"
    )
  }
  if (value !== null && (typeof value === "object" || typeof value === "function")) {
    const disposable = value as Partial<AsyncDisposable & Disposable>
    if (typeof disposable[Symbol.asyncDispose] === "function") return asyncDisposal
    if (typeof disposable[Symbol.dispose] === "function") return disposal
  }
  return new TypeError(
    "loop-local: the value has neither Symbol.asyncDispose nor Symbol.dispose, so it cannot be released at the end of its loop; pass a release function"
  )
}

/** A release function given by the caller, as the release of every value it releases. @internal */
export const releaseWith = <A>(release: (value: A) => unknown): core.Release => ({
  run: (value) => releaseEffect(() => release(value as A))
})

const asyncDisposal: core.Release = {
  run: (value) => releaseEffect(() => (value as AsyncDisposable)[Symbol.asyncDispose]())
}

const disposal: core.Release = { run: (value) => releaseEffect(() => (value as Disposable)[Symbol.dispose]()) }

/**
 * A release as the loop runs it: a throw or a rejection is a failure, reported
 * with its own error; a release that returns an Effect (easy when mixing the
 * APIs: `(pool) => pool.close()`) has that Effect run, so nothing is reported
 * released that was not.
 *
 * @internal
 */
export const releaseEffect = (release: () => unknown): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    // Its whole call tree, awaits included, has the loop being closed as its current loop; and it starts in a
    // microtask of its own, so that an error it throws carries its own stack, not the releasing fiber's.
    const loop = core.loopOf(fiber)
    const call = async () => {
      await undefined
      return release()
    }
    const result = loop === undefined ? call() : nodeRealm.bound.run({ loop, constructing: [] }, call)
    return Effect.flatMap(Effect.orDie(Effect.tryPromise({ try: () => result, catch: identity })), (value) =>
      Effect.isEffect(value) ? Effect.asVoid(Effect.orDie(value as Effect.Effect<unknown, unknown>)) : Effect.void
    )
  })

const identity = <A>(a: A): A => a

/**
 * A value produced by Promise code, with its release, for a loop's table:
 * `start` runs as `runFactory` runs it, its rejection is the acquisition's
 * error. Interrupted (its loop closed) before it is done, the value is
 * released when it comes.
 *
 * @internal
 */
export const acquirePromise = <A>(
  construction: Construction,
  start: () => A | PromiseLike<A>,
  release: core.Release | undefined
): Effect.Effect<core.Acquired<A>, unknown> =>
  Effect.suspend(() => {
    let promise: Promise<A>
    try {
      promise = Promise.resolve(runFactory(construction, start))
    } catch (error) {
      construction.settled = true
      return Effect.fail(error)
    }
    const settled = () => {
      construction.settled = true
    }
    promise.then(settled, settled)
    return Effect.tryPromise({ try: () => promise, catch: identity }).pipe(
      Effect.flatMap((value) => {
        const releaseValue = releaseOf(value, release)
        if (releaseValue instanceof TypeError) return Effect.fail(releaseValue)
        return Effect.succeed({ value, release: releaseValue })
      })
    )
  })

/** The errors of a close: each failed release's own error, and one for each release abandoned at the deadline. @internal */
export const releaseErrors = (report: LoopLocal.ShutdownReport): Array<unknown> =>
  report.releases.flatMap((r) => (r.cause === undefined ? [] : [Cause.squash(r.cause)]))

/** The reports worth printing on the way out: with a release that failed, was abandoned, or took over 1 s. @internal */
export const reportsToPrint = (reports: ReadonlyArray<LoopLocal.ShutdownReport>): Array<string> =>
  reports
    .filter((report) => report.releases.some((r) => r.outcome !== "ok" || r.durationMs > 1_000))
    .map(LoopLocalModule.formatShutdownReport)

/** Closes every loop of `run()` still open and the default loop, at once, each within the deadline. @internal */
export const closeAll = (deadlineMs: number | undefined): Promise<Array<LoopLocal.ShutdownReport>> =>
  Promise.all([...nodeRealm.runLoops, core.defaultLoop()].map((loop) => core.close(loop, { deadlineMs })))

/**
 * Runs the application's drain (stop accepting, finish in-flight work) before
 * any loop closes, bounded by `deadlineMs`. A drain that throws or overruns is
 * reported as a process warning, and the close goes on.
 *
 * @internal
 */
export const drainFirst = async (drain: (() => unknown) | undefined, deadlineMs: number): Promise<void> => {
  if (drain === undefined) return
  let timer: NodeJS.Timeout | undefined
  const overrun = new Promise<"overrun">((resolve) => {
    timer = setTimeout(() => resolve("overrun"), deadlineMs)
  })
  try {
    const outcome = await Promise.race([Promise.resolve().then(drain), overrun])
    if (outcome === "overrun") {
      process.emitWarning(
        `loop-local: the drain did not finish within the deadline (${deadlineMs} ms); the loops close now`,
        "LoopLocalWarning"
      )
    }
  } catch (error) {
    const detail = error instanceof Error ? (error.stack ?? String(error)) : String(error)
    process.emitWarning(`loop-local: the drain failed; the loops close now: ${detail}`, "LoopLocalWarning")
  } finally {
    clearTimeout(timer)
  }
}

/**
 * While the loops close on a signal, an error thrown or rejected elsewhere
 * (typically `main` failing because its loop closed under it, then a
 * top-level `await run(main)` rejecting) must not end the process before the
 * releases have run: it is printed, as Node would print it, and the process
 * exits with the signal's code once the loops are closed.
 *
 * @internal
 */
export const holdExitThroughErrors = (signal: NodeJS.Signals): void => {
  process.on("uncaughtException", (error) => {
    const text = error instanceof Error ? (error.stack ?? String(error)) : String(error)
    process.stderr.write(`loop-local: while closing on ${signal}: ${text}\n`)
  })
}

/** The exit code of a process ended by a signal: 128 plus the signal's number. @internal */
export const signalExitCode = (signal: NodeJS.Signals): number => (signal === "SIGINT" ? 130 : 143)

/** @internal */
export const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  u !== null &&
  (typeof u === "object" || typeof u === "function") &&
  typeof (u as PromiseLike<unknown>).then === "function"
