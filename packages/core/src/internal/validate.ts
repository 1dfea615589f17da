/**
 * Checks of what users pass in, where they pass it: a `TypeError` that names
 * the option and says what was given, instead of a failure far from the cause
 * (a deadline of "100" that never times out, a `null` that reads as "object").
 */

/** How a value is named in an error message. @internal */
export const describe = (u: unknown): string => {
  if (u === null) return "null"
  if (Array.isArray(u)) return "an array"
  if (typeof u === "string") return `the string ${JSON.stringify(u.length > 40 ? `${u.slice(0, 40)}…` : u)}`
  if (typeof u === "number") return `the number ${u}`
  return typeof u
}

/** @internal */
export const requireFunction = (what: string, u: unknown): void => {
  if (typeof u !== "function") throw new TypeError(`loop-local: ${what} must be a function, got ${describe(u)}`)
}

/** An options argument: absent, or an object. @internal */
export const requireOptions = (what: string, u: unknown): void => {
  if (u !== undefined && (u === null || typeof u !== "object")) {
    throw new TypeError(`loop-local: ${what} must be an object, got ${describe(u)}`)
  }
}

/**
 * A duration in milliseconds, where it is given: a positive number, `Infinity`
 * for never; absent is the default. A string (from an environment variable),
 * zero, a negative number or NaN is a `TypeError`.
 *
 * @internal
 */
export const requireMilliseconds = (what: string, u: unknown): number | undefined => {
  if (u === undefined) return undefined
  if (typeof u !== "number" || !(u > 0)) {
    throw new TypeError(
      `loop-local: ${what} must be a positive number of milliseconds (or Infinity), got ${describe(u)}${typeof u === "string" ? "; convert it with Number()" : ""}`
    )
  }
  return u
}
