import { LoopLocal } from "@loop-local/core"
import { Effect } from "effect"
import { describe, expect, it, vi } from "vitest"
import { atExit, currentLoop, enter, run, shutdown, singleton, sticky, stickySingleton, storage } from "../src/index.js"
import { captureConsole } from "./helpers.js"

// This file closes and renews the realm's default loop: Vitest runs each test file in a process of its own.
describe("shutdown({ renew })", () => {
  it("closes the default loop and puts a fresh one in place for later calls, on both APIs", async () => {
    const released: Array<string> = []
    storage().set("k", "first")
    atExit(() => void released.push("first"))
    const before = currentLoop()
    const report = await shutdown({ renew: true })
    expect(report.loopId).toBe(before.id)
    expect(released).toEqual(["first"])
    expect(before.isClosed).toBe(true)
    const after = currentLoop()
    expect(after).not.toBe(before)
    expect(after.isClosed).toBe(false)
    expect(storage().get("k")).toBeUndefined()
    expect(await LoopLocal.runPromise(LoopLocal.LoopLocal)).toBe(after)
    expect(await Effect.runPromise(Effect.provide(LoopLocal.LoopLocal, LoopLocal.Default))).toBe(after)
  })

  it("has the fresh loop in place as soon as the close begins", async () => {
    let during: unknown
    atExit(() => {
      during = currentLoop()
    })
    const before = currentLoop()
    const closing = shutdown({ renew: true })
    await closing
    // A release sees the loop being closed; a call made outside it, meanwhile, the fresh one.
    expect(during).toBe(before)
    expect(currentLoop()).not.toBe(before)
  })
})

describe("shutdown({ drain })", () => {
  it("drains first, then closes", async () => {
    const log: Array<string> = []
    atExit(() => void log.push("released"))
    await shutdown({
      renew: true,
      drain: async () => {
        log.push(`draining, loop open: ${!currentLoop().isClosed}`)
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })
    expect(log).toEqual(["draining, loop open: true", "released"])
  })

  it("reports a drain that throws or overruns as a warning, and closes all the same", async () => {
    const emit = vi.spyOn(process, "emitWarning").mockImplementation(() => {})
    try {
      const log: Array<string> = []
      atExit(() => void log.push("released"))
      await shutdown({
        renew: true,
        drain: () => {
          throw new Error("server.close failed")
        }
      })
      atExit(() => void log.push("released again"))
      await shutdown({ renew: true, deadlineMs: 20, drain: () => new Promise(() => {}) })
      expect(log).toEqual(["released", "released again"])
      expect(emit.mock.calls).toEqual([
        [
          expect.stringMatching(/^loop-local: the drain failed; the loops close now: Error: server.close failed/),
          "LoopLocalWarning"
        ],
        ["loop-local: the drain did not finish within the deadline (20 ms); the loops close now", "LoopLocalWarning"]
      ])
    } finally {
      emit.mockRestore()
    }
  })

  it("rejects bad options with a TypeError", async () => {
    await expect(shutdown({ drain: "close" as never })).rejects.toThrow(/shutdown's options.drain must be a function/)
    await expect(shutdown({ deadlineMs: "5" as never })).rejects.toThrow(/deadlineMs/)
  })
})

describe("LOOP_LOCAL_DEBUG=1", () => {
  it("logs the acquisitions of every kind, singleton and sticky included", async () => {
    const logs = captureConsole()
    process.env.LOOP_LOCAL_DEBUG = "1"
    try {
      const config = singleton((env: string) => ({ env }))
      const pool = stickySingleton(async (url: string) => ({ url, [Symbol.dispose]() {} }))
      await run(async () => {
        config("prod")
        await pool("postgres://app:hunter2@db/app")
        sticky({ [Symbol.dispose]() {} })
        await enter({ [Symbol.dispose]() {} })
      })
    } finally {
      delete process.env.LOOP_LOCAL_DEBUG
    }
    const acquired = logs.filter((l) => l.message.startsWith("loop-local: acquired")).map((l) => l.message)
    expect(acquired).toEqual([
      expect.stringMatching(/^loop-local: acquired singleton "prod" in \d+ ms$/),
      expect.stringMatching(/^loop-local: acquired stickySingleton "postgres:\/\/app:\*\*\*@db\/app" in \d+ ms$/),
      expect.stringMatching(/^loop-local: acquired sticky \{\} in \d+ ms$/),
      expect.stringMatching(/^loop-local: acquired enter \{\} in \d+ ms$/)
    ])
    expect(logs.filter((l) => l.message.startsWith("loop-local: released"))).toHaveLength(3)
  })
})

describe("a failing release in a Promise-only program", () => {
  it("is told as one plain line on stderr, then the error's own stack", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {})
    const log = vi.spyOn(console, "log").mockImplementation(() => {})
    try {
      const client = stickySingleton(async (name: string) => ({ name }), {
        release: function closeClient() {
          throw new Error("socket hang up")
        }
      })
      await run(async () => {
        await client("api")
      }).catch(() => undefined)
      expect(log).not.toHaveBeenCalled()
      expect(warn).toHaveBeenCalledTimes(1)
      const text = String(warn.mock.calls[0]![0])
      const [first, second, third] = text.split("\n")
      expect(first).toMatch(/^loop-local: the release of stickySingleton "api" failed after \d+ ms$/)
      expect(second).toBe("Error: socket hang up")
      expect(third).toMatch(/^ {4}at closeClient \(.*shutdown\.test\.ts/)
      expect(text).not.toMatch(/level=|fiberRuntime|loop-local\.release/)
    } finally {
      warn.mockRestore()
      log.mockRestore()
    }
  })
})
