import * as Equal from "effect/Equal"
import * as Hash from "effect/Hash"

/**
 * The key of a call with several arguments. A single argument is its own key,
 * so the common one-argument hit needs no allocation.
 *
 * @internal
 */
export class ArgList {
  constructor(readonly args: ReadonlyArray<unknown>) {}
}

/**
 * Trailing `undefined` arguments do not count, as an omitted optional
 * parameter does not: `f("a")` is `f("a", undefined)`, and `f()` is
 * `f(undefined)`, whose key is `undefined`.
 *
 * @internal
 */
export const keyOfArgs = (args: ArrayLike<unknown>): unknown => {
  let n = args.length
  while (n > 0 && args[n - 1] === undefined) n--
  if (n <= 1) return args[0]
  return new ArgList(n === args.length && Array.isArray(args) ? args : Array.prototype.slice.call(args, 0, n))
}

/** @internal */
export const isPlainObject = (u: object): boolean => {
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

/** Keys compared by content rather than identity. @internal */
export const isStructural = (u: unknown): u is object =>
  typeof u === "object" &&
  u !== null &&
  (Array.isArray(u) || isPlainObject(u) || u instanceof ArgList || Equal.isEqual(u))

const hasOwn = Object.prototype.hasOwnProperty
const isEnumerable = Object.prototype.propertyIsEnumerable

/** Deeper than this, a key is taken to contain itself: real keys are shallow, and a cycle must not overflow the stack. */
const MAX_DEPTH = 64

const cyclicKeyError = () =>
  new TypeError(
    `loop-local: a key must not contain itself (a cyclic object or array) nor nest deeper than ${MAX_DEPTH} levels; pass options.key to derive a key`
  )

/** `Hash.combine`, uncurried: the curried form allocates a closure per call on this hot path. */
const combine = (h: number, b: number): number => (h * 53) ^ b

const float64 = new Float64Array(1)
const float64Words = new Int32Array(float64.buffer)

/**
 * The hash of a number in a key, from all its bits: `Hash.number` gives every
 * i + 0.5 the same hash, and a table of such keys degrades to a linear scan.
 * Equal numbers hash alike: 0 and -0, and every NaN.
 */
const hashNumber = (n: number): number => {
  if (n === 0) return 0
  if (Number.isNaN(n)) return 1
  float64[0] = n
  const h = Math.imul(float64Words[0]! ^ Math.imul(float64Words[1]!, 0x27d4eb2d), 0x9e3779b1)
  return h ^ (h >>> 15)
}

/** @internal */
export const hashKey = (u: unknown, depth: number): number => {
  if (typeof u === "number") return hashNumber(u)
  if (typeof u !== "object" || u === null) return Hash.hash(u)
  if (depth > MAX_DEPTH) throw cyclicKeyError()
  let h: number
  if (Array.isArray(u)) {
    h = 0x1f3d
    for (let i = 0; i < u.length; i++) h = combine(h, hashKey(u[i], depth + 1))
  } else if (isPlainObject(u)) {
    // Summing per-property hashes makes the hash independent of key order.
    h = 0x7e11
    for (const k in u) {
      if (hasOwn.call(u, k)) {
        h = (h + combine(Hash.string(k), hashKey((u as Record<string, unknown>)[k], depth + 1))) | 0
      }
    }
    const symbols = Object.getOwnPropertySymbols(u)
    for (let i = 0; i < symbols.length; i++) {
      const s = symbols[i]!
      if (isEnumerable.call(u, s)) {
        h = (h + combine(Hash.hash(s), hashKey((u as Record<symbol, unknown>)[s], depth + 1))) | 0
      }
    }
  } else if (u instanceof ArgList) {
    h = 0x2a5b
    for (let i = 0; i < u.args.length; i++) h = combine(h, hashKey(u.args[i], depth + 1))
  } else {
    return Hash.hash(u)
  }
  return Hash.optimize(h)
}

const ownKeyCount = (u: object): number => {
  let n = 0
  for (const k in u) if (hasOwn.call(u, k)) n++
  return n
}

/** @internal */
export const equalKeys = (a: unknown, b: unknown): boolean => equal(a, b, false)

/** With `aIsCopy`, `a` is what `snapshot` made, whose symbol-keyed properties were listed when it was made. */
/** @internal */
export const equal = (a: unknown, b: unknown, aIsCopy: boolean): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) {
    return typeof a === "number" && typeof b === "number" && Number.isNaN(a) && Number.isNaN(b)
  }
  if (Array.isArray(a)) return Array.isArray(b) && equalArrays(a, b, aIsCopy)
  if (isPlainObject(a)) {
    if (Array.isArray(b) || !isPlainObject(b)) return false
    let n = 0
    for (const k in a) {
      if (!hasOwn.call(a, k)) continue
      n++
      if (!hasOwn.call(b, k)) return false
      if (!equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], aIsCopy)) return false
    }
    return n === ownKeyCount(b) && equalSymbols(a, b, aIsCopy)
  }
  if (a instanceof ArgList) return b instanceof ArgList && equalArrays(a.args, b.args, aIsCopy)
  return Equal.isEqual(a) && Equal.equals(a, b)
}

const equalArrays = (a: ReadonlyArray<unknown>, b: ReadonlyArray<unknown>, aIsCopy: boolean): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (!equal(a[i], b[i], aIsCopy)) return false
  return true
}

const NO_SYMBOLS: ReadonlyArray<symbol> = []

/**
 * The enumerable symbol-keyed properties of each copy that has any. Listing
 * them allocates and takes as long as comparing a small config, so a stored
 * key's are listed once, when it is stored.
 */
const symbolsOfCopies = new WeakMap<object, ReadonlyArray<symbol>>()

const enumerableSymbols = (u: object): ReadonlyArray<symbol> =>
  Object.getOwnPropertySymbols(u).filter((s) => isEnumerable.call(u, s))

/** Symbol-keyed properties count as in `util.isDeepStrictEqual`: the enumerable own ones. Compared last, as listing them is slow. */
const equalSymbols = (a: object, b: object, aIsCopy: boolean): boolean => {
  const ofA = aIsCopy ? (symbolsOfCopies.get(a) ?? NO_SYMBOLS) : Object.getOwnPropertySymbols(a)
  const ofB = Object.getOwnPropertySymbols(b)
  let n = 0
  for (let i = 0; i < ofA.length; i++) {
    const s = ofA[i]!
    if (!isEnumerable.call(a, s)) continue
    n++
    if (!isEnumerable.call(b, s)) return false
    if (!equal((a as Record<symbol, unknown>)[s], (b as Record<symbol, unknown>)[s], aIsCopy)) return false
  }
  for (let i = 0; i < ofB.length; i++) if (isEnumerable.call(b, ofB[i]!)) n--
  return n === 0
}

/**
 * A copy of the plain parts of a key, so that a caller mutating its argument
 * later cannot corrupt the table. Handed out only to the loop, which never
 * mutates it, so not frozen: frozen objects are slower to walk.
 */
/** @internal */
export const snapshot = (u: unknown, depth: number): unknown => {
  if (typeof u !== "object" || u === null) return u
  if (depth > MAX_DEPTH) throw cyclicKeyError()
  if (u instanceof ArgList) return new ArgList(u.args.map((a) => snapshot(a, depth + 1)))
  if (Array.isArray(u)) return u.map((a) => snapshot(a, depth + 1))
  if (!isPlainObject(u)) return u
  const copy: Record<PropertyKey, unknown> = {}
  for (const k of Object.keys(u)) put(copy, k, snapshot((u as Record<string, unknown>)[k], depth + 1))
  const symbols = enumerableSymbols(u)
  for (const s of symbols) copy[s] = snapshot((u as Record<symbol, unknown>)[s], depth + 1)
  if (symbols.length > 0) symbolsOfCopies.set(copy, symbols)
  return copy
}

/** Assigning "__proto__" would set the prototype; in a key it is a property like any other (JSON.parse makes it one). */
const put = (o: Record<string, unknown>, k: string, v: unknown): void => {
  if (k === "__proto__") Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
  else o[k] = v
}
