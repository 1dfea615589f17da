/**
 * Entering resources for Promise code: acquired now, released when the
 * current loop ends.
 *
 * @since 0.1.0
 */
import { Binding } from "@loop-local/core"
import * as internal from "./internal/current.js"
import { viewOf } from "./internal/sticky-view.js"

const enteredOnce = Binding.makeOwner({ byIdentity: true })

/**
 * Awaits `value` and registers its release for the end of the current loop:
 * `release(value)` if given, else its `Symbol.asyncDispose`, else its
 * `Symbol.dispose`. Every call enters anew.
 *
 * @since 0.1.0
 * @category acquisition
 * @example
 * ```ts
 * import { enter } from "@loop-local/platform-node"
 *
 * const socket = await enter(Promise.resolve({ end() {} }), (s) => s.end())
 * ```
 */
export function enter<A extends AsyncDisposable | Disposable>(value: A | PromiseLike<A>): Promise<A>
export function enter<A>(value: A | PromiseLike<A>, release: (value: A) => unknown): Promise<A>
export function enter<A>(value: A | PromiseLike<A>, release?: (value: A) => unknown): Promise<A> {
  if (release !== undefined) internal.requireFunction("enter's release", release)
  const loop = internal.currentLoop()
  // `start` only returns `value`, so no user code runs as this construction: its owner is immaterial.
  const construction = { owner: enteredOnce, kind: "enter" as const, loop, key: value, settled: false }
  return Binding.acquireEach(
    loop,
    "enter",
    value,
    internal.acquirePromise(construction, () => value, release)
  )
}

/**
 * Like `enter`, but once per loop per value (by identity: the object, or the
 * Promise): later and concurrent calls with the same value share the first.
 *
 * @since 0.1.0
 * @category acquisition
 * @example
 * ```ts
 * import { enterOnce } from "@loop-local/platform-node"
 *
 * const browser = { close: async () => {} }
 * await enterOnce(browser, (b) => b.close())
 * await enterOnce(browser, (b) => b.close()) // nothing more: released once, at loop end
 * ```
 */
export function enterOnce<A extends AsyncDisposable | Disposable>(value: A | PromiseLike<A>): Promise<A>
export function enterOnce<A>(value: A | PromiseLike<A>, release: (value: A) => unknown): Promise<A>
export function enterOnce<A>(value: A | PromiseLike<A>, release?: (value: A) => unknown): Promise<A> {
  if (release !== undefined) internal.requireFunction("enterOnce's release", release)
  const loop = internal.currentLoop()
  return (Binding.cachedPromise(loop, enteredOnce, value) ??
    Binding.acquire(loop, enteredOnce, "enterOnce", value, () =>
      internal.acquirePromise(
        { owner: enteredOnce, kind: "enterOnce", loop, key: value, settled: false },
        () => value,
        release
      )
    )) as Promise<A>
}

const stuck = Binding.makeOwner({ byIdentity: true })

/**
 * For `await using` (or `using`): returns a view of `value` whose disposal
 * does nothing, and registers `value`'s real disposal (its
 * `Symbol.asyncDispose`, else `Symbol.dispose`) to run once, when the current
 * loop ends. Every property and method works as on `value` (methods run with
 * `value` itself as `this`, so `#private` fields work) and `instanceof` holds.
 *
 * @since 0.1.0
 * @category acquisition
 * @example
 * ```ts
 * import { sticky } from "@loop-local/platform-node"
 *
 * class Client {
 *   #open = true
 *   get open() { return this.#open }
 *   async [Symbol.asyncDispose]() { this.#open = false }
 * }
 * const client = new Client()
 * {
 *   await using c = sticky(client)
 * } // client is still open: it closes when the loop ends
 * ```
 */
export const sticky = <A extends AsyncDisposable | Disposable>(value: A): A => {
  const loop = internal.currentLoop()
  if (Binding.lookup(loop, stuck, value) === undefined) {
    const release = internal.releaseOf(value, undefined)
    if (release instanceof TypeError) throw release
    Binding.insert(loop, stuck, "sticky", value, value, internal.releaseEffect(release))
  }
  return viewOf(value)
}
