/**
 * Loops for Promise code: the current loop, `run()` for a fresh one, the
 * default loop's shutdown, and closing on signals.
 *
 * @since 0.1.0
 */
import { LoopLocal as LoopLocalModule } from "@loop-local/core"
import type { LoopLocal } from "@loop-local/core"
import * as core from "@loop-local/core/internal"
import * as internal from "./internal/current.js"

/**
 * Options of the functions that close loops.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { shutdown, type CloseOptions } from "@loop-local/platform-node"
 *
 * const options: CloseOptions = { deadlineMs: 5_000 }
 * await shutdown(options)
 * ```
 */
export interface CloseOptions {
  /** How long releases may run before those still running are abandoned (default 10 000); for `run()`, invalidations too. */
  readonly deadlineMs?: number | undefined
}

/**
 * Options of `shutdown`.
 *
 * @since 0.2.0
 * @category models
 * @example
 * ```ts
 * import { shutdown, type ShutdownOptions } from "@loop-local/platform-node"
 *
 * // In a test file's afterAll: a later file in the same worker gets a fresh default loop.
 * const options: ShutdownOptions = { deadlineMs: 2_000, renew: true }
 * await shutdown(options)
 * ```
 */
export interface ShutdownOptions extends CloseOptions {
  /** Runs first, before the loop closes, within the deadline: stop accepting, finish in-flight work. */
  readonly drain?: (() => unknown) | undefined
  /** After closing, later calls get a fresh default loop (in place as soon as the close begins). */
  readonly renew?: boolean | undefined
}

/**
 * Options of `closeOnSignals`.
 *
 * @since 0.2.0
 * @category models
 * @example
 * ```ts
 * import { createServer } from "node:http"
 * import { closeOnSignals, type SignalOptions } from "@loop-local/platform-node"
 *
 * const server = createServer((_req, res) => res.end("ok")).listen(0)
 * const options: SignalOptions = {
 *   deadlineMs: 5_000,
 *   drain: () => new Promise((resolve) => server.close(resolve))
 * }
 * closeOnSignals(options)
 * ```
 */
export interface SignalOptions extends CloseOptions {
  /**
   * Runs first on a signal, before any loop closes, within the deadline: stop
   * accepting and finish in-flight work, e.g. `() => app.close()`. The
   * releases then get a deadline of their own.
   */
  readonly drain?: (() => unknown) | undefined
  /** `false`: close the loops, but leave exiting to the application (default `true`). */
  readonly exit?: boolean | undefined
}

/**
 * Renders a shutdown report as a short table: one line per release (outcome,
 * duration, kind and key, and the error of a failure), after a summary line.
 *
 * @since 0.1.0
 * @category observability
 * @example
 * ```ts
 * import { formatShutdownReport, shutdown } from "@loop-local/platform-node"
 *
 * console.error(formatShutdownReport(await shutdown()))
 * ```
 */
export const formatShutdownReport: (report: LoopLocal.ShutdownReport) => string = LoopLocalModule.formatShutdownReport

/**
 * The current loop: the one `run()` bound for this async call tree, else the
 * default loop (the very loop of `LoopLocal.Default`). Its `runPromise` runs
 * Effect code on it: the bridge between the Promise and Effect APIs.
 *
 * @since 0.1.0
 * @category loops
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 * import { currentLoop } from "@loop-local/platform-node"
 *
 * const storage = await currentLoop().runPromise(LoopLocal.storage)
 * ```
 */
export const currentLoop: () => LoopLocal.Loop = internal.currentLoop

/**
 * The current loop's storage: one `Map` per loop.
 *
 * @since 0.1.0
 * @category storage
 * @example
 * ```ts
 * import { storage } from "@loop-local/platform-node"
 *
 * storage().set("requests", ((storage().get("requests") as number) ?? 0) + 1)
 * ```
 */
export const storage = (): Map<unknown, unknown> => core.storage(internal.currentLoop())

/**
 * Registers `fn` to run when the current loop closes, in reverse order of
 * registration together with every release of the loop. A throw or a
 * rejection is reported, and does not stop the other releases.
 *
 * @since 0.1.0
 * @category finalization
 * @example
 * ```ts
 * import { atExit } from "@loop-local/platform-node"
 *
 * atExit(async () => console.log("bye"))
 * ```
 */
export const atExit = (fn: () => unknown): void => {
  internal.requireFunction("atExit's argument", fn)
  core.insert({ loop: internal.currentLoop(), kind: "atExit", release: { run: () => internal.releaseEffect(fn) } })
}

/**
 * Runs `main` with a fresh loop for its whole async call tree (awaits, timers,
 * `Promise.all`, callbacks bound with `AsyncResource.bind`), and closes that
 * loop when `main` settles: every release has finished (or been abandoned at
 * the deadline) before the returned Promise settles. Like `asyncio.run`.
 *
 * Resolves with `main`'s result, or rejects with `main`'s error, with the
 * errors of failed releases attached as `error.releaseErrors`. When `main`
 * succeeds but releases fail, rejects with an `AggregateError` of them.
 *
 * @since 0.1.0
 * @category loops
 * @example
 * ```ts
 * import { run, stickySingleton } from "@loop-local/platform-node"
 *
 * const client = stickySingleton((url: string) => ({ url, [Symbol.dispose]() {} }))
 * await run(async () => {
 *   await client("http://localhost") // released when run() ends
 * })
 * ```
 */
export const run = async <T>(main: () => T | PromiseLike<T>, options?: CloseOptions): Promise<T> => {
  internal.requireFunction("run's main", main)
  core.requireOptions("run's options", options)
  const loop = core.makeLoop(options)
  internal.nodeRealm.runLoops.add(loop)
  let outcome: { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown }
  try {
    outcome = { ok: true, value: await internal.nodeRealm.bound.run({ loop, constructing: [] }, main) }
  } catch (error) {
    outcome = { ok: false, error }
  }
  const report = await core.close(loop, options)
  internal.nodeRealm.runLoops.delete(loop)
  const releaseErrors = internal.releaseErrors(report)
  if (!outcome.ok) {
    if (releaseErrors.length > 0) attachReleaseErrors(outcome.error, releaseErrors)
    throw outcome.error
  }
  if (releaseErrors.length > 0) {
    throw new AggregateError(
      releaseErrors,
      `loop-local: ${releaseErrors.length} release(s) failed when the loop of run() closed`
    )
  }
  return outcome.value
}

const attachReleaseErrors = (error: unknown, releaseErrors: Array<unknown>): void => {
  if (error !== null && typeof error === "object" && Object.isExtensible(error)) {
    Object.defineProperty(error, "releaseErrors", { value: releaseErrors, configurable: true, writable: true })
  } else {
    process.emitWarning(
      new AggregateError(releaseErrors, "loop-local: releases failed when the loop of a failed run() closed"),
      "LoopLocalWarning"
    )
  }
}

/**
 * Closes the default loop now, running its releases within the deadline, and
 * resolves with the report. Idempotent: later calls get the same report.
 * After it, uses of the default loop fail with `LoopClosedError`, unless
 * `renew` put a fresh one in place. `drain` runs first, within the deadline.
 *
 * @since 0.1.0
 * @category loops
 * @example
 * ```ts
 * import { shutdown } from "@loop-local/platform-node"
 *
 * const report = await shutdown({ deadlineMs: 5_000 })
 * ```
 */
export const shutdown = async (options?: ShutdownOptions): Promise<LoopLocal.ShutdownReport> => {
  core.requireOptions("shutdown's options", options)
  const deadlineMs = core.requireMilliseconds("deadlineMs", options?.deadlineMs) ?? DEFAULT_DEADLINE_MS
  if (options?.drain !== undefined) internal.requireFunction("shutdown's options.drain", options.drain)
  await internal.drainFirst(options?.drain, deadlineMs)
  const loop = options?.renew === true ? core.renewDefaultLoop() : core.defaultLoop()
  return core.close(loop, options?.deadlineMs === undefined ? undefined : { deadlineMs })
}

const DEFAULT_DEADLINE_MS = 10_000

/**
 * Opt-in: on SIGINT or SIGTERM, run `drain` (if given) within the deadline,
 * then close the default loop and the loops of `run()` calls still open, each
 * within the deadline, print the shutdown report on stderr if a release
 * failed, was abandoned or took over 1 s, then exit with 130 (SIGINT) or 143
 * (SIGTERM) — unless `exit: false`, which leaves exiting to the application.
 * A second signal exits at once. Returns a function that removes the handlers.
 *
 * Without it, the library installs no signal handler.
 *
 * @since 0.1.0
 * @category loops
 * @example
 * ```ts
 * import { closeOnSignals } from "@loop-local/platform-node"
 *
 * const stop = closeOnSignals({ deadlineMs: 5_000 })
 * ```
 */
export const closeOnSignals = (options?: SignalOptions): (() => void) => {
  core.requireOptions("closeOnSignals's options", options)
  const deadlineMs = core.requireMilliseconds("deadlineMs", options?.deadlineMs) ?? DEFAULT_DEADLINE_MS
  if (options?.drain !== undefined) internal.requireFunction("closeOnSignals's options.drain", options.drain)
  const exit = options?.exit ?? true
  if (typeof exit !== "boolean")
    throw new TypeError(`loop-local: closeOnSignals's options.exit must be a boolean, got ${core.describe(exit)}`)
  let closing = false
  const onSignal = (signal: NodeJS.Signals) => {
    const code = internal.signalExitCode(signal)
    if (closing) process.exit(code)
    closing = true
    if (exit) internal.holdExitThroughErrors(signal)
    void internal
      .drainFirst(options?.drain, deadlineMs)
      .then(() => internal.closeAll(options?.deadlineMs))
      .then((reports) => {
        for (const text of internal.reportsToPrint(reports)) process.stderr.write(`${text}\n`)
        if (exit) process.exit(code)
      })
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  return () => {
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
}
