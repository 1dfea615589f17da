/**
 * Group 2: a cache hit inside one fiber (`yield*` in a loop of 1,000): this
 * project's stickySingleton and singleton, `RcMap.get` (scoped), and
 * `Effect.cachedFunction`, against the limit, `Effect.sync(() => map.get(url))`.
 */
import { Effect, ManagedRuntime, RcMap, Scope } from "effect"
import { measure, report, withRatios } from "../../../bench/harness.js"
import { LoopLocal } from "../src/index.js"

const url = "http://127.0.0.1:8080"
const OPS = 1_000

const Sticky = LoopLocal.stickySingleton((u: string) => Effect.acquireRelease(Effect.succeed({ u }), () => Effect.void))
const Single = LoopLocal.singleton((u: string) => Effect.succeed({ u }))
const map = new Map([[url, { u: url }]])
const fromMap = (u: string) => Effect.sync(() => map.get(u))

const runtime = ManagedRuntime.make(LoopLocal.layer)
const outer = Effect.runSync(Scope.make())
const [rcMap, cached] = await runtime.runPromise(
  Effect.gen(function* () {
    yield* Sticky(url)
    yield* Single(url)
    const rc = yield* Scope.extend(
      RcMap.make({ lookup: (u: string) => Effect.acquireRelease(Effect.succeed({ u }), () => Effect.void) }),
      outer
    )
    // Held open for the whole run, so that every get below is a hit.
    yield* Scope.extend(RcMap.get(rc, url), outer)
    const cachedFn = yield* Effect.cachedFunction((u: string) => Effect.succeed({ u }))
    yield* cachedFn(url)
    return [rc, cachedFn] as const
  })
)

const inFiber = (get: (u: string) => Effect.Effect<unknown, never, LoopLocal.LoopLocal>) => {
  const program = Effect.gen(function* () {
    for (let i = 0; i < OPS; i++) yield* get(url)
  })
  return () => runtime.runPromise(program)
}

const measured = await measure(
  [
    ["limit: Effect.sync(() => map.get(url))", inFiber(fromMap)],
    ["LoopLocal.stickySingleton", inFiber(Sticky)],
    ["LoopLocal.singleton", inFiber(Single)],
    ["RcMap.get (scoped)", inFiber((u) => Effect.scoped(RcMap.get(rcMap, u)))],
    ["Effect.cachedFunction", inFiber(cached)]
  ],
  OPS
)
report(withRatios("2. Effect hit (one fiber, yield* in a loop)", measured, "limit: Effect.sync(() => map.get(url))"))
await runtime.dispose()
