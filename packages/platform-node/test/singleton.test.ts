import { setImmediate as tick } from "node:timers/promises"
import { describe, expect, it } from "vitest"
import { run, singleton, stickySingleton } from "../src/index.js"

/** A disposable resource that counts creations and disposals, and yields between steps. */
const makeCounter = () => {
  const state = { created: 0, disposed: 0 }
  class Resource {
    readonly n = ++state.created
    disposing = false
    disposed = false
    constructor(readonly key: string) {}
    async [Symbol.asyncDispose]() {
      this.disposing = true
      await tick()
      this.disposed = true
      state.disposed++
    }
  }
  return { state, Resource }
}

describe("stickySingleton (Promise)", () => {
  it("makes one construction for 1,000 concurrent first calls, and releases it once when the loop ends", async () => {
    const { state, Resource } = makeCounter()
    const pool = stickySingleton(async (origin: string) => {
      await tick()
      return new Resource(origin)
    })
    const all = await run(() => Promise.all(Array.from({ length: 1000 }, () => pool("http://a"))))
    expect(new Set(all).size).toBe(1)
    expect(state).toEqual({ created: 1, disposed: 1 })
    expect(all[0]!.disposed).toBe(true)
  })

  it("returns the same Promise on every hit", async () => {
    const { Resource } = makeCounter()
    const pool = stickySingleton((origin: string) => new Resource(origin))
    await run(async () => {
      const first = pool("x")
      await first
      expect(pool("x")).toBe(pool("x"))
      expect(await pool("x")).toBe(await first)
    })
  })

  it("rejects every waiter of a rejected construction and retries on the next call", async () => {
    const { state, Resource } = makeCounter()
    let attempts = 0
    const pool = stickySingleton(async (origin: string) => {
      await tick()
      if (++attempts === 1) throw new Error(`connect ${origin} refused`)
      return new Resource(origin)
    })
    await run(async () => {
      const waiters = await Promise.allSettled(Array.from({ length: 10 }, () => pool("x")))
      expect(waiters.every((w) => w.status === "rejected" && (w.reason as Error).message === "connect x refused")).toBe(
        true
      )
      expect(attempts).toBe(1)
      const retried = await pool("x")
      expect(retried.n).toBe(1)
      expect(attempts).toBe(2)
    })
    expect(state.disposed).toBe(1)
  })

  it("does not cache a factory that throws synchronously", async () => {
    let attempts = 0
    const pool = stickySingleton((_: string) => {
      if (++attempts === 1) throw new TypeError("bad origin")
      return { [Symbol.dispose]() {} }
    })
    await run(async () => {
      await expect(pool("x")).rejects.toThrow("bad origin")
      await expect(pool("x")).resolves.toBeDefined()
    })
  })

  it("invalidate releases the value now and the next call creates a new one", async () => {
    const { state, Resource } = makeCounter()
    const pool = stickySingleton((origin: string) => new Resource(origin))
    await run(async () => {
      const a = await pool("a")
      const b = await pool("b")
      await pool.invalidate("a")
      expect(a.disposed).toBe(true)
      expect(b.disposed).toBe(false)
      const a2 = await pool("a")
      expect(a2).not.toBe(a)
      expect(await pool("b")).toBe(b)
    })
    expect(state).toEqual({ created: 3, disposed: 3 })
  })

  it("invalidate of a pending construction lets its callers receive it unreleased first (found by the model)", async () => {
    const { Resource } = makeCounter()
    const pool = stickySingleton(async (origin: string) => {
      await tick()
      return new Resource(origin)
    })
    await run(async () => {
      const received = pool("x").then((r) => ({ r, disposingAtReceipt: r.disposing }))
      const invalidated = pool.invalidate("x")
      const { r, disposingAtReceipt } = await received
      await invalidated
      expect(disposingAtReceipt).toBe(false)
      expect(r.disposed).toBe(true)
    })
  })

  it("uses options.release, else Symbol.asyncDispose, else Symbol.dispose", async () => {
    const log: Array<string> = []
    const withRelease = stickySingleton((k: string) => ({ k }), { release: (v) => void log.push(`release ${v.k}`) })
    const withAsync = stickySingleton((k: string) => ({
      async [Symbol.asyncDispose]() {
        log.push(`asyncDispose ${k}`)
      },
      [Symbol.dispose]() {
        log.push(`dispose instead of asyncDispose ${k}`)
      }
    }))
    const withSync = stickySingleton((k: string) => ({
      [Symbol.dispose]() {
        log.push(`dispose ${k}`)
      }
    }))
    await run(async () => {
      await withRelease("a")
      await withAsync("b")
      await withSync("c")
    })
    expect(log).toEqual(["dispose c", "asyncDispose b", "release a"])
  })

  it("rejects at the call, not at shutdown, when a value has no way to be released", async () => {
    // @ts-expect-error: a value with neither Symbol.asyncDispose nor Symbol.dispose needs options.release
    const pool = stickySingleton((k: string) => ({ k }))
    await run(async () => {
      await expect(pool("x")).rejects.toThrow(/neither Symbol\.asyncDispose nor Symbol\.dispose/)
    })
  })

  it("rejects bad arguments with clear TypeErrors at the call", () => {
    expect(() => stickySingleton(42 as never)).toThrow(/factory must be a function/)
    expect(() => stickySingleton((k: string) => ({ k, [Symbol.dispose]() {} }), { release: "close" as never })).toThrow(
      /options\.release must be a function/
    )
    expect(() => stickySingleton((k: string) => ({ k, [Symbol.dispose]() {} }), { key: 1 as never })).toThrow(
      /options\.key must be a function/
    )
  })

  it("compares object arguments structurally and honours options.key", async () => {
    let made = 0
    const pool = stickySingleton((_: { host: string; port: number }) => ({ n: ++made, [Symbol.dispose]() {} }))
    const byUrl = stickySingleton((o: { url: string; attempt: number }) => ({ o, [Symbol.dispose]() {} }), {
      key: (o) => o.url
    })
    await run(async () => {
      expect(await pool({ host: "a", port: 1 })).toBe(await pool({ port: 1, host: "a" }))
      expect(made).toBe(1)
      expect(await byUrl({ url: "u", attempt: 1 })).toBe(await byUrl({ url: "u", attempt: 2 }))
    })
  })

  it("rejects a cyclic key with a TypeError, not a stack overflow", async () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    const pool = stickySingleton((_: unknown) => ({ [Symbol.dispose]() {} }))
    await run(async () => {
      await expect(pool(cyclic)).rejects.toThrow(TypeError)
    })
  })
})

describe("singleton (Promise)", () => {
  it("returns the very value fn returned, once per key per loop; a Promise is shared as is", async () => {
    let runs = 0
    const double = singleton((n: number) => {
      runs++
      return { doubled: n * 2 }
    })
    const fetchUser = singleton(async (id: string) => {
      runs++
      await tick()
      return { id }
    })
    await run(async () => {
      expect(double(2)).toBe(double(2))
      expect(double(2)).not.toBe(double(3))
      const pending = fetchUser("u1")
      expect(fetchUser("u1")).toBe(pending)
      const all = await Promise.all(Array.from({ length: 1000 }, () => fetchUser("u2")))
      expect(new Set(all).size).toBe(1)
    })
    expect(runs).toBe(4)
  })

  it("forgets a rejected Promise and a synchronous throw, so that the next call runs again", async () => {
    let attempts = 0
    const flaky = singleton(async (k: string) => {
      await tick()
      if (++attempts === 1) throw new Error(`no ${k}`)
      return k
    })
    let syncAttempts = 0
    const throwsOnce = singleton((k: string) => {
      if (++syncAttempts === 1) throw new Error("sync")
      return k
    })
    await run(async () => {
      const first = await Promise.allSettled([flaky("x"), flaky("x"), flaky("x")])
      expect(first.map((r) => r.status)).toEqual(["rejected", "rejected", "rejected"])
      await tick()
      expect(await flaky("x")).toBe("x")
      expect(attempts).toBe(2)
      expect(() => throwsOnce("y")).toThrow("sync")
      expect(throwsOnce("y")).toBe("y")
    })
  })

  it("invalidate of a pending Promise waits for it: the next call does not build a second value alongside (found by the model)", async () => {
    let running = 0
    let overlapped = false
    const slow = singleton(async (k: string) => {
      if (++running > 1) overlapped = true
      await tick()
      await tick()
      running--
      return k
    })
    await run(async () => {
      const first = slow("x")
      const invalidated = slow.invalidate("x")
      expect(slow("x")).toBe(first)
      await invalidated
      await slow("x")
      expect(overlapped).toBe(false)
    })
  })

  it("gives each loop its own values, and invalidate forgets one", async () => {
    let runs = 0
    const make = singleton((k: string) => ({ k, run: ++runs }))
    const [a, b] = await Promise.all([run(async () => make("x")), run(async () => make("x"))])
    expect(a).not.toBe(b)
    await run(async () => {
      const first = make("x")
      await make.invalidate("x")
      expect(make("x")).not.toBe(first)
    })
  })
})
