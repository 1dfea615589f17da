/**
 * The `Scope` a construction's effect runs in, which then stays with the value
 * as its release. Owns how a cached value's finalizers are kept, and nothing
 * else: when it is closed is the close's and the evictions' business.
 */
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import { pipeArguments } from "effect/Pipeable"
import * as Scope from "effect/Scope"
import type { Release } from "./entry.js"

/**
 * A `Scope` that keeps its first finalizer as is and becomes an Effect
 * `Scope` only when a second one or a fork comes: nearly every resource
 * registers one finalizer (an `acquireRelease`), and a loop keeps one scope
 * per cached value, so a value pays a field for it instead of a Scope with a
 * Map. It also tells whether anything was registered in it, which a
 * `singleton` must not do. Closed, it behaves as a closed Effect `Scope`: what
 * is added then is finalized at once.
 *
 * @internal
 */
export class ConstructionScope implements Scope.Scope, Release {
  /** Nothing yet, the one finalizer registered, or the Effect `Scope` that holds them all. */
  private held: Scope.Scope.Finalizer | Scope.CloseableScope | undefined = undefined
  private closedWith: Exit.Exit<unknown, unknown> | undefined = undefined

  get [Scope.ScopeTypeId](): Scope.ScopeTypeId {
    return Scope.ScopeTypeId
  }

  get strategy(): ExecutionStrategy.ExecutionStrategy {
    return ExecutionStrategy.sequential
  }

  /** Whether a finalizer was registered in it, or a scope forked from it. */
  get used(): boolean {
    return this.held !== undefined
  }

  addFinalizer(finalizer: Scope.Scope.Finalizer): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closedWith !== undefined) return Effect.asVoid(finalizer(this.closedWith))
      if (this.held === undefined) {
        this.held = finalizer
        return Effect.void
      }
      return Scope.addFinalizerExit(this.promoted(), finalizer)
    })
  }

  fork(strategy: ExecutionStrategy.ExecutionStrategy): Effect.Effect<Scope.CloseableScope> {
    return Effect.suspend(() => {
      const closedWith = this.closedWith
      if (closedWith !== undefined) return Effect.tap(Scope.make(strategy), (child) => Scope.close(child, closedWith))
      return Scope.fork(this.promoted(), strategy)
    })
  }

  /**
   * The Effect `Scope` it becomes, holding the finalizer registered so far first, so that it is closed last. Made
   * in one synchronous step: a fiber that yielded halfway would let another fiber's finalizer in before the first.
   */
  private promoted(): Scope.CloseableScope {
    const held = this.held
    if (held !== undefined && typeof held !== "function") return held
    const scope = Effect.runSync(Scope.make())
    if (held !== undefined) Effect.runSync(Scope.addFinalizerExit(scope, held))
    this.held = scope
    return scope
  }

  /** Runs its finalizers, last registered first, once. */
  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.closedWith !== undefined) return Effect.void
      this.closedWith = exit
      const held = this.held
      this.held = undefined
      if (held === undefined) return Effect.void
      return typeof held === "function" ? Effect.asVoid(held(exit)) : Scope.close(held, exit)
    })
  }

  /** The value's release: closing it. */
  run(): Effect.Effect<void> {
    return this.close(Exit.void)
  }

  pipe() {
    // biome-ignore lint/complexity/noArguments: Pipeable's own convention
    return pipeArguments(this, arguments)
  }
}
