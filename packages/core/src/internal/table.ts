/**
 * The keyed-entry table every primitive stores its values in: keys compared
 * as `key.ts` says, stored as snapshots, removed by identity. Owns the buckets
 * and the last structural key matched; it knows nothing of entries or loops.
 */
import { equal, hashKey, isStructural, snapshot } from "./key.js"

interface Bucket<V> {
  readonly key: unknown
  readonly value: V
}

/**
 * A map from keys to values where primitives, class instances and functions
 * are compared as a `Map` compares them, and plain objects, arrays and `Equal`
 * values by content.
 *
 * @internal
 */
export class KeyTable<V> {
  private readonly byValue = new Map<unknown, V>()
  private byHash: Map<number, Array<Bucket<V>>> | undefined
  /** The bucket a structural key last matched: programs pass the same config again and again, and a match
   * then costs one comparison instead of hashing the key too. */
  private last: Bucket<V> | undefined

  /** With `byIdentity`, every key is compared as a `Map` compares it. */
  constructor(private readonly byIdentity: boolean) {}

  /** How many keys it holds that are compared as a `Map` compares them. */
  get mapped(): number {
    return this.byValue.size
  }

  get(key: unknown): V | undefined {
    if (this.byIdentity || !isStructural(key)) return this.byValue.get(key)
    const last = this.last
    if (last !== undefined && equal(last.key, key, true)) return last.value
    const buckets = this.byHash?.get(hashKey(key, 0))
    if (buckets === undefined) return undefined
    for (const bucket of buckets) {
      if (equal(bucket.key, key, true)) {
        this.last = bucket
        return bucket.value
      }
    }
    return undefined
  }

  /**
   * Stores `value` under a copy of a structural key, or under the key itself,
   * and returns the key stored: the one `delete` takes.
   */
  set(key: unknown, value: V): unknown {
    if (this.byIdentity || !isStructural(key)) {
      this.byValue.set(key, value)
      return key
    }
    const stored = snapshot(key, 0)
    // The copy's hash, not the argument's: a getter may answer differently the next time.
    const h = hashKey(stored, 0)
    this.last = undefined
    this.byHash ??= new Map()
    const buckets = this.byHash.get(h)
    const bucket = { key: stored, value }
    if (buckets === undefined) this.byHash.set(h, [bucket])
    else {
      const i = buckets.findIndex((b) => equal(b.key, stored, true))
      if (i === -1) buckets.push(bucket)
      else buckets[i] = bucket
    }
    return stored
  }

  /**
   * Removes `value` while it is the one stored. `storedKey` is what `set`
   * returned: nobody mutates it, so it hashes as it did then, whatever the
   * caller did since to the object it passed.
   */
  delete(storedKey: unknown, value: V): void {
    if (this.byIdentity || !isStructural(storedKey)) {
      if (this.byValue.get(storedKey) === value) this.byValue.delete(storedKey)
      return
    }
    const h = hashKey(storedKey, 0)
    const buckets = this.byHash?.get(h)
    if (buckets === undefined) return
    if (this.last?.value === value) this.last = undefined
    const i = buckets.findIndex((b) => b.value === value)
    if (i === -1) return
    buckets.splice(i, 1)
    if (buckets.length === 0) this.byHash!.delete(h)
  }

  *values(): IterableIterator<V> {
    yield* this.byValue.values()
    if (this.byHash !== undefined) for (const buckets of this.byHash.values()) for (const b of buckets) yield b.value
  }
}
