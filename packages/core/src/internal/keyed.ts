/**
 * The one wrapper that turns a factory into a cached function, for both APIs:
 * it checks the definition, copies `arguments` without letting them escape,
 * and derives a call's key. What a call then does with its key (an Effect hit,
 * a Promise hit) is the caller's `Lookup`; this module holds no state.
 */
import { keyOfArgs } from "./key.js"
import { describe, requireFunction, requireOptions } from "./validate.js"

/** The options every cached function takes. @internal */
export interface KeyedOptions<Args extends ReadonlyArray<unknown>> {
  readonly key?: ((...args: Args) => unknown) | undefined
}

/**
 * What a cached function does with a call: `one` for a single argument that is
 * its own key (the hot path: no array, no key to derive), `many` for any other
 * call, which derives its key with `keyOf`.
 *
 * @internal
 */
export interface Lookup<Args extends ReadonlyArray<unknown>, T, I> {
  readonly one: (key: unknown) => T
  readonly many: (args: Args) => T
  readonly invalidate: (args: Args) => I
}

/** @internal */
export type Cached<Args extends ReadonlyArray<unknown>, T, I> = ((...args: Args) => T) & {
  invalidate(...args: Args): I
}

/**
 * A cached function: `lookup` is given the key derivation (`options.key`, else
 * the arguments compared by value, trailing `undefined`s left out) and makes
 * what a call does.
 *
 * @internal
 */
export const keyed = <Args extends ReadonlyArray<unknown>, T, I>(
  what: string,
  f: unknown,
  options: KeyedOptions<Args> | undefined,
  lookup: (keyOf: (args: Args) => unknown) => Lookup<Args, T, I>
): Cached<Args, T, I> => {
  if (typeof f !== "function") {
    throw new TypeError(`loop-local: ${what} expects a function (its factory must be a function), got ${describe(f)}`)
  }
  requireOptions(`${what}'s options`, options)
  const keyOption = options?.key
  if (keyOption !== undefined) requireFunction(`${what}'s options.key`, keyOption)
  const keyOf = keyOption === undefined ? (args: Args) => keyOfArgs(args) : (args: Args) => keyOption(...args)
  const { one, many, invalidate } = lookup(keyOf)
  const call = function (this: unknown): T {
    if (keyOption === undefined && arguments.length === 1) return one(arguments[0])
    // Copied by index so that `arguments` never escapes and is never allocated on the path above.
    const args = new Array<unknown>(arguments.length)
    for (let i = 0; i < arguments.length; i++) args[i] = arguments[i]
    return many(args as unknown as Args)
  }
  return Object.assign(call, { invalidate: (...args: Args) => invalidate(args) }) as Cached<Args, T, I>
}
