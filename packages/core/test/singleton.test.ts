import { describe, expect, it } from "@effect/vitest"
import { Cause, Data, Deferred, Effect, ExecutionStrategy, Fiber, Scope } from "effect"
import { LoopLocal } from "../src/index.js"
import * as Binding from "../src/internal/binding.js"
import { captureConsole, isLoopClosed, makeCounter, makeLoop } from "./helpers.js"

class Widget {
  static made = 0
  readonly serial = ++Widget.made
  constructor(readonly size: number) {}
}

describe("singleton (ported)", () => {
  it("caches a class-like constructor effect per loop and per arguments", async () => {
    let runs = 0
    const MakeWidget = LoopLocal.singleton((size: number) =>
      Effect.sync(() => {
        runs++
        return new Widget(size)
      })
    )
    const loop1 = makeLoop()
    const keys = [1, 2, 3, 4, 5, 6, 7]
    const first = await loop1.runPromise(
      Effect.forEach([...keys, ...keys], (k) => MakeWidget(k), { concurrency: "unbounded" })
    )
    expect(runs).toBe(7)
    for (let i = 0; i < 7; i++) {
      expect(first[i]).toBe(first[i + 7])
      expect(first[i]).toBeInstanceOf(Widget)
      expect(first[i]!.size).toBe(keys[i])
    }
    expect(new Set(first).size).toBe(7)
    const loop2 = makeLoop()
    const other = await loop2.runPromise(MakeWidget(1))
    expect(other).not.toBe(first[0])
    expect(other.size).toBe(1)
    expect(runs).toBe(8)
    await Promise.all([loop1.dispose(), loop2.dispose()])
  })

  it("caches a plain function of several arguments", async () => {
    let runs = 0
    const describeUser = LoopLocal.singleton((name: string, age: number) =>
      Effect.sync(() => {
        runs++
        return { name, age }
      })
    )
    const loop = makeLoop()
    const [a, b, c, d] = await loop.runPromise(
      Effect.all([describeUser("ann", 30), describeUser("ann", 30), describeUser("ann", 31), describeUser("bob", 30)])
    )
    expect(a).toBe(b)
    expect(a).not.toBe(c)
    expect(a).not.toBe(d)
    expect(runs).toBe(3)
    await loop.dispose()
  })

  it("caches an effect that appends to loop storage: the body runs once per key per loop", async () => {
    const remember = LoopLocal.singleton((word: string) =>
      Effect.map(LoopLocal.storage, (storage) => {
        const words = (storage.get("words") as Array<string> | undefined) ?? []
        storage.set("words", [...words, word])
        return word.toUpperCase()
      })
    )
    const words = ["a", "b", "c", "d", "e", "f", "g"]
    const loop1 = makeLoop()
    const out = await loop1.runPromise(Effect.forEach([...words, ...words], (w) => remember(w), { concurrency: 3 }))
    expect(out).toEqual([...words, ...words].map((w) => w.toUpperCase()))
    expect(await loop1.runPromise(Effect.map(LoopLocal.storage, (s) => s.get("words")))).toEqual(words)
    const loop2 = makeLoop()
    await loop2.runPromise(remember("z"))
    expect(await loop2.runPromise(Effect.map(LoopLocal.storage, (s) => s.get("words")))).toEqual(["z"])
    await Promise.all([loop1.dispose(), loop2.dispose()])
  })
})

describe("singleton semantics", () => {
  it("shares one run between concurrent first calls", async () => {
    let runs = 0
    const slow = LoopLocal.singleton((k: string) =>
      Effect.gen(function* () {
        runs++
        for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
        return { k }
      })
    )
    const loop = makeLoop()
    const all = await loop.runPromise(
      Effect.all(
        Array.from({ length: 50 }, () => slow("x")),
        { concurrency: "unbounded" }
      )
    )
    expect(runs).toBe(1)
    expect(new Set(all).size).toBe(1)
    await loop.dispose()
  })

  it("fails every waiter of a failed construction, caches nothing, and retries on the next call", async () => {
    let runs = 0
    const flaky = LoopLocal.singleton((k: string) =>
      Effect.gen(function* () {
        const run = ++runs
        yield* Effect.yieldNow()
        if (run === 1) return yield* Effect.fail(`boom ${k}`)
        return run
      })
    )
    const loop = makeLoop()
    const exits = await loop.runPromise(
      Effect.all(
        Array.from({ length: 5 }, () => Effect.either(flaky("x"))),
        { concurrency: "unbounded" }
      )
    )
    expect(runs).toBe(1)
    expect(exits.every((e) => e._tag === "Left" && e.left === "boom x")).toBe(true)
    expect(await loop.runPromise(flaky("x"))).toBe(2)
    expect(await loop.runPromise(flaky("x"))).toBe(2)
    expect(runs).toBe(2)
    await loop.dispose()
  })

  it("an interrupted waiter abandons only its own wait; the construction and the other waiters go on", async () => {
    const gate = Effect.runSync(Deferred.make<void>())
    let runs = 0
    const gated = LoopLocal.singleton((k: string) =>
      Effect.as(
        Effect.zipRight(
          Effect.sync(() => runs++),
          Deferred.await(gate)
        ),
        k
      )
    )
    const loop = makeLoop()
    const result = await loop.runPromise(
      Effect.gen(function* () {
        const waiters = yield* Effect.forEach([1, 2, 3], () => Effect.fork(gated("x")))
        yield* Effect.yieldNow()
        yield* Fiber.interrupt(waiters[0]!)
        yield* Deferred.succeed(gate, undefined)
        const rest = yield* Fiber.join(Fiber.zip(waiters[1]!, waiters[2]!))
        const first = yield* Fiber.await(waiters[0]!)
        return { rest, firstInterrupted: first._tag === "Failure" }
      })
    )
    expect(result).toEqual({ rest: ["x", "x"], firstInterrupted: true })
    expect(runs).toBe(1)
    await loop.dispose()
  })

  it("invalidate forgets a value so that the next call runs again", async () => {
    let runs = 0
    const counter = LoopLocal.singleton((k: string) => Effect.sync(() => ({ k, run: ++runs })))
    const loop = makeLoop()
    const a = await loop.runPromise(counter("x"))
    const other = await loop.runPromise(counter("y"))
    await loop.runPromise(counter.invalidate("x"))
    const b = await loop.runPromise(counter("x"))
    expect(a).not.toBe(b)
    expect(b.run).toBe(3)
    expect(await loop.runPromise(counter("y"))).toBe(other)
    await loop.runPromise(counter.invalidate("never-made"))
    await loop.dispose()
  })

  it("rejects a factory that is not a function, and options.key that is not a function, at the call", () => {
    expect(() => LoopLocal.singleton(42 as never)).toThrow(TypeError)
    expect(() => LoopLocal.stickySingleton((x: string) => Effect.succeed(x), { key: "x" as never })).toThrow(
      /options\.key/
    )
  })

  it("fails with LoopClosedError after close, and invalidate does too", async () => {
    const s = LoopLocal.singleton((k: string) => Effect.succeed(k))
    const loop = makeLoop()
    const rt = await loop.runtime()
    await loop.runPromise(s("x"))
    await loop.dispose()
    expect(isLoopClosed(await Effect.runPromiseExit(Effect.provide(s("x"), rt)))).toBe(true)
    expect(isLoopClosed(await Effect.runPromiseExit(Effect.provide(s.invalidate("x"), rt)))).toBe(true)
  })
})

describe("stickySingleton", () => {
  it("acquires once across many uses, releases once at loop close; the next loop gets a new one (ported)", async () => {
    const { state, resource } = makeCounter()
    const Pool = LoopLocal.stickySingleton((url: string) => Effect.map(resource, (r) => Object.assign(r, { url })))
    const loop1 = makeLoop()
    const uses = await loop1.runPromise(
      Effect.all(
        Array.from({ length: 20 }, () => Pool("postgres://db")),
        { concurrency: "unbounded" }
      )
    )
    await loop1.runPromise(Effect.scoped(Pool("postgres://db")))
    expect(new Set(uses).size).toBe(1)
    expect(state).toMatchObject({ acquired: 1, released: 0 })
    await loop1.dispose()
    expect(state).toMatchObject({ acquired: 1, released: 1 })
    expect(uses[0]!.released).toBe(true)

    const loop2 = makeLoop()
    const next = await loop2.runPromise(Pool("postgres://db"))
    expect(next).not.toBe(uses[0])
    expect(state).toMatchObject({ acquired: 2, released: 1 })
    await loop2.dispose()
    expect(state).toMatchObject({ acquired: 2, released: 2 })
  })

  it("releases a value's finalizers and forked scopes last registered first, once; one added after runs at once", async () => {
    const log: Array<string> = []
    let late: Effect.Effect<void> = Effect.void
    const Pool = LoopLocal.stickySingleton((url: string) =>
      Effect.gen(function* () {
        yield* Effect.addFinalizer(() => Effect.sync(() => log.push("first")))
        const child = yield* Effect.flatMap(Effect.scope, (scope) => Scope.fork(scope, ExecutionStrategy.sequential))
        yield* Scope.addFinalizer(
          child,
          Effect.sync(() => log.push("forked"))
        )
        yield* Effect.addFinalizer(() => Effect.sync(() => log.push("last")))
        const scope = yield* Effect.scope
        late = Scope.addFinalizer(
          scope,
          Effect.sync(() => log.push("late"))
        )
        return { url }
      })
    )
    const loop = makeLoop()
    await loop.runPromise(Pool("a"))
    await loop.runPromise(Pool.invalidate("a"))
    expect(log).toEqual(["last", "forked", "first"])
    await Effect.runPromise(late)
    expect(log).toEqual(["last", "forked", "first", "late"])
    await loop.dispose()
    expect(log).toHaveLength(4)
  })

  it("invalidate releases that one instance now and the next call acquires anew", async () => {
    const { state, resource } = makeCounter()
    const Pool = LoopLocal.stickySingleton((url: string) => Effect.map(resource, (r) => Object.assign(r, { url })))
    const loop = makeLoop()
    const a = await loop.runPromise(Pool("a"))
    const b = await loop.runPromise(Pool("b"))
    await loop.runPromise(Pool.invalidate("a"))
    expect(a.released).toBe(true)
    expect(b.released).toBe(false)
    expect(state.released).toBe(1)
    const a2 = await loop.runPromise(Pool("a"))
    expect(a2).not.toBe(a)
    await loop.dispose()
    expect(state).toMatchObject({ acquired: 3, released: 3 })
  })

  it("invalidate surfaces a failing release as a defect, and forgets the instance all the same", async () => {
    const logs = captureConsole()
    let made = 0
    const Fragile = LoopLocal.stickySingleton((_: string) =>
      Effect.acquireRelease(
        Effect.sync(() => ++made),
        () => Effect.die(new Error("close failed"))
      )
    )
    const loop = makeLoop()
    await loop.runPromise(Fragile("a"))
    const exit = await loop.runPromise(Effect.exit(Fragile.invalidate("a")))
    expect(exit._tag === "Failure" && Cause.pretty(exit.cause)).toMatch(/close failed/)
    expect(await loop.runPromise(Fragile("a"))).toBe(2)
    await expect(loop.dispose()).rejects.toThrow(/close failed/)
    // invalidate surfaces its failure to its caller; the loop's close logs the failure of the second instance.
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of stickySingleton "a" failed after \d+ ms$/),
        cause: expect.stringMatching(/^Error: close failed\n/)
      }
    ])
  })

  it("invalidate during a construction waits for it, lets its callers receive it unreleased, then releases it", async () => {
    // Slow to acquire, and marks itself released the moment its release starts.
    const Pool = LoopLocal.stickySingleton((_: string) =>
      Effect.acquireRelease(
        Effect.zipRight(
          Effect.repeatN(Effect.yieldNow(), 5),
          Effect.sync(() => ({ released: false }))
        ),
        (v) =>
          Effect.sync(() => {
            v.released = true
          })
      )
    )
    const receive = Effect.map(Pool("a"), (value) => ({ value, releasedAtReceipt: value.released }))
    const loop = makeLoop()
    await loop.runPromise(
      Effect.gen(function* () {
        // The invalidation waits for the construction alongside the callers, one of which asked after it did.
        const first = yield* Effect.fork(receive)
        yield* Effect.yieldNow()
        const invalidation = yield* Effect.fork(Pool.invalidate("a"))
        yield* Effect.yieldNow()
        const second = yield* Effect.fork(receive)
        const received = [yield* Fiber.join(first), yield* Fiber.join(second)]
        yield* Fiber.join(invalidation)
        expect(received[0]!.value).toBe(received[1]!.value)
        expect(received.map((r) => r.releasedAtReceipt)).toEqual([false, false])
        expect(received[0]!.value.released).toBe(true)
      })
    )
    await loop.dispose()
  })

  it("bounds invalidate by the loop's deadline: a hanging release is abandoned and named (found by the model)", async () => {
    const loop = Binding.makeLoop({ deadlineMs: 50 })
    const Stuck = LoopLocal.stickySingleton((_: string) => Effect.acquireRelease(Effect.succeed(1), () => Effect.never))
    await loop.runPromise(Stuck("a"))
    const started = Date.now()
    const exit = await loop.runPromise(Effect.exit(Stuck.invalidate("a")))
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(exit._tag === "Failure" && Cause.pretty(exit.cause)).toMatch(
      /stickySingleton "a" did not finish within the deadline \(50 ms\)/
    )
    // The close waits for a release invalidate started (within its deadline), and reports it.
    const logs = captureConsole()
    const report = await Binding.close(loop)
    expect(report.releases.map((r) => `${r.kind} ${r.key} ${r.outcome}`)).toEqual(['stickySingleton "a" abandoned'])
    expect(logs).toEqual([
      { level: "WARN", message: expect.stringMatching(/stickySingleton "a" abandoned/), cause: expect.any(String) }
    ])
  })

  it("releases a failed multi-step construction's partial resource and retries next time", async () => {
    const log: Array<string> = []
    let attempt = 0
    const Pool = LoopLocal.stickySingleton((_: string) =>
      Effect.gen(function* () {
        const n = ++attempt
        yield* Effect.acquireRelease(
          Effect.sync(() => log.push(`socket${n}`)),
          () => Effect.sync(() => log.push(`close${n}`))
        )
        yield* Effect.yieldNow()
        if (n === 1) return yield* Effect.fail("handshake failed")
        return n
      })
    )
    const loop = makeLoop()
    const failed = await loop.runPromise(Effect.either(Pool("x")))
    expect(failed).toMatchObject({ _tag: "Left", left: "handshake failed" })
    expect(log).toEqual(["socket1", "close1"])
    expect(await loop.runPromise(Pool("x"))).toBe(2)
    await loop.dispose()
    expect(log).toEqual(["socket1", "close1", "socket2", "close2"])
  })

  it("compares Data.struct keys by Equal", async () => {
    const { state, resource } = makeCounter()
    const Pool = LoopLocal.stickySingleton((_: { readonly host: string }) => resource)
    const loop = makeLoop()
    const [a, b] = await loop.runPromise(
      Effect.all([Pool(Data.struct({ host: "h" })), Pool(Data.struct({ host: "h" }))])
    )
    expect(a).toBe(b)
    expect(state.acquired).toBe(1)
    await loop.dispose()
  })
})
