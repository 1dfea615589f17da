/**
 * Entering resources for Promise code: acquired now, released when the
 * current loop ends.
 *
 * @since 0.1.0
 */
import * as core from "@loop-local/core/internal"
import * as internal from "./internal/current.js"
import { viewOf } from "./internal/sticky-view.js"

/** `enterOnce` and `sticky` share one key space, the value's identity, with the Effect side and every package copy. */
const identity = core.realmOwner("identity", true)

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
  const given = release === undefined ? undefined : internal.releaseWith(release)
  // A value that is there already needs no construction (nor its fiber): it joins the release order now. Whatever
  // throws on the way (a closed loop, a getter of `then` or of its dispose method) rejects, as it would in an
  // async function.
  try {
    if (!internal.isThenable(value)) {
      const releaseValue = internal.releaseOf(value, given)
      if (releaseValue instanceof TypeError) return Promise.reject(releaseValue)
      core.insert({ loop, kind: "enter", key: value, value, release: releaseValue })
      return Promise.resolve(value)
    }
  } catch (error) {
    return Promise.reject(error)
  }
  // `start` only returns `value`, so no user code runs as this construction: it is in no table.
  const construction = { loop, table: undefined, kind: "enter" as const, key: value, settled: false }
  return core.acquireEach({
    loop,
    kind: "enter",
    key: value,
    chain: internal.currentChain(),
    acquisition: internal.acquirePromise(construction, () => value, given)
  })
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
  return (core.cachedPromise({ loop, owner: identity, key: value }) ??
    core.acquire({
      loop,
      owner: identity,
      kind: "enterOnce",
      key: value,
      chain: internal.currentChain(),
      make: () =>
        internal.acquirePromise(
          internal.construction(loop, identity, "enterOnce", value),
          () => value,
          release === undefined ? undefined : internal.releaseWith(release)
        )
    })) as Promise<A>
}

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
  if (core.lookup({ loop, owner: identity, key: value }) === undefined) {
    const release = internal.releaseOf(value, undefined)
    if (release instanceof TypeError) throw release
    core.insert({ loop, owner: identity, kind: "sticky", key: value, value, release })
  }
  return viewOf(value)
}
