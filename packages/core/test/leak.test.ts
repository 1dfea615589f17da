import { Effect, Layer, Context } from "effect"
import { setImmediate } from "node:timers/promises"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import { expect, it } from "vitest"
import { LoopLocal } from "../src/index.js"
import { makeLoop } from "./helpers.js"

setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

class Svc extends Context.Tag("Svc")<Svc, { readonly payload: Array<number> }>() {}

const Pool = LoopLocal.stickySingleton((url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => ({ url, payload: new Array(1000).fill(1) })),
    () => Effect.void
  )
)
const Single = LoopLocal.singleton((k: number) => Effect.sync(() => ({ k, payload: new Array(1000).fill(2) })))
const SvcLive = LoopLocal.memoize(Layer.sync(Svc, () => ({ payload: new Array(1000).fill(3) })))

/** Creates, uses and closes one loop; returns weak references to the loop and to what it cached. */
const useAndClose = async (i: number) => {
  const runtime = makeLoop()
  const held = await runtime.runPromise(
    Effect.gen(function* () {
      const loop = yield* LoopLocal.LoopLocal
      const pool = yield* Pool(`postgres://db/${i}`)
      const single = yield* Single(i)
      const svc = yield* Effect.provide(Svc, SvcLive)
      const entered = yield* LoopLocal.enter(
        Effect.acquireRelease(
          Effect.sync(() => ({ i })),
          () => Effect.void
        )
      )
      const storage = yield* LoopLocal.storage
      storage.set("value", { i })
      return [loop, pool, single, svc, entered, storage] as Array<object>
    })
  )
  await runtime.dispose()
  return held.map((o) => new WeakRef(o))
}

it("lets closed loops and everything they cached be garbage-collected", async () => {
  const refs: Array<WeakRef<object>> = []
  for (let i = 0; i < 200; i++) refs.push(...(await useAndClose(i)))
  // WeakRefs stay alive until the current job ends, and Effect's scheduler may hold the last fibers for a
  // tick: collect over a few turns of the event loop. A real leak survives every round.
  let alive = refs.length
  for (let round = 0; round < 10 && alive > 0; round++) {
    await setImmediate()
    gc()
    alive = refs.filter((r) => r.deref() !== undefined).length
  }
  expect(alive).toBe(0)
})
