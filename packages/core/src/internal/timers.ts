/**
 * The engine's use of the runtime's timers: the next turn of the event loop,
 * the sweeps of owners with a time to live, and the watch on an eviction's
 * release. Owns every timer a loop has,
 * so that a close can clear them; core compiles without any runtime's types.
 * Timers never keep a process alive.
 */
import * as Effect from "effect/Effect"
import type { LoopImpl } from "./loop.js"

/** The timer functions of the JS runtime. */
interface Timers {
  readonly setImmediate?: (f: () => void) => unknown
  readonly clearImmediate?: (handle: unknown) => void
  readonly setTimeout: (f: () => void, ms: number) => unknown
  readonly clearTimeout: (handle: unknown) => void
  readonly setInterval: (f: () => void, ms: number) => unknown
  readonly clearInterval: (handle: unknown) => void
}

const timers = globalThis as unknown as Timers

/**
 * The next turn of the event loop: every microtask queued before it (a
 * Promise's continuation, a fiber's resumption) has run by then. `setImmediate`
 * where the runtime has it (microseconds), else a zero timer.
 *
 * @internal
 */
export const nextTurn: Effect.Effect<void> = Effect.async((resume) => {
  if (typeof timers.setImmediate === "function" && typeof timers.clearImmediate === "function") {
    const handle = timers.setImmediate(() => resume(Effect.void))
    return Effect.sync(() => timers.clearImmediate!(handle))
  }
  const handle = timers.setTimeout(() => resume(Effect.void), 0)
  return Effect.sync(() => timers.clearTimeout(handle))
})

/** The longest delay a timer takes (2^31 - 1 ms, about 24.8 days); a longer one would fire at once. */
const MAX_DELAY_MS = 2_147_483_647

/**
 * Calls `f` once after `ms`: the deadline of a close's wait, which keeps the
 * process alive until the close ends. A deadline beyond the longest delay (an
 * infinite one) is never reached: no timer.
 *
 * @internal
 */
export const startTimer = (f: () => void, ms: number): unknown =>
  ms <= MAX_DELAY_MS ? timers.setTimeout(f, ms) : undefined

/** @internal */
export const stopTimer = (handle: unknown): void => timers.clearTimeout(handle)

/** Runs `sweep` every `ms` until the loop closes, without keeping the process alive. @internal */
export const startSweep = (loop: LoopImpl, ms: number, sweep: () => void): unknown => {
  const handle = timers.setInterval(sweep, ms)
  ;(handle as { unref?: () => void }).unref?.()
  loop.sweeps.add(handle)
  return handle
}

/**
 * Calls `f` once after `ms`, without keeping the process alive (the watch on
 * an eviction's release); never beyond the longest delay. `stopTimer` cancels it.
 *
 * @internal
 */
export const startWatch = (f: () => void, ms: number): unknown => {
  const handle = startTimer(f, ms)
  ;(handle as { unref?: () => void } | undefined)?.unref?.()
  return handle
}

/** @internal */
export const stopSweep = (loop: LoopImpl, handle: unknown): void => {
  timers.clearInterval(handle)
  loop.sweeps.delete(handle)
}

/** @internal */
export const stopSweeps = (loop: LoopImpl): void => {
  for (const handle of loop.sweeps) timers.clearInterval(handle)
  loop.sweeps.clear()
}
