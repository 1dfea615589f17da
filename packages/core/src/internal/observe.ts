/**
 * What the engine tells people as it works: `loop-local.acquire` and
 * `loop-local.release` spans for tracers, WARN logs for releases that fail,
 * are abandoned or are slow, and with LOOP_LOCAL_DEBUG=1 a line for every
 * acquisition and release. Owns the wording and the thresholds; it reads
 * entries and reports but changes nothing.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import type * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type * as LoopLocal from "../LoopLocal.js"
import { type Entry, keyText } from "./entry.js"
import type { LoopImpl } from "./loop.js"

/** LOOP_LOCAL_DEBUG=1: log every acquisition and release as it happens. Read once, when a loop is made. @internal */
export const debugEnabled = (): boolean =>
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.LOOP_LOCAL_DEBUG === "1"

/** A release slower than this is logged even when it succeeds. @internal */
export const SLOW_RELEASE_MS = 1_000

/** A release, as a span of Effect's tracer: what users with an OpenTelemetry exporter see. @internal */
export const traced = <A, E, R>(
  name: "loop-local.release",
  kind: LoopLocal.EntryKind,
  key: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> => Effect.withSpan(effect, name, { attributes: { kind, key }, captureStackTrace: false })

/**
 * An acquisition, as a `loop-local.acquire` span, the parent of the spans of
 * the acquisition's own code. A scoped resource's finalizer keeps the context
 * it was acquired in for as long as the value is cached, so that context holds
 * a `ParentSpan` that keeps the span's ids but not the span itself: the span,
 * with its attributes, status and times, weighs a kilobyte per cached value.
 * No call-site stack trace either: it would name this module, not the caller.
 * With the tracer off there is no span to make.
 *
 * @internal
 */
export const tracedAcquisition = <A, E, R>(
  kind: LoopLocal.EntryKind,
  key: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) =>
    fiber.getFiberRef(FiberRef.currentTracerEnabled)
      ? Effect.useSpan("loop-local.acquire", { attributes: { kind, key }, captureStackTrace: false }, (span) =>
          Effect.withParentSpan(effect, new SpanIds(span))
        )
      : effect
  )

/**
 * A span as its children see it, holding its ids and only a weak reference to
 * the span itself: while the span lives (the acquisition runs, or a tracer
 * keeps it), attributes, events and links reach it and it reads as it does.
 */
class SpanIds implements Tracer.Span {
  readonly _tag = "Span"
  private readonly span: WeakRef<Tracer.Span>
  readonly name: string
  readonly spanId: string
  readonly traceId: string
  readonly parent: Option.Option<Tracer.AnySpan>
  readonly sampled: boolean
  readonly kind: Tracer.SpanKind

  constructor(span: Tracer.Span) {
    this.span = new WeakRef(span)
    this.name = span.name
    // Effect builds ids a character at a time: a chain of thirty strings per id, which V8 joins into one string when
    // it first reads it as a number.
    Number(span.spanId)
    Number(span.traceId)
    this.spanId = span.spanId
    this.traceId = span.traceId
    this.parent = span.parent
    this.sampled = span.sampled
    this.kind = span.kind
  }

  get context(): Context.Context<never> {
    return this.span.deref()?.context ?? Context.empty()
  }

  /** Once the span is gone, only that it ended is known. */
  get status(): Tracer.SpanStatus {
    return this.span.deref()?.status ?? ended
  }

  get attributes(): ReadonlyMap<string, unknown> {
    return this.span.deref()?.attributes ?? noAttributes
  }

  get links(): ReadonlyArray<Tracer.SpanLink> {
    return this.span.deref()?.links ?? []
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
    this.span.deref()?.end(endTime, exit)
  }

  attribute(key: string, value: unknown): void {
    this.span.deref()?.attribute(key, value)
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>): void {
    this.span.deref()?.event(name, startTime, attributes)
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>): void {
    this.span.deref()?.addLinks(links)
  }
}

const ended: Tracer.SpanStatus = { _tag: "Ended", startTime: 0n, endTime: 0n, exit: Exit.void }
const noAttributes: ReadonlyMap<string, unknown> = new Map()

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
