/**
 * Group 4: 10,000 concurrent callers of one cold key whose construction takes
 * 10 ms: how many constructions were made (must be 1) and how long until every
 * caller had its value, for this project's stickySingleton (Promise and
 * Effect) against p-memoize and RcMap. The ratio is to the construction's own
 * 10 ms.
 */
import { LoopLocal } from "@loop-local/core"
import { Deferred, Effect, ManagedRuntime, RcMap } from "effect"
import pMemoize from "p-memoize"
import { setTimeout as sleep } from "node:timers/promises"
import { quick, report, type Row } from "../../../bench/harness.js"
import { run, stickySingleton } from "../src/index.js"

const CALLERS = 10_000
const CONSTRUCTION_MS = 10
const repeats = quick ? 1 : 7

interface Trial {
  readonly constructions: number
  readonly ms: number
}

const promiseSticky = (): Promise<Trial> => {
  let constructions = 0
  const pool = stickySingleton(async (origin: string) => {
    constructions++
    await sleep(CONSTRUCTION_MS)
    return { origin, [Symbol.dispose]() {} }
  })
  return run(async () => {
    const started = performance.now()
    await Promise.all(Array.from({ length: CALLERS }, () => pool("cold")))
    return { constructions, ms: performance.now() - started }
  })
}

const pMemoized = async (): Promise<Trial> => {
  let constructions = 0
  const pool = pMemoize(async (origin: string) => {
    constructions++
    await sleep(CONSTRUCTION_MS)
    return { origin }
  })
  const started = performance.now()
  await Promise.all(Array.from({ length: CALLERS }, () => pool("cold")))
  return { constructions, ms: performance.now() - started }
}

const construction = (count: () => void) =>
  Effect.acquireRelease(
    Effect.zipRight(
      Effect.sync(count),
      Effect.promise(() => sleep(CONSTRUCTION_MS))
    ),
    () => Effect.void
  )

const effectSticky = async (): Promise<Trial> => {
  let constructions = 0
  const Pool = LoopLocal.stickySingleton((_: string) => construction(() => constructions++))
  const runtime = ManagedRuntime.make(LoopLocal.layer)
  const started = performance.now()
  await runtime.runPromise(
    Effect.forEach(Array.from({ length: CALLERS }), () => Pool("cold"), { concurrency: "unbounded", discard: true })
  )
  const ms = performance.now() - started
  await runtime.dispose()
  return { constructions, ms }
}

const rcMap = async (): Promise<Trial> => {
  let constructions = 0
  const started = performance.now()
  await Effect.runPromise(
    Effect.scoped(
      Effect.gen(function* () {
        const map = yield* RcMap.make({ lookup: (_: string) => construction(() => constructions++) })
        yield* Effect.forEach(Array.from({ length: CALLERS }), () => RcMap.get(map, "cold"), {
          concurrency: "unbounded",
          discard: true
        })
      })
    )
  )
  return { constructions, ms: performance.now() - started }
}

/** The floor for Effect callers: 10,000 fibers awaiting one Deferred completed after 10 ms, with no cache at all. */
const fibersFloor = async (): Promise<Trial> => {
  const done = Effect.runSync(Deferred.make<void>())
  setTimeout(() => Effect.runSync(Deferred.succeed(done, undefined)), CONSTRUCTION_MS)
  const started = performance.now()
  await Effect.runPromise(
    Effect.forEach(Array.from({ length: CALLERS }), () => Deferred.await(done), {
      concurrency: "unbounded",
      discard: true
    })
  )
  return { constructions: 1, ms: performance.now() - started }
}

const rows: Array<Row> = []
for (const [name, trial] of [
  ["stickySingleton (Promise)", promiseSticky],
  ["p-memoize", pMemoized],
  ["LoopLocal.stickySingleton (Effect)", effectSticky],
  ["RcMap.get", rcMap],
  ["floor: 10,000 fibers awaiting one Deferred", fibersFloor]
] as const) {
  const trials: Array<Trial> = []
  for (let r = 0; r < repeats; r++) trials.push(await trial())
  const ms = trials.map((t) => t.ms).sort((a, b) => a - b)[Math.floor(trials.length / 2)]!
  rows.push({
    group: "4. Contended first use (10,000 callers, 10 ms construction)",
    name,
    nsPerOp: (ms * 1e6) / CALLERS,
    ratio: ms / CONSTRUCTION_MS,
    extra: {
      constructions: Math.max(...trials.map((t) => t.constructions)),
      "ms to all resolved": Math.round(ms * 10) / 10
    }
  })
}
report(rows)
