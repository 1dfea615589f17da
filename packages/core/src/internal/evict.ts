/**
 * Forgetting and releasing one value outside a close: `invalidate` now, and
 * the evictions built on it. Owns the rule that a forgotten value is released
 * one event-loop turn later (so a caller it was just handed to receives it
 * unreleased), once, within the loop's deadline. It never touches the close's
 * order or report.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as LoopLocal from "../LoopLocal.js"
import { nextTurn } from "./close.js"
import { keyText, type Owner } from "./entry.js"
import { abandoned } from "./errors.js"
import { withLoop } from "./loop.js"
import { traced } from "./observe.js"

/**
 * Forgets one cached entry and releases it, waiting first for a construction
 * in flight. Bounded by the loop's deadline: past it, the release is left
 * running and the invalidation fails naming it.
 *
 * @internal
 */
export const invalidate = (owner: Owner, key: unknown): Effect.Effect<void, never, LoopLocal.LoopLocal> =>
  withLoop((loop) =>
    Effect.gen(function* () {
      const entry = loop.tables.get(owner)?.get(key)
      if (entry === undefined) return
      if (!entry.ready) {
        yield* Effect.exit(Deferred.await(entry.pending!.deferred))
        return yield* invalidate(owner, key)
      }
      entry.table!.delete(entry.key, entry)
      loop.releases.delete(entry)
      const release = entry.release
      entry.release = undefined
      if (release === undefined) return
      const text = keyText(entry)
      yield* nextTurn
      const fiber = yield* Effect.forkDaemon(traced("loop-local.release", entry.kind, text, Effect.suspend(release)))
      const done = yield* Effect.timeoutOption(Fiber.await(fiber), loop.deadlineMs)
      if (done._tag === "None") return yield* Effect.die(abandoned(entry.kind, text, loop.deadlineMs))
      return yield* done.value
    })
  )
