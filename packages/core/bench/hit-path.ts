/**
 * The cost of a cache hit, against the limit (`Effect.sync(() => map.get(url))`)
 * in the same run: nanoseconds per hit, and heap bytes allocated per hit.
 *
 * Bytes are measured with the young generation made large enough that no
 * garbage collection runs during a measurement (checked, and reported if one
 * does): heap growth / hits is then what each hit allocated.
 *
 * Run: node --expose-gc --max-semi-space-size=256 --min-semi-space-size=256 --import tsx packages/core/bench/hit-path.ts
 */
import { Effect, Exit, ManagedRuntime } from "effect"
import { PerformanceObserver } from "node:perf_hooks"
import { LoopLocal } from "../src/index.js"

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run with --expose-gc")

const url = "postgres://db.internal:5432/app"
const HITS = 1000
const ROUNDS = Number(process.env.ROUNDS ?? 200)

let gcsDuringMeasure = 0
let measuring = false
new PerformanceObserver((list) => {
  if (measuring) gcsDuringMeasure += list.getEntries().length
}).observe({ entryTypes: ["gc"] })

const Single = LoopLocal.singleton((u: string) => Effect.succeed({ u }))
const Sticky = LoopLocal.stickySingleton((u: string) => Effect.acquireRelease(Effect.succeed({ u }), () => Effect.void))
const map = new Map([[url, { u: url }]])
/** The limit, written as a user would: a function of the url over a hand-made Map. */
const fromMap = (u: string) => Effect.sync(() => map.get(u))

const inFiber = (get: () => Effect.Effect<unknown, never, LoopLocal.LoopLocal>) =>
  Effect.gen(function* () {
    for (let i = 0; i < HITS; i++) yield* get()
  })

/**
 * The floor for any effect that reads the fiber's context: `withFiberRuntime`
 * returning a stored `Exit`. What a hit costs beyond it is this library's own.
 */
const storedExit = Exit.succeed({ u: url })
const floor = (u: string) => Effect.withFiberRuntime(() => (u === url ? storedExit : storedExit))

const cases: Record<string, Effect.Effect<void, never, LoopLocal.LoopLocal>> = {
  "limit: Effect.sync(() => map.get(url))": inFiber(() => fromMap(url)),
  "floor: withFiberRuntime(() => storedExit)": inFiber(() => floor(url)),
  "LoopLocal.singleton hit": inFiber(() => Single(url)),
  "LoopLocal.stickySingleton hit": inFiber(() => Sticky(url))
}

const runtime = ManagedRuntime.make(LoopLocal.layer)
await runtime.runPromise(Effect.all([Single(url), Effect.scoped(Sticky(url))]))

const measure = async (effect: Effect.Effect<void, never, LoopLocal.LoopLocal>) => {
  for (let i = 0; i < 50; i++) await runtime.runPromise(effect) // warm up
  let best = Infinity
  let bytes = Infinity
  for (let r = 0; r < ROUNDS; r++) {
    gc()
    gcsDuringMeasure = 0
    measuring = true
    const heapBefore = process.memoryUsage().heapUsed
    const start = process.hrtime.bigint()
    await runtime.runPromise(effect)
    const ns = Number(process.hrtime.bigint() - start) / HITS
    const grown = (process.memoryUsage().heapUsed - heapBefore) / HITS
    measuring = false
    best = Math.min(best, ns)
    if (gcsDuringMeasure === 0) bytes = Math.min(bytes, grown)
  }
  return { ns: best, bytes }
}

const results: Array<{ name: string; ns: number; bytes: number }> = []
for (const [name, effect] of Object.entries(cases)) results.push({ name, ...(await measure(effect)) })
const limit = results[0]!
console.log(`node ${process.version}, ${HITS} hits per fiber run, best of ${ROUNDS} runs`)
console.table(
  results.map((r) => ({
    case: r.name,
    "ns/hit": r.ns.toFixed(1),
    "ratio to limit": (r.ns / limit.ns).toFixed(2),
    "bytes/hit": Number.isFinite(r.bytes) ? r.bytes.toFixed(1) : "n/a (gc ran)",
    "bytes beyond limit": Number.isFinite(r.bytes) ? (r.bytes - limit.bytes).toFixed(1) : "n/a",
    "bytes beyond floor": Number.isFinite(r.bytes) ? (r.bytes - results[1]!.bytes).toFixed(1) : "n/a"
  }))
)

// What making the returned effect costs, against the limit's: the most a hit may allocate beyond the run.
const bytesToMake = (make: () => unknown) => {
  const made: Array<unknown> = new Array(100_000)
  for (let i = 0; i < made.length; i++) made[i] = make() // warm up
  made.fill(undefined)
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < made.length; i++) made[i] = make()
  return ((process.memoryUsage().heapUsed - before) / made.length).toFixed(1)
}
console.log(
  `bytes to make the effect: Single(url) ${bytesToMake(() => Single(url))}, fromMap(url) ${bytesToMake(() => fromMap(url))}`
)

await runtime.dispose()
