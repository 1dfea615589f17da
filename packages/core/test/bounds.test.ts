/**
 * Bounded entries and stable identity on the Effect API (DESIGN.md "Bounded
 * entries" and "Stable identity across reloads"); platform-node's
 * test/bounds.test.ts covers the Promise API.
 */
import { describe, expect, it } from "@effect/vitest"
import { vi } from "vitest"
import { Cause, Context, Deferred, Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { LoopLocal } from "../src/index.js"
import * as Binding from "../src/internal/binding.js"
import { captureConsole, type Logged, makeLoop, recordLogs } from "./helpers.js"

const turn = Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))

const pools = (options: LoopLocal.KeyOptions<[string]>) => {
  const log: Array<string> = []
  let made = 0
  const Pool = LoopLocal.stickySingleton(
    (key: string) =>
      Effect.acquireRelease(
        Effect.sync(() => ({ key, n: ++made })),
        (p) => Effect.sync(() => void log.push(`released ${p.key}`))
      ),
    options
  )
  return { log, Pool, made: () => made }
}

describe("capacity (Effect)", () => {
  it("evicts the least recently used others past it, released a turn later; a hit is a use", async () => {
    const { log, Pool } = pools({ capacity: 2 })
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        const a = yield* Pool("a")
        yield* Pool("b")
        expect(yield* Pool("a")).toBe(a)
        yield* Pool("c")
        expect(log).toEqual([])
        yield* turn
        expect(log).toEqual(["released b"])
        const held = yield* LoopLocal.inspect
        expect(held.map((e) => e.key)).toEqual(['"a"', '"c"'])
      })
    )
    await loop.dispose()
  })

  it("bounds memoize(f)'s builds per loop too, and memoize(f).invalidate rebuilds", async () => {
    class Db extends Context.Tag("Db")<Db, { readonly url: string; readonly n: number }>() {}
    const log: Array<string> = []
    let builds = 0
    const DbFor = LoopLocal.memoize(
      (url: string) =>
        Layer.scoped(
          Db,
          Effect.acquireRelease(
            Effect.sync(() => ({ url, n: ++builds })),
            (db) => Effect.sync(() => void log.push(`closed ${db.url}`))
          )
        ),
      { capacity: 1 }
    )
    const loop = makeLoop()
    const first = await loop.runPromise(Effect.provide(Db, DbFor("a")))
    expect(await loop.runPromise(Effect.provide(Db, DbFor("a")))).toBe(first)
    await loop.runPromise(Effect.provide(Db, DbFor("b")))
    await loop.runPromise(turn)
    expect(log).toEqual(["closed a"])
    await loop.runPromise(DbFor.invalidate("b"))
    expect(log).toEqual(["closed a", "closed b"])
    expect((await loop.runPromise(Effect.provide(Db, DbFor("b")))).n).toBe(3)
    await loop.dispose()
  })
})

describe("times to live (Effect)", () => {
  it("timeToLive: the next call after it constructs anew; idleTimeToLive: an unused value goes", async () => {
    const ttl = pools({ timeToLive: "30 millis" })
    const idle = pools({ idleTimeToLive: "30 millis" })
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        const first = yield* ttl.Pool("token")
        yield* idle.Pool("idle")
        // Sweeps run every quarter of the time, so a value goes at most about half its time late: a margin of 120 ms.
        yield* Effect.sleep("150 millis")
        expect(idle.log).toEqual(["released idle"])
        const second = yield* ttl.Pool("token")
        expect(second).not.toBe(first)
        yield* turn
        expect(ttl.log).toEqual(["released token"])
        expect((yield* LoopLocal.inspect).map((e) => e.key)).toEqual(['"token"'])
      })
    )
    await loop.dispose()
  })

  it("rejects a duration that is not positive with a TypeError at definition", () => {
    for (const d of [0, -1, "soon", Number.NaN]) {
      expect(() => pools({ idleTimeToLive: d as never })).toThrow(/idleTimeToLive must be a positive Duration/)
      expect(() => pools({ timeToLive: d as never })).toThrow(/timeToLive must be a positive Duration/)
    }
    expect(() => pools({ capacity: 0 })).toThrow(/capacity must be a positive integer/)
  })
})

describe("eviction during a close (Effect)", () => {
  it("a failing eviction release is logged, reaches no caller, and a close waits for one still running", async () => {
    const logs = captureConsole()
    let calls = 0
    const releaseGate = Effect.runSync(Deferred.make<void>())
    const Pool = LoopLocal.stickySingleton(
      (key: string) =>
        Effect.acquireRelease(Effect.succeed(key), (k) =>
          k === "a" ? Effect.die(new Error("close failed")) : k === "b" ? Deferred.await(releaseGate) : Effect.void
        ),
      { capacity: 1 }
    )
    const loop = Binding.makeLoop()
    await loop.runPromise(Pool("a"))
    const exit = await loop.runPromise(
      Effect.exit(
        Effect.zipRight(
          Pool("b"),
          Effect.sync(() => ++calls)
        )
      )
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    await loop.runPromise(Effect.zipRight(turn, Pool("c")))
    const closing = Binding.close(loop)
    // A later macrotask: the close has begun, with b's release still waiting for this.
    setTimeout(() => Effect.runSync(Deferred.succeed(releaseGate, undefined)), 20)
    const report = await closing
    // b's eviction release was still running when the close began: awaited, and in the report.
    expect(report.releases.map((r) => `${r.key} ${r.outcome}`).sort()).toEqual(['"b" ok', '"c" ok'])
    expect(logs.map((l) => l.message)).toEqual([expect.stringMatching(/release of stickySingleton "a" failed/)])
  })
})

describe("id (Effect)", () => {
  it("shares values between definitions under one id, and invalidate from any forgets for all", async () => {
    let made = 0
    const define = () =>
      LoopLocal.stickySingleton(
        (url: string) =>
          Effect.acquireRelease(
            Effect.sync(() => ({ url, n: ++made })),
            () => Effect.void
          ),
        { id: "core-bounds-test/db" }
      )
    const [A, B] = [define(), define()]
    const loop = makeLoop()
    const a = await loop.runPromise(A("x"))
    expect(await loop.runPromise(B("x"))).toBe(a)
    await loop.runPromise(B.invalidate("x"))
    expect((await loop.runPromise(A("x"))).n).toBe(2)
    expect(() => LoopLocal.singleton((u: string) => Effect.succeed(u), { id: "core-bounds-test/db" })).toThrow(
      TypeError
    )
    await loop.dispose()
  })
})

/** A pool per key whose values say whether they were released, and whose construction may wait for a gate. */
const gatedPools = (
  options: LoopLocal.KeyOptions<[string]>,
  gates: Map<string, Deferred.Deferred<void>> = new Map()
) => {
  const log: Array<string> = []
  const Pool = LoopLocal.stickySingleton(
    (key: string) =>
      Effect.acquireRelease(
        Effect.zipRight(
          Effect.suspend(() => {
            const gate = gates.get(key)
            return gate === undefined ? Effect.void : Deferred.await(gate)
          }),
          Effect.sync(() => ({ key, released: false }))
        ),
        (p) =>
          Effect.sync(() => {
            p.released = true
            log.push(`released ${p.key}`)
          })
      ),
    options
  )
  return { log, Pool }
}

describe("an eviction's timing (Effect)", () => {
  it("hands a value evicted in the same turn to its caller unreleased, and releases it one turn later", async () => {
    const gate = Effect.runSync(Deferred.make<void>())
    const { log, Pool } = gatedPools(
      { capacity: 1 },
      new Map([
        ["a", gate],
        ["b", gate]
      ])
    )
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        // Both constructions wait for one gate: opened, they complete in one run of the scheduler, so the second to
        // complete evicts the first before the first one's caller has resumed.
        const received = Effect.forEach(
          ["a", "b"],
          (key) => Effect.map(Pool(key), (p) => ({ key: p.key, released: p.released })),
          { concurrency: "unbounded" }
        )
        const fiber = yield* Effect.fork(received)
        yield* Effect.yieldNow()
        yield* Deferred.succeed(gate, undefined)
        expect(yield* Fiber.join(fiber)).toEqual([
          { key: "a", released: false },
          { key: "b", released: false }
        ])
        expect(log).toEqual([])
        // Forgotten at once: inspect no longer lists it, before its release has run.
        expect((yield* LoopLocal.inspect).map((e) => e.key)).toHaveLength(1)
        yield* turn
        expect(log).toHaveLength(1)
      })
    )
    await loop.dispose()
    expect(log).toHaveLength(2)
  })
})

describe("pending constructions (Effect)", () => {
  it("are neither counted against capacity nor evicted by it", async () => {
    const gate = Effect.runSync(Deferred.make<void>())
    const { log, Pool } = gatedPools({ capacity: 1 }, new Map([["slow", gate]]))
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        const slow = yield* Effect.fork(Pool("slow"))
        yield* Effect.yieldNow()
        const fast = yield* Pool("fast")
        yield* turn
        // One completed value and one pending: within the capacity of 1, and the pending one is not evicted.
        expect(log).toEqual([])
        expect((yield* LoopLocal.inspect).map((e) => e.key)).toEqual(['"fast"'])
        yield* Deferred.succeed(gate, undefined)
        expect((yield* Fiber.join(slow)).released).toBe(false)
        expect(fast.released).toBe(false)
        yield* turn
        expect(log).toEqual(["released fast"])
        expect((yield* LoopLocal.inspect).map((e) => e.key)).toEqual(['"slow"'])
      })
    )
    await loop.dispose()
  })

  it("are not evicted by idleTimeToLive or timeToLive, which count from the acquisition's completion", async () => {
    const gate = Effect.runSync(Deferred.make<void>())
    const { log, Pool } = gatedPools(
      { idleTimeToLive: "40 millis", timeToLive: "40 millis" },
      new Map([["slow", gate]])
    )
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        // A completed value, so that the owner's sweeps run while "slow" is pending.
        yield* Pool("other")
        const slow = yield* Effect.fork(Pool("slow"))
        yield* Effect.sleep("150 millis")
        expect(log).toEqual(["released other"])
        yield* Deferred.succeed(gate, undefined)
        const value = yield* Fiber.join(slow)
        // Pending for more than both times, yet a hit right after its completion is served the same value.
        expect(yield* Pool("slow")).toBe(value)
        expect(value.released).toBe(false)
        yield* Effect.sleep("150 millis")
        expect(log).toEqual(["released other", "released slow"])
        expect(yield* LoopLocal.inspect).toEqual([])
      })
    )
    await loop.dispose()
  })
})

describe("idleTimeToLive (Effect)", () => {
  it("never evicts a value hit at least that often, and evicts the one nobody asks for", async () => {
    // Hits 20 ms apart against 100 ms: a stall of 80 ms in between would be needed to make "busy" idle.
    const { log, Pool } = pools({ idleTimeToLive: "100 millis" })
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        yield* Pool("idle")
        const busy = yield* Pool("busy")
        for (let i = 0; i < 15; i++) {
          yield* Effect.sleep("20 millis")
          expect(yield* Pool("busy")).toBe(busy)
        }
        expect(log).toEqual(["released idle"])
        expect((yield* LoopLocal.inspect).map((e) => e.key)).toEqual(['"busy"'])
      })
    )
    await loop.dispose()
  })
})

describe("timers (Effect)", () => {
  it("exist only for an owner with a time to live, and are cleared when the loop closes", async () => {
    const loop = Binding.makeLoop()
    const run = <A>(effect: Effect.Effect<A, never, LoopLocal.LoopLocal>) => loop.runPromise(effect)
    await run(pools({}).Pool("a"))
    await run(pools({ capacity: 5 }).Pool("a"))
    await run(pools({ timeToLive: Duration.infinity, idleTimeToLive: Number.POSITIVE_INFINITY }).Pool("a"))
    await run(
      LoopLocal.memoize((n: number) => Layer.succeed(Tag, n), { capacity: 2 })(1).pipe(Layer.build, Effect.scoped)
    )
    expect(loop.sweeps.size).toBe(0)
    await run(pools({ idleTimeToLive: "1 second" }).Pool("a"))
    await run(pools({ timeToLive: "1 hour" }).Pool("a"))
    expect(loop.sweeps.size).toBe(2)
    await Binding.close(loop)
    expect(loop.sweeps.size).toBe(0)
  })
})

class Tag extends Context.Tag("bounds-test/Tag")<Tag, number>() {}

/** A loop of its own, closed by `close`: the close's exit shows the failures it reports. */
const ownLoop = (deadline?: Duration.DurationInput) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const loop = yield* Scope.extend(deadline === undefined ? LoopLocal.make : LoopLocal.makeWith({ deadline }), scope)
    const run = <A, E>(effect: Effect.Effect<A, E, LoopLocal.LoopLocal>) =>
      Effect.provideService(effect, LoopLocal.LoopLocal, loop)
    return { run, close: Effect.exit(Scope.close(scope, Exit.void)) }
  })

const defectMessages = (exit: Exit.Exit<unknown, unknown>): Array<string> =>
  Exit.isFailure(exit) ? Array.from(Cause.defects(exit.cause)).map((e) => (e as Error).message) : []

describe("an eviction's release (Effect)", () => {
  it("that fails is logged at WARN through Effect's logger, reaches no caller, and is only logged once done", async () => {
    const logs = captureConsole()
    const Pool = LoopLocal.stickySingleton(
      (key: string) =>
        Effect.acquireRelease(Effect.succeed({ key }), () => Effect.die(new Error(`close ${key} failed`))),
      { capacity: 1 }
    )
    const exit = await Effect.runPromise(
      Effect.gen(function* () {
        const { close, run } = yield* ownLoop()
        yield* run(Pool("a"))
        // Evicts "a": its caller gets "b", whatever a's release does.
        expect(yield* run(Pool("b"))).toEqual({ key: "b" })
        yield* turn
        yield* turn
        expect(logs).toEqual([
          {
            level: "WARN",
            message: expect.stringMatching(/^loop-local: the release of stickySingleton "a" failed after \d+ ms$/),
            cause: expect.stringMatching(/^Error: close a failed/)
          }
        ])
        return yield* close
      })
    )
    // Finished before the close began: not in the close's errors; b's own release at the close is.
    expect(defectMessages(exit)).toEqual(["close b failed"])
    expect(logs.map((l) => l.message)).toEqual([
      expect.stringMatching(/stickySingleton "a" failed/),
      expect.stringMatching(/stickySingleton "b" failed/)
    ])
  })

  it("is logged by the logger of the program that made the loop, though nobody waits for it", async () => {
    const console = captureConsole()
    const logs: Array<Logged> = []
    const Pool = LoopLocal.stickySingleton(
      (key: string) =>
        Effect.acquireRelease(Effect.succeed({ key }), () =>
          key === "a" ? Effect.die(new Error("close a failed")) : key === "b" ? Effect.never : Effect.void
        ),
      { capacity: 1 }
    )
    await Effect.runPromise(
      Effect.gen(function* () {
        const loop = yield* ownLoop("30 millis")
        yield* loop.run(Pool("a"))
        yield* loop.run(Pool("b")) // evicts "a", whose release fails
        yield* loop.run(Pool("c")) // evicts "b", whose release hangs past the deadline
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 80)))
        expect(logs.map((l) => `${l.level} ${l.message}`)).toEqual([
          expect.stringMatching(/^WARN loop-local: the release of stickySingleton "a" failed after \d+ ms$/),
          expect.stringMatching(/^WARN loop-local: the release of stickySingleton "b", evicted, is still running after/)
        ])
        yield* loop.close
      }).pipe(Effect.provide(recordLogs(logs)))
    )
    expect(logs.map((l) => l.message)).toEqual([
      expect.stringMatching(/"a" failed/),
      expect.stringMatching(/"b", evicted, is still running/),
      expect.stringMatching(/"b" abandoned/)
    ])
    expect(console).toEqual([])
  })

  it("that hangs reaches no caller, and is named abandoned at the close's deadline, logged at WARN", async () => {
    const logs: Array<Logged> = []
    const Pool = LoopLocal.stickySingleton(
      (key: string) => Effect.acquireRelease(Effect.succeed({ key }), () => (key === "a" ? Effect.never : Effect.void)),
      { capacity: 1 }
    )
    const exit = await Effect.runPromise(
      Effect.gen(function* () {
        const loop = yield* ownLoop("100 millis")
        yield* loop.run(Pool("a"))
        expect(yield* loop.run(Pool("b"))).toEqual({ key: "b" })
        yield* turn
        // The hanging release holds up nothing else of the loop.
        expect(yield* loop.run(Pool("b"))).toEqual({ key: "b" })
        return yield* loop.close
      }).pipe(Effect.provide(recordLogs(logs)))
    )
    expect(defectMessages(exit)).toEqual([
      'loop-local: the release of stickySingleton "a" did not finish within the deadline (100 ms) and was abandoned'
    ])
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of stickySingleton "a" abandoned after \d+ ms$/),
        cause: expect.stringContaining("did not finish within the deadline (100 ms) and was abandoned")
      }
    ])
  })

  it("still running when a close begins is waited for, and its failure is in the close's report and errors", async () => {
    const logs = captureConsole()
    const released: Array<string> = []
    const releaseGate = Effect.runSync(Deferred.make<void>())
    const Pool = LoopLocal.stickySingleton(
      (key: string) =>
        Effect.acquireRelease(Effect.succeed({ key }), () =>
          key === "a"
            ? Effect.zipRight(Deferred.await(releaseGate), Effect.die(new Error("close a failed")))
            : Effect.sync(() => void released.push(key))
        ),
      { capacity: 1 }
    )
    const loop = Binding.makeLoop()
    await loop.runPromise(Pool("a"))
    await loop.runPromise(Pool("b"))
    await loop.runPromise(turn)
    const closing = Effect.runPromise(Effect.exit(Scope.close(loop.scope, Exit.void)))
    // A later macrotask: the close has begun, with a's release still waiting for this.
    setTimeout(() => Effect.runSync(Deferred.succeed(releaseGate, undefined)), 20)
    const exit = await closing
    const report = await Binding.close(loop)
    expect(released).toEqual(["b"])
    expect(report.releases.map((r) => `${r.key} ${r.outcome}`)).toEqual(['"b" ok', '"a" failed'])
    expect(defectMessages(exit)).toEqual(["close a failed"])
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of stickySingleton "a" failed after \d+ ms$/),
        cause: expect.stringMatching(/^Error: close a failed/)
      }
    ])
  })
})

describe("bad options (Effect)", () => {
  it("are a TypeError when singleton, stickySingleton or memoize(f) is defined; infinity is accepted", () => {
    const layerFor = (n: number) => Layer.succeed(Tag, n)
    const define = [
      (options: object) => LoopLocal.singleton((k: string) => Effect.succeed(k), options),
      (options: object) => LoopLocal.stickySingleton((k: string) => Effect.succeed(k), options),
      (options: object) => LoopLocal.memoize(layerFor, options)
    ]
    for (const make of define) {
      for (const capacity of [0, -1, 1.5, Number.NaN, "10", null]) {
        expect(() => make({ capacity })).toThrow(TypeError)
        expect(() => make({ capacity })).toThrow(/options.capacity must be a positive integer/)
      }
      for (const d of [0, -1, Number.NaN, "-5 millis", "soon", "0 seconds", Duration.zero, null]) {
        expect(() => make({ idleTimeToLive: d })).toThrow(/options.idleTimeToLive must be a positive Duration/)
        expect(() => make({ timeToLive: d })).toThrow(/options.timeToLive must be a positive Duration/)
      }
      for (const id of [5, null, Symbol.for("x"), {}]) {
        expect(() => make({ id })).toThrow(/options.id must be a string/)
      }
      for (const fine of [
        { capacity: Number.POSITIVE_INFINITY },
        { idleTimeToLive: Duration.infinity, timeToLive: Number.POSITIVE_INFINITY },
        { idleTimeToLive: "1 millis", timeToLive: Duration.seconds(1), capacity: 1 }
      ]) {
        expect(() => make(fine)).not.toThrow()
      }
    }
  })
})

describe("stable identity (Effect)", () => {
  const defineIn = (api: typeof LoopLocal, id: string | undefined, made: Array<string>, by: string) =>
    api.stickySingleton(
      (url: string) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            made.push(`${by} ${url}`)
            return { url, by }
          }),
          () => Effect.void
        ),
      id === undefined ? {} : { id }
    )

  it("is shared by definitions in two copies of the package (a module reload): each constructs with its own factory", async () => {
    vi.resetModules()
    const A = (await import("../src/index.js")).LoopLocal
    vi.resetModules()
    const B = (await import("../src/index.js")).LoopLocal
    expect(A).not.toBe(B)
    const made: Array<string> = []
    const first = defineIn(A, "core-bounds-test/copies", made, "first")
    const second = defineIn(B, "core-bounds-test/copies", made, "second")
    const loop = makeLoop()
    const x = await loop.runPromise(first("x"))
    // A hit returns the shared value, whichever definition made it.
    expect(await loop.runPromise(second("x"))).toBe(x)
    // A call that constructs uses its own definition's factory.
    expect(await loop.runPromise(second("y"))).toEqual({ url: "y", by: "second" })
    expect(await loop.runPromise(first("y"))).toEqual({ url: "y", by: "second" })
    await loop.runPromise(first.invalidate("y"))
    expect(await loop.runPromise(second("y"))).toEqual({ url: "y", by: "second" })
    expect(made).toEqual(["first x", "second y", "second y"])
    // Another loop has values of its own.
    const other = makeLoop()
    expect(await other.runPromise(second("x"))).not.toBe(x)
    await other.dispose()
    await loop.dispose()
  })

  it("re-evaluated 100 times still makes one value per key and loop", async () => {
    const made: Array<string> = []
    const definitions = Array.from({ length: 100 }, (_, i) => defineIn(LoopLocal, "core-bounds-test/100", made, `${i}`))
    const loop = makeLoop()
    const values = await loop.runPromise(
      Effect.all(
        definitions.map((d) => d("db")),
        { concurrency: "unbounded" }
      )
    )
    expect(new Set(values).size).toBe(1)
    expect(made).toHaveLength(1)
    await loop.dispose()
  })

  it("without an id, each definition owns its values", async () => {
    const made: Array<string> = []
    const [a, b] = [defineIn(LoopLocal, undefined, made, "a"), defineIn(LoopLocal, undefined, made, "b")]
    const loop = makeLoop()
    expect(await loop.runPromise(a("x"))).not.toBe(await loop.runPromise(b("x")))
    expect(made).toEqual(["a x", "b x"])
    await loop.dispose()
  })

  it("names one kind: another kind under it (singleton, stickySingleton, memoize) is a TypeError at definition", () => {
    LoopLocal.memoize((n: number) => Layer.succeed(Tag, n), { id: "core-bounds-test/memoize" })
    expect(() =>
      LoopLocal.stickySingleton((n: number) => Effect.succeed(n), { id: "core-bounds-test/memoize" })
    ).toThrow(/the id "core-bounds-test\/memoize" names a memoize of the Effect API already/)
    expect(() => LoopLocal.singleton((n: number) => Effect.succeed(n), { id: "core-bounds-test/memoize" })).toThrow(
      TypeError
    )
    // The same kind again is fine.
    LoopLocal.memoize((n: number) => Layer.succeed(Tag, n + 1), { id: "core-bounds-test/memoize" })
  })

  it("applies the latest definition's options from its first call on", async () => {
    const made: Array<string> = []
    const log: Array<string> = []
    const define = (options: LoopLocal.KeyOptions<[string]>) =>
      LoopLocal.stickySingleton(
        (k: string) =>
          Effect.acquireRelease(
            Effect.sync(() => void made.push(k)),
            () => Effect.sync(() => void log.push(`released ${k}`))
          ),
        { id: "core-bounds-test/latest", ...options }
      )
    const first = define({})
    const loop = makeLoop()
    await loop.runPromise(Effect.all([first("a"), first("b")]))
    const second = define({ capacity: 1 })
    // Defined, not called yet: the first definition's (no) bounds still apply.
    await loop.runPromise(first("c"))
    await loop.runPromise(turn)
    expect(log).toEqual([])
    await loop.runPromise(second("d"))
    await loop.runPromise(turn)
    expect(log.sort()).toEqual(["released a", "released b", "released c"])
    expect((await loop.runPromise(LoopLocal.inspect)).map((e) => e.key)).toEqual(['"d"'])
    // From then on, whichever definition is called.
    await loop.runPromise(first("e"))
    await loop.runPromise(turn)
    expect((await loop.runPromise(LoopLocal.inspect)).map((e) => e.key)).toEqual(['"e"'])
    await loop.dispose()
  })
})

describe("the latest definition's times to live (Effect)", () => {
  const defineWith = (id: string, log: Array<string>, options: LoopLocal.KeyOptions<[string]>) =>
    LoopLocal.stickySingleton(
      (k: string) =>
        Effect.acquireRelease(Effect.succeed({ k }), () => Effect.sync(() => void log.push(`released ${k}`))),
      { id, ...options }
    )

  it("apply from its first call on, when that call is a hit on a value made before", async () => {
    const log: Array<string> = []
    const loop = Binding.makeLoop()
    const a = await loop.runPromise(defineWith("core-bounds-test/ttl-added", log, {})("a"))
    const later = defineWith("core-bounds-test/ttl-added", log, { idleTimeToLive: "40 millis" })
    expect(await loop.runPromise(later("a"))).toBe(a)
    expect(loop.sweeps.size).toBe(1)
    await loop.runPromise(Effect.sleep("200 millis"))
    expect(log).toEqual(["released a"])
    expect(loop.inspect()).toEqual([])
    await Binding.close(loop)
  })

  it("replace the sweeps of the times before, from its first call on", async () => {
    const log: Array<string> = []
    const loop = Binding.makeLoop()
    const a = await loop.runPromise(
      defineWith("core-bounds-test/ttl-changed", log, { idleTimeToLive: "10 seconds" })("a")
    )
    const later = defineWith("core-bounds-test/ttl-changed", log, { idleTimeToLive: "40 millis" })
    expect(await loop.runPromise(later("a"))).toBe(a)
    await loop.runPromise(Effect.sleep("200 millis"))
    expect(log).toEqual(["released a"])
    await Binding.close(loop)
  })

  it("are none when it has none: its owner's timer goes, and nothing is evicted", async () => {
    const log: Array<string> = []
    const loop = Binding.makeLoop()
    const a = await loop.runPromise(
      defineWith("core-bounds-test/ttl-removed", log, { idleTimeToLive: "40 millis" })("a")
    )
    expect(loop.sweeps.size).toBe(1)
    const later = defineWith("core-bounds-test/ttl-removed", log, {})
    expect(await loop.runPromise(later("a"))).toBe(a)
    await loop.runPromise(Effect.sleep("200 millis"))
    expect(log).toEqual([])
    expect(loop.sweeps.size).toBe(0)
    expect(await loop.runPromise(later("a"))).toBe(a)
    await Binding.close(loop)
    expect(log).toEqual(["released a"])
  })
})

describe("singleton, nothing to release (Effect)", () => {
  it("is bounded alike: an evicted value is forgotten, and the next call runs the effect again", async () => {
    const runs: Array<string> = []
    const Load = LoopLocal.singleton(
      (key: string) =>
        Effect.sync(() => {
          runs.push(key)
          return { key }
        }),
      { capacity: 1, timeToLive: "40 millis" }
    )
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        const a = yield* Load("a")
        expect(yield* Load("a")).toBe(a)
        yield* Load("b")
        expect((yield* LoopLocal.inspect).map((e) => e.key)).toEqual(['"b"'])
        expect(yield* Load("a")).not.toBe(a)
        yield* Effect.sleep("150 millis")
        expect(yield* LoopLocal.inspect).toEqual([])
        yield* Load("a")
      })
    )
    expect(runs).toEqual(["a", "b", "a", "a"])
    await loop.dispose()
  })
})

describe("LoopLocal.shutdown and an eviction (Effect)", () => {
  it("settles only after an eviction's release still running when it began, and reports it", async () => {
    const log: Array<string> = []
    const releaseGate = Effect.runSync(Deferred.make<void>())
    const Pool = LoopLocal.stickySingleton(
      (key: string) =>
        Effect.acquireRelease(Effect.succeed({ key }), () =>
          Effect.zipRight(
            key === "shutdown-a" ? Deferred.await(releaseGate) : Effect.void,
            Effect.sync(() => void log.push(`released ${key}`))
          )
        ),
      { capacity: 1 }
    )
    try {
      await LoopLocal.runPromise(Pool("shutdown-a"))
      await LoopLocal.runPromise(Pool("shutdown-b"))
      await LoopLocal.runPromise(turn)
      const closing = Effect.runPromise(LoopLocal.shutdown)
      // A later macrotask: the shutdown has begun, with a's release still waiting for this.
      setTimeout(() => Effect.runSync(Deferred.succeed(releaseGate, undefined)), 20)
      const report = await closing
      expect(log).toEqual(["released shutdown-b", "released shutdown-a"])
      expect(report.releases.filter((r) => r.key.startsWith('"shutdown-')).map((r) => `${r.key} ${r.outcome}`)).toEqual(
        ['"shutdown-b" ok', '"shutdown-a" ok']
      )
    } finally {
      // The realm's default loop, closed: a fresh one for whatever runs after in this worker.
      Binding.renewDefaultLoop()
    }
  })
})

describe("an eviction's release that hangs outside any close (Effect)", () => {
  it("is logged at WARN once the loop's deadline has passed, and still reported by a later close", async () => {
    const logs = captureConsole()
    const Pool = LoopLocal.stickySingleton(
      (key: string) => Effect.acquireRelease(Effect.succeed({ key }), () => (key === "a" ? Effect.never : Effect.void)),
      { capacity: 1 }
    )
    const loop = Binding.makeLoop({ deadlineMs: 100 })
    await loop.runPromise(Pool("a"))
    await loop.runPromise(Pool("b"))
    await loop.runPromise(Effect.sleep("300 millis"))
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
