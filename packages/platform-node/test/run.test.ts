import { EventEmitter } from "node:events"
import { AsyncResource } from "node:async_hooks"
import { setImmediate as tick, setTimeout as sleep } from "node:timers/promises"
import { describe, expect, it } from "vitest"
import { atExit, currentLoop, enter, run, stickySingleton, storage } from "../src/index.js"
import { captureConsole } from "./helpers.js"

describe("run", () => {
  it("gives main's whole async call tree one fresh loop: awaits, timers, Promise.all, bound emitter callbacks", async () => {
    const outside = currentLoop()
    const emitter = new EventEmitter()
    const seen = await run(async () => {
      const mine = currentLoop()
      const inTimer = await new Promise((resolve) => setTimeout(() => resolve(currentLoop()), 5))
      const inAll = await Promise.all(
        [1, 2, 3].map(async () => {
          await tick()
          return currentLoop()
        })
      )
      const fromEmitter = new Promise((resolve) =>
        emitter.once(
          "event",
          AsyncResource.bind(() => resolve(currentLoop()))
        )
      )
      setImmediate(() => emitter.emit("event"))
      return { mine, inTimer, inAll, fromEmitter: await fromEmitter }
    })
    expect(seen.mine).not.toBe(outside)
    expect(seen.inTimer).toBe(seen.mine)
    expect(seen.inAll.every((l) => l === seen.mine)).toBe(true)
    expect(seen.fromEmitter).toBe(seen.mine)
    expect(seen.mine.isClosed).toBe(true)
    expect(currentLoop()).toBe(outside)
  })

  it("gives two runs in parallel separate loops and separate storage", async () => {
    const main = async (name: string) => {
      storage().set("name", name)
      await sleep(5)
      return { loop: currentLoop(), name: storage().get("name") }
    }
    const [a, b] = await Promise.all([run(() => main("a")), run(() => main("b"))])
    expect(a.loop).not.toBe(b.loop)
    expect([a.name, b.name]).toEqual(["a", "b"])
  })

  it("has finished every release before its Promise settles", async () => {
    const log: Array<string> = []
    await run(async () => {
      await enter({
        async [Symbol.asyncDispose]() {
          await sleep(20)
          log.push("slow release done")
        }
      })
      atExit(async () => {
        await tick()
        log.push("atExit done")
      })
    })
    log.push("run settled")
    expect(log).toEqual(["atExit done", "slow release done", "run settled"])
  })

  it("still releases when main throws, and rejects with main's error, release failures attached", async () => {
    const logs = captureConsole()
    const log: Array<string> = []
    const mainError = new Error("main failed")
    const error = await run(async () => {
      await enter({ [Symbol.dispose]: () => void log.push("released") })
      await enter({
        [Symbol.dispose]() {
          throw new Error("release failed")
        }
      })
      throw mainError
    }).catch((e: unknown) => e)
    expect(error).toBe(mainError)
    expect(log).toEqual(["released"])
    expect((error as { releaseErrors?: Array<Error> }).releaseErrors?.map((e) => e.message)).toEqual(["release failed"])
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of enter \{\} failed after \d+ ms$/),
        cause: expect.stringMatching(/^Error: release failed\n/)
      }
    ])
  })

  it("rejects with an AggregateError of release failures when main succeeds", async () => {
    const logs = captureConsole()
    const error = await run(async () => {
      atExit(() => Promise.reject(new Error("flush failed")))
      atExit(() => {
        throw new Error("close failed")
      })
      return "ok"
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AggregateError)
    expect((error as AggregateError).errors.map((e: Error) => e.message)).toEqual(["close failed", "flush failed"])
    expect(logs).toEqual(
      [
        ["#2", "close failed"],
        ["#1", "flush failed"]
      ].map(([key, message]) => ({
        level: "WARN",
        message: expect.stringMatching(new RegExp(`^loop-local: the release of atExit ${key} failed after \\d+ ms$`)),
        cause: expect.stringMatching(new RegExp(`^Error: ${message}\\n`))
      }))
    )
  })

  it("abandons a release that outlives the deadline, and runs the others", async () => {
    const logs = captureConsole()
    const log: Array<string> = []
    const started = Date.now()
    const error = await run(
      async () => {
        atExit(() => void log.push("first registered, last run"))
        atExit(() => new Promise(() => {}))
        atExit(() => void log.push("last registered, first run"))
      },
      { deadlineMs: 100 }
    ).catch((e: unknown) => e)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(log).toEqual(["last registered, first run", "first registered, last run"])
    expect((error as AggregateError).errors.map((e: Error) => e.message)).toEqual([
      expect.stringMatching(/the release of atExit #2 did not finish within the deadline \(100 ms\) and was abandoned/)
    ])
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of atExit #2 abandoned after \d+ ms$/),
        cause: expect.stringContaining("did not finish within the deadline (100 ms) and was abandoned")
      }
    ])
  })

  it("rejects the waiters of a construction still pending when its loop closes, names it abandoned at the deadline, and releases the value when it comes", async () => {
    const logs = captureConsole()
    const log: Array<string> = []
    let resolveFactory!: (value: { name: string; [Symbol.dispose](): void }) => void
    const slow = stickySingleton(
      (_: string) =>
        new Promise<{ name: string; [Symbol.dispose](): void }>((resolve) => {
          resolveFactory = resolve
        })
    )
    let waiter!: Promise<unknown>
    const error = await run(
      async () => {
        waiter = slow("x").catch((e: unknown) => e)
        await tick()
      },
      { deadlineMs: 50 }
    ).catch((e: unknown) => e)
    expect(await waiter).toMatchObject({ _tag: "LoopClosedError" })
    expect(error).toBeInstanceOf(AggregateError)
    expect(String((error as AggregateError).errors[0])).toMatch(
      /construction of stickySingleton "x" did not finish within the close's deadline \(50 ms\)/
    )
    expect(logs).toEqual([
      { level: "WARN", message: expect.stringMatching(/stickySingleton "x" abandoned/), cause: expect.any(String) }
    ])
    resolveFactory({ name: "x", [Symbol.dispose]: () => void log.push("late value released") })
    await tick()
    expect(log).toEqual(["late value released"])
  })

  it("waits, within the deadline, for a construction in flight at its end, and releases its value before settling", async () => {
    const log: Array<string> = []
    const slow = stickySingleton(async (name: string) => {
      await new Promise((resolve) => setTimeout(resolve, 30))
      log.push(`made ${name}`)
      return { [Symbol.dispose]: () => void log.push(`released ${name}`) }
    })
    let waiter!: Promise<unknown>
    await run(async () => {
      waiter = slow("x").catch((e: unknown) => e)
    })
    expect(log).toEqual(["made x", "released x"])
    expect(await waiter).toMatchObject({ _tag: "LoopClosedError" })
  })

  it("rejects a main that is not a function", async () => {
    await expect(run("main" as never)).rejects.toThrow(/run's main must be a function/)
  })
})
