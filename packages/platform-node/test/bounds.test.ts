/**
 * Bounded entries and stable identity (DESIGN.md "Bounded entries" and
 * "Stable identity across reloads"), on the Promise API; test/bounds.test.ts
 * of core covers the Effect API.
 */
import { LoopLocal } from "@loop-local/core"
import * as Binding from "@loop-local/core/internal"
import { Effect } from "effect"
import { setTimeout as sleep } from "node:timers/promises"
import { describe, expect, it, vi } from "vitest"
import { currentLoop, run, type SingletonOptions, shutdown, singleton, stickySingleton } from "../src/index.js"
import { lines, spawnFixture } from "./child.js"
import { captureConsole } from "./helpers.js"

const tick = () => new Promise((resolve) => setImmediate(resolve))

/**
 * A child's end, or its kill after 8 s: a timer that kept it alive would hold it for the minute of its time to live
 * (whose sweep runs every 15 s), so a child still running then was kept alive, and ends with SIGKILL.
 */
const endsByItself = async ({ child, finished }: ReturnType<typeof spawnFixture>) => {
  const kill = setTimeout(() => child.kill("SIGKILL"), 8_000)
  try {
    return await finished
  } finally {
    clearTimeout(kill)
  }
}

/** A resource per key that says whether it was released, and whose construction may wait for a gate. */
const gatedPools = (
  options: SingletonOptions<[string]>,
  gates: Map<string, Promise<void>> = new Map(),
  release: (p: { key: string; released: boolean }) => unknown = () => undefined
) => {
  const log: Array<string> = []
  const pool = stickySingleton(
    async (key: string) => {
      await gates.get(key)
      return { key, released: false }
    },
    {
      ...options,
      release: async (p) => {
        await release(p)
        p.released = true
        log.push(`released ${p.key}`)
      }
    }
  )
  return { log, pool }
}

const gate = () => {
  let open!: () => void
  const opened = new Promise<void>((resolve) => (open = resolve))
  return { open, opened }
}

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
    // Hits 20 ms apart against 100 ms: a stall of 80 ms in between would be needed to make "busy" idle.
    const { log, pool } = pools({ idleTimeToLive: 100 })
    await run(async () => {
      await pool("idle")
      const busy = await pool("busy")
      for (let i = 0; i < 15; i++) {
        await sleep(20)
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
    const { code, signal, stdout, stderr } = await endsByItself(spawnFixture("bounded-exit.mjs"))
    expect(stderr).toBe("")
    expect(lines(stdout)).toEqual(["main done", "released a"])
    expect({ code, signal }).toEqual({ code: 0, signal: null })
  })

  it("never keep an Effect program alive: on the Node binding it releases at beforeExit, on core alone it just ends", async () => {
    const onNode = await endsByItself(spawnFixture("bounded-exit-effect.mjs", ["node"]))
    expect(onNode.stderr).toBe("")
    expect(lines(onNode.stdout)).toEqual(["timers 1", "main done", "released a"])
    expect({ code: onNode.code, signal: onNode.signal }).toEqual({ code: 0, signal: null })
    const onCore = await endsByItself(spawnFixture("bounded-exit-effect.mjs", ["core"]))
    expect(onCore.stderr).toBe("")
    expect(lines(onCore.stdout)).toEqual(["timers 1", "main done"])
    expect({ code: onCore.code, signal: onCore.signal }).toEqual({ code: 0, signal: null })
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
    const releaseGate = gate()
    const pool = stickySingleton(async (key: string) => ({ key }), {
      capacity: 1,
      release: async (p) => {
        if (p.key === "a") await releaseGate.opened
        log.push(`released ${p.key}`)
      }
    })
    const loop = Binding.makeLoop()
    await loop.runPromise(Effect.promise(() => pool("a")))
    await loop.runPromise(Effect.promise(() => pool("b")))
    const closing = Binding.close(loop)
    // A later macrotask: the close has begun, with a's release still waiting for this.
    setTimeout(releaseGate.open, 20)
    const report = await closing
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

  it("applies the latest definition's times to live from its first call on, a hit on an older value included", async () => {
    const log: Array<string> = []
    const define = (options: SingletonOptions<[string]>) =>
      stickySingleton(async (k: string) => ({ k }), {
        id: "bounds-test/latest-times",
        ...options,
        release: (p) => void log.push(`released ${p.k}`)
      })
    const loop = Binding.makeLoop()
    const on = <A>(f: () => Promise<A>) => loop.runPromise(Effect.promise(f))
    const first = define({})
    const a = await on(() => first("a"))
    const second = define({ idleTimeToLive: 40 })
    // Defined, not called yet: no timer.
    expect(loop.sweeps.size).toBe(0)
    expect(await on(() => second("a"))).toBe(a)
    await sleep(200)
    expect(log).toEqual(["released a"])
    // A third without times: its first call lifts them, and its owner's timer goes.
    const b = await on(() => second("b"))
    expect(loop.sweeps.size).toBe(1)
    const third = define({})
    expect(await on(() => third("b"))).toBe(b)
    await sleep(100)
    expect(loop.sweeps.size).toBe(0)
    expect(log).toEqual(["released a"])
    await Binding.close(loop)
    expect(log).toEqual(["released a", "released b"])
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

describe("an eviction's timing", () => {
  it("hands a value evicted in the same turn to its caller unreleased, and releases it one turn later", async () => {
    const both = gate()
    const { log, pool } = gatedPools(
      { capacity: 1 },
      new Map([
        ["a", both.opened],
        ["b", both.opened]
      ])
    )
    await run(async () => {
      const received = Promise.all(
        ["a", "b"].map((key) => pool(key).then((p) => ({ key: p.key, released: p.released })))
      )
      await tick()
      both.open()
      expect(await received).toEqual([
        { key: "a", released: false },
        { key: "b", released: false }
      ])
      expect(log).toEqual([])
      // Forgotten at once: inspect no longer lists it, before its release has run.
      expect(currentLoop().inspect()).toHaveLength(1)
      await tick()
      expect(log).toHaveLength(1)
    })
    expect(log).toHaveLength(2)
  })
})

describe("pending constructions", () => {
  it("are not evicted by idleTimeToLive or timeToLive, which count from the acquisition's completion", async () => {
    const slow = gate()
    const { log, pool } = gatedPools({ idleTimeToLive: 40, timeToLive: 40 }, new Map([["slow", slow.opened]]))
    await run(async () => {
      // A completed value, so that the owner's sweeps run while "slow" is pending.
      await pool("other")
      const pending = pool("slow")
      await sleep(150)
      expect(log).toEqual(["released other"])
      slow.open()
      const value = await pending
      // Pending for more than both times, yet a hit right after its completion is served the same value.
      expect(await pool("slow")).toBe(value)
      expect(value.released).toBe(false)
      await sleep(150)
      expect(log).toEqual(["released other", "released slow"])
      expect(currentLoop().inspect()).toEqual([])
    })
  })
})

describe("singleton (nothing to release)", () => {
  it("is bounded alike: an evicted value is forgotten, and the next call runs fn again", async () => {
    const runs: Array<string> = []
    const load = singleton(
      (key: string) => {
        runs.push(key)
        return { key }
      },
      { capacity: 1, timeToLive: 40 }
    )
    await run(async () => {
      const a = load("a")
      expect(load("a")).toBe(a)
      load("b")
      expect(
        currentLoop()
          .inspect()
          .map((e) => e.key)
      ).toEqual(['"b"'])
      expect(load("a")).not.toBe(a)
      await sleep(150)
      expect(currentLoop().inspect()).toEqual([])
      load("a")
    })
    expect(runs).toEqual(["a", "b", "a", "a"])
  })

  it("counts a Promise not settled yet as a pending construction: neither counted nor evicted (capacity)", async () => {
    const slow = gate()
    const runs: Array<string> = []
    const load = singleton(
      async (key: string) => {
        runs.push(key)
        if (key === "slow") await slow.opened
        return { key }
      },
      { capacity: 1 }
    )
    await run(async () => {
      const pending = load("slow")
      await load("fast")
      await tick()
      // Still the one construction in flight, not a second beside it.
      expect(load("slow")).toBe(pending)
      expect(runs).toEqual(["slow", "fast"])
      slow.open()
      await pending
      await tick()
      // Completed past the capacity: the least recently used other goes.
      expect(
        currentLoop()
          .inspect()
          .map((e) => e.key)
      ).toEqual(['"slow"'])
    })
  })

  it("counts a Promise not settled yet as a pending construction: not evicted by times to live, counted from its settling", async () => {
    const slow = gate()
    const runs: Array<string> = []
    const load = singleton(
      async (key: string) => {
        runs.push(key)
        if (key === "slow") await slow.opened
        return { key }
      },
      { timeToLive: 40, idleTimeToLive: 40 }
    )
    await run(async () => {
      await load("other")
      const pending = load("slow")
      await sleep(150)
      expect(load("slow")).toBe(pending)
      slow.open()
      await pending
      expect(load("slow")).toBe(pending)
      await sleep(150)
      expect(currentLoop().inspect()).toEqual([])
    })
    expect(runs).toEqual(["other", "slow"])
  })
})

describe("timers, infinity", () => {
  it("an infinite time to live or capacity means never: no timer, nothing evicted", async () => {
    const loop = Binding.makeLoop()
    const { log, pool } = gatedPools({
      capacity: Number.POSITIVE_INFINITY,
      idleTimeToLive: Number.POSITIVE_INFINITY,
      timeToLive: Number.POSITIVE_INFINITY
    })
    await loop.runPromise(Effect.promise(() => Promise.all([pool("a"), pool("b"), pool("c")])))
    expect(loop.sweeps.size).toBe(0)
    await loop.runPromise(Effect.promise(tick))
    expect(log).toEqual([])
    await Binding.close(loop)
    expect(log.sort()).toEqual(["released a", "released b", "released c"])
  })
})

describe("an eviction's release, at a close", () => {
  it("that hangs reaches no caller, and is named abandoned at the close's deadline, logged", async () => {
    const logs = captureConsole()
    const { pool } = gatedPools({ capacity: 1 }, new Map(), (p) =>
      p.key === "a" ? new Promise<never>(() => {}) : undefined
    )
    const loop = Binding.makeLoop({ deadlineMs: 100 })
    await loop.runPromise(Effect.promise(() => pool("a")))
    expect((await loop.runPromise(Effect.promise(() => pool("b")))).key).toBe("b")
    await loop.runPromise(Effect.promise(tick))
    expect((await loop.runPromise(Effect.promise(() => pool("b")))).key).toBe("b")
    const report = await Binding.close(loop)
    expect(report.releases.map((r) => `${r.key} ${r.outcome}`)).toEqual(['"b" ok', '"a" abandoned'])
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of stickySingleton "a" abandoned after \d+ ms$/),
        cause:
          'loop-local: the release of stickySingleton "a" did not finish within the deadline (100 ms) and was abandoned'
      }
    ])
  })

  it("still running when run() ends is waited for: run() settles after it, its failure among run()'s errors", async () => {
    const logs = captureConsole()
    const releaseGate = gate()
    const { log, pool } = gatedPools({ capacity: 1 }, new Map(), async (p) => {
      if (p.key !== "a") return
      await releaseGate.opened
      throw new Error("close a failed")
    })
    const error = await run(async () => {
      await pool("a")
      await pool("b")
      await tick()
      // A later macrotask: run() has begun its close when main returned, with a's release still waiting for this.
      setTimeout(releaseGate.open, 20)
    }).catch((e: unknown) => e)
    // a's release began before the close and failed during it: run() waited, and rejects with it.
    expect(log).toEqual(["released b"])
    expect(error).toBeInstanceOf(AggregateError)
    expect((error as AggregateError).errors.map((e: Error) => e.message)).toEqual(["close a failed"])
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of stickySingleton "a" failed after \d+ ms$/),
        cause: expect.stringMatching(/^Error: close a failed/)
      }
    ])
  })
})

describe("an eviction's release that hangs outside any close", () => {
  it("is logged once the loop's deadline has passed, and still reported by a later close", async () => {
    const logs = captureConsole()
    const { pool } = gatedPools({ capacity: 1 }, new Map(), (p) =>
      p.key === "a" ? new Promise<never>(() => {}) : undefined
    )
    const loop = Binding.makeLoop({ deadlineMs: 100 })
    await loop.runPromise(Effect.promise(() => pool("a")))
    await loop.runPromise(Effect.promise(() => pool("b")))
    await sleep(300)
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(
          /^loop-local: the release of stickySingleton "a", evicted, is still running after \d+ ms$/
        ),
        cause: ""
      }
    ])
    const report = await Binding.close(loop)
    expect(report.releases.map((r) => `${r.key} ${r.outcome}`)).toEqual(['"b" ok', '"a" abandoned'])
    expect(logs.map((l) => l.message)).toEqual([
      expect.stringMatching(/"a", evicted, is still running/),
      expect.stringMatching(/"a" abandoned after/)
    ])
  })
})

describe("shutdown() and an eviction", () => {
  it("settles only after an eviction's release still running when it began, and reports it", async () => {
    const releaseGate = gate()
    const { log, pool } = gatedPools({ capacity: 1 }, new Map(), async (p) => {
      if (p.key === "shutdown-a") await releaseGate.opened
    })
    // Outside run(): the default loop, which shutdown() closes (renew: a fresh one for the tests after).
    await pool("shutdown-a")
    await pool("shutdown-b")
    await tick()
    const closing = shutdown({ renew: true })
    // A later macrotask: the shutdown has begun, with a's release still waiting for this.
    setTimeout(releaseGate.open, 20)
    const report = await closing
    expect(log).toEqual(["released shutdown-b", "released shutdown-a"])
    expect(report.releases.filter((r) => r.key.startsWith('"shutdown-')).map((r) => `${r.key} ${r.outcome}`)).toEqual([
      '"shutdown-b" ok',
      '"shutdown-a" ok'
    ])
  })
})

describe("stable identity", () => {
  const defineIn = (
    api: { stickySingleton: typeof stickySingleton },
    id: string | undefined,
    made: Array<string>,
    by: string
  ) =>
    api.stickySingleton(
      async (url: string) => {
        made.push(`${by} ${url}`)
        return { url, by, [Symbol.dispose]() {} }
      },
      id === undefined ? {} : { id }
    )

  it("is shared by definitions in two copies of the package (a module reload): each constructs with its own factory", async () => {
    vi.resetModules()
    const A = await import("../src/index.js")
    vi.resetModules()
    const B = await import("../src/index.js")
    expect(A.stickySingleton).not.toBe(B.stickySingleton)
    const made: Array<string> = []
    const first = defineIn(A, "bounds-test/copies", made, "first")
    const second = defineIn(B, "bounds-test/copies", made, "second")
    await run(async () => {
      const x = await first("x")
      // A hit returns the shared value, whichever definition made it.
      expect(await second("x")).toBe(x)
      // A call that constructs uses its own definition's factory.
      expect((await second("y")).by).toBe("second")
      expect((await first("y")).by).toBe("second")
      await first.invalidate("y")
      expect((await second("y")).by).toBe("second")
      // Another loop has values of its own.
      expect(await run(() => second("x"))).not.toBe(x)
    })
    expect(made).toEqual(["first x", "second y", "second y", "second x"])
  })

  it("without an id, each definition owns its values", async () => {
    const made: Array<string> = []
    const [a, b] = [
      defineIn({ stickySingleton }, undefined, made, "a"),
      defineIn({ stickySingleton }, undefined, made, "b")
    ]
    await run(async () => {
      expect(await a("x")).not.toBe(await b("x"))
    })
    expect(made).toEqual(["a x", "b x"])
  })

  it("names one side: an id of the Effect API given to a Promise definition is a TypeError at definition", () => {
    LoopLocal.singleton((n: number) => Effect.succeed(n), { id: "bounds-test/effect-first" })
    expect(() => singleton((n: number) => n, { id: "bounds-test/effect-first" })).toThrow(
      /the id "bounds-test\/effect-first" names a singleton of the Effect API already; a singleton of the Promise API cannot share/
    )
    expect(() => stickySingleton(async () => ({ [Symbol.dispose]() {} }), { id: "bounds-test/effect-first" })).toThrow(
      TypeError
    )
  })
})
