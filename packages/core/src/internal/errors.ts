/**
 * The errors the engine raises: a use of a closed loop, a construction that
 * would wait for itself, and a release abandoned at a deadline. Owns their
 * classes and wording; it holds no state.
 */
import * as Data from "effect/Data"
import * as Predicate from "effect/Predicate"
import type * as LoopLocal from "../LoopLocal.js"
import { renderKey } from "./render.js"

/** @internal */
export class LoopClosedError extends Data.TaggedError("LoopClosedError")<{
  readonly loopId: number
  readonly message: string
}> {}

/** @internal */
export const closedError = (loopId: number) =>
  new LoopClosedError({ loopId, message: `loop-local: loop ${loopId} is closed` })

/** Recognises the error by its tag, so that one made by another copy of the package counts too. @internal */
export const isLoopClosedError = (u: unknown): u is LoopLocal.LoopClosedError =>
  Predicate.isTagged(u, "LoopClosedError") && typeof (u as { loopId?: unknown }).loopId === "number"

/** @internal */
export const selfDependency = (kind: LoopLocal.EntryKind, key: unknown) =>
  new Error(
    `loop-local: the construction of ${kind} ${renderKey(key)} asked for the same ${kind} and key, so it would wait for itself forever`
  )

/** @internal */
export const abandoned = (kind: LoopLocal.EntryKind, key: string, deadlineMs: number) =>
  new Error(
    `loop-local: the release of ${kind} ${key} did not finish within the deadline (${deadlineMs} ms) and was abandoned`
  )

/** @internal */
export const unfinished = (kind: LoopLocal.EntryKind, key: string, deadlineMs: number) =>
  new Error(
    `loop-local: the construction of ${kind} ${key} did not finish within the close's deadline (${deadlineMs} ms) and was abandoned; its value is released if it arrives`
  )
