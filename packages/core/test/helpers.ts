import { Cause, Effect, Exit, type Layer, Logger, ManagedRuntime, Option } from "effect"
import { format } from "node:util"
import { onTestFinished, vi } from "vitest"
import { LoopLocal } from "../src/index.js"

/**
 * A resource that counts its acquisitions and releases and yields between
 * steps, so that interleavings show. `log` records "acquire:n" / "release:n".
 */
export const makeCounter = (name = "r") => {
  const state = { acquired: 0, released: 0, log: [] as Array<string> }
  const resource = Effect.acquireRelease(
    Effect.gen(function* () {
      yield* Effect.yieldNow()
      const n = ++state.acquired
      state.log.push(`acquire:${name}${n}`)
      yield* Effect.yieldNow()
      return { name, n, released: false }
    }),
    (value) =>
      Effect.gen(function* () {
        yield* Effect.yieldNow()
        value.released = true
        state.released++
        state.log.push(`release:${name}${value.n}`)
      })
  )
  return { state, resource }
}

/** A Python-style event loop: `runPromise` is `run_until_complete`, `dispose` is `close`. */
export const makeLoop = () => ManagedRuntime.make(LoopLocal.layer)

export const isLoopClosed = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) &&
  Option.exists(
    Cause.dieOption(exit.cause),
    (e) => e instanceof LoopLocal.LoopClosedError && e._tag === "LoopClosedError"
  )

/** One line logged: its level label, its message, and its cause as Effect's logger renders it ("" without one). */
export interface Logged {
  readonly level: string
  readonly message: string
  readonly cause: string
}

/**
 * A layer replacing Effect's default logger with one that records into
 * `logs`: provided to an effect under test, it catches what the library logs
 * on that effect's fibers and on the fibers they fork.
 */
export const recordLogs = (logs: Array<Logged>): Layer.Layer<never> =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ logLevel, message, cause }) => {
      logs.push({
        level: logLevel.label,
        message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
        cause: Cause.isEmpty(cause) ? "" : Cause.pretty(cause, { renderErrorCause: true })
      })
    })
  )

/**
 * Captures the console for the rest of the current test, and restores it
 * when the test ends. Where the library runs fibers of its own on Effect's
 * default runtime (a loop closed from Promise code, a release started after
 * the deadline), no logger can be provided from outside: Effect's default
 * logger prints there. Each line is read back into a `Logged`; a line that is
 * not a line of Effect's logger comes as `{ level: "", message: line }`, so
 * that an assertion on the whole list sees it too.
 */
export const captureConsole = (): Array<Logged> => {
  const logs: Array<Logged> = []
  const spies = (["log", "info", "warn", "error", "debug", "trace"] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: Array<unknown>) => {
      logs.push(parseLogLine(format(...args)))
    })
  )
  onTestFinished(() => {
    for (const spy of spies) spy.mockRestore()
  })
  return logs
}

/** One `label=value` of a line of Effect's default logger: a value with spaces or quotes is quoted, `"` as `\"`. */
const field = /\s*([^\s=]+)=(?:"((?:\\[\s\S]|[^"\\])*)"|([^\s"=]*))/y

/** Reads a line of Effect's default logger (`timestamp=… level=… message=… cause=…`) back into its fields. */
export const parseLogLine = (line: string): Logged => {
  const fields = new Map<string, string>()
  field.lastIndex = 0
  for (let m = field.exec(line); m !== null; m = field.exec(line)) {
    fields.set(m[1]!, m[2] !== undefined ? m[2].replace(/\\"/g, '"') : m[3]!)
    if (field.lastIndex === line.length) break
  }
  const level = fields.get("level")
  return level === undefined || !fields.has("timestamp") || !fields.has("message")
    ? { level: "", message: line, cause: "" }
    : { level, message: fields.get("message")!, cause: fields.get("cause") ?? "" }
}
