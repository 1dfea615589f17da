/**
 * Bounded entries and stable identity (DESIGN.md "Bounded entries" and
 * "Stable identity across reloads"), on the Promise API; test/bounds.test.ts
 * of core covers the Effect API.
 */
import { LoopLocal } from "@loop-local/core"
import * as Binding from "@loop-local/core/internal"
import { Effect } from "effect"
import { setTimeout as sleep } from "node:timers/promises"
import { describe, expect, it } from "vitest"
import { currentLoop, run, type SingletonOptions, singleton, stickySingleton } from "../src/index.js"
import { lines, spawnFixture } from "./child.js"
import { captureConsole } from "./helpers.js"

const tick = () => new Promise((resolve) => setImmediate(resolve))

/** A resource per key that logs its releases. */
const pools = (options: SingletonOptions<[string]> = {}) => {
  const log: Array<string> = []
  let made = 0
  const pool = stickySingleton(
    async (key: string) => {
      made++
      return { key }
    },
    { ...options, release: (p: { readonly key: string }) => void log.push(`released ${p.key}`) }
  )
  return { log, pool, made: () => made }
}

describe("capacity", () => {
  it("evicts the least recently used others when a construction completes past it; a hit counts as a use", async () => {
    const { log, pool, made } = pools({ capacity: 2 })
    await run(async () => {
      const a = await pool("a")
      await pool("b")
      expect(await pool("a")).toBe(a) // a is now more recent than b
      await pool("c")
      expect(log).toEqual([]) // forgotten at once, released one event-loop turn later
      await tick()
      expect(log).toEqual(["released b"])
      expect(
        currentLoop()
          .inspect()
          .map((e) => e.key)
      ).toEqual(['"a"', '"c"'])
      expect(await pool("a")).toBe(a)
      await pool("b")
      expect(made()).toBe(4)
    })
    expect(log.slice(1).sort()).toEqual(
      ["released a", "released b", "released c"]
        .filter((l) => l !== "released c")
        .concat("released c")
        .sort()
    )
  })

  it("never evicts or counts a pending construction", async () => {
    const log: Array<string> = []
    let resolveSlow!: () => void
    const pool = stickySingleton(
      async (key: string) => {
        if (key === "slow") await new Promise<void>((resolve) => (resolveSlow = resolve))
        return { key }
      },
      { capacity: 1, release: (p) => void log.push(`released ${p.key}`) }
    )
    await run(async () => {
      const slow = pool("slow")
      await pool("fast")
      await tick()
      expect(log).toEqual([])
      resolveSlow()
      await slow
      await tick()
      expect(log).toEqual(["released fast"])
    })
  })

  it("holds a flat number of values for many keys seen once", async () => {
    const { pool } = pools({ capacity: 20 })
    await run(async () => {
      for (let i = 0; i < 500; i++) await pool(`tenant-${i}`)
      expect(currentLoop().inspect()).toHaveLength(20)
    })
  })
})

describe("idleTimeToLive and timeToLive", () => {
  it("evicts a value no call asked for during idleTimeToLive, never one used at least that often", async () => {
    const { log, pool } = pools({ idleTimeToLive: 40 })
    await run(async () => {
      await pool("idle")
      const busy = await pool("busy")
      for (let i = 0; i < 8; i++) {
        await sleep(15)
        expect(await pool("busy")).toBe(busy)
      }
      expect(log).toEqual(["released idle"])
    })
  })

  it("evicts a value timeToLive after its acquisition, used or not: the next call constructs anew", async () => {
    const { log, pool, made } = pools({ timeToLive: 30 })
    await run(async () => {
      const first = await pool("token")
      await sleep(50)
      const second = await pool("token")
      expect(second).not.toBe(first)
      expect(made()).toBe(2)
      await tick()
      expect(log).toEqual(["released token"])
    })
  })

  it("creates no timer without these options, and clears its timers when the loop closes", async () => {
    const loop = Binding.makeLoop()
    const plain = stickySingleton(async (k: string) => ({ k, [Symbol.dispose]() {} }))
    const timed = stickySingleton(async (k: string) => ({ k, [Symbol.dispose]() {} }), { idleTimeToLive: 1_000 })
    await loop.runPromise(Effect.promise(() => plain("a")))
    expect(loop.sweeps.size).toBe(0)
    await loop.runPromise(Effect.promise(() => timed("a")))
    expect(loop.sweeps.size).toBe(1)
    await Binding.close(loop)
    expect(loop.sweeps.size).toBe(0)
  })

  it("never keeps a process alive: a script using them ends by itself and releases at beforeExit", async () => {
    const { finished } = spawnFixture("bounded-exit.mjs")
    const { code, stdout, stderr } = await finished
    expect(stderr).toBe("")
    expect(lines(stdout)).toEqual(["main done", "released a"])
    expect(code).toBe(0)
  })
})

describe("an eviction's release", () => {
  it("runs once in the background: its failure is logged and reaches no caller", async () => {
    const logs = captureConsole()
    let releases = 0
    const pool = stickySingleton(async (key: string) => ({ key }), {
      capacity: 1,
      release: () => {
        releases++
        throw new Error("close failed")
      }
    })
    const error = await run(async () => {
      await pool("a")
      await pool("b")
      await sleep(5)
      expect(releases).toBe(1)
    }).catch((e: unknown) => e)
    // b's release at the loop's close fails too: that one is the close's.
    expect((error as AggregateError).errors).toHaveLength(1)
    expect(releases).toBe(2)
    expect(logs.map((l) => l.message)).toEqual([
      expect.stringMatching(/release of stickySingleton "a" failed/),
      expect.stringMatching(/release of stickySingleton "b" failed/)
    ])
  })

  it("is waited for by a close that begins meanwhile, and reported", async () => {
    const log: Array<string> = []
    const pool = stickySingleton(async (key: string) => ({ key }), {
      capacity: 1,
      release: async (p) => {
        await sleep(p.key === "a" ? 60 : 1)
        log.push(`released ${p.key}`)
      }
    })
    const loop = Binding.makeLoop()
    await loop.runPromise(Effect.promise(() => pool("a")))
    await loop.runPromise(Effect.promise(() => pool("b")))
    const report = await Binding.close(loop)
    expect(log).toEqual(["released b", "released a"])
    expect(report.releases.map((r) => `${r.key} ${r.outcome}`)).toEqual(['"b" ok', '"a" ok'])
  })
})

describe("bad options", () => {
  it("are a TypeError at definition", () => {
    for (const capacity of [0, -1, 1.5, Number.NaN, "10"]) {
      expect(() => stickySingleton(async () => ({ [Symbol.dispose]() {} }), { capacity: capacity as never })).toThrow(
        /options.capacity must be a positive integer/
      )
    }
    for (const ms of [0, -5, Number.NaN, "100", null]) {
      expect(() => singleton(() => 1, { idleTimeToLive: ms as never })).toThrow(
        /idleTimeToLive must be a positive number/
      )
      expect(() => singleton(() => 1, { timeToLive: ms as never })).toThrow(/timeToLive must be a positive number/)
    }
    expect(() => singleton(() => 1, { id: 5 as never })).toThrow(/options.id must be a string, got the number 5/)
  })
})

describe("id", () => {
  it("shares values per loop between definitions, as a module re-evaluated would make them", async () => {
    let made = 0
    const define = () =>
      stickySingleton(
        async (url: string) => {
          made++
          return { url, [Symbol.dispose]() {} }
        },
        { id: "bounds-test/db" }
      )
    const definitions = Array.from({ length: 100 }, define)
    await run(async () => {
      const values = await Promise.all(definitions.map((d) => d("postgres://db")))
      expect(new Set(values).size).toBe(1)
      expect(made).toBe(1)
      await definitions[42]!.invalidate("postgres://db")
      await definitions[0]!("postgres://db")
      expect(made).toBe(2)
    })
  })

  it("names one kind on one side: another kind or the other API under it is a TypeError", () => {
    stickySingleton(async () => ({ [Symbol.dispose]() {} }), { id: "bounds-test/kind" })
    expect(() => singleton(() => 1, { id: "bounds-test/kind" })).toThrow(/names a stickySingleton of the Promise API/)
    expect(() => LoopLocal.stickySingleton(() => Effect.succeed(1), { id: "bounds-test/kind" })).toThrow(
      /a stickySingleton of the Effect API cannot share/
    )
  })

  it("applies the latest definition's bounds from its first call on", async () => {
    const first = stickySingleton(async (k: string) => ({ k, [Symbol.dispose]() {} }), { id: "bounds-test/latest" })
    await run(async () => {
      await first("a")
      await first("b")
      const second = stickySingleton(async (k: string) => ({ k, [Symbol.dispose]() {} }), {
        id: "bounds-test/latest",
        capacity: 1
      })
      await second("c")
      await tick()
      expect(
        currentLoop()
          .inspect()
          .map((e) => e.key)
      ).toEqual(['"c"'])
    })
  })
})

describe("a pile-up made by mistake (Promise)", () => {
  it("is warned about once when a definition made per request holds a pool per request", async () => {
    const logs = captureConsole()
    await run(async () => {
      for (let request = 0; request < 15; request++) {
        // The mistake: a new definition, so a new owner of its own keys, for every request.
        const pool = stickySingleton(async (url: string) => ({ url, [Symbol.dispose]() {} }))
        await pool("postgres://db")
      }
    })
    expect(logs.map((l) => l.message)).toEqual([
      expect.stringMatching(/holds 10 stickySingleton values whose keys all read "postgres:\/\/db"/)
    ])
  })

  it("is not warned about for many tenants of one definition", async () => {
    const logs = captureConsole()
    const pool = stickySingleton(async (tenant: string) => ({ tenant, [Symbol.dispose]() {} }))
    await run(async () => {
      for (let i = 0; i < 50; i++) await pool(`tenant-${i}`)
    })
    expect(logs).toEqual([])
  })
})
