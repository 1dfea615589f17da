import { setImmediate as tick } from "node:timers/promises"
import { describe, expect, it } from "vitest"
import { type Cached, run, singleton, stickySingleton } from "../src/index.js"

describe("re-entrancy (Promise)", () => {
  it("rejects a stickySingleton factory that awaits its own key, naming the key, instead of hanging", async () => {
    const pool: Cached<[string], Promise<{ [Symbol.dispose](): void }>> = stickySingleton(async (url: string) => {
      await tick()
      await pool(url)
      return { [Symbol.dispose]() {} }
    })
    await run(async () => {
      await expect(pool("postgres://db")).rejects.toThrow(
        /construction of stickySingleton "postgres:\/\/db" asked for the same stickySingleton and key/
      )
    })
  })

  it("lets a factory use another key of the same stickySingleton, and another singleton", async () => {
    const config = singleton((env: string) => ({ env }))
    const pool: Cached<[string], Promise<{ name: string; [Symbol.dispose](): void }>> = stickySingleton(
      async (name: string) => {
        if (name === "replica") await pool("primary")
        return { name, env: config("prod"), [Symbol.dispose]() {} }
      }
    )
    await run(async () => {
      expect((await pool("replica")).name).toBe("replica")
    })
  })

  it("throws for a singleton that calls itself synchronously, and rejects for one that awaits itself", async () => {
    const sync: Cached<[string], number> = singleton((k: string) => sync(k) + 1)
    const later: Cached<[string], Promise<number>> = singleton(async (k: string) => {
      await tick()
      return (await later(k)) + 1
    })
    await run(async () => {
      expect(() => sync("x")).toThrow(/construction of singleton "x" asked for the same singleton and key/)
      await expect(later("y")).rejects.toThrow(/construction of singleton "y" asked for the same singleton and key/)
      // A value made after its construction settled is a plain hit, even from inside that construction's tree.
    })
  })

  it("does not mistake a later call from a timer set inside a construction for a cycle", async () => {
    let fromTimer!: Promise<unknown>
    const pool: Cached<[string], Promise<{ [Symbol.dispose](): void }>> = stickySingleton((url: string) => {
      // The timer's callback runs in the construction's async context, after the construction settled.
      fromTimer = new Promise((resolve) => setTimeout(() => resolve(pool(url)), 10))
      return { [Symbol.dispose]() {} }
    })
    await run(async () => {
      const value = await pool("x")
      expect(await fromTimer).toBe(value)
    })
  })
})
