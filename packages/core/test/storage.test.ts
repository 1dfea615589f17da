import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { LoopLocal } from "../src/index.js"
import { isLoopClosed, makeLoop } from "./helpers.js"

describe("storage", () => {
  it("is one Map per loop: shared within a loop, distinct between loops (ported)", async () => {
    const loop1 = makeLoop()
    const loop2 = makeLoop()
    const a1 = await loop1.runPromise(LoopLocal.storage)
    const a2 = await loop1.runPromise(
      Effect.map(LoopLocal.storage, (m) => m.set("purpose", ["whatever", { you: "want" }]))
    )
    const b = await loop2.runPromise(LoopLocal.storage)
    expect(a1).toBe(a2)
    expect(b).not.toBe(a1)
    expect(a1.get("purpose")).toEqual(["whatever", { you: "want" }])
    expect(b.has("purpose")).toBe(false)
    await Promise.all([loop1.dispose(), loop2.dispose()])
  })

  it("keeps a locked entry's invariant under 100 concurrent fibers (ported: LockingDict)", async () => {
    const loop = makeLoop()
    const account = Effect.gen(function* () {
      const storage = yield* LoopLocal.storage
      let entry = storage.get("careful") as { lock: Effect.Semaphore; balance: { a: number; b: number } } | undefined
      if (entry === undefined) {
        entry = { lock: yield* Effect.makeSemaphore(1), balance: { a: 100, b: 0 } }
        storage.set("careful", entry)
      }
      return entry
    })
    // Moving one unit from a to b in two steps with a yield between: without the lock, a + b drifts.
    const transfer = Effect.flatMap(account, ({ balance, lock }) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          const a = balance.a
          yield* Effect.yieldNow()
          balance.a = a - 1
          const b = balance.b
          yield* Effect.yieldNow()
          balance.b = b + 1
          if (balance.a + balance.b !== 100) return yield* Effect.die("invariant broken")
        })
      )
    )
    await loop.runPromise(
      Effect.flatMap(account, () =>
        Effect.all(
          Array.from({ length: 100 }, () => transfer),
          { concurrency: "unbounded" }
        )
      )
    )
    const { balance } = await loop.runPromise(account)
    expect(balance).toEqual({ a: 0, b: 100 })
    await loop.dispose()
  })

  it("fails with LoopClosedError after close and is emptied", async () => {
    const loop = makeLoop()
    const rt = await loop.runtime()
    const map = await loop.runPromise(Effect.map(LoopLocal.storage, (m) => m.set("k", "v")))
    await loop.dispose()
    expect(map.size).toBe(0)
    expect(isLoopClosed(await Effect.runPromiseExit(Effect.provide(LoopLocal.storage, rt)))).toBe(true)
  })
})

describe("atExit", () => {
  it("runs finalizers at loop close, last registered first: [0, 2, 1] (ported)", async () => {
    const log: Array<number> = []
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        yield* LoopLocal.atExit(Effect.sync(() => log.push(1)))
        yield* LoopLocal.atExit(Effect.sync(() => log.push(2)))
        log.push(0)
      })
    )
    expect(log).toEqual([0])
    await loop.dispose()
    expect(log).toEqual([0, 2, 1])
  })

  it("runs a finalizer with the context it was registered in", async () => {
    const loop = makeLoop()
    const seen: Array<string> = []
    await loop.runPromise(
      LoopLocal.atExit(
        Effect.flatMap(Effect.serviceOption(Greeting), (g) =>
          Effect.sync(() => seen.push(g._tag === "Some" ? g.value : "none"))
        )
      ).pipe(Effect.provideService(Greeting, "hello"))
    )
    await loop.dispose()
    expect(seen).toEqual(["hello"])
  })
})

import { Context } from "effect"
class Greeting extends Context.Tag("Greeting")<Greeting, string>() {}
