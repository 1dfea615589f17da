/**
 * Group 8: the heap of a loop that sees many tenants, each once, through a
 * Promise `stickySingleton` with `capacity: 1000`, against the same definition
 * without a capacity: heap bytes retained (--expose-gc,
 * `process.memoryUsage().heapUsed`, against the heap before the first call)
 * and the values the loop holds (`currentLoop().inspect().length`) after 1,000,
 * 10,000 and 100,000 distinct keys. Each definition runs in a `run()` loop of
 * its own; keys are made beforehand and kept alive, so that no row counts
 * them. An eviction releases its value one event-loop turn later, so the heap
 * is read after a few turns and a full GC. The ns/op column holds bytes; the
 * ratio is to the capacity-bound loop after 1,000 keys (flat: 1.0 at every
 * count).
 */
import { quick, report, type Row, settledHeap } from "../../../bench/harness.js"
import { currentLoop, run, stickySingleton } from "../src/index.js"

// The quick mode scales the capacity down by 10 and the counts by 10 to 100, so that it stays short.
const CAPACITY = quick ? 100 : 1_000
const checkpoints = quick ? [100, 500, 1_000] : [1_000, 10_000, 100_000]
const keys = Array.from({ length: checkpoints.at(-1)! }, (_, i) => `tenant-${i}`)
let released = 0
const release = () => {
  released++
}

type Measured = { readonly name: string; readonly nsPerOp: number; readonly extra: Record<string, number> }

/** Sees `keys` up to each checkpoint, once each, in a loop of its own; returns the heap and the count held at each. */
const pass = async (capacity: number | undefined, checkpoints: ReadonlyArray<number>): Promise<Array<Measured>> => {
  const way = capacity === undefined ? "no capacity" : `capacity ${capacity}`
  const measured: Array<Measured> = []
  released = 0
  await run(async () => {
    const before = await settledHeap()
    const pool = stickySingleton((key: string) => ({ key }), { release, capacity })
    let seen = 0
    let previous = 0
    for (const count of checkpoints) {
      const started = performance.now()
      for (; seen < count; seen++) await pool(keys[seen]!)
      const usPerKey = ((performance.now() - started) * 1_000) / (count - previous)
      previous = count
      const bytes = (await settledHeap()) - before
      const held = currentLoop().inspect().length
      if (held !== Math.min(count, capacity ?? count))
        throw new Error(`${way}: the loop holds ${held} values after ${count} keys`)
      measured.push({
        name: `${way}, after ${count.toLocaleString("en-US")} keys`,
        nsPerOp: bytes,
        extra: {
          held,
          "bytes per held value": Math.round(bytes / held),
          "evictions released": released,
          "µs per new key": Number(usPerKey.toFixed(1))
        }
      })
    }
    if (capacity !== undefined && released !== checkpoints.at(-1)! - capacity)
      throw new Error(`${way}: ${released} evictions released, expected ${checkpoints.at(-1)! - capacity}`)
  })
  return measured
}

// A pass first whose figures are dropped: the code and the caches that the first calls make are not the values'.
for (const capacity of [CAPACITY, undefined]) await pass(capacity, [CAPACITY, 2 * CAPACITY])
const measured = [...(await pass(CAPACITY, checkpoints)), ...(await pass(undefined, checkpoints))]

const base = measured[0]!.nsPerOp
const group = `8. Memory under capacity (heap bytes after N distinct keys seen once; ratio: to capacity ${CAPACITY} after ${checkpoints[0]!.toLocaleString("en-US")} keys)`
report(measured.map((m): Row => ({ group, ...m, ratio: m.nsPerOp / base })))
