/**
 * Group 6: heap bytes retained per cached entry (one string key, a small
 * value) at 100,000 entries, measured with --expose-gc and
 * `process.memoryUsage().heapUsed`: a bare Map (the baseline), p-memoize, and
 * this project's singleton and stickySingleton. Keys are made beforehand and
 * kept alive, so that no row counts them. The ns/op column holds bytes.
 */
import pMemoize from "p-memoize"
import { quick, report, withRatios } from "../../../bench/harness.js"
import { singleton, stickySingleton } from "../src/index.js"

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with --expose-gc")
const ENTRIES = quick ? 20_000 : 100_000
const releaseNothing = () => {}
const keys = Array.from({ length: ENTRIES }, (_, i) => `key-${i}`)

const settle = async () => {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  return process.memoryUsage().heapUsed
}

/** Bytes per entry that `fill` leaves retained while `hold` keeps its cache alive. */
const bytesPerEntry = async (fill: () => Promise<unknown>) => {
  const before = await settle()
  const held = await fill()
  const after = await settle()
  if (held === undefined) throw new Error("nothing held")
  return (after - before) / ENTRIES
}

const measured = [
  {
    name: "bare Map",
    nsPerOp: await bytesPerEntry(async () => {
      const map = new Map<string, { key: string }>()
      for (const key of keys) map.set(key, { key })
      return map
    })
  },
  {
    name: "p-memoize",
    nsPerOp: await bytesPerEntry(async () => {
      const memoized = pMemoize(async (key: string) => ({ key }))
      for (const key of keys) await memoized(key)
      return memoized
    })
  },
  // Ours on the default loop, which stays open while the heap is read.
  {
    name: "singleton",
    nsPerOp: await bytesPerEntry(async () => {
      const cached = singleton((key: string) => ({ key }))
      for (const key of keys) cached(key)
      return cached
    })
  },
  {
    name: "stickySingleton",
    nsPerOp: await bytesPerEntry(async () => {
      // The same small value as the other rows, released by one shared function.
      const pool = stickySingleton((key: string) => ({ key }), { release: releaseNothing })
      await Promise.all(keys.map((key) => pool(key)))
      return pool
    })
  }
]
report(withRatios(`6. Memory (bytes per cached entry, ${ENTRIES} entries)`, measured, "bare Map"))
