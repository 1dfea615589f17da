/**
 * What the engine tells people as it works: `loop-local.acquire` and
 * `loop-local.release` spans for tracers, WARN logs for releases that fail,
 * are abandoned or are slow, and with LOOP_LOCAL_DEBUG=1 a line for every
 * acquisition and release. Owns the wording and the thresholds; it reads
 * entries and reports but changes nothing.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Tracer from "effect/Tracer"
import type * as LoopLocal from "../LoopLocal.js"
import { type Entry, keyText } from "./entry.js"
import type { LoopImpl } from "./loop.js"

/** LOOP_LOCAL_DEBUG=1: log every acquisition and release as it happens. Read once, when a loop is made. @internal */
export const debugEnabled = (): boolean =>
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.LOOP_LOCAL_DEBUG === "1"

/** A release slower than this is logged even when it succeeds. @internal */
export const SLOW_RELEASE_MS = 1_000

/**
 * The tracer of every fiber that was given none: its spans reach no exporter.
 * Read from a fresh runtime, so it is Effect's own, whatever a program installs.
 */
const defaultTracer = Effect.runSync(Effect.tracer)

/** Whether spans are made under `tracer`: not under Effect's default one, whose spans nobody reads. @internal */
export const makesSpans = (tracer: Tracer.Tracer): boolean => tracer !== defaultTracer

/** An acquisition or a release, as a span with its kind and (masked) key. @internal */
export const span = <A, E, R>(
  name: "loop-local.acquire" | "loop-local.release",
  entry: Entry,
  effect: Effect.Effect<A, E, R>,
  key = keyText(entry)
): Effect.Effect<A, E, R> =>
  Effect.withSpan(effect, name, { attributes: { kind: entry.kind, key }, captureStackTrace: false })

/**
 * An acquisition or a release, as a span of the fiber's tracer: what users
 * with an OpenTelemetry exporter see. Under Effect's default tracer no span
 * is made: a span costs a captured stack and several allocations, which a
 * close of many values would pay once per value. The key is rendered only for
 * a span (`key`, when the caller has it already).
 *
 * @internal
 */
export const traced = <A, E, R>(
  name: "loop-local.acquire" | "loop-local.release",
  entry: Entry,
  effect: Effect.Effect<A, E, R>,
  key?: string
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => (makesSpans(fiber.currentTracer) ? span(name, entry, effect, key) : effect))

/**
 * Logs a release that failed, was abandoned or was slow (and, in debug, every
 * one). A value the Promise API acquired (`plain`) is told as Promise users
 * read errors: one line on stderr, then the error's own stack, instead of a
 * line of Effect's logger carrying the fiber's frames.
 *
 * @internal
 */
export const logRelease = (record: LoopLocal.ReleaseReport, debug: boolean, plain: boolean): Effect.Effect<void> => {
  if (record.outcome === "ok" && record.durationMs <= SLOW_RELEASE_MS) {
    return debug
      ? Effect.logInfo(`loop-local: released ${record.kind} ${record.key} in ${record.durationMs} ms`)
      : Effect.void
  }
  const message =
    record.outcome === "ok"
      ? `loop-local: the release of ${record.kind} ${record.key} took ${record.durationMs} ms`
      : `loop-local: the release of ${record.kind} ${record.key} ${record.outcome} after ${record.durationMs} ms`
  if (!plain) return record.cause === undefined ? Effect.logWarning(message) : Effect.logWarning(message, record.cause)
  return Effect.sync(() => {
    const error = record.cause === undefined ? undefined : Cause.squash(record.cause)
    // The error of an abandoned release is the library's own: its message says it all, its stack is ours.
    const shown =
      error instanceof Error
        ? record.outcome === "abandoned"
          ? error.message
          : (error.stack ?? String(error))
        : String(error)
    const detail = error === undefined ? "" : `\n${shown}`
    ;(globalThis as { console?: { warn(text: string): void } }).console?.warn(`${message}${detail}`)
  })
}

/**
 * Logs an eviction's release still running at the loop's deadline: nobody
 * waits for it, so outside a close a hang would show nowhere else. A close
 * that begins later still waits for it and reports it.
 *
 * @internal
 */
export const logStillRunning = (entry: Entry, key: string, ms: number): Effect.Effect<void> => {
  const message = `loop-local: the release of ${entry.kind} ${key}, evicted, is still running after ${ms} ms`
  if (!entry.fromPromise) return Effect.logWarning(message)
  return Effect.sync(() => (globalThis as { console?: { warn(text: string): void } }).console?.warn(message))
}

/** In debug, logs a completed acquisition. @internal */
export const logAcquired = (kind: LoopLocal.EntryKind, key: string, ms: number): Effect.Effect<void> =>
  Effect.logInfo(`loop-local: acquired ${kind} ${key} in ${ms} ms`)

/**
 * How many values of one kind, whose keys render alike, a loop may hold
 * before it is warned: distinct keys that print the same are keys compared by
 * identity (a layer, a definition, a function or a `Date` made per call), and
 * a program that means to hold several such values holds a handful, whereas a
 * pile-up made by mistake grows by one per request.
 *
 * @internal
 */
export const PILE_UP = 10

/**
 * Whether a value can be part of a pile-up. Distinct primitive keys of one
 * owner render apart, so only its first one counts (against other owners, a
 * definition made per call); an object or function key always does. The
 * common case, many tenants' string keys, thus costs nothing.
 *
 * @internal
 */
export const mayPileUp = (entry: Entry): boolean => {
  const key = entry.key
  if (key !== null && (typeof key === "object" || typeof key === "function")) return true
  return entry.table !== undefined && entry.table.mapped === 1
}

/** Counts a value now held under `text`; returns the warning, once per loop, when a pile-up reaches `PILE_UP`. @internal */
export const countHeld = (loop: LoopImpl, kind: LoopLocal.EntryKind, text: string): Effect.Effect<void> => {
  const id = `${kind} ${text}`
  const held = (loop.held.get(id) ?? 0) + 1
  loop.held.set(id, held)
  if (held < PILE_UP || loop.warnedPileUp) return Effect.void
  loop.warnedPileUp = true
  return Effect.logWarning(
    `loop-local: this loop holds ${held} ${kind} values whose keys all read ${text}: each call makes a new key, likely a layer or a definition made per request, or a function, class instance or Date inside the key, and each value is kept until the loop closes. Define it once at module level, pass what varies as arguments (memoize(f) for layers), derive the key with options.key, or share definitions with options.id.`
  )
}

/** @internal */
export const countReleased = (loop: LoopImpl, kind: LoopLocal.EntryKind, text: string): void => {
  const id = `${kind} ${text}`
  const held = loop.held.get(id)
  if (held === undefined) return
  if (held <= 1) loop.held.delete(id)
  else loop.held.set(id, held - 1)
}

/** A value just acquired: logged in debug, and counted toward a pile-up. @internal */
export const noteAcquired = (loop: LoopImpl, entry: Entry, ms: number): Effect.Effect<void> => {
  const counts = entry.table !== undefined && mayPileUp(entry)
  if (!counts && !(loop.debug && entry.kind !== "atExit")) return Effect.void
  const text = keyText(entry)
  const counted = counts ? countHeld(loop, entry.kind, text) : Effect.void
  return loop.debug ? Effect.zipRight(logAcquired(entry.kind, text, ms), counted) : counted
}
