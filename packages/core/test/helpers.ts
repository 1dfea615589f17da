import { Cause, Effect, Exit, ManagedRuntime, Option } from "effect"
import { LoopLocal } from "../src/index.js"

/**
 * A resource that counts its acquisitions and releases and yields between
 * steps, so that interleavings show. `log` records "acquire:n" / "release:n".
 */
export const makeCounter = (name = "r") => {
  const state = { acquired: 0, released: 0, log: [] as Array<string> }
  const resource = Effect.acquireRelease(
    Effect.gen(function* () {
      yield* Effect.yieldNow()
      const n = ++state.acquired
      state.log.push(`acquire:${name}${n}`)
      yield* Effect.yieldNow()
      return { name, n, released: false }
    }),
    (value) =>
      Effect.gen(function* () {
        yield* Effect.yieldNow()
        value.released = true
        state.released++
        state.log.push(`release:${name}${value.n}`)
      })
  )
  return { state, resource }
}

/** A Python-style event loop: `runPromise` is `run_until_complete`, `dispose` is `close`. */
export const makeLoop = () => ManagedRuntime.make(LoopLocal.layer)

export const isLoopClosed = (exit: Exit.Exit<unknown, unknown>): boolean =>
  Exit.isFailure(exit) &&
  Option.exists(
    Cause.dieOption(exit.cause),
    (e) => e instanceof LoopLocal.LoopClosedError && e._tag === "LoopClosedError"
  )
