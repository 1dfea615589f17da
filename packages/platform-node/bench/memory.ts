/**
 * Group 6: heap bytes retained per cached entry (one string key, a small
 * value) at 100,000 entries, measured with --expose-gc and
 * `process.memoryUsage().heapUsed`: a bare Map (the baseline), p-memoize, and
 * this project's singleton and stickySingleton. Keys are made beforehand and
 * kept alive, so that no row counts them. The ns/op column holds bytes.
 */
import pMemoize from "p-memoize"
import { bytesPerEntry, quick, report, withRatios } from "../../../bench/harness.js"
import { singleton, stickySingleton } from "../src/index.js"

const ENTRIES = quick ? 20_000 : 100_000
const releaseNothing = () => {}
const keys = Array.from({ length: ENTRIES }, (_, i) => `key-${i}`)

const perEntry = (fill: () => Promise<unknown>) => bytesPerEntry(ENTRIES, fill)

const measured = [
  {
    name: "bare Map",
    nsPerOp: await perEntry(async () => {
      const map = new Map<string, { key: string }>()
      for (const key of keys) map.set(key, { key })
      return map
    })
  },
  {
    name: "p-memoize",
    nsPerOp: await perEntry(async () => {
      const memoized = pMemoize(async (key: string) => ({ key }))
      for (const key of keys) await memoized(key)
      return memoized
    })
  },
  // Ours on the default loop, which stays open while the heap is read.
  {
    name: "singleton",
    nsPerOp: await perEntry(async () => {
      const cached = singleton((key: string) => ({ key }))
      for (const key of keys) cached(key)
      return cached
    })
  },
  {
    name: "stickySingleton",
    nsPerOp: await perEntry(async () => {
      // The same small value as the other rows, released by one shared function.
      const pool = stickySingleton((key: string) => ({ key }), { release: releaseNothing })
      await Promise.all(keys.map((key) => pool(key)))
      return pool
    })
  }
]
report(withRatios(`6. Memory (bytes per cached entry, ${ENTRIES} entries)`, measured, "bare Map"))
