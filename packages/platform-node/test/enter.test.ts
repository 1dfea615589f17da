import { setImmediate as tick } from "node:timers/promises"
import { describe, expect, it } from "vitest"
import { atExit, enter, enterOnce, run, sticky, storage } from "../src/index.js"

class Connection {
  static made = 0
  readonly id = ++Connection.made
  #open = true
  disposals = 0
  get open() {
    return this.#open
  }
  query(sql: string) {
    if (!this.#open) throw new Error("closed")
    return `${this.id}: ${sql}`
  }
  async [Symbol.asyncDispose]() {
    await tick()
    this.disposals++
    this.#open = false
  }
}

describe("enter / enterOnce (Promise)", () => {
  it("enter acquires every call and releases each at loop end, last first", async () => {
    const log: Array<string> = []
    const conn = (name: string) => ({ name, [Symbol.dispose]: () => void log.push(name) })
    await run(async () => {
      const a = await enter(conn("a"))
      const b = await enter(Promise.resolve(conn("b")))
      const c = await enter({ name: "c" }, (v) => void log.push(v.name))
      expect([a.name, b.name, c.name]).toEqual(["a", "b", "c"])
      expect(log).toEqual([])
    })
    expect(log).toEqual(["c", "b", "a"])
  })

  it("enterOnce enters a value once per loop, concurrent callers included", async () => {
    const c = new Connection()
    await run(async () => {
      const all = await Promise.all(Array.from({ length: 7 }, () => enterOnce(c)))
      expect(all.every((x) => x === c)).toBe(true)
      expect(c.disposals).toBe(0)
    })
    expect(c.disposals).toBe(1)
    await run(async () => {
      await enterOnce(c)
    })
    expect(c.disposals).toBe(2)
  })

  it("rejects at the call a value that cannot be released", async () => {
    await run(async () => {
      // @ts-expect-error: neither Symbol.asyncDispose nor Symbol.dispose, and no release
      await expect(enter({ plain: true })).rejects.toThrow(TypeError)
      expect(() => enter({ plain: true }, "close" as never)).toThrow(/release must be a function/)
    })
  })

  it("rejects with the value's own rejection", async () => {
    await run(async () => {
      await expect(enter(Promise.reject(new Error("no socket")), () => {})).rejects.toThrow("no socket")
    })
  })
})

describe("sticky (Promise)", () => {
  it("leaving an `await using` block releases nothing; the real dispose runs once at loop end", async () => {
    const c = new Connection()
    await run(async () => {
      for (let i = 0; i < 3; i++) {
        await using s = sticky(c)
        expect(s.query("select 1")).toBe(`${c.id}: select 1`)
      }
      expect(c.open).toBe(true)
      expect(c.disposals).toBe(0)
    })
    expect(c.disposals).toBe(1)
    expect(c.open).toBe(false)
  })

  it("keeps methods with #private fields working, instanceof, property writes and method identity", async () => {
    const c = new Connection()
    await run(async () => {
      const s = sticky(c)
      expect(s).toBeInstanceOf(Connection)
      expect(s.query("x")).toBe(`${c.id}: x`)
      expect(s.open).toBe(true)
      expect(s.query).toBe(s.query)
      ;(s as { label?: string }).label = "primary"
      expect((c as { label?: string }).label).toBe("primary")
      expect(sticky(c)).toBe(s)
    })
  })

  it("rejects a value without Symbol.asyncDispose or Symbol.dispose at the call", async () => {
    await run(async () => {
      // @ts-expect-error: not disposable
      expect(() => sticky({ plain: true })).toThrow(TypeError)
    })
  })
})

describe("storage and atExit (Promise)", () => {
  it("storage is one Map per loop", async () => {
    const [a, b] = await Promise.all([run(async () => storage()), run(async () => storage())])
    expect(a).not.toBe(b)
    await run(async () => {
      expect(storage()).toBe(storage())
    })
  })

  it("atExit runs last registered first; it rejects a non-function", async () => {
    const log: Array<number> = []
    await run(async () => {
      atExit(() => void log.push(1))
      atExit(async () => {
        await tick()
        log.push(2)
      })
      log.push(0)
      expect(() => atExit("nope" as never)).toThrow(TypeError)
    })
    expect(log).toEqual([0, 2, 1])
  })
})
