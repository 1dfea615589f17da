/**
 * What the JS realm shares across every copy of this package: the sequence of
 * loop ids, the default loop, and owners that must be one per realm. Owns
 * making and closing loops; it knows nothing of entries.
 */
import * as Deferred from "effect/Deferred"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type * as LoopLocal from "../LoopLocal.js"
import { close } from "./close.js"
import { makeOwner, type Owner } from "./entry.js"
import { LoopImpl } from "./loop.js"

interface Realm {
  nextLoopId: number
  defaultLoop: LoopImpl | undefined
  readonly owners: Map<string, Owner>
}

let realmCache: Realm | undefined

/** Kept on `globalThis` under a `Symbol.for` key, so that every copy of this package in the realm finds the same. */
const realm = (): Realm => {
  if (realmCache !== undefined) return realmCache
  const slot = Symbol.for("@loop-local/core/Realm")
  const global = globalThis as { [slot]?: Realm }
  global[slot] ??= { nextLoopId: 1, defaultLoop: undefined, owners: new Map() }
  realmCache = global[slot]
  return realmCache
}

/** The realm's one owner under `name`: what every copy of the package must share, such as the `enterOnce` keys. @internal */
export const realmOwner = (name: string, byIdentity: boolean): Owner => {
  const owners = realm().owners
  let owner = owners.get(name)
  if (owner === undefined) {
    owner = makeOwner(byIdentity)
    owners.set(name, owner)
  }
  return owner
}

/**
 * A loop closed with the current scope; `deadlineMs` bounds its releases. Its
 * close is a finalizer of that scope; a scope of its own (`loop.scope`) is
 * forked from it only when asked for, with the close as its first finalizer.
 *
 * @internal
 */
export const makeLoop = (deadlineMs?: number): Effect.Effect<LoopImpl, never, Scope.Scope> =>
  Effect.flatMap(Effect.runtime<Scope.Scope>(), (runtime) => {
    const parent = Context.get(runtime.context, Scope.Scope)
    const loop: LoopImpl = new LoopImpl(realm().nextLoopId++, () =>
      ownScope(loop, Effect.runSync(Scope.fork(parent, ExecutionStrategy.sequential)))
    )
    loop.runtime = runtime
    if (deadlineMs !== undefined) loop.deadlineMs = deadlineMs
    return Effect.as(Scope.addFinalizer(parent, close(loop)), loop)
  })

/**
 * A loop's scope, made when first asked for: closing it closes the loop.
 * Asked for once the close began, it is closed already. The close is
 * registered from a fiber of its own: forked from a parent that is closing,
 * the scope is closed already and runs it at once, and it may wait.
 */
const ownScope = (loop: LoopImpl, scope: Scope.CloseableScope): Scope.CloseableScope => {
  if (loop.closing) Effect.runSync(Scope.close(scope, Exit.void))
  else Effect.runFork(Scope.addFinalizer(scope, close(loop)))
  return scope
}

/**
 * A loop with a scope of its own, closed only by `closeLoop` (or by closing
 * that scope). The scope is made when first asked for: a loop closed before
 * closes without one, and one asked for after the close is already closed.
 *
 * @internal
 */
export const unsafeMakeLoop = (deadlineMs?: number): LoopImpl => {
  const loop: LoopImpl = new LoopImpl(realm().nextLoopId++, () => ownScope(loop, Effect.runSync(Scope.make())))
  if (deadlineMs !== undefined) loop.deadlineMs = deadlineMs
  return loop
}

/** @internal */
export const defaultLoop = (): LoopImpl => (realm().defaultLoop ??= unsafeMakeLoop(undefined))

/** Puts a fresh default loop in place and returns the one it replaces, for the caller to close. @internal */
export const renewDefaultLoop = (): LoopImpl => {
  const old = defaultLoop()
  realm().defaultLoop = unsafeMakeLoop(undefined)
  return old
}

/** Closes a loop and waits for its report; later calls wait for the same close. @internal */
export const closeLoop = (loop: LoopImpl, deadlineMs?: number): Effect.Effect<LoopLocal.ShutdownReport> =>
  Effect.suspend(() => {
    if (!loop.closing && deadlineMs !== undefined) loop.deadlineMs = deadlineMs
    // Without a scope (never asked for), nothing but the close itself is registered: it runs directly.
    const closing = loop.hasScope ? Scope.close(loop.scope, Exit.void) : close(loop)
    // The report is there once the close ran to its end; a close still running elsewhere is waited for.
    return Effect.zipRight(
      Effect.exit(closing),
      Effect.suspend(() => (loop.report !== undefined ? Effect.succeed(loop.report) : Deferred.await(loop.closed)))
    )
  })
