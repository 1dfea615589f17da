/**
 * Running an Effect program as a Node process on the default loop.
 *
 * @since 0.1.0
 */
// The module alone: the package's index loads all of @effect/platform, doubling a process's start-up.
import * as Runtime from "@effect/platform/Runtime"
import { LoopLocal } from "@loop-local/core"
import * as core from "@loop-local/core/internal"
import * as Effect from "effect/Effect"
import * as internal from "./internal/current.js"

/**
 * Options of `runMain`.
 *
 * @since 0.1.0
 * @category models
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { NodeLoopLocal } from "@loop-local/platform-node"
 *
 * const options: NodeLoopLocal.RunMainOptions = { deadlineMs: 5_000, disablePrettyLogger: true }
 * NodeLoopLocal.runMain(Effect.log("hello"), options)
 * ```
 */
export interface RunMainOptions {
  /** Do not log the main effect's failure. */
  readonly disableErrorReporting?: boolean | undefined
  /** Do not install Effect's pretty logger. */
  readonly disablePrettyLogger?: boolean | undefined
  /** How long releases may run before those still running are abandoned (default 10 000). */
  readonly deadlineMs?: number | undefined
  /** Runs first on a signal, before the program is interrupted and any loop closes, within the deadline. */
  readonly drain?: (() => unknown) | undefined
}

/**
 * Runs `effect` on the default loop as the process's main program: when it
 * completes, fails or is interrupted by SIGINT/SIGTERM, the default loop (and
 * the loops of `run()` calls still open) close within the deadline, then the
 * process exits: 0 on success (by itself, once nothing else keeps it alive),
 * 1 on failure (the cause is logged) or when a release failed or was
 * abandoned, 130 on SIGINT, 143 on SIGTERM. A second signal exits at once.
 * The shutdown report is printed on stderr if a release failed, was abandoned
 * or took over 1 s.
 *
 * @since 0.1.0
 * @category running
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LoopLocal } from "@loop-local/core"
 * import { NodeLoopLocal } from "@loop-local/platform-node"
 *
 * const Pool = LoopLocal.stickySingleton((origin: string) =>
 *   Effect.acquireRelease(Effect.sync(() => ({ origin })), () => Effect.log("pool closed")))
 *
 * NodeLoopLocal.runMain(Effect.gen(function* () {
 *   const pool = yield* Pool("http://127.0.0.1:8080")
 *   yield* Effect.log(pool.origin)
 * }))
 * ```
 */
export const runMain = <A, E>(effect: Effect.Effect<A, E, LoopLocal.LoopLocal>, options?: RunMainOptions): void => {
  core.requireOptions("runMain's options", options)
  const deadlineMs = core.requireMilliseconds("deadlineMs", options?.deadlineMs) ?? 10_000
  if (options?.drain !== undefined) core.requireFunction("runMain's options.drain", options.drain)
  if (!Effect.isEffect(effect))
    throw new TypeError(`loop-local: runMain expects an Effect, got ${core.describe(effect)}`)
  Runtime.makeRunMain(({ fiber, teardown }) => {
    let signal: NodeJS.Signals | undefined
    const onSignal = (s: NodeJS.Signals) => {
      if (signal !== undefined) process.exit(internal.signalExitCode(signal))
      signal = s
      internal.holdExitThroughErrors(s)
      void internal.drainFirst(options?.drain, deadlineMs).then(() => fiber.unsafeInterruptAsFork(fiber.id()))
    }
    process.on("SIGINT", onSignal)
    process.on("SIGTERM", onSignal)
    fiber.addObserver((exit) => {
      void internal.closeAll(options?.deadlineMs).then((reports) => {
        const printed = internal.reportsToPrint(reports)
        for (const text of printed) process.stderr.write(`${text}\n`)
        const failed = reports.some((report) => report.releases.some((r) => r.outcome !== "ok"))
        process.off("SIGINT", onSignal)
        process.off("SIGTERM", onSignal)
        teardown(exit, (code) => {
          if (signal !== undefined) process.exit(internal.signalExitCode(signal))
          if (code !== 0 || failed) process.exit(code === 0 ? 1 : code)
        })
      })
    })
  })(Effect.provide(effect, LoopLocal.Default), {
    disableErrorReporting: options?.disableErrorReporting,
    disablePrettyLogger: options?.disablePrettyLogger
  })
}
