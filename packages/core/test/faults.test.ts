import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Layer } from "effect"
import { LoopLocal } from "../src/index.js"
import * as Binding from "../src/internal/binding.js"
import { captureConsole, isLoopClosed } from "./helpers.js"

/** A loop of its own, closed through Binding.close so that its report can be read. */
const ownLoop = () => {
  const loop = Binding.makeLoop()
  const run = <A, E>(effect: Effect.Effect<A, E, LoopLocal.LoopLocal>) => loop.runPromise(effect)
  return { loop, run }
}

describe("releases that fail", () => {
  it("runs every other release when releases throw, reject, die or never settle, and reports each", async () => {
    const logs = captureConsole()
    const { loop, run } = ownLoop()
    const log: Array<string> = []
    await run(
      Effect.gen(function* () {
        yield* LoopLocal.atExit(Effect.sync(() => log.push("first registered")))
        yield* LoopLocal.enter(
          Effect.acquireRelease(Effect.succeed("throws"), () =>
            Effect.sync(() => {
              throw new Error("thrown synchronously")
            })
          )
        )
        yield* LoopLocal.enter(
          Effect.acquireRelease(Effect.succeed("rejects"), () =>
            Effect.promise(() => Promise.reject(new Error("rejected")))
          )
        )
        yield* LoopLocal.enter(Effect.acquireRelease(Effect.succeed("dies"), () => Effect.die(new Error("died"))))
        yield* LoopLocal.enter(Effect.acquireRelease(Effect.succeed("hangs"), () => Effect.never))
        yield* LoopLocal.atExit(Effect.sync(() => log.push("last registered")))
      })
    )
    const started = Date.now()
    const report = await Binding.close(loop, { deadlineMs: 200 })
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(log).toEqual(["last registered", "first registered"])
    expect(report.releases.map((r) => [r.kind, r.outcome])).toEqual([
      ["atExit", "ok"],
      ["enter", "abandoned"],
      ["enter", "failed"],
      ["enter", "failed"],
      ["enter", "failed"],
      ["atExit", "ok"]
    ])
    const errors = report.releases
      .filter((r) => r.outcome === "failed")
      .map((r) => (Cause.squash(r.cause!) as Error).message)
    expect(errors).toEqual(["died", "rejected", "thrown synchronously"])
    expect(report.releases[1]!.durationMs).toBeGreaterThanOrEqual(150)
    // Each failed or abandoned release is also logged as a warning, with its cause.
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of enter \[Effect\] abandoned after \d+ ms$/),
        cause: expect.stringContaining("did not finish within the deadline (200 ms) and was abandoned")
      },
      ...["died", "rejected", "thrown synchronously"].map((error) => ({
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of enter \[Effect\] failed after \d+ ms$/),
        cause: expect.stringContaining(`Error: ${error}`)
      }))
    ])
  })

  it("still starts every release after the deadline, even behind two that hang (found by the model)", async () => {
    const logs = captureConsole()
    const { loop, run } = ownLoop()
    const log: Array<string> = []
    await run(
      Effect.gen(function* () {
        yield* LoopLocal.atExit(Effect.promise(async () => void log.push("async, no I/O")))
        yield* LoopLocal.atExit(Effect.sync(() => log.push("sync")))
        yield* LoopLocal.atExit(Effect.never)
        yield* LoopLocal.atExit(Effect.never)
      })
    )
    const report = await Binding.close(loop, { deadlineMs: 50 })
    expect(log).toEqual(["sync", "async, no I/O"])
    expect(report.releases.map((r) => r.outcome)).toEqual(["abandoned", "abandoned", "ok", "ok"])
    expect(logs).toEqual(
      ["#4", "#3"].map((key) => ({
        level: "WARN",
        message: expect.stringMatching(
          new RegExp(`^loop-local: the release of atExit ${key} abandoned after \\d+ ms$`)
        ),
        cause: expect.stringContaining("did not finish within the deadline (50 ms) and was abandoned")
      }))
    )
  })

  it("reports an atExit registered from inside a release during close as a clear failure, never silently", async () => {
    const logs = captureConsole()
    const { loop, run } = ownLoop()
    const ran: Array<string> = []
    // The finalizer runs with the context it was registered in, so the inner atExit finds the (closing) loop.
    await run(LoopLocal.atExit(LoopLocal.atExit(Effect.sync(() => ran.push("late")))))
    const report = await Binding.close(loop)
    expect(ran).toEqual([])
    expect(report.releases).toHaveLength(1)
    expect(report.releases[0]!.outcome).toBe("failed")
    expect(Cause.squash(report.releases[0]!.cause!)).toMatchObject({ _tag: "LoopClosedError" })
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of atExit #1 failed after \d+ ms$/),
        cause: expect.stringMatching(/^LoopClosedError: loop-local: loop \d+ is closed/)
      }
    ])
  })

  it("rejects atExit and enter called while the loop is closing with LoopClosedError", async () => {
    const { loop, run } = ownLoop()
    const closing = Effect.runSync(Deferred.make<void>())
    const proceed = Effect.runSync(Deferred.make<void>())
    await run(LoopLocal.atExit(Effect.zipRight(Deferred.succeed(closing, undefined), Deferred.await(proceed))))
    const closed = Binding.close(loop)
    await Effect.runPromise(Deferred.await(closing))
    const exits = await Promise.all([
      Effect.runPromiseExit(Effect.provideService(LoopLocal.atExit(Effect.void), LoopLocal.LoopLocal, loop)),
      Effect.runPromiseExit(Effect.provideService(LoopLocal.enter(Effect.void), LoopLocal.LoopLocal, loop))
    ])
    expect(exits.every(isLoopClosed)).toBe(true)
    await Effect.runPromise(Deferred.succeed(proceed, undefined))
    expect((await closed).releases.map((r) => r.outcome)).toEqual(["ok"])
  })
})

describe("a construction interrupted by its loop's close", () => {
  const steps = [0, 1, 2, 3]
  for (const kind of ["stickySingleton", "enterOnce", "enter", "memoize"] as const) {
    for (const at of steps) {
      it(`${kind}: closed at await point ${at} of 3 acquired parts, every acquired part is released, nothing leaks`, async () => {
        const { loop, run } = ownLoop()
        const log: Array<string> = []
        const reached = Effect.runSync(Deferred.make<void>())
        const acquisition = Effect.gen(function* () {
          for (let part = 1; part <= 3; part++) {
            if (part - 1 === at) {
              yield* Deferred.succeed(reached, undefined)
              yield* Effect.never
            }
            yield* Effect.acquireRelease(
              Effect.sync(() => log.push(`+${part}`)),
              () => Effect.sync(() => void log.push(`-${part}`))
            )
            yield* Effect.yieldNow()
          }
          yield* Deferred.succeed(reached, undefined)
          return yield* Effect.never
        })
        class Svc extends Context.Tag("Svc")<Svc, number>() {}
        const use: Effect.Effect<unknown, never, LoopLocal.LoopLocal> =
          kind === "stickySingleton"
            ? LoopLocal.stickySingleton((_: string) => acquisition)("k")
            : kind === "enterOnce"
              ? LoopLocal.enterOnce(acquisition)
              : kind === "enter"
                ? LoopLocal.enter(acquisition)
                : Effect.provide(Svc, LoopLocal.memoize(Layer.scoped(Svc, acquisition)))
        const waiter = Effect.runFork(Effect.provideService(use, LoopLocal.LoopLocal, loop))
        await Effect.runPromise(Deferred.await(reached))
        const report = await Binding.close(loop, { deadlineMs: 2_000 })
        const acquired = log.filter((l) => l.startsWith("+")).length
        expect(acquired).toBe(Math.min(at, 3))
        expect(log.slice(acquired)).toEqual(Array.from({ length: acquired }, (_, i) => `-${acquired - i}`))
        expect(isLoopClosed(await Effect.runPromise(Fiber.await(waiter)))).toBe(true)
        // What was acquired before the close cut the construction short is released with the close, and reported; a
        // layer's build releases its own parts when interrupted, before the construction ends, so nothing remains.
        const remains = acquired > 0 && kind !== "memoize"
        expect(report.releases.map((r) => `${r.kind} ${r.outcome}`)).toEqual(remains ? [`${kind} ok`] : [])
        await expect(run(LoopLocal.inspect)).rejects.toMatchObject({ _tag: "LoopClosedError" })
      })
    }
  }
})

describe("re-entrancy", () => {
  it("lets a construction use another singleton", async () => {
    const { loop, run } = ownLoop()
    const Config = LoopLocal.singleton((env: string) => Effect.succeed({ env }))
    const Pool = LoopLocal.stickySingleton((env: string) => Effect.map(Config(env), (config) => ({ config })))
    const pool = await run(Pool("prod"))
    expect(pool.config).toBe(await run(Config("prod")))
    await Binding.close(loop)
  })

  it("fails a construction that asks for itself with an error naming the key, instead of a deadlock", async () => {
    const { loop, run } = ownLoop()
    const Recursive: LoopLocal.Keyed<[string], number, never, LoopLocal.LoopLocal> = LoopLocal.singleton(
      (url: string) => Effect.map(Recursive(url), (n) => n + 1)
    )
    const exit = await run(Effect.exit(Recursive("postgres://db")))
    expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toMatch(
      /construction of singleton "postgres:\/\/db" asked for the same singleton and key/
    )
    await Binding.close(loop)
  })

  it("catches a cycle through another singleton", async () => {
    const { loop, run } = ownLoop()
    const A: LoopLocal.Keyed<[string], string, never, LoopLocal.LoopLocal> = LoopLocal.stickySingleton((k: string) =>
      Effect.map(B(k), (b) => `a${b}`)
    )
    const B: LoopLocal.Keyed<[string], string, never, LoopLocal.LoopLocal> = LoopLocal.stickySingleton((k: string) =>
      Effect.map(A(k), (a) => `b${a}`)
    )
    const exit = await run(Effect.exit(A("x")))
    expect(Exit.isFailure(exit) && Cause.pretty(exit.cause)).toMatch(
      /construction of stickySingleton "x" asked for the same/
    )
    // Not cached: both fail again the same way, clearly, rather than hanging.
    expect(Exit.isFailure(await run(Effect.exit(B("x"))))).toBe(true)
    await Binding.close(loop)
  })
})

describe("bad input", () => {
  it("rejects what is not an Effect with a TypeError at the call", () => {
    expect(() => LoopLocal.enter(42 as never)).toThrow(/enter expects an Effect/)
    expect(() => LoopLocal.enterOnce(null as never)).toThrow(/enterOnce expects an Effect, got null/)
    expect(() => LoopLocal.sticky({} as never)).toThrow(/sticky expects an Effect/)
    expect(() => LoopLocal.atExit((() => {}) as never)).toThrow(/atExit expects an Effect/)
    expect(() => LoopLocal.stickySingleton(undefined as never)).toThrow(/expects a function/)
  })
})
