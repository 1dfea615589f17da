/**
 * Regression tests for the findings of the adversarial trial about lifetimes
 * seen from the Promise API and across both APIs (issue "Tried adversarially,
 * part 2"): each failed before its fix.
 */
import { LoopLocal } from "@loop-local/core"
import * as Binding from "@loop-local/core/internal"
import { Effect, ManagedRuntime, Queue } from "effect"
import { setTimeout as sleep } from "node:timers/promises"
import { describe, expect, it } from "vitest"
import { atExit, currentLoop, run, stickySingleton } from "../src/index.js"
import { captureConsole } from "./helpers.js"

describe("the current loop of a Promise call made in an Effect fiber", () => {
  it("is the fiber's loop, even for a fiber woken by another run()'s fiber", async () => {
    const queue = Effect.runSync(Queue.unbounded<number>())
    const session = stickySingleton(async (_: string) => ({ loop: currentLoop(), open: true }), {
      release: (s) => {
        s.open = false
      }
    })
    const seen: Array<boolean> = []
    const consumer = Effect.gen(function* () {
      const mine = yield* LoopLocal.LoopLocal
      for (let k = 0; k < 20; k++) {
        yield* Queue.take(queue)
        // Woken by the producer's fiber, in the producer's run(): AsyncLocalStorage would say the producer's loop.
        seen.push(currentLoop() === mine)
        const s = yield* Effect.promise(() => session("s"))
        seen.push(s.loop === mine && s.open)
      }
    })
    const producer = Effect.gen(function* () {
      for (let k = 0; k < 20; k++) {
        yield* Queue.offer(queue, k)
        yield* Effect.sleep(1)
      }
    })
    await Promise.all([run(() => currentLoop().runPromise(consumer)), run(() => currentLoop().runPromise(producer))])
    expect(seen).toHaveLength(40)
    expect(seen.every((ok) => ok)).toBe(true)
  })

  it("is the program's loop in an Effect program run with LoopLocal.layer, which then releases the value", async () => {
    const released: Array<string> = []
    const client = stickySingleton(async (name: string) => ({ name }), { release: (c) => void released.push(c.name) })
    const runtime = ManagedRuntime.make(LoopLocal.layer)
    await runtime.runPromise(Effect.promise(() => client("api")))
    const held = await runtime.runPromise(LoopLocal.inspect)
    expect(held.map((e) => `${e.kind} ${e.key}`)).toEqual(['stickySingleton "api"'])
    expect(Binding.defaultLoop().inspect()).toEqual([])
    await runtime.dispose()
    expect(released).toEqual(["api"])
  })
})

describe("inside a release", () => {
  it("the current loop is the loop being closed, so registering there fails instead of landing in the default loop", async () => {
    const logs = captureConsole()
    const metrics = stickySingleton(async () => ({ [Symbol.dispose]() {} }))
    let inRelease: unknown
    const error = await run(async () => {
      atExit(async () => {
        await sleep(1)
        inRelease = currentLoop()
        await metrics()
      })
      return currentLoop()
    }).catch((e: AggregateError) => e)
    expect(error).toBeInstanceOf(AggregateError)
    expect((error as AggregateError).errors[0]).toMatchObject({ _tag: "LoopClosedError" })
    expect(inRelease).not.toBe(Binding.defaultLoop())
    expect(Binding.defaultLoop().inspect()).toEqual([])
    expect(logs.map((l) => l.message)).toEqual([expect.stringMatching(/release of atExit #1 failed/)])
  })
})

describe("Loop.runPromise", () => {
  it("rejects with LoopClosedError when its loop closes while the effect waits", async () => {
    const Never = LoopLocal.stickySingleton(() => Effect.never)
    let pending!: Promise<unknown>
    await run(
      async () => {
        pending = currentLoop()
          .runPromise(Never())
          .catch((e: unknown) => e)
      },
      { deadlineMs: 50 }
    ).catch(() => undefined)
    const error = await pending
    expect(error).toBeInstanceOf(LoopLocal.LoopClosedError)
    expect(error).toMatchObject({ _tag: "LoopClosedError" })
  })
})

describe("a dependency cycle across the APIs", () => {
  const inTime = <A>(p: Promise<A>) => Promise.race([p, sleep(2_000).then(() => "hangs" as const)])

  it("Effect A -> Promise B -> Effect A fails with the self-dependency error", async () => {
    const outcome = await run(
      async () => {
        const B: (k: string) => Promise<Disposable> = stickySingleton(async (k: string) => ({
          a: await currentLoop().runPromise(A(k)),
          [Symbol.dispose]() {}
        }))
        const A = LoopLocal.stickySingleton((k: string) => Effect.promise(() => B(k)))
        return inTime(
          currentLoop()
            .runPromise(A("x"))
            .then(
              () => "resolved",
              (e: unknown) => String(e)
            )
        )
      },
      { deadlineMs: 200 }
    )
    expect(outcome).toMatch(/construction of stickySingleton "x" asked for the same stickySingleton and key/)
  })

  it("Promise A -> Effect B -> Promise A fails with the self-dependency error", async () => {
    const outcome = await run(
      async () => {
        const A: (k: string) => Promise<Disposable> = stickySingleton(async (k: string) => ({
          b: await currentLoop().runPromise(B(k)),
          [Symbol.dispose]() {}
        }))
        const B = LoopLocal.stickySingleton((k: string) => Effect.promise(() => A(k)))
        return inTime(
          A("x").then(
            () => "resolved",
            (e: unknown) => String(e)
          )
        )
      },
      { deadlineMs: 200 }
    )
    expect(outcome).toMatch(/construction of stickySingleton "x" asked for the same stickySingleton and key/)
  })
})

describe("closing while invalidate releases", () => {
  it("run() settles only after that release, which the close waits for", async () => {
    const log: Array<string> = []
    const pool = stickySingleton(async (k: string) => ({ k }), {
      release: async (v) => {
        log.push(`release ${v.k} start`)
        await sleep(v.k === "a" ? 100 : 5)
        log.push(`release ${v.k} end`)
      }
    })
    let invalidated!: Promise<void>
    await run(async () => {
      await pool("a")
      await pool("b")
      invalidated = pool.invalidate("a")
    })
    log.push("run() resolved")
    await invalidated
    expect(log).toEqual(["release a start", "release b start", "release b end", "release a end", "run() resolved"])
  })
})

describe("a value arriving after its loop began closing", () => {
  it("has its release's failure reported like any other's", async () => {
    const logs = captureConsole()
    const slow = stickySingleton(
      async () => {
        await sleep(30)
        return {}
      },
      {
        release: () => {
          throw new Error("late release failed")
        }
      }
    )
    const error = await run(async () => {
      void slow().catch(() => undefined)
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AggregateError)
    expect(String((error as AggregateError).errors[0])).toMatch(/late release failed/)
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/stickySingleton \(\) failed/),
        cause: expect.stringMatching(/late release failed/)
      }
    ])
  })
})
