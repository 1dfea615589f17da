import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, FastCheck as fc } from "effect"
import { LoopLocal } from "../src/index.js"
import { makeLoop } from "./helpers.js"

/** Runs `calls` on one loop and returns how many constructions they caused. */
const constructions = async <Args extends ReadonlyArray<unknown>>(
  calls: ReadonlyArray<Args>,
  options?: LoopLocal.KeyOptions<Args>
) => {
  let runs = 0
  const f = LoopLocal.singleton((..._args: Args) => Effect.sync(() => ++runs), options)
  const loop = makeLoop()
  const values = await loop.runPromise(Effect.forEach(calls, (args) => f(...args)))
  await loop.dispose()
  return { runs, values }
}

describe("keys", () => {
  it("compares plain object literals structurally: Pool({ host, port }) twice is one pool", async () => {
    const { runs } = await constructions([[{ host: "a", port: 5432 }], [{ host: "a", port: 5432 }]])
    expect(runs).toBe(1)
  })

  it("ignores key order and compares nested arrays and objects deeply", async () => {
    const { runs, values } = await constructions([
      [
        {
          host: "a",
          opts: {
            ssl: true,
            hosts: [
              ["x", 1],
              ["y", 2]
            ]
          }
        }
      ],
      [
        {
          opts: {
            hosts: [
              ["x", 1],
              ["y", 2]
            ],
            ssl: true
          },
          host: "a"
        }
      ],
      [
        {
          host: "a",
          opts: {
            ssl: true,
            hosts: [
              ["y", 2],
              ["x", 1]
            ]
          }
        }
      ],
      [
        {
          host: "a",
          opts: {
            ssl: false,
            hosts: [
              ["x", 1],
              ["y", 2]
            ]
          }
        }
      ]
    ])
    expect(values).toEqual([1, 1, 2, 3])
    expect(runs).toBe(3)
  })

  it("tells apart arguments that differ in arity (trailing undefined ones aside) or nesting", async () => {
    const { values } = await constructions<ReadonlyArray<unknown>>([[1, 2], [[1, 2]], [1], [], [undefined], [1, 2]])
    expect(values).toEqual([1, 2, 3, 4, 4, 1])
  })

  it("compares primitives by value, including NaN, -0 and bigint", async () => {
    const { values } = await constructions<[unknown]>([
      [NaN],
      [NaN],
      [0],
      [-0],
      [1n],
      [1n],
      ["1"],
      [1],
      [null],
      [undefined]
    ])
    expect(values).toEqual([1, 1, 2, 2, 3, 3, 4, 5, 6, 7])
  })

  it("compares Equal values by Equal/Hash, class instances and functions by identity", async () => {
    class Point {
      constructor(readonly x: number) {}
    }
    const p = new Point(1)
    const fn = () => 1
    const { values } = await constructions<[unknown]>([
      [Data.struct({ a: 1 })],
      [Data.struct({ a: 1 })],
      [Data.tuple(1, 2)],
      [p],
      [p],
      [new Point(1)],
      [fn],
      [fn],
      [() => 1]
    ])
    expect(values).toEqual([1, 1, 2, 3, 3, 4, 5, 5, 6])
  })

  it("uses options.key instead of the arguments when given", async () => {
    const { runs } = await constructions<[{ url: string; requestId: number }]>(
      [[{ url: "a", requestId: 1 }], [{ url: "a", requestId: 2 }], [{ url: "b", requestId: 3 }]],
      { key: (o) => o.url }
    )
    expect(runs).toBe(2)
  })

  it("is not fooled by a caller mutating its argument after the call", async () => {
    const config = { host: "a" }
    const { values } = await constructions([[config], [{ host: "a" }]])
    expect(values).toEqual([1, 1])
    let runs = 0
    const f = LoopLocal.singleton((_: { host: string }) => Effect.sync(() => ++runs))
    const loop = makeLoop()
    await loop.runPromise(f(config))
    config.host = "b"
    expect(await loop.runPromise(f({ host: "a" }))).toBe(1)
    expect(await loop.runPromise(f(config))).toBe(2)
    await loop.dispose()
  })

  it("keeps alternating structural keys apart, and forgets an invalidated one", async () => {
    let runs = 0
    const f = LoopLocal.stickySingleton((o: { readonly host: string }) =>
      Effect.acquireRelease(
        Effect.sync(() => ({ host: o.host, run: ++runs })),
        () => Effect.void
      )
    )
    const loop = makeLoop()
    const hosts = ["a", "b", "a", "b", "a"]
    const got = await loop.runPromise(Effect.forEach(hosts, (host) => f({ host })))
    expect(got.map((v) => v.host)).toEqual(hosts)
    expect(got.map((v) => v.run)).toEqual([1, 2, 1, 2, 1])
    await loop.runPromise(f.invalidate({ host: "a" }))
    expect((await loop.runPromise(f({ host: "a" }))).run).toBe(3)
    expect((await loop.runPromise(f({ host: "b" }))).run).toBe(2)
    await loop.dispose()
  })

  it("rejects a cyclic key with a clear TypeError instead of overflowing the stack", async () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    const f = LoopLocal.singleton((_: unknown) => Effect.succeed(1))
    const loop = makeLoop()
    const exit = await loop.runPromise(Effect.exit(f(cyclic)))
    expect(exit._tag).toBe("Failure")
    expect(String(exit._tag === "Failure" && exit.cause.toString())).toMatch(
      /TypeError: loop-local: a key must not contain itself/
    )
    await loop.dispose()
  })

  // Random JSON-like values: deep copies (with shuffled key order) are one key; different values are two.
  const jsonValue = fc.letrec((tie) => ({
    value: fc.oneof(
      { maxDepth: 3 },
      fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)),
      fc.array(tie("value"), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 3 }), tie("value"), { maxKeys: 3 })
    )
  })).value

  const reorderedCopy = (u: unknown): unknown => {
    if (Array.isArray(u)) return u.map(reorderedCopy)
    if (typeof u === "object" && u !== null) {
      return Object.fromEntries(
        Object.entries(u)
          .reverse()
          .map(([k, v]) => [k, reorderedCopy(v)])
      )
    }
    return u
  }

  it.effect.prop(
    "a deep copy with reversed key order is the same key; a value of another JSON text is another",
    [jsonValue, jsonValue],
    ([a, b]) =>
      Effect.promise(async () => {
        const { values } = await constructions<[unknown]>([[a], [reorderedCopy(a)], [b]])
        expect(values[1]).toBe(values[0])
        const sortedJson = (u: unknown): string =>
          JSON.stringify(u, (_, v) =>
            typeof v === "object" && v !== null && !Array.isArray(v)
              ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
              : v
          )
        expect(values[2] === values[0]).toBe(sortedJson(a) === sortedJson(b))
      })
  )
})
