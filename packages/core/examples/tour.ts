/**
 * A small tour: one "pool" per loop however many requests use it, released
 * when the loop closes. Run: `npx tsx packages/core/examples/tour.ts` (after `pnpm build`).
 */
import { Context, Effect, Layer, ManagedRuntime } from "effect"
import { LoopLocal } from "@loop-local/core"

let poolsOpened = 0
const Pool = LoopLocal.stickySingleton((url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const pool = { url, id: ++poolsOpened, queries: 0 }
      console.log(`  open pool #${pool.id} for ${url}`)
      return pool
    }),
    (pool) => Effect.sync(() => console.log(`  close pool #${pool.id} after ${pool.queries} queries`))
  )
)

class Clock extends Context.Tag("Clock")<Clock, { readonly startedAt: number }>() {}
const ClockLive = LoopLocal.memoize(
  Layer.sync(Clock, () => {
    console.log("  build Clock layer")
    return { startedAt: Date.now() }
  })
)

const handler = (n: number) =>
  Effect.gen(function* () {
    const pool = yield* Pool("postgres://app:secret@127.0.0.1:5432/app")
    pool.queries++
    const clock = yield* Clock
    return `request ${n} used pool #${pool.id} (clock since ${clock.startedAt})`
  }).pipe(Effect.provide(ClockLive))

console.log("loop 1: 5 requests, each its own runPromise")
const loop1 = ManagedRuntime.make(LoopLocal.layer)
for (let n = 1; n <= 5; n++) await loop1.runPromise(handler(n))
console.log(
  "  holds:",
  (await loop1.runPromise(LoopLocal.inspect)).map((e) => `${e.kind} ${e.key}`)
)
console.log("closing loop 1")
await loop1.dispose()

console.log("the default loop: 3 concurrent requests")
await Promise.all([1, 2, 3].map((n) => LoopLocal.runPromise(handler(n))))
const report = await Effect.runPromise(LoopLocal.shutdown)
console.log(`default loop closed: ${report.releases.map((r) => `${r.kind} ${r.key} ${r.outcome}`).join(", ")}`)
console.log(`pools opened in all: ${poolsOpened} (one per loop)`)
