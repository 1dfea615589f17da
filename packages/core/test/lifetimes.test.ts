/**
 * Regression tests for the findings of the adversarial trial about lifetimes
 * on the Effect side (issues "Tried adversarially", parts 1 and 2): each failed
 * before its fix.
 */
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Option } from "effect"
import { LoopLocal } from "../src/index.js"
import * as Binding from "../src/internal/binding.js"
import { captureConsole, makeLoop } from "./helpers.js"

describe("a factory that changes its argument", () => {
  it("does not leave its failure cached: the next call retries, and invalidate works", async () => {
    let attempts = 0
    const Pool = LoopLocal.stickySingleton((opts: { host: string; max?: number }) => {
      opts.max ??= 10
      return Effect.suspend(() =>
        ++attempts === 1 ? Effect.fail(new Error("ECONNREFUSED")) : Effect.succeed({ host: opts.host, n: attempts })
      )
    })
    const loop = makeLoop()
    const first = await loop.runPromise(Effect.exit(Pool({ host: "db" })))
    expect(Exit.isFailure(first)).toBe(true)
    const second = await loop.runPromise(Pool({ host: "db" }))
    expect(second).toEqual({ host: "db", n: 2 })
    expect(await loop.runPromise(Pool({ host: "db" }))).toBe(second)
    await loop.runPromise(Pool.invalidate({ host: "db" }))
    expect(await loop.runPromise(Pool({ host: "db" }))).toEqual({ host: "db", n: 3 })
    await loop.dispose()
  })

  it("keeps its entry findable when the caller mutates its object afterwards", async () => {
    let runs = 0
    const Config = LoopLocal.singleton((opts: { env: string }) => Effect.sync(() => ({ env: opts.env, n: ++runs })))
    const loop = makeLoop()
    const opts = { env: "prod" }
    const value = await loop.runPromise(Config(opts))
    opts.env = "staging"
    expect(await loop.runPromise(Config({ env: "prod" }))).toBe(value)
    await loop.runPromise(Config.invalidate({ env: "prod" }))
    expect(await loop.runPromise(Config({ env: "prod" }))).not.toBe(value)
    expect(runs).toBe(2)
    await loop.dispose()
  })
})

describe("a construction hung in an uninterruptible region when its loop closes", () => {
  it("rejects its waiters at once, lets the other releases run in full, is reported abandoned, and its late value is released", async () => {
    const logs = captureConsole()
    const log: Array<string> = []
    let connect!: (value: string) => void
    const Replica = LoopLocal.stickySingleton((url: string) =>
      Effect.acquireRelease(
        Effect.promise(() => new Promise<string>((resolve) => (connect = resolve))),
        (c) => Effect.sync(() => log.push(`closed ${c}`))
      ).pipe(Effect.map((c) => `${c} via ${url}`))
    )
    const Primary = LoopLocal.stickySingleton((_: string) =>
      Effect.acquireRelease(Effect.succeed("primary"), () =>
        Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20))).pipe(
          Effect.tap(() => log.push("closed primary"))
        )
      )
    )
    const loop = Binding.makeLoop({ deadlineMs: 300 })
    await loop.runPromise(Primary("p"))
    const waiter = Effect.runFork(Effect.provideService(Replica("r"), LoopLocal.LoopLocal, loop))
    await new Promise((resolve) => setTimeout(resolve, 5))
    const closing = Binding.close(loop)
    const waited = await Effect.runPromise(Fiber.await(waiter))
    expect(Exit.isFailure(waited) && Cause.dieOption(waited.cause).pipe(Option.getOrUndefined)).toBeInstanceOf(
      LoopLocal.LoopClosedError
    )
    expect(log).toEqual([])
    const report = await closing
    expect(log).toEqual(["closed primary"])
    expect(report.releases.map((r) => `${r.key} ${r.outcome}`)).toEqual(['"p" ok', '"r" abandoned'])
    expect(String(Cause.squash(report.releases[1]!.cause!))).toMatch(
      /construction of stickySingleton "r" did not finish/
    )
    connect("conn")
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(log).toEqual(["closed primary", "closed conn"])
    expect(logs.map((l) => l.message)).toEqual([expect.stringMatching(/stickySingleton "r" abandoned/)])
  })
})

describe("interrupting the first caller of a key", () => {
  const burn = (n: number): Effect.Effect<void> =>
    n === 0 ? Effect.void : Effect.flatMap(Effect.void, () => burn(n - 1))

  // Effect's scheduler yields every 2,048 operations: burns around 1,022 flatMaps put that yield between the key's
  // registration and the fork of its construction, where an interruption used to leave the key pending forever.
  it("never leaves the key pending: a later call gets the value, invalidate settles", async () => {
    for (const kind of ["stickySingleton", "enterOnce"] as const) {
      for (let n = 1016; n <= 1028; n++) {
        const resource = Effect.acquireRelease(Effect.succeed("db"), () => Effect.void)
        const S = LoopLocal.stickySingleton((_: string) => resource)
        const use = kind === "stickySingleton" ? S("k") : LoopLocal.enterOnce(resource)
        const loop = makeLoop()
        await loop.runPromise(
          Effect.gen(function* () {
            const first = yield* Effect.fork(Effect.zipRight(burn(n), use))
            yield* Effect.yieldNow()
            yield* Fiber.interrupt(first)
          })
        )
        const later = await loop.runPromise(Effect.timeoutOption(use, 1_000))
        expect(later).toEqual(Option.some("db"))
        const invalidated = await loop.runPromise(Effect.timeoutOption(S.invalidate("k"), 1_000))
        expect(Option.isSome(invalidated)).toBe(true)
        await loop.dispose()
      }
    }
  })
})

describe("a value whose acquisition registers finalizers from two fibers", () => {
  const burn = (n: number): Effect.Effect<void> =>
    n === 0 ? Effect.void : Effect.flatMap(Effect.void, () => burn(n - 1))

  // A value's scope keeps its first finalizer in a field and becomes an Effect Scope at the second. That step took
  // two effects: when the scheduler yielded between them (every 2,048 ops, here after a burn of about 1,010), the
  // other fiber's finalizer went into the new scope before the first one, and the first was released before it.
  it("releases its first finalizer last, wherever the scheduler yields", async () => {
    const wrong: Array<string> = []
    for (let n = 950; n < 1_100; n++) {
      const log: Array<string> = []
      const loop = Binding.makeLoop()
      const Value = LoopLocal.stickySingleton((k: number) =>
        Effect.gen(function* () {
          yield* Effect.addFinalizer(() => Effect.sync(() => log.push("first")))
          yield* Effect.all(
            [
              Effect.zipRight(
                burn(n),
                Effect.addFinalizer(() => Effect.sync(() => log.push("a")))
              ),
              Effect.addFinalizer(() => Effect.sync(() => log.push("b")))
            ],
            { concurrency: 2, discard: true }
          )
          return k
        })
      )
      await loop.runPromise(Value(n))
      await Binding.close(loop)
      if (log.length !== 3 || log.at(-1) !== "first") wrong.push(`burn ${n}: ${log.join(",")}`)
    }
    expect(wrong).toEqual([])
  })
})
