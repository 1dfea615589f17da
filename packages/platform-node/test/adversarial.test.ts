/**
 * Regression tests for the findings of the adversarial trial that concern the
 * Promise API (issue "Tried adversarially, part 1"): each failed before its fix.
 */
import { Effect } from "effect"
import { setTimeout as sleep } from "node:timers/promises"
import { describe, expect, it } from "vitest"
import {
  atExit,
  closeOnSignals,
  enter,
  enterOnce,
  run,
  shutdown,
  singleton,
  sticky,
  stickySingleton
} from "../src/index.js"
import { captureConsole } from "./helpers.js"

describe("a factory that fills in defaults on its options object", () => {
  it("does not leave the first failure cached: the next call retries", async () => {
    let attempts = 0
    const pool = stickySingleton(
      async (opts: { host: string; max?: number }) => {
        opts.max ??= 10
        if (++attempts === 1) throw new Error("ECONNREFUSED")
        return { max: opts.max }
      },
      { release: () => {} }
    )
    await run(async () => {
      await expect(pool({ host: "db" })).rejects.toThrow("ECONNREFUSED")
      expect(await pool({ host: "db" })).toEqual({ max: 10 })
      expect(attempts).toBe(2)
      await pool.invalidate({ host: "db" })
      await pool({ host: "db" })
      expect(attempts).toBe(3)
    })
  })
})

describe("a release or atExit that returns an Effect", () => {
  it("has the Effect run, and reported ok only then", async () => {
    const closed: Array<string> = []
    const pool = { close: () => Effect.sync(() => closed.push("pool")) }
    const make = stickySingleton(async () => pool, { release: (p) => p.close() })
    await run(async () => {
      await make()
      atExit(() => Effect.sync(() => closed.push("atExit")))
    })
    expect(closed).toEqual(["atExit", "pool"])
  })

  it("reports the Effect's failure as the release's failure", async () => {
    const logs = captureConsole()
    const failing = run(async () => {
      atExit(() => Effect.die(new Error("flush failed")))
    })
    await expect(failing).rejects.toThrow(AggregateError)
    await failing.catch((e: AggregateError) => expect(String(e.errors[0])).toMatch(/flush failed/))
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/the release of atExit #1 failed/),
        cause: expect.stringMatching(/flush failed/)
      }
    ])
  })
})

describe("a Promise factory that returns an Effect", () => {
  it("is told it is an Effect and what to use instead", async () => {
    await run(async () => {
      const wrong = stickySingleton(() => Effect.succeed(1) as never)
      await expect(wrong()).rejects.toThrow(/is an Effect.*LoopLocal\.stickySingleton/)
    })
  })
})

describe("singleton.invalidate racing a retry", () => {
  it("waits for the retry too, so two loads of one key never run at once", async () => {
    await run(async () => {
      let calls = 0
      let inFlight = 0
      let maxInFlight = 0
      const load = singleton(async (_key: string) => {
        const n = ++calls
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        await sleep(20)
        inFlight--
        if (n === 1) throw new Error("first load fails")
        return n
      })
      const first = load("cfg")
      const retried = first.catch(() => load("cfg"))
      await load.invalidate("cfg")
      const next = load("cfg")
      expect(await retried).toBe(2)
      expect(await next).toBe(3)
      expect(maxInFlight).toBe(1)
    })
  })
})

describe("one key space for enterOnce and sticky", () => {
  it("disposes a value given to both once per loop", async () => {
    let disposed = 0
    const value = {
      [Symbol.dispose]() {
        disposed++
      }
    }
    await run(async () => {
      await enterOnce(value)
      sticky(value)
    })
    expect(disposed).toBe(1)
    await run(async () => {
      sticky(value)
      await enterOnce(value)
    })
    expect(disposed).toBe(2)
  })
})

describe("deadlines are validated where they are given", () => {
  const hang = () => atExit(() => new Promise(() => {}))

  it.each([["100"], [Number.NaN], [-5], [0], [null], [{}]])(
    "run(main, { deadlineMs: %j }) rejects with a TypeError",
    async (deadlineMs) => {
      let ran = false
      const attempt = run(
        async () => {
          ran = true
          hang()
        },
        { deadlineMs: deadlineMs as never }
      )
      await expect(attempt).rejects.toThrow(TypeError)
      await expect(attempt).rejects.toThrow(/deadlineMs must be a positive number of milliseconds/)
      expect(ran).toBe(false)
    }
  )

  it("says to convert a string", async () => {
    await expect(run(async () => {}, { deadlineMs: "100" as never })).rejects.toThrow(
      /got the string "100"; convert it with Number\(\)/
    )
  })

  it("shutdown and closeOnSignals check theirs too, before doing anything", async () => {
    await expect(shutdown({ deadlineMs: Number.NaN })).rejects.toThrow(/deadlineMs/)
    expect(() => closeOnSignals({ deadlineMs: -1 })).toThrow(/deadlineMs/)
    expect(() => closeOnSignals(5 as never)).toThrow(/closeOnSignals's options must be an object, got the number 5/)
    expect(process.listenerCount("SIGTERM")).toBe(0)
  })

  it("accepts Infinity: wait as long as it takes", async () => {
    let released = false
    await run(
      async () => {
        await enter({}, async () => {
          await sleep(5)
          released = true
        })
      },
      { deadlineMs: Number.POSITIVE_INFINITY }
    )
    expect(released).toBe(true)
  })
})

describe("enter of a value whose properties throw when read", () => {
  // `enter` of a value that is there already reads its `then` and its dispose method itself, outside any Promise:
  // a getter that throws must reject the call, as in an async function, not throw from it.
  it("rejects, whether `then` or `Symbol.dispose` throws", async () => {
    const hostile = (name: PropertyKey) =>
      new Proxy(
        {},
        {
          get: (_target, property) => {
            if (property === name) throw new Error(`read of ${String(property)}`)
            return undefined
          }
        }
      )
    await run(async () => {
      const byThen = (() => enter(hostile("then") as Disposable))()
      await expect(byThen).rejects.toThrow("read of then")
      const byDispose = (() => enter(hostile(Symbol.dispose) as Disposable))()
      await expect(byDispose).rejects.toThrow(`read of ${String(Symbol.dispose)}`)
    })
  })
})
