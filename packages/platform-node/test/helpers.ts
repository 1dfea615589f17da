import { format } from "node:util"
import { onTestFinished, vi } from "vitest"

/** One line logged: its level label, its message, and its cause as Effect's logger renders it ("" without one). */
export interface Logged {
  readonly level: string
  readonly message: string
  readonly cause: string
}

/**
 * Captures the console for the rest of the current test, and restores it
 * when the test ends. The Promise API runs the library's fibers on Effect's
 * default runtime, so no logger can be provided from outside: Effect's default
 * logger prints what the library logs (a release that failed or was
 * abandoned) there. Each line is read back into a `Logged`; a line that is not
 * a line of Effect's logger comes as `{ level: "", message: line }`, so that
 * an assertion on the whole list sees it too. (core's test/helpers.ts has the
 * same, next to a recording `Logger` for the Effect side.)
 */
export const captureConsole = (): Array<Logged> => {
  const logs: Array<Logged> = []
  const spies = (["log", "info", "warn", "error", "debug", "trace"] as const).map((method) =>
    vi.spyOn(console, method).mockImplementation((...args: Array<unknown>) => {
      logs.push(parseLogLine(format(...args), method))
    })
  )
  onTestFinished(() => {
    for (const spy of spies) spy.mockRestore()
  })
  return logs
}

/** One `label=value` of a line of Effect's default logger: a value with spaces or quotes is quoted, `"` as `\"`. */
const field = /\s*([^\s=]+)=(?:"((?:\\[\s\S]|[^"\\])*)"|([^\s"=]*))/y

/**
 * Reads a line of Effect's default logger (`timestamp=… level=… message=… cause=…`) back into its fields; a
 * `console.warn` that is not one (the Promise API's plain warnings: a line, then the error's stack) as a WARN whose
 * message is its first line and whose cause is the rest.
 */
export const parseLogLine = (line: string, method = "log"): Logged => {
  const fields = new Map<string, string>()
  field.lastIndex = 0
  for (let m = field.exec(line); m !== null; m = field.exec(line)) {
    fields.set(m[1]!, m[2] !== undefined ? m[2].replace(/\\"/g, '"') : m[3]!)
    if (field.lastIndex === line.length) break
  }
  const level = fields.get("level")
  if (level !== undefined && fields.has("timestamp") && fields.has("message")) {
    return { level, message: fields.get("message")!, cause: fields.get("cause") ?? "" }
  }
  if (method !== "warn") return { level: "", message: line, cause: "" }
  const newline = line.indexOf("\n")
  return newline === -1
    ? { level: "WARN", message: line, cause: "" }
    : { level: "WARN", message: line.slice(0, newline), cause: line.slice(newline + 1) }
}
