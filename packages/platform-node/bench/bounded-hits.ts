/**
 * Group 7: the cost of a cache hit on a bounded definition (`capacity` and
 * `idleTimeToLive` set) against the same hit on an unbounded one, both APIs,
 * measured side by side in one run: from Promise code `await f(url)` in a
 * loop (as group 1), from Effect code `yield* F(url)` in one fiber (as group
 * 2). Each API has its own limit row, the baselines of groups 1 and 2, and
 * each row's ratio is to its API's limit, so that the ratios compare with
 * those groups; `× unbounded` is a bounded row's time over the unbounded row
 * of the same kind and API (the target: at most 1.5). The rows run in turns,
 * one batch of each per round, and each figure is a median over the rounds (a
 * ratio: of the two batches of one round), so that a busy machine slows the
 * rows compared alike.
 *
 * The bounded definitions are measured twice: holding only the value hit, and
 * holding `capacity` values (full), the hit asking again and again for the
 * same one of them, the most recently used: a hit counts a use, whose cost
 * must not depend on how many values the definition holds.
 */
import { LoopLocal } from "@loop-local/core"
import { Duration, Effect, ManagedRuntime } from "effect"
import { quick, report, type Row } from "../../../bench/harness.js"
import { singleton, stickySingleton } from "../src/index.js"

const url = "http://127.0.0.1:8080"
const OPS = 1_000
// The quick mode holds fewer values, so that filling the tables stays short.
const CAPACITY = quick ? 250 : 1_000
const IDLE_S = 60
const others = Array.from({ length: CAPACITY - 1 }, (_, i) => `http://127.0.0.1:${10_000 + i}`)
const ONE = "1 value held"
const FULL = `${CAPACITY} values held (full)`
const bounds = `capacity ${CAPACITY} + idleTimeToLive ${IDLE_S} s`

// The Promise API, on the default loop.
const promiseBounds = { capacity: CAPACITY, idleTimeToLive: IDLE_S * 1_000 }
const makePool = (origin: string) => ({ origin, [Symbol.dispose]() {} })
const makeSingle = async (origin: string) => ({ origin })
const pool = stickySingleton(makePool)
const boundedPool = stickySingleton(makePool, promiseBounds)
const fullPool = stickySingleton(makePool, promiseBounds)
const single = singleton(makeSingle)
const fullSingle = singleton(makeSingle, promiseBounds)
const map = new Map([[url, { origin: url }]])
await Promise.all([...others, url].flatMap((u) => [fullPool(u), fullSingle(u)]))
await Promise.all([pool(url), boundedPool(url), fullPool(url), single(url), fullSingle(url)])

const promiseLoop = (get: (url: string) => unknown) => async () => {
  for (let i = 0; i < OPS; i++) await get(url)
}

// The Effect API, on a loop of its own.
const effectBounds = { capacity: CAPACITY, idleTimeToLive: Duration.seconds(IDLE_S) }
const acquire = (u: string) => Effect.acquireRelease(Effect.succeed({ u }), () => Effect.void)
const succeed = (u: string) => Effect.succeed({ u })
const Sticky = LoopLocal.stickySingleton(acquire)
const BoundedSticky = LoopLocal.stickySingleton(acquire, effectBounds)
const FullSticky = LoopLocal.stickySingleton(acquire, effectBounds)
const Single = LoopLocal.singleton(succeed)
const FullSingle = LoopLocal.singleton(succeed, effectBounds)
const fromMap = (u: string) => Effect.sync(() => map.get(u))

const runtime = ManagedRuntime.make(LoopLocal.layer)
await runtime.runPromise(
  Effect.gen(function* () {
    yield* Effect.forEach([...others, url], (u) => Effect.zip(FullSticky(u), FullSingle(u)), {
      concurrency: "unbounded",
      discard: true
    })
    yield* Sticky(url)
    yield* BoundedSticky(url)
    yield* FullSticky(url)
    yield* Single(url)
    yield* FullSingle(url)
  })
)

const inFiber = (get: (u: string) => Effect.Effect<unknown, never, LoopLocal.LoopLocal>) => {
  const program = Effect.gen(function* () {
    for (let i = 0; i < OPS; i++) yield* get(url)
  })
  return () => runtime.runPromise(program)
}

const PROMISE_LIMIT = "Promise: limit: await map.get(url)"
const EFFECT_LIMIT = "Effect: limit: Effect.sync(() => map.get(url))"
const rows = [
  { name: PROMISE_LIMIT, run: promiseLoop((u) => map.get(u)) },
  { name: "Promise: stickySingleton", run: promiseLoop(pool) },
  {
    name: `Promise: stickySingleton, ${bounds}, ${ONE}`,
    of: "Promise: stickySingleton",
    run: promiseLoop(boundedPool)
  },
  { name: `Promise: stickySingleton, ${bounds}, ${FULL}`, of: "Promise: stickySingleton", run: promiseLoop(fullPool) },
  { name: "Promise: singleton", run: promiseLoop(single) },
  { name: `Promise: singleton, ${bounds}, ${FULL}`, of: "Promise: singleton", run: promiseLoop(fullSingle) },
  { name: EFFECT_LIMIT, run: inFiber(fromMap) },
  { name: "Effect: LoopLocal.stickySingleton", run: inFiber(Sticky) },
  {
    name: `Effect: LoopLocal.stickySingleton, ${bounds}, ${ONE}`,
    of: "Effect: LoopLocal.stickySingleton",
    run: inFiber(BoundedSticky)
  },
  {
    name: `Effect: LoopLocal.stickySingleton, ${bounds}, ${FULL}`,
    of: "Effect: LoopLocal.stickySingleton",
    run: inFiber(FullSticky)
  },
  { name: "Effect: LoopLocal.singleton", run: inFiber(Single) },
  {
    name: `Effect: LoopLocal.singleton, ${bounds}, ${FULL}`,
    of: "Effect: LoopLocal.singleton",
    run: inFiber(FullSingle)
  }
]
/** ns per operation of one batch. */
const batch = async (run: () => Promise<unknown>): Promise<number> => {
  const started = process.hrtime.bigint()
  await run()
  return Number(process.hrtime.bigint() - started) / OPS
}
const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const ROUNDS = quick ? 40 : 600
const times = rows.map(() => [] as Array<number>)
for (let round = 0; round < ROUNDS + 20; round++) {
  const ns = []
  for (const row of rows) ns.push(await batch(row.run))
  // The first rounds warm the code up.
  if (round >= 20) for (const [i, t] of ns.entries()) times[i]!.push(t)
}
const index = (name: string) => {
  const i = rows.findIndex((r) => r.name === name)
  if (i < 0) throw new Error(`no row ${name}`)
  return i
}
/** The median over the rounds of a row's batch over another's of the same round. */
const ratioOf = (name: string, to: string) => {
  const [a, b] = [times[index(name)]!, times[index(to)]!]
  return median(a.map((t, r) => t / b[r]!))
}

// Every bounded definition must still hold its values: a hit on an evicted value would be a miss, not a hit.
const held = (await runtime.runPromise(LoopLocal.inspect)).length
if (held !== 2 * CAPACITY + 3) throw new Error(`the Effect loop holds ${held} values, expected ${2 * CAPACITY + 3}`)

const group = "7. Bounded hits (ratio: to the API's limit; × unbounded: to the same hit without bounds)"
report(
  rows.map(
    (r, i): Row => ({
      group,
      name: r.name,
      nsPerOp: median([...times[i]!]),
      ratio: ratioOf(r.name, r.name.startsWith("Promise:") ? PROMISE_LIMIT : EFFECT_LIMIT),
      ...(r.of === undefined ? {} : { extra: { "× unbounded": Number(ratioOf(r.name, r.of).toFixed(2)) } })
    })
  )
)
await runtime.dispose()
