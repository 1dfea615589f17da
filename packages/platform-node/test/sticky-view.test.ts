import { describe, expect, it } from "vitest"
import { run, sticky } from "../src/index.js"

/** A disposable counting its real disposals, with a #private field its methods, getter and setter need. */
class Client {
  static defaults = { timeout: 5 }
  static Error = class ClientError extends Error {}
  #open = true
  #label = "client"
  #disposals = 0
  name = "client"
  get disposals() {
    return this.#disposals
  }
  get open() {
    return this.#open
  }
  get label() {
    return this.#label
  }
  set label(label: string) {
    this.#label = label
  }
  query(sql: string) {
    if (!this.#open) throw new Error("closed")
    return `rows of ${sql}`
  }
  async [Symbol.asyncDispose]() {
    this.#disposals++
    this.#open = false
  }
}

/** Asserts what holds for every view: methods on the original, stable identity, no-op disposal. */
const expectCommonView = async <A extends object>(value: A, view: A, method: keyof A & string) => {
  const v = view as Record<string | symbol, unknown>
  expect(v[method]).toBe(v[method])
  expect(typeof v[method]).toBe("function")
  expect(view.constructor).toBe(value.constructor)
  expect(Object.getPrototypeOf(view)).toBe(Object.getPrototypeOf(value))
  expect(method in view).toBe(true)
  expect("missing" in view).toBe(false)
  expect(Object.keys(view)).toEqual(Object.keys(value))
  expect(Reflect.ownKeys(view)).toEqual(Reflect.ownKeys(value))
  expect(Object.keys({ ...view })).toEqual(Object.keys(value))
  // What `using` / `await using` read: functions that do nothing.
  expect(typeof v[Symbol.dispose]).toBe("function")
  expect(typeof v[Symbol.asyncDispose]).toBe("function")
  expect((v[Symbol.dispose] as () => unknown)()).toBeUndefined()
  await (v[Symbol.asyncDispose] as () => Promise<unknown>)()
}

describe("sticky views", () => {
  it("a class instance: #private methods, getter and setter run on the original; constructor and statics", async () => {
    const c = new Client()
    await run(async () => {
      const v = sticky(c)
      await expectCommonView(c, v, "query")
      expect(v).toBeInstanceOf(Client)
      expect(v.constructor).toBe(Client)
      expect((v.constructor as typeof Client).defaults).toEqual({ timeout: 5 })
      expect(v.query("x")).toBe("rows of x")
      expect(v.open).toBe(true)
      v.label = "primary"
      expect(c.label).toBe("primary")
      expect(v.label).toBe("primary")
      v.name = "renamed"
      expect(c.name).toBe("renamed")
      {
        await using u = sticky(c)
        expect(u.query("y")).toBe("rows of y")
      }
      expect(c.open).toBe(true)
      expect(c.disposals).toBe(0)
    })
    expect(c.disposals).toBe(1)
    expect(c.open).toBe(false)
  })

  it("a plain object literal: methods see the original as `this`, writes, deletes and definitions go to it", async () => {
    let disposed = 0
    const o = {
      n: 1,
      inc() {
        return ++this.n
      },
      [Symbol.dispose]() {
        disposed++
      }
    } as { n: number; extra?: number; inc(): number; [Symbol.dispose](): void }
    await run(async () => {
      const v = sticky(o)
      await expectCommonView(o, v, "inc")
      const inc = v.inc
      expect(inc()).toBe(2)
      expect(o.n).toBe(2)
      v.n = 5
      expect(o.n).toBe(5)
      Object.defineProperty(v, "extra", { value: 1, enumerable: true, configurable: true, writable: true })
      expect(o.extra).toBe(1)
      delete v.extra
      expect("extra" in o).toBe(false)
      {
        using _ = sticky(o)
      }
      expect(disposed).toBe(0)
    })
    expect(disposed).toBe(1)
  })

  it("a frozen object: methods, Symbol.dispose and spread read without a Proxy invariant TypeError", async () => {
    let disposed = 0
    const frozen = Object.freeze({
      name: "frozen",
      query() {
        return "rows"
      },
      [Symbol.dispose]() {
        disposed++
      }
    })
    await run(async () => {
      const v = sticky(frozen)
      await expectCommonView(frozen, v, "query")
      expect(v.query()).toBe("rows")
      expect(v.name).toBe("frozen")
      expect({ ...v }.name).toBe("frozen")
      expect(Object.getOwnPropertyDescriptor(v, "query")?.value).toBe(frozen.query)
      expect(Object.getOwnPropertyDescriptor(v, "name")).toMatchObject({ value: "frozen", enumerable: true })
      // Writes go to the original, which refuses them (strict mode: a TypeError), as on the original.
      expect(() => {
        ;(v as { name: string }).name = "changed"
      }).toThrow(TypeError)
      expect(frozen.name).toBe("frozen")
      {
        using _ = sticky(frozen)
      }
      expect(disposed).toBe(0)
    })
    expect(disposed).toBe(1)
  })

  it("a frozen object with `await using`, as the README shows", async () => {
    const log: Array<string> = []
    const client = Object.freeze({
      query: async () => "rows",
      async [Symbol.asyncDispose]() {
        log.push("real dispose")
      }
    })
    await run(async () => {
      {
        await using c = sticky(client)
        log.push(await c.query())
      }
      log.push("block left")
    })
    expect(log).toEqual(["rows", "block left", "real dispose"])
  })

  it("a frozen class instance: #private methods, instanceof and constructor", async () => {
    const c = new Client()
    Object.freeze(c)
    await run(async () => {
      const v = sticky(c)
      await expectCommonView(c, v, "query")
      expect(v).toBeInstanceOf(Client)
      expect(v.constructor).toBe(Client)
      expect(v.query("x")).toBe("rows of x")
      // The setter writes a #private field, which freezing does not cover.
      v.label = "frozen"
      expect(c.label).toBe("frozen")
    })
    expect(c.disposals).toBe(1)
    expect(c.open).toBe(false)
  })

  it("an object with non-configurable, non-writable properties, function-valued included", async () => {
    const o = Object.defineProperties({ [Symbol.dispose]() {} } as Record<string | symbol, unknown>, {
      handler: { value: function handler() {}, enumerable: true, writable: false, configurable: false },
      limit: { value: 3, enumerable: true, writable: false, configurable: false }
    })
    await run(async () => {
      const v = sticky(o as { handler(): void; limit: number; [Symbol.dispose](): void })
      await expectCommonView(o, v, "handler")
      expect(typeof v.handler).toBe("function")
      expect(v.limit).toBe(3)
      expect(Object.keys(v)).toEqual(["handler", "limit"])
      expect({ ...v }.limit).toBe(3)
    })
  })

  it("a sealed object: existing properties are written on the original, new ones refused", async () => {
    const o = Object.seal({
      n: 1,
      get double() {
        return this.n * 2
      },
      [Symbol.dispose]() {}
    })
    await run(async () => {
      const v = sticky(o)
      expect(v.n).toBe(1)
      v.n = 4
      expect(o.n).toBe(4)
      expect(v.double).toBe(8)
      expect(() => {
        ;(v as { added?: number }).added = 1
      }).toThrow(TypeError)
      expect("added" in o).toBe(false)
      expect(Object.keys(v)).toEqual(["n", "double"])
    })
  })

  it("a null-prototype object: methods and keys; no constructor", async () => {
    const o = Object.assign(Object.create(null) as { n: number; get(): number; [Symbol.dispose](): void }, {
      n: 7,
      get(this: { n: number }) {
        return this.n
      },
      [Symbol.dispose]() {}
    })
    await run(async () => {
      const v = sticky(o)
      await expectCommonView(o, v, "get")
      expect(Object.getPrototypeOf(v)).toBeNull()
      expect(v.constructor).toBeUndefined()
      expect(v.get()).toBe(7)
    })
  })

  it("keeps class-valued properties unbound: identity, statics and `new` as on the original", async () => {
    class Model {
      static table = "models"
      id = 0
    }
    const o = { Model, helpers: { Client }, [Symbol.dispose]() {} }
    await run(async () => {
      const v = sticky(o)
      expect(v.Model).toBe(Model)
      expect(v.Model.table).toBe("models")
      expect(new v.Model()).toBeInstanceOf(Model)
      expect(v.helpers.Client).toBe(Client)
      const c = sticky(new Client())
      expect((c.constructor as typeof Client).Error).toBe(Client.Error)
    })
  })

  it("a callable disposable stays callable, a disposable class constructible", async () => {
    const f = Object.assign((x: number) => x + 1, { [Symbol.dispose]() {} })
    class Registry {
      static [Symbol.dispose]() {}
      entries = []
    }
    await run(async () => {
      const v = sticky(f)
      expect(typeof v).toBe("function")
      expect(v(1)).toBe(2)
      expect(v.length).toBe(1)
      const R = sticky(Registry)
      expect(new R()).toBeInstanceOf(Registry)
      expect(Object.getPrototypeOf(new R())).toBe(Registry.prototype)
    })
  })

  it("refuses what would make the view break its own invariants: freezing it, non-configurable definitions", async () => {
    const o = { n: 1, [Symbol.dispose]() {} }
    await run(async () => {
      const v = sticky(o)
      expect(() => Object.freeze(v)).toThrow(TypeError)
      expect(() => Object.defineProperty(v, "fixed", { value: 1, configurable: false })).toThrow(TypeError)
      expect("fixed" in o).toBe(false)
      expect(Object.isFrozen(o)).toBe(false)
      expect(v.n).toBe(1)
    })
  })
})
