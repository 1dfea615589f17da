/**
 * The one wrapper that turns a factory into a cached function, for both APIs:
 * it checks the definition, copies `arguments` without letting them escape,
 * and derives a call's key. What a call then does with its key (an Effect hit,
 * a Promise hit) is the caller's `Lookup`; this module holds no state.
 */
import { type Bounds, makeOwner, type Owner } from "./entry.js"
import { keyOfArgs } from "./key.js"
import { realmOwner } from "./realm.js"
import { describe, requireFunction, requireOptions } from "./validate.js"

/** The options every cached function takes; each API types and reads its own durations. @internal */
export interface KeyedOptions<Args extends ReadonlyArray<unknown>> {
  readonly key?: ((...args: Args) => unknown) | undefined
  readonly capacity?: number | undefined
  readonly idleTimeToLive?: unknown
  readonly timeToLive?: unknown
  readonly id?: string | undefined
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
  lookup: (keyOf: (args: Args) => unknown) => Lookup<Args, T, I>,
  adopt?: () => void
): Cached<Args, T, I> => {
  if (typeof f !== "function") {
    throw new TypeError(`loop-local: ${what} expects a function (its factory must be a function), got ${describe(f)}`)
  }
  requireOptions(`${what}'s options`, options)
  const keyOption = options?.key
  if (keyOption !== undefined) requireFunction(`${what}'s options.key`, keyOption)
  const keyOf = keyOption === undefined ? (args: Args) => keyOfArgs(args) : (args: Args) => keyOption(...args)
  const { one, many, invalidate } = lookup(keyOf)
  let toAdopt = adopt
  const call = function (this: unknown): T {
    if (toAdopt !== undefined) {
      toAdopt()
      toAdopt = undefined
    }
    if (keyOption === undefined && arguments.length === 1) return one(arguments[0])
    // Copied by index so that `arguments` never escapes and is never allocated on the path above.
    const args = new Array<unknown>(arguments.length)
    for (let i = 0; i < arguments.length; i++) args[i] = arguments[i]
    return many(args as unknown as Args)
  }
  return Object.assign(call, { invalidate: (...args: Args) => invalidate(args) }) as Cached<Args, T, I>
}

/**
 * The owner of a definition's values, from its options: bounded by
 * `capacity`, `idleTimeToLive` and `timeToLive` (read by `toMillis`, each
 * API's own duration type), and shared by every definition of the realm under
 * the same `id`. `adopt` puts this definition's bounds on a shared owner: its
 * first call does, so the latest definition's options apply from then on.
 *
 * @internal
 */
export const ownerOf = (
  what: string,
  definedAs: string,
  options: KeyedOptions<never> | undefined,
  toMillis: (option: string, u: unknown) => number | undefined
): { readonly owner: Owner; readonly adopt: (() => void) | undefined } => {
  const capacity = options?.capacity
  if (
    capacity !== undefined &&
    !(Number.isInteger(capacity) && capacity > 0) &&
    capacity !== Number.POSITIVE_INFINITY
  ) {
    throw new TypeError(`loop-local: ${what}'s options.capacity must be a positive integer, got ${describe(capacity)}`)
  }
  const idleMs = toMillis(`${what}'s options.idleTimeToLive`, options?.idleTimeToLive)
  const ttlMs = toMillis(`${what}'s options.timeToLive`, options?.timeToLive)
  const bounds: Bounds | undefined =
    capacity === undefined && idleMs === undefined && ttlMs === undefined
      ? undefined
      : {
          capacity: capacity ?? Number.POSITIVE_INFINITY,
          idleMs: idleMs ?? Number.POSITIVE_INFINITY,
          ttlMs: ttlMs ?? Number.POSITIVE_INFINITY
        }
  const id = options?.id
  if (id === undefined) return { owner: makeOwner(false, bounds), adopt: undefined }
  if (typeof id !== "string")
    throw new TypeError(`loop-local: ${what}'s options.id must be a string, got ${describe(id)}`)
  const owner = realmOwner(`id:${id}`, false)
  if (owner.definedAs !== undefined && owner.definedAs !== definedAs) {
    throw new TypeError(
      `loop-local: the id ${JSON.stringify(id)} names a ${owner.definedAs} already; a ${definedAs} cannot share its values`
    )
  }
  owner.definedAs = definedAs
  let adopted = false
  return {
    owner,
    adopt: () => {
      if (adopted) return
      adopted = true
      owner.bounds = bounds
    }
  }
}
