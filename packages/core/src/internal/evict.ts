/**
 * Forgetting and releasing one value outside a close: `invalidate` now, and
 * the evictions built on it. Owns the rule that a forgotten value is released
 * one event-loop turn later (so a caller it was just handed to receives it
 * unreleased), once, within the loop's deadline. It never touches the close's
 * order or report.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as LoopLocal from "../LoopLocal.js"
import { nextTurn, record, waitUntil } from "./close.js"
import { keyText, type Owner, small } from "./entry.js"
import { abandoned } from "./errors.js"
import { LoopTag, withLoop } from "./loop.js"
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
      const released = traced(
        "loop-local.release",
        entry.kind,
        text,
        Effect.provideService(Effect.suspend(release), LoopTag, loop)
      )
      // One event-loop turn first, so that a caller the value was just handed to receives it unreleased. A close
      // that begins meanwhile waits for this release (within its deadline) and reports it.
      const fiber = yield* Effect.forkDaemon(
        Effect.zipRight(
          nextTurn,
          Effect.suspend(() => {
            entry.releaseState = small(Date.now() - loop.startedAt + 1)
            return Effect.tap(Effect.exit(released), (exit) => {
              if (loop.closing) {
                record(
                  loop,
                  entry,
                  Exit.isSuccess(exit) ? "ok" : "failed",
                  Exit.isFailure(exit) ? exit.cause : undefined,
                  text
                )
              }
            })
          })
        )
      )
      loop.evicting.set(fiber, entry)
      fiber.addObserver(() => loop.evicting.delete(fiber))
      const done = yield* waitUntil(Fiber.join(fiber), Date.now() + loop.deadlineMs)
      if (done._tag === "None") return yield* Effect.die(abandoned(entry.kind, text, loop.deadlineMs))
      return yield* done.value
    })
  )
