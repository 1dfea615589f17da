import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { LoopLocal } from "../src/index.js"
import { isLoopClosed, makeCounter, makeLoop } from "./helpers.js"

describe("enterOnce", () => {
  it("acquires once per loop, even for 7 parallel callers, and releases once at close (ported)", async () => {
    const { state, resource } = makeCounter()
    const loop1 = makeLoop()
    const first = await loop1.runPromise(LoopLocal.enterOnce(resource))
    const parallel = await loop1.runPromise(
      Effect.all(
        Array.from({ length: 7 }, () => LoopLocal.enterOnce(resource)),
        { concurrency: "unbounded" }
      )
    )
    expect(state.acquired).toBe(1)
    expect(parallel.every((r) => r === first)).toBe(true)
    expect(state.released).toBe(0)
    await loop1.dispose()
    expect(state.released).toBe(1)

    const loop2 = makeLoop()
    const again = await loop2.runPromise(
      Effect.all(
        Array.from({ length: 7 }, () => LoopLocal.enterOnce(resource)),
        { concurrency: "unbounded" }
      )
    )
    expect(state.acquired).toBe(2)
    expect(again[0]).not.toBe(first)
    await loop2.dispose()
    expect(state.released).toBe(2)
  })

  it("keys by the resource's identity: two equal-looking resources are two acquisitions", async () => {
    const a = makeCounter("a")
    const b = makeCounter("b")
    const loop = makeLoop()
    await loop.runPromise(Effect.all([LoopLocal.enterOnce(a.resource), LoopLocal.enterOnce(b.resource)]))
    expect([a.state.acquired, b.state.acquired]).toEqual([1, 1])
    await loop.dispose()
  })
})

describe("sticky", () => {
  it("inside Effect.scoped three times, nested and sequential: 1 acquisition, released once at loop close (ported)", async () => {
    const { state, resource } = makeCounter()
    const client = LoopLocal.sticky(resource)
    const loop = makeLoop()
    const seen = await loop.runPromise(
      Effect.gen(function* () {
        const outer = yield* Effect.scoped(
          Effect.gen(function* () {
            const a = yield* client
            const b = yield* Effect.scoped(client)
            return [a, b]
          })
        )
        const c = yield* Effect.scoped(client)
        return [...outer, c]
      })
    )
    expect(new Set(seen).size).toBe(1)
    expect(state).toMatchObject({ acquired: 1, released: 0 })
    await loop.runPromise(Effect.scoped(client))
    expect(state).toMatchObject({ acquired: 1, released: 0 })
    await loop.dispose()
    expect(state).toMatchObject({ acquired: 1, released: 1 })
  })

  it("replaces a scoped resource in Layer.scoped: the layer's teardown releases nothing", async () => {
    class Client extends Context.Tag("Client")<Client, { readonly n: number }>() {}
    const { state, resource } = makeCounter()
    const ClientLive = Layer.scoped(Client, LoopLocal.sticky(resource))
    const loop = makeLoop()
    const ns = await loop.runPromise(
      Effect.all([
        Effect.provide(
          Effect.map(Client, (c) => c.n),
          ClientLive
        ),
        Effect.provide(
          Effect.map(Client, (c) => c.n),
          ClientLive
        )
      ])
    )
    expect(ns).toEqual([1, 1])
    expect(state).toMatchObject({ acquired: 1, released: 0 })
    await loop.dispose()
    expect(state).toMatchObject({ acquired: 1, released: 1 })
  })

  it("shares its acquisition with enterOnce of the same resource", async () => {
    const { state, resource } = makeCounter()
    const loop = makeLoop()
    const [a, b] = await loop.runPromise(
      Effect.all([Effect.scoped(LoopLocal.sticky(resource)), LoopLocal.enterOnce(resource)])
    )
    expect(a).toBe(b)
    expect(state.acquired).toBe(1)
    await loop.dispose()
    expect(state.released).toBe(1)
  })

  it("fails with LoopClosedError after close", async () => {
    const { resource } = makeCounter()
    const loop = makeLoop()
    const rt = await loop.runtime()
    await loop.dispose()
    expect(
      isLoopClosed(await Effect.runPromiseExit(Effect.provide(Effect.scoped(LoopLocal.sticky(resource)), rt)))
    ).toBe(true)
    expect(isLoopClosed(await Effect.runPromiseExit(Effect.provide(LoopLocal.enterOnce(resource), rt)))).toBe(true)
  })
})
