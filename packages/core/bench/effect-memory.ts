/**
 * Group 10: heap bytes retained per Effect-side entry (one string key, a small
 * value) at 100,000 entries, measured with --expose-gc and
 * `process.memoryUsage().heapUsed`. The baseline is what a program holds
 * without this library for each resource: a `Scope` of its own with one
 * `Effect.acquireRelease` finalizer, kept open. Against it: `stickySingleton`
 * (with Effect's tracer on, the default, and off), `singleton`, and for
 * context `Effect.cachedFunction` and `RcMap` (every key held open in one
 * scope). Keys are made beforehand and kept alive, so that no row counts them.
 * The ns/op column holds bytes.
 */
import { Effect, RcMap, Scope } from "effect"
import { bytesPerEntry, quick, report, withRatios } from "../../../bench/harness.js"
import { LoopLocal } from "../src/index.js"
import * as Binding from "../src/internal/binding.js"

const ENTRIES = quick ? 20_000 : 100_000
const keys = Array.from({ length: ENTRIES }, (_, i) => `key-${i}`)
const releaseNothing = () => Effect.void
const resource = (key: string) => Effect.acquireRelease(Effect.succeed({ key }), releaseNothing)

const perEntry = (fill: () => Promise<unknown>) => bytesPerEntry(ENTRIES, fill)

// Each row's loop is made and used once before the heap is first read, so that no row counts a loop.
const onLoop = async <A>(fill: () => Effect.Effect<A, never, LoopLocal.LoopLocal>) => {
  const loop = Binding.makeLoop()
  await loop.runPromise(LoopLocal.storage)
  return perEntry(async () => [loop, await loop.runPromise(fill())])
}

const stickyRow = async (name: string, wrap: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>) => ({
  name,
  nsPerOp: await onLoop(() => {
    const Sticky = LoopLocal.stickySingleton(resource)
    return wrap(Effect.as(Effect.forEach(keys, Sticky, { discard: true }), Sticky))
  })
})

const measured = [
  {
    name: "Scope + acquireRelease (baseline)",
    nsPerOp: await perEntry(() =>
      Effect.runPromise(
        Effect.forEach(keys, (key) =>
          Effect.flatMap(Scope.make(), (scope) => Effect.as(Scope.extend(resource(key), scope), scope))
        )
      )
    )
  },
  await stickyRow("LoopLocal.stickySingleton", (effect) => effect),
  await stickyRow("LoopLocal.stickySingleton, tracer off", (effect) => Effect.withTracerEnabled(effect, false)),
  {
    name: "LoopLocal.singleton",
    nsPerOp: await onLoop(() => {
      const Single = LoopLocal.singleton((key: string) => Effect.succeed({ key }))
      return Effect.as(Effect.forEach(keys, Single, { discard: true }), Single)
    })
  },
  {
    name: "Effect.cachedFunction",
    nsPerOp: await perEntry(() =>
      Effect.runPromise(
        Effect.flatMap(
          Effect.cachedFunction((key: string) => Effect.succeed({ key })),
          (cached) => Effect.as(Effect.forEach(keys, cached, { discard: true }), cached)
        )
      )
    )
  },
  {
    name: "RcMap.get, every key held in one scope",
    nsPerOp: await perEntry(async () => {
      const scope = Effect.runSync(Scope.make())
      await Effect.runPromise(
        Scope.extend(
          Effect.flatMap(RcMap.make({ lookup: resource }), (map) =>
            Effect.forEach(keys, (key) => RcMap.get(map, key), { discard: true })
          ),
          scope
        )
      )
      return scope
    })
  }
]
report(
  withRatios(
    `10. Effect-side memory (bytes per entry, ${ENTRIES} entries)`,
    measured,
    "Scope + acquireRelease (baseline)"
  )
)
