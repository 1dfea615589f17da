import { LoopLocal } from "@loop-local/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { atExit, currentLoop, enter, run, shutdown, singleton, stickySingleton, storage } from "../src/index.js"
import { captureConsole } from "./helpers.js"

// This file ends by shutting the realm's default loop down: Vitest runs each test file in a process of its own.

describe("one loop for Promise code and Effect code", () => {
  it("outside any run(), the current loop is the default loop of LoopLocal.Default and LoopLocal.runPromise", async () => {
    const viaEffect = await LoopLocal.runPromise(LoopLocal.LoopLocal)
    const viaLayer = await Effect.runPromise(Effect.provide(LoopLocal.LoopLocal, LoopLocal.Default))
    expect(currentLoop()).toBe(viaEffect)
    expect(viaLayer).toBe(viaEffect)
    expect(storage()).toBe(await LoopLocal.runPromise(LoopLocal.storage))
  })

  it("Promise callers and Effect.runPromise entry points outside run() share one set of singletons", async () => {
    let made = 0
    const Pool = LoopLocal.stickySingleton((origin: string) =>
      Effect.acquireRelease(
        Effect.sync(() => ({ origin, n: ++made })),
        () => Effect.void
      )
    )
    const fromEffect = await Effect.runPromise(Effect.provide(Pool("http://a"), LoopLocal.Default))
    const fromPromise = await currentLoop().runPromise(Pool("http://a"))
    expect(fromPromise).toBe(fromEffect)
    expect(made).toBe(1)
  })

  it("in run(), Effect code through currentLoop().runPromise sees the same storage and lifetime", async () => {
    const log: Array<string> = []
    const Client = LoopLocal.stickySingleton((name: string) =>
      Effect.acquireRelease(
        Effect.sync(() => ({ name })),
        (c) => Effect.sync(() => void log.push(`effect ${c.name}`))
      )
    )
    const pool = stickySingleton((name: string) => ({ name, [Symbol.dispose]: () => void log.push(`promise ${name}`) }))
    await run(async () => {
      storage().set("from", "promise")
      const seen = await currentLoop().runPromise(Effect.map(LoopLocal.storage, (m) => m.get("from")))
      expect(seen).toBe("promise")
      await pool("a")
      await currentLoop().runPromise(Client("b"))
      await pool("c")
      await currentLoop().runPromise(LoopLocal.atExit(Effect.sync(() => log.push("effect atExit"))))
      atExit(() => void log.push("promise atExit"))
      expect((await currentLoop().runPromise(LoopLocal.inspect)).map((e) => `${e.kind} ${e.key}`)).toEqual([
        'stickySingleton "a"',
        'stickySingleton "b"',
        'stickySingleton "c"',
        expect.stringMatching(/^atExit #\d+$/),
        expect.stringMatching(/^atExit #\d+$/)
      ])
    })
    // One release order across both APIs: last acquired first.
    expect(log).toEqual(["promise atExit", "effect atExit", "promise c", "effect b", "promise a"])
  })

  it("a Promise factory runs with its loop as the current loop, even when called from Effect code", async () => {
    const whereMade = stickySingleton((_: string) => ({ loop: currentLoop(), [Symbol.dispose]() {} }))
    await run(async () => {
      const mine = currentLoop()
      const made = await currentLoop().runPromise(Effect.promise(() => whereMade("x")))
      expect(made.loop).toBe(mine)
    })
  })

  it("shutdown closes the default loop once, with a report; later uses reject with LoopClosedError", async () => {
    const logs = captureConsole()
    const log: Array<string> = []
    const cached = singleton((k: string) => ({ k }))
    cached("x")
    await enter({ [Symbol.dispose]: () => void log.push("entered") })
    atExit(() => {
      throw new Error("flush failed")
    })
    const [report, again] = await Promise.all([shutdown({ deadlineMs: 1_000 }), shutdown()])
    expect(again).toBe(report)
    expect(await shutdown()).toBe(report)
    expect(log).toEqual(["entered"])
    expect(report.releases.map((r) => [r.kind, r.outcome])).toContainEqual(["atExit", "failed"])
    expect(report.releases.map((r) => [r.kind, r.outcome])).toContainEqual(["enter", "ok"])
    const failed = report.releases.find((r) => r.outcome === "failed")!
    expect(report.releases.filter((r) => r.outcome !== "ok")).toEqual([failed])
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(
          new RegExp(`^loop-local: the release of atExit ${failed.key} failed after \\d+ ms$`)
        ),
        cause: expect.stringMatching(/^Error: flush failed\n/)
      }
    ])
    expect(currentLoop().isClosed).toBe(true)
    await expect(stickySingleton((k: string) => ({ k, [Symbol.dispose]() {} }))("y")).rejects.toMatchObject({
      _tag: "LoopClosedError"
    })
    expect(() => cached("x")).toThrow(expect.objectContaining({ _tag: "LoopClosedError" }))
    expect(() => storage()).toThrow(expect.objectContaining({ _tag: "LoopClosedError" }))
    await expect(enter({ [Symbol.dispose]() {} })).rejects.toMatchObject({ _tag: "LoopClosedError" })
    expect(() => atExit(() => {})).toThrow(expect.objectContaining({ _tag: "LoopClosedError" }))
    await expect(LoopLocal.runPromise(LoopLocal.storage)).rejects.toMatchObject({ _tag: "LoopClosedError" })
  })
})
