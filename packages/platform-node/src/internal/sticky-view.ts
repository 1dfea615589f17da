/**
 * The view `sticky` returns: reads, writes and method calls reach the value
 * itself, while its `Symbol.asyncDispose` and `Symbol.dispose` do nothing.
 *
 * @internal
 */

const views = new WeakMap<object, object>()

/** The view of `value`, made on first use: `viewOf(x) === viewOf(x)`. @internal */
export const viewOf = <A extends object>(value: A): A => {
  let view = views.get(value)
  if (view === undefined) {
    view = makeView(value)
    views.set(value, view)
  }
  return view as A
}

type Constructor = new (...args: Array<unknown>) => object

const disposeNothing = () => {}
const disposeNothingAsync = async () => {}

/**
 * Whether `f` is a class (or a built-in constructor such as `Map`): its
 * `prototype` is read-only, unlike that of any function written as a method.
 * A class is returned unbound: it cannot be called without `new`, which
 * ignores a bound `this`, so binding would gain nothing and lose its
 * identity, its statics and its `prototype`.
 */
const isClass = (f: object) => Reflect.getOwnPropertyDescriptor(f, "prototype")?.writable === false

const makeView = (value: object): object => {
  // Proxy invariants tie a proxy to its target's non-configurable properties and extensibility: with a frozen
  // value as target, `get` would have to return its methods unbound and its real disposal. So the target is an
  // empty, extensible stand-in, which constrains nothing, and every trap works on `value` instead. A function
  // value needs a callable, constructible stand-in: a bound class is both, and has no non-configurable
  // `prototype` of its own, unlike `function () {}`.
  const standIn = typeof value === "function" ? class {}.bind(null) : Object.create(null)
  /** Each method bound once, so that `view.m === view.m`. */
  const methods = new WeakMap<object, unknown>()
  const view: object = new Proxy(standIn, {
    get(_, key) {
      if (key === Symbol.asyncDispose) return disposeNothingAsync
      if (key === Symbol.dispose) return disposeNothing
      // `value` as receiver: getters run on the original, so they can read #private fields.
      const property: unknown = Reflect.get(value, key, value)
      if (typeof property !== "function" || key === "constructor") return property
      let method = methods.get(property)
      if (method === undefined) {
        method = isClass(property) ? property : property.bind(value)
        methods.set(property, method)
      }
      return method
    },
    set: (_, key, property) => Reflect.set(value, key, property, value),
    has: (_, key) => Reflect.has(value, key),
    ownKeys: () => Reflect.ownKeys(value),
    getOwnPropertyDescriptor(_, key) {
      const descriptor = Reflect.getOwnPropertyDescriptor(value, key)
      // A property reported non-configurable must be so on the stand-in too, which would then hold `get` to its
      // raw value: report every property as configurable.
      if (descriptor !== undefined) descriptor.configurable = true
      return descriptor
    },
    // Likewise, defining a non-configurable property through the view is refused (a TypeError), before it
    // reaches `value`.
    defineProperty: (_, key, descriptor) =>
      descriptor.configurable !== false && Reflect.defineProperty(value, key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(value, key),
    getPrototypeOf: () => Reflect.getPrototypeOf(value),
    setPrototypeOf: (_, prototype) => Reflect.setPrototypeOf(value, prototype),
    // A non-extensible stand-in would have to list exactly `value`'s keys as its own: refuse (a TypeError from
    // `Object.freeze(view)`); `Object.isFrozen(view)` is therefore false even for a frozen value.
    preventExtensions: () => false,
    apply: (_, self, args) => Reflect.apply(value as (...args: Array<unknown>) => unknown, self, args),
    // `new view()` constructs as `new value()` would, with `value.prototype`.
    construct: (_, args, newTarget) =>
      Reflect.construct(value as Constructor, args, newTarget === view ? (value as Constructor) : newTarget)
  })
  return view
}
