import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { equalKeys, hashKey, keyOfArgs } from "../src/internal/key.js"
import { KeyTable } from "../src/internal/table.js"
import { LoopLocal } from "../src/index.js"
import { makeLoop } from "./helpers.js"

describe("KeyTable", () => {
  it("deletes by the key set returned, after the caller mutated the object it passed", () => {
    const table = new KeyTable<string>(false)
    const config = { host: "a", opts: { ssl: true } }
    const stored = table.set(config, "pool")
    config.host = "b"
    config.opts.ssl = false
    expect(table.get({ host: "a", opts: { ssl: true } })).toBe("pool")
    expect(table.get(config)).toBeUndefined()
    table.delete(stored, "pool")
    expect(table.get({ host: "a", opts: { ssl: true } })).toBeUndefined()
    expect([...table.values()]).toEqual([])
  })

  it("returns a copy of a structural key, and primitive and identity keys themselves", () => {
    const table = new KeyTable<number>(false)
    const config = { host: "a", hosts: ["x"] }
    const stored = table.set(config, 1)
    expect(stored).not.toBe(config)
    expect(stored).toEqual(config)
    const instance = new Map()
    expect(table.set("url", 2)).toBe("url")
    expect(table.set(instance, 3)).toBe(instance)
    expect(new KeyTable<number>(true).set(config, 4)).toBe(config)
  })

  it("deletes a value only while it is the one stored", () => {
    for (const byIdentity of [false, true]) {
      const table = new KeyTable<string>(byIdentity)
      const key = byIdentity ? "k" : { k: 1 }
      const first = table.set(key, "first")
      const second = table.set(key, "second")
      table.delete(first, "first")
      expect(table.get(key)).toBe("second")
      table.delete(second, "second")
      expect(table.get(key)).toBeUndefined()
    }
  })
})

describe("keys with an own __proto__ property (as JSON.parse makes them)", () => {
  it("are equal when parsed from one text, and stored with the property, not as a prototype", () => {
    const table = new KeyTable<number>(false)
    const stored = table.set(JSON.parse('{"host":"db","__proto__":{"a":1}}'), 1)
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype)
    expect(Object.keys(stored as object)).toEqual(["host", "__proto__"])
    expect(table.get(JSON.parse('{"host":"db","__proto__":{"a":1}}'))).toBe(1)
    table.set(JSON.parse('{"host":"db","__proto__":"x"}'), 2)
    expect(table.get(JSON.parse('{"host":"db","__proto__":"x"}'))).toBe(2)
    expect(table.get({ host: "db" })).toBeUndefined()
  })

  it("differ when their __proto__ values differ", () => {
    const table = new KeyTable<number>(false)
    table.set(JSON.parse('{"__proto__":{"a":1}}'), 1)
    expect(table.get(JSON.parse('{"__proto__":{"a":2}}'))).toBeUndefined()
    table.set(JSON.parse('{"__proto__":{"a":2}}'), 2)
    expect(table.get(JSON.parse('{"__proto__":{"a":1}}'))).toBe(1)
    expect(equalKeys(JSON.parse('{"__proto__":1}'), {})).toBe(false)
    expect(equalKeys({}, JSON.parse('{"__proto__":1}'))).toBe(false)
  })
})

describe("symbol-keyed properties", () => {
  const tenant = Symbol("tenant")

  it("are part of a structural key, as in util.isDeepStrictEqual", () => {
    const table = new KeyTable<string>(false)
    table.set({ [tenant]: "acme" }, "acme")
    expect(table.get({ [tenant]: "globex" })).toBeUndefined()
    expect(table.get({ [tenant]: "acme" })).toBe("acme")
    expect(table.get({})).toBeUndefined()
    expect(table.get({ db: { [tenant]: "acme" } })).toBeUndefined()
    table.set({ db: { [tenant]: "acme" } }, "nested")
    expect(table.get({ db: { [tenant]: "globex" } })).toBeUndefined()
    expect(table.get({ db: { [tenant]: "acme" } })).toBe("nested")
  })

  it("compare by the symbol itself and ignore non-enumerable ones", () => {
    expect(equalKeys({ x: 1, [tenant]: "a" }, { [tenant]: "a", x: 1 })).toBe(true)
    expect(equalKeys({ [tenant]: "a" }, {})).toBe(false)
    expect(equalKeys({}, { [tenant]: "a" })).toBe(false)
    expect(equalKeys({ [Symbol("t")]: 1 }, { [Symbol("t")]: 1 })).toBe(false)
    expect(equalKeys(Object.defineProperty({}, tenant, { value: 1, enumerable: false }), {})).toBe(true)
    expect(hashKey({ x: 1, [tenant]: "a" }, 0)).toBe(hashKey({ [tenant]: "a", x: 1 }, 0))
  })

  it("are copied when stored", () => {
    const table = new KeyTable<string>(false)
    const config = { [tenant]: { name: "acme" } }
    const stored = table.set(config, "acme")
    config[tenant].name = "globex"
    expect(table.get({ [tenant]: { name: "acme" } })).toBe("acme")
    table.delete(stored, "acme")
    expect(table.get({ [tenant]: { name: "acme" } })).toBeUndefined()
  })
})

describe("numbers in structural keys", () => {
  const N = 20_000
  const shapes: Record<string, (i: number) => unknown> = {
    "{ v: i + 0.5 }": (i) => ({ v: i + 0.5 }),
    "{ v: i / 10 }": (i) => ({ v: i / 10 }),
    "[i * 0.25]": (i) => [i * 0.25],
    "{ lat: 48 + i / 1e4, lng: 2.35 }": (i) => ({ lat: 48 + i / 1e4, lng: 2.35 }),
    "{ v: i * 2 ** 32 }": (i) => ({ v: i * 2 ** 32 }),
    "{ v: i }": (i) => ({ v: i })
  }

  it.each(Object.entries(shapes))("spread over distinct hashes: %s", (_, make) => {
    const hashes = new Set<number>()
    for (let i = 0; i < N; i++) hashes.add(hashKey(make(i), 0))
    expect(hashes.size).toBeGreaterThan(19_000)
  })

  it("hash 0 and -0 alike, and every NaN alike", () => {
    const nanWithPayload = new Float64Array(new Uint32Array([1, 0x7ff80000]).buffer)[0]!
    expect(hashKey({ a: 0 }, 0)).toBe(hashKey({ a: -0 }, 0))
    expect(hashKey([NaN], 0)).toBe(hashKey([nanWithPayload], 0))
    const table = new KeyTable<number>(false)
    table.set({ a: -0, b: NaN }, 1)
    expect(table.get({ a: 0, b: nanWithPayload })).toBe(1)
  })
})

describe("keyOfArgs", () => {
  it("ignores trailing undefined arguments", () => {
    expect(keyOfArgs(["a", undefined])).toBe("a")
    expect(keyOfArgs(["a", undefined, undefined])).toBe("a")
    expect(keyOfArgs([undefined])).toBe(keyOfArgs([]))
    expect(keyOfArgs([undefined, undefined])).toBe(keyOfArgs([]))
    expect(equalKeys(keyOfArgs([1, 2, undefined]), keyOfArgs([1, 2]))).toBe(true)
  })

  it("keeps undefined arguments before the last defined one", () => {
    expect(equalKeys(keyOfArgs([undefined, 1]), keyOfArgs([1]))).toBe(false)
    expect(equalKeys(keyOfArgs([1, undefined, 2]), keyOfArgs([1, 2]))).toBe(false)
    expect(equalKeys(keyOfArgs([1, undefined, 2]), keyOfArgs([1, undefined, 2, undefined]))).toBe(true)
  })

  it("makes f(x) and f(x, undefined) one singleton", async () => {
    let runs = 0
    const f = LoopLocal.singleton((_a?: string, _b?: number) => Effect.sync(() => ++runs))
    const loop = makeLoop()
    const values = await loop.runPromise(
      Effect.all([f("a"), f("a", undefined), f(), f(undefined), f(undefined, undefined), f("a", 1)])
    )
    expect(values).toEqual([1, 1, 2, 2, 2, 3])
    await loop.dispose()
  })
})
