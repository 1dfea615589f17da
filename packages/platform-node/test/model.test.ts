/**
 * Model-based property test of the lifetime guarantees.
 *
 * A scenario is a random sequence of commands over 3 loops, 3 keys and 8
 * primitives of both APIs: uses (first use or reuse), interrupting a waiting
 * caller, invalidating, closing a loop (while constructions are in flight),
 * fibers of one loop woken by another loop's fiber, and yields of the event
 * loop between them. The keyed definitions (singleton, stickySingleton and
 * memoize(f) of the Effect API, singleton and stickySingleton of the Promise
 * API) may be bounded: a capacity of 1 or 2 (with 3 keys, evictions all the
 * time), an idle time to live and a time to live of a few milliseconds, which
 * the library's own unref'd sweep timers enforce while constructions run,
 * hits happen, invalidations run and loops close; and each may have a twin
 * defined under the same `id`, sharing its values. One scenario in two
 * focuses its uses on one bounded definition in one loop, with sleeps of a
 * few milliseconds between, so that its values come and go. Every construction follows a random behavior: how many
 * parts it acquires, how long it takes (microtasks and event-loop turns),
 * whether part of it is uninterruptible, whether it hangs (forever, or until
 * its loop has closed), whether it fails, and whether its release is slow,
 * fails, hangs or uses its loop. A world records every event on a logical
 * clock; after each run the invariants below are checked against that record,
 * against each close's report, and against what the library logged during the
 * run: a warning for each release that failed or was abandoned, naming it,
 * and nothing else.
 *
 * The invariants (each violation's message starts with its number):
 * 1. Every part and every resource that came into being is released exactly
 *    once (a value arriving after its loop began closing too), never before
 *    its loop closed, it was invalidated, or its bounds could have evicted it
 *    (see World.evictable: its time to live passed, no call within its idle
 *    time, or values of `capacity` other keys completed); a value without a
 *    release never; a caller handed a value receives it unreleased (an
 *    eviction releases one event-loop turn later).
 * 2. A close's releases run in reverse order of completion and start at once
 *    (within three event-loop turns), whatever constructions still run; a
 *    construction unfinished when the close resolves is reported abandoned.
 *    (Values their bounds could have evicted before the close are left out.)
 * 3. Every value handed to a caller is of the caller's own loop (a fiber
 *    woken by another loop's fiber included, whose currentLoop() is its own);
 *    callers of a closing loop get LoopClosedError, callers waiting when it
 *    begins closing get it at once, and an open loop never gives it.
 * 4. One construction and one value per loop and key at a time, whatever the
 *    key's shape and whoever mutates it: a key is constructed again only
 *    after its value was invalidated or could have been evicted (the old
 *    value's release, a turn later, may overlap the new construction; two
 *    constructions never overlap, so a construction in flight, a Promise
 *    singleton's Promise included, is never evicted); a failed construction
 *    is not cached;
 *    a release sees its own loop, and one at a close that uses it finds it
 *    closing and registers nothing anywhere (the default loop stays empty);
 *    invalidate fails only with LoopClosedError or its release's failure.
 * 5. Everything settles: callers, invalidations, closes; a key whose caller
 *    was interrupted, at whatever point of its call, is not left pending.
 * 6. A shared construction is interrupted only by its loop's close; a release
 *    still running when a close resolves (one run by invalidate or by an
 *    eviction included: the close waits for them) is reported abandoned, and
 *    one that failed during the close, failed.
 * 7. An open loop's bounded owner never holds more completed values than its
 *    capacity (checked on the library's tables, as inspect sees them, after
 *    every command, sleep, yield and receipt), and none of its constructions
 *    in flight has been forgotten.
 * 8. An eviction's release that fails or hangs reaches no caller (an
 *    invalidation fails only with its own key's release) and is logged as a
 *    WARN (failed, or abandoned at the close that waited for it); one that
 *    ended before its loop's close began is not in that close's report.
 *
 * Keys come in the shapes that broke the library when tried adversarially:
 * plain objects (key order varying), arrays, objects with own enumerable
 * symbol properties, objects with an own "__proto__" property as JSON.parse
 * makes them, objects holding fractional numbers, several arguments, and
 * trailing `undefined` arguments. Factories may fill in defaults on their
 * argument, and callers may mutate theirs after the call. Each scenario's key
 * slot has one shape, so the model knows which calls are one key.
 *
 * `pnpm test` runs MODEL_RUNS (default 1,000) cases with a fixed seed, and
 * checks that they reached every case the coverage counts; `pnpm test:soak`
 * runs 100,000 with a random one, and prints that coverage. The seed is
 * printed on failure; rerun it with MODEL_SEED=<seed>. MODEL_SURVEY=1 runs
 * every case without stopping at the first violation and prints how often
 * each kind of violation occurred (to see what a change breaks; with
 * MODEL_SURVEY_OUT=<file> it writes each kind's first scenario there, to
 * rerun with MODEL_REPLAY=<file>:<index>). MODEL_ONLY=shapes,mutate,trailing,
 * shield,relay,releaseUses,interrupt,memoize,capacity,idle,ttl,id narrows the
 * scenarios to the base model plus the features named (capacity, idle and
 * ttl: the bounds; id: twins under a shared id), and MODEL_SHAPES=proto,
 * symbol,... the key shapes;
 * MODEL_HANG_MS (default 5,000) is how long a run may take to settle, and
 * MODEL_IDLE_SLACK_MS (default 2) how much sooner than its idle time to live
 * an idle value may go (the clocks' rounding); a run that prints its coverage also
 * prints the smallest margins its idle evictions had over that rule.
 */
import { LoopLocal } from "@loop-local/core"
import * as Binding from "@loop-local/core/internal"
import {
  Cause,
  Context,
  Deferred,
  Effect,
  Exit,
  FastCheck as fc,
  Fiber,
  FiberId,
  Layer,
  Option,
  Queue,
  Runtime,
  Scope
} from "effect"
import { readFileSync, writeFileSync } from "node:fs"
import { setTimeout as sleep, setImmediate as tick } from "node:timers/promises"
import { expect, it } from "vitest"
import { nodeRealm } from "../src/internal/current.js"
import { currentLoop, singleton as promiseSingleton, stickySingleton as promiseStickySingleton } from "../src/index.js"
import { captureConsole, type Logged } from "./helpers.js"

const LOOPS = 3
const KEYS = 3
const DEADLINE_MS = 20
/**
 * How much sooner than its idle time to live the model lets an idle value go. The library counts idle time in
 * sweeps (a value unused since the sweep idleTimeToLive plus one sweep ago goes); an interval timer is never early
 * on the event loop's clock, and one run late within its phase makes the next run at once, so a value goes at
 * least idleTimeToLive after the sweep that last saw it used, by the event loop's clock. That clock and the wall
 * clock the model reads (Date.now(), as the library's times to live do) are both whole milliseconds, each floored.
 */
const IDLE_SLACK_MS = Number(process.env.MODEL_IDLE_SLACK_MS ?? 2)
const idleMargins: Array<number> = []
/** How long the model waits for everything to settle before it calls the run hung. */
const HANG_MS = Number(process.env.MODEL_HANG_MS ?? 5_000)
const RUNS = Number(process.env.MODEL_RUNS ?? 1_000)
const SEED =
  process.env.MODEL_SEED !== undefined
    ? Number(process.env.MODEL_SEED)
    : process.env.MODEL_RANDOM === "1"
      ? Date.now() ^ (Math.random() * 0x7fffffff)
      : 20261125
/** The run of `pnpm test` (no MODEL_* variable): quiet, its coverage asserted rather than printed. */
const DEFAULT_RUN = !Object.keys(process.env).some((name) => name.startsWith("MODEL_"))
const SURVEY = process.env.MODEL_SURVEY === "1"
const ONLY = process.env.MODEL_ONLY?.split(",")
/** Whether the scenarios use a feature beyond the base model. */
const on = (
  feature:
    | "shapes"
    | "mutate"
    | "trailing"
    | "shield"
    | "relay"
    | "releaseUses"
    | "interrupt"
    | "memoize"
    | "capacity"
    | "idle"
    | "ttl"
    | "id"
) => ONLY === undefined || ONLY.includes(feature)

type Prim =
  | "singleton"
  | "stickySingleton"
  | "memoize"
  | "enterOnce"
  | "sticky"
  | "enter"
  | "promiseSticky"
  | "promiseSingleton"
const prims: ReadonlyArray<Prim> = [
  "singleton",
  "stickySingleton",
  ...(on("memoize") ? (["memoize"] as const) : []),
  "enterOnce",
  "sticky",
  "enter",
  "promiseSticky",
  "promiseSingleton"
]
type EffectPrim = "singleton" | "stickySingleton" | "memoize" | "enterOnce" | "sticky" | "enter"
/** The keyed definitions: invalidated by key, and bounded when the scenario says so. */
type Invalidatable = "singleton" | "stickySingleton" | "memoize" | "promiseSticky" | "promiseSingleton"
const invalidatables: ReadonlyArray<Invalidatable> = [
  "singleton",
  "stickySingleton",
  ...(on("memoize") ? (["memoize"] as const) : []),
  "promiseSticky",
  "promiseSingleton"
]
type PromisePrim = "promiseSticky" | "promiseSingleton"
/** enterOnce and sticky of one resource share one acquisition. */
const groupOf = (prim: Prim) => (prim === "sticky" ? "enterOnce" : prim)
const isShared = (prim: Prim) => prim !== "enter"
const isScoped = (prim: Prim) => prim !== "singleton" && prim !== "promiseSingleton"
const isPromise = (prim: Prim): prim is PromisePrim => prim === "promiseSticky" || prim === "promiseSingleton"
/** Keyed by its arguments (the others are keyed by the resource's identity, or not at all). */
const isKeyed = (prim: Prim) => prim !== "enterOnce" && prim !== "sticky" && prim !== "enter"

// ---------------------------------------------------------------------------------------------------------------
// Keys: one shape per key slot of a scenario, spelled a little differently by each call

type Shape = "number" | "object" | "array" | "symbol" | "proto" | "fraction" | "args"
const shapes: ReadonlyArray<Shape> = ["number", "object", "array", "symbol", "proto", "fraction", "args"]
const scenarioShapes: ReadonlyArray<Shape> =
  (process.env.MODEL_SHAPES?.split(",") as Array<Shape> | undefined) ?? shapes

/** How one call spells its key: trailing `undefined` arguments, the order of properties, and a mutation after. */
interface Spelling {
  readonly trailing: number
  readonly order: boolean
  readonly mutate: boolean
  /** Through the definition's twin, defined under the same `id` (when the scenario shares one). */
  readonly twin: boolean
}
const plainSpelling: Spelling = { trailing: 0, order: false, mutate: false, twin: false }

const TENANT = Symbol("tenant")
/** The key a release asks for: nothing may ever be constructed for it. */
const RELEASE_KEY = 1000

/** What the model knows of an argument object it made: its key, and how the library renders it. */
const argInfo = new WeakMap<object, { readonly key: number; readonly render: string }>()

/** The arguments of a call of key slot `key` in `shape`, spelled as `spelling` says. */
const spell = (shape: Shape, key: number, spelling: Spelling): Array<unknown> => {
  const { order } = spelling
  let args: Array<unknown>
  switch (shape) {
    case "number":
      args = [key]
      break
    case "object":
      args = [order ? { host: "db", id: key } : { id: key, host: "db" }]
      break
    case "array":
      args = [["db", key]]
      break
    case "symbol":
      // Keys that differ only by the value of a symbol-keyed property.
      args = [order ? { [TENANT]: key, kind: "t" } : { kind: "t", [TENANT]: key }]
      break
    case "proto":
      // An own "__proto__" property, as JSON.parse makes it: keys that differ only inside it.
      args = [JSON.parse(order ? `{"host":"db","__proto__":{"id":${key}}}` : `{"__proto__":{"id":${key}},"host":"db"}`)]
      break
    case "fraction":
      args = [order ? { v: key + 0.5, w: 2.25 } : { w: 2.25, v: key + 0.5 }]
      break
    case "args":
      args = ["db", key]
      break
  }
  if (typeof args[0] === "object") argInfo.set(args[0] as object, { key, render: renderArgs(args) })
  for (let i = 0; i < spelling.trailing; i++) args.push(undefined)
  return args
}

/** The library's rendering of the keys the model makes (render.ts), to check how releases are named. */
const renderValue = (u: unknown): string => {
  if (typeof u === "string") return JSON.stringify(u)
  if (typeof u !== "object" || u === null) return String(u)
  if (Array.isArray(u)) return `[${u.map(renderValue).join(", ")}]`
  const o = u as Record<PropertyKey, unknown>
  const fields = Object.keys(o).map((k) => `${k}: ${renderValue(o[k])}`)
  for (const s of Object.getOwnPropertySymbols(o)) fields.push(`[${String(s)}]: ${renderValue(o[s])}`)
  return fields.length === 0 ? "{}" : `{ ${fields.join(", ")} }`
}
const renderArgs = (args: ReadonlyArray<unknown>): string =>
  args.length === 1 ? renderValue(args[0]) : `(${args.map(renderValue).join(", ")})`

/** The key slot a factory was called for (from its arguments as its caller passed them), and its rendering. */
const keyOfCall = (args: ReadonlyArray<unknown>): { readonly key: number; readonly render: string } => {
  const a = args[0]
  if (typeof a === "number") return { key: a === RELEASE_KEY ? -1 : a, render: String(a) }
  if (a === "db") return { key: args[1] as number, render: `("db", ${String(args[1])})` }
  return (typeof a === "object" && a !== null ? argInfo.get(a) : undefined) ?? { key: -2, render: "?" }
}

/** What a factory filling in defaults does to its argument (`opts.max ??= 10`, pushing to an array). */
const fillDefaults = (args: ReadonlyArray<unknown>) => {
  const a = args[0]
  if (Array.isArray(a)) a.push("pooled")
  else if (typeof a === "object" && a !== null) (a as { max?: number }).max ??= 10
}
/** What a caller reusing its argument object does to it after the call. */
const reuseArgument = (args: ReadonlyArray<unknown>) => {
  const a = args[0]
  if (Array.isArray(a)) a.push("reused")
  else if (typeof a === "object" && a !== null) (a as { extra?: string }).extra = "reused"
}

// ---------------------------------------------------------------------------------------------------------------
// Behaviors and commands

interface Behavior {
  readonly parts: number
  /** Microtask steps (Effect.yieldNow, Promise.resolve or a turn). */
  readonly steps: number
  /** Event-loop turns, inside the uninterruptible part if there is one. */
  readonly turns: number
  /** Effect side: part of the construction is uninterruptible (a region, or the acquire of its acquireRelease). */
  readonly shield: "none" | "region" | "acquire"
  /** After its turns: hangs for ever, or until its loop's close has resolved. */
  readonly block: "none" | "forever" | "untilClose"
  readonly fails: boolean
  readonly releaseSteps: number
  readonly releaseTurns: number
  readonly releaseFails: boolean
  readonly releaseHangs: boolean
  /** What the release does with its loop first: nothing, use primitives (both APIs), or only look at it. */
  readonly releaseUses: "none" | "primitive" | "currentLoop"
}

type Pre = { readonly burn: number } | { readonly yields: number }

type Command =
  | {
      readonly _tag: "Use"
      readonly loop: number
      readonly prim: Prim
      readonly key: number
      readonly spelling: Spelling
      /** Effect side: work done before the call (a burn of flatMaps, or yields). */
      readonly pre: Pre | undefined
      /** Effect side: another fiber interrupts the caller after this many yields. */
      readonly interruptAfter: number | undefined
    }
  | { readonly _tag: "Interrupt"; readonly caller: number }
  | {
      readonly _tag: "Invalidate"
      readonly loop: number
      readonly prim: Invalidatable
      readonly key: number
      readonly spelling: Spelling
      /** Closes its loop this many event-loop turns later, while the release it started may still run. */
      readonly closeAfter: number | undefined
    }
  | {
      /** Invalidates a value a caller holds (of stickySingleton, either API), then closes its loop as above. */
      readonly _tag: "InvalidateHeld"
      readonly pick: number
      readonly closeAfter: number | undefined
    }
  | { readonly _tag: "Close"; readonly loop: number }
  | { readonly _tag: "Yield"; readonly immediate: boolean; readonly times: number }
  /** Lets a few milliseconds pass, so that times to live run out while the scenario goes on. */
  | { readonly _tag: "Sleep"; readonly ms: number }
  | {
      readonly _tag: "Relay"
      readonly waiter: number
      readonly waker: number
      readonly via: "queue" | "deferred" | "semaphore"
      readonly prim: PromisePrim
      readonly key: number
      readonly spelling: Spelling
    }

/** A keyed definition's bounds: capacity, and times to live in milliseconds (short, so that they fire mid-run). */
interface Bound {
  readonly capacity: number | undefined
  readonly idleMs: number | undefined
  readonly ttlMs: number | undefined
}

interface Scenario {
  readonly shapes: ReadonlyArray<Shape>
  /** Each keyed definition's bounds, or none. */
  readonly bounds: Readonly<Record<Invalidatable, Bound | undefined>>
  /** Whether each keyed definition has a twin under the same `id`, which shares its values. */
  readonly shareId: boolean
  /** Milliseconds to wait before the final closes, so that times to live run out on values left alone. */
  readonly linger: number
  readonly behaviors: ReadonlyArray<Behavior>
  /** Whether each factory call fills in defaults on its argument, in turn. */
  readonly mutations: ReadonlyArray<boolean>
  readonly commands: ReadonlyArray<Command>
}

const weighted = <A>(...choices: ReadonlyArray<readonly [number, A]>): fc.Arbitrary<A> =>
  fc.oneof(...choices.map(([weight, value]) => ({ weight, arbitrary: fc.constant(value) })))

const behavior: fc.Arbitrary<Behavior> = fc.record({
  parts: fc.integer({ min: 0, max: 2 }),
  steps: fc.integer({ min: 0, max: 3 }),
  turns: on("shield")
    ? fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 4 }) })
    : fc.constant(0),
  shield: on("shield")
    ? weighted([4, "none" as const], [2, "region" as const], [2, "acquire" as const])
    : fc.constant("none" as const),
  block: on("shield")
    ? weighted([28, "none" as const], [1, "forever" as const], [1, "untilClose" as const])
    : fc.constant("none" as const),
  fails: weighted([2, false], [1, true]),
  releaseSteps: fc.integer({ min: 0, max: 2 }),
  releaseTurns: weighted([3, 0], [1, 1], [1, 2]),
  releaseFails: fc.boolean(),
  releaseHangs: fc.integer({ min: 0, max: 19 }).map((n) => n === 0),
  releaseUses: on("releaseUses")
    ? weighted([4, "none" as const], [1, "primitive" as const], [1, "currentLoop" as const])
    : fc.constant("none" as const)
})

const loopIndex = fc.integer({ min: 0, max: LOOPS - 1 })
const keyIndex = fc.integer({ min: 0, max: KEYS - 1 })
const spelling: fc.Arbitrary<Spelling> = fc.record({
  trailing: on("trailing") ? weighted([3, 0], [1, 1], [1, 2]) : fc.constant(0),
  order: on("shapes") ? fc.boolean() : fc.constant(false),
  mutate: on("mutate") ? fc.boolean() : fc.constant(false),
  twin: on("id") ? fc.boolean() : fc.constant(false)
})
/**
 * Work before an Effect call: yields, or a burn of 0-2,100 flatMaps, most of them where Effect's scheduler yields
 * (every 2,048 ops) inside the call for an interrupter that waits 0 or 1 yields (a burn of ~1,013 or ~2,032).
 */
const pre: fc.Arbitrary<Pre | undefined> = on("interrupt")
  ? fc.oneof(
      { weight: 3, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.record({ yields: fc.integer({ min: 1, max: 3 }) }) },
      { weight: 1, arbitrary: fc.record({ burn: fc.integer({ min: 0, max: 2_100 }) }) },
      { weight: 2, arbitrary: fc.record({ burn: fc.integer({ min: 1_000, max: 1_030 }) }) },
      { weight: 1, arbitrary: fc.record({ burn: fc.integer({ min: 2_020, max: 2_050 }) }) }
    )
  : fc.constant(undefined)
const interruptAfter: fc.Arbitrary<number | undefined> = on("interrupt")
  ? fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.constant(1) },
      { weight: 1, arbitrary: fc.integer({ min: 2, max: 3 }) }
    )
  : fc.constant(undefined)

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      _tag: fc.constant("Use" as const),
      loop: loopIndex,
      prim: fc.constantFrom(...prims),
      key: keyIndex,
      spelling,
      pre,
      interruptAfter
    })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Interrupt" as const), caller: fc.nat(50) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      _tag: fc.constant("Invalidate" as const),
      loop: loopIndex,
      prim: fc.constantFrom(...invalidatables),
      key: keyIndex,
      spelling,
      closeAfter: fc.oneof(
        { weight: 5, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 }) }
      )
    })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      _tag: fc.constant("InvalidateHeld" as const),
      pick: fc.nat(50),
      closeAfter: fc.oneof(
        { weight: 1, arbitrary: fc.constant(undefined) },
        { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 }) }
      )
    })
  },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Close" as const), loop: loopIndex }) },
  {
    weight: 5,
    arbitrary: fc.record({
      _tag: fc.constant("Yield" as const),
      immediate: fc.boolean(),
      times: fc.integer({ min: 1, max: 4 })
    })
  },
  ...(on("relay")
    ? [
        {
          weight: 1,
          arbitrary: fc.record({
            _tag: fc.constant("Relay" as const),
            waiter: loopIndex,
            waker: loopIndex,
            via: fc.constantFrom("queue" as const, "deferred" as const, "semaphore" as const),
            prim: fc.constantFrom<PromisePrim>("promiseSticky", "promiseSingleton"),
            key: keyIndex,
            spelling
          })
        }
      ]
    : [])
)
/** Small capacities (3 keys: evictions all the time) and times to live of a few ms (they fire mid-run). */
const capacities = weighted<number | undefined>([1, 1], [1, 2])
const idles = weighted<number | undefined>([1, 2], [1, 4], [1, 6])
const ttls = weighted<number | undefined>([1, 2], [1, 4], [1, 8])
const none = fc.constant(undefined)
/** One bound alone (so that the model can tell which one evicted), or several, as the features allow. */
const someBound: fc.Arbitrary<Bound> = fc.oneof(
  { weight: on("capacity") ? 1 : 0, arbitrary: fc.record({ capacity: capacities, idleMs: none, ttlMs: none }) },
  { weight: on("idle") ? 2 : 0, arbitrary: fc.record({ capacity: none, idleMs: idles, ttlMs: none }) },
  { weight: on("ttl") ? 1 : 0, arbitrary: fc.record({ capacity: none, idleMs: none, ttlMs: ttls }) },
  {
    weight: 2,
    arbitrary: fc.record({
      capacity: on("capacity") ? fc.oneof(none, capacities) : none,
      idleMs: on("idle") ? fc.oneof(none, idles) : none,
      ttlMs: on("ttl") ? fc.oneof(none, ttls) : none
    })
  }
)
const bound: fc.Arbitrary<Bound | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: someBound }
)
const isBounded = (b: Bound | undefined): b is Bound =>
  b !== undefined && (b.capacity !== undefined || b.idleMs !== undefined || b.ttlMs !== undefined)
const bounded = on("capacity") || on("idle") || on("ttl")
/**
 * Uses focused on one keyed definition in one loop, for a scenario in three: the keys of one owner then come and go
 * in one loop, where its capacity and times to live act. Sleeps let those times run out mid-scenario.
 */
const focused = (focus: { readonly prim: Invalidatable; readonly loop: number } | undefined) =>
  focus === undefined
    ? command
    : fc.oneof(
        { weight: 22, arbitrary: command },
        {
          weight: 14,
          arbitrary: fc.record({
            _tag: fc.constant("Use" as const),
            loop: fc.constant(focus.loop),
            prim: fc.constant<Prim>(focus.prim),
            key: keyIndex,
            spelling,
            pre,
            interruptAfter
          })
        },
        { weight: 3, arbitrary: fc.record({ _tag: fc.constant("Sleep" as const), ms: fc.integer({ min: 1, max: 5 }) }) }
      )
const scenario: fc.Arbitrary<Scenario> = fc
  .oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    {
      weight: bounded ? 1 : 0,
      arbitrary: fc.record({ prim: fc.constantFrom(...invalidatables), loop: loopIndex })
    }
  )
  .chain((focus) => scenarioWith(focus))
const scenarioWith = (focus: { readonly prim: Invalidatable; readonly loop: number } | undefined) => {
  // The focused definition is bounded.
  const boundOf = (prim: Invalidatable) => (focus?.prim === prim ? someBound : bound)
  return fc.record({
    bounds: fc.record({
      singleton: boundOf("singleton"),
      stickySingleton: boundOf("stickySingleton"),
      memoize: boundOf("memoize"),
      promiseSticky: boundOf("promiseSticky"),
      promiseSingleton: boundOf("promiseSingleton")
    }),
    shareId: on("id") ? fc.boolean() : fc.constant(false),
    linger: focus === undefined ? fc.constant(0) : fc.integer({ min: 0, max: 5 }),
    shapes: on("shapes")
      ? fc.array(fc.constantFrom(...scenarioShapes), { minLength: KEYS, maxLength: KEYS })
      : fc.constant(Array.from({ length: KEYS }, () => "number" as const)),
    // Focused, half the time every construction behaves alike: constructions of two keys started together then
    // complete together, and the second, past the capacity, evicts the first while its waiters are being resumed.
    behaviors:
      focus === undefined
        ? fc.array(behavior, { minLength: 1, maxLength: 8 })
        : fc.oneof(
            fc.array(behavior, { minLength: 1, maxLength: 8 }),
            behavior.map((b) => [b])
          ),
    mutations: on("mutate") ? fc.array(fc.boolean(), { minLength: 1, maxLength: 4 }) : fc.constant([false]),
    commands: fc.array(focused(focus), { minLength: 1, maxLength: 30 })
  })
}

// ---------------------------------------------------------------------------------------------------------------
// The world

/** One acquisition as the world saw it. */
interface Construction {
  readonly id: number
  readonly prim: Prim
  /** The key slot; -1 for the key only releases ask for, -2 for arguments the model did not make. */
  readonly key: number
  readonly loop: number
  /** How the library names its entry's key. */
  readonly render: string
  readonly behavior: Behavior
  readonly start: number
  end: number | undefined
  /** A Promise `singleton`'s: when its Promise's reactions ran, the library's among them (its completion to the bounds). */
  resolved: number | undefined
  outcome: "ok" | "failed" | "interrupted" | undefined
  readonly parts: Array<Array<number>>
  /** Its resource exists (its acquireRelease acquired, or a Promise value came): it must be released exactly once. */
  acquired: boolean
  releaseStarts: Array<number>
  /** When its release finished (succeeded or failed), and whether its loop was closing then. */
  releaseEnd: number | undefined
  releaseEndedClosing: boolean
  releaseHung: boolean
  /** Its release reached its failure (it may have been abandoned at the deadline before). */
  releaseFailed: boolean
  /** When a caller first received its value or failure: an upper bound of when the loop saw it complete. */
  firstReceipt: number | undefined
  /** Wall-clock times (Date.now(), the library's clock): its start, its end, its release's first start. */
  readonly startMs: number
  endMs: number | undefined
  releaseStartMs: number | undefined
  /** The latest issue (wall clock) of a call that received its value: no use of it by the library came before. */
  lastIssueMs: number
}

class ConstructionFailed extends Error {
  constructor(readonly id: number) {
    super(`construction ${id} failed`)
  }
}

interface Invalidation {
  readonly loop: number
  readonly prim: Invalidatable
  readonly group: string
  readonly key: number
  readonly at: number
  doneAt: number | undefined
}

/** The primitives as the scenario defined them, for releases that use their loop. */
interface Api {
  readonly single: (
    ...args: ReadonlyArray<unknown>
  ) => Effect.Effect<Construction, ConstructionFailed, LoopLocal.LoopLocal>
  readonly pSticky: (...args: ReadonlyArray<unknown>) => Promise<Construction>
  readonly pSingle: (...args: ReadonlyArray<unknown>) => Promise<Construction>
}

const isClosedError = (u: unknown) =>
  typeof u === "object" && u !== null && (u as { _tag?: string })._tag === "LoopClosedError"

/** The text of an error, a FiberFailure's cause included. */
const errorText = (u: unknown): string => {
  if (Runtime.isFiberFailure(u)) return Cause.pretty(u[Runtime.FiberFailureCauseId]).split("\n")[0]!
  return u instanceof Error ? `${u.name}: ${u.message}` : String(u)
}

class World {
  clock = 0
  readonly constructions: Array<Construction> = []
  readonly violations: Array<string> = []
  readonly closeCalled: Array<number | undefined> = Array.from({ length: LOOPS }, () => undefined)
  /** The wall clock when each close began: no eviction comes after (its sweeps stop, nothing completes into it). */
  readonly closeCalledMs: Array<number> = Array.from({ length: LOOPS }, () => Number.POSITIVE_INFINITY)
  /** The model's own event-loop turns after each close began: the first, and the third. */
  readonly closeTurn1: Array<number | undefined> = Array.from({ length: LOOPS }, () => undefined)
  readonly closeTurn3: Array<number | undefined> = Array.from({ length: LOOPS }, () => undefined)
  readonly closeResolved: Array<number | undefined> = Array.from({ length: LOOPS }, () => undefined)
  readonly reports: Array<LoopLocal.ShutdownReport | undefined> = Array.from({ length: LOOPS }, () => undefined)
  /** The constructions begun before each close that had not ended when it resolved. */
  readonly unfinished: Array<ReadonlyArray<Construction>> = Array.from({ length: LOOPS }, () => [])
  readonly invalidates: Array<Invalidation> = []
  private readonly gates = Array.from({ length: LOOPS }, () => {
    let open!: () => void
    const promise = new Promise<void>((resolve) => {
      open = resolve
    })
    return { promise, open }
  })
  private factoryCalls = 0
  /** While probing stuck keys, constructions do not block. */
  probing = false
  api!: Api
  constructor(
    readonly scenario: Scenario,
    readonly loops: ReadonlyArray<Binding.Loop>
  ) {}

  now() {
    return ++this.clock
  }
  loopOf(loop: LoopLocal.Loop | undefined) {
    return loop === undefined ? -1 : this.loops.indexOf(loop as Binding.Loop)
  }
  /** Resolves once the loop's close has resolved. */
  gate(loop: number): Promise<void> {
    return this.gates[loop]!.promise
  }
  openGate(loop: number) {
    this.gates[loop]!.open()
  }
  /** Whether this factory call fills in defaults on its argument. */
  nextFactoryMutates() {
    const m = this.scenario.mutations
    return m[this.factoryCalls++ % m.length]!
  }
  begin(prim: Prim, key: number, render: string, loop: LoopLocal.Loop | undefined): Construction {
    const drawn = this.scenario.behaviors[this.constructions.length % this.scenario.behaviors.length]!
    const c: Construction = {
      id: this.constructions.length,
      prim,
      key,
      loop: this.loopOf(loop),
      render,
      behavior: effective(prim, drawn, this.probing),
      start: this.now(),
      end: undefined,
      resolved: undefined,
      outcome: undefined,
      parts: [],
      acquired: false,
      releaseStarts: [],
      releaseEnd: undefined,
      releaseEndedClosing: false,
      releaseHung: false,
      releaseFailed: false,
      firstReceipt: undefined,
      startMs: Date.now(),
      endMs: undefined,
      releaseStartMs: undefined,
      lastIssueMs: Number.NEGATIVE_INFINITY
    }
    if (c.loop === -1) {
      const where = loop === Binding.defaultLoop() ? "the default loop" : `loop ${loop?.id}`
      this.violations.push(`4: construction ${c.id} (${prim} ${render}) ran on ${where}, a loop of no scenario`)
    }
    if (key === -1) this.violations.push(`4: construction ${c.id} (${prim}) was made for a release that used its loop`)
    if (key === -2) this.violations.push(`construction ${c.id} (${prim}) got arguments the model did not make`)
    this.constructions.push(c)
    return c
  }
  /**
   * Whether `c` was invalidated before the logical time `at`: by an invalidation of its key issued before its loop
   * began closing (a later one fails as closed) and not done before `c` began.
   */
  invalidatedBefore(c: Construction, at: number) {
    return this.invalidates.some(
      (i) =>
        i.loop === c.loop &&
        i.group === groupOf(c.prim) &&
        i.key === c.key &&
        i.at < at &&
        i.at < (this.closeCalled[c.loop] ?? Number.POSITIVE_INFINITY) &&
        !(i.doneAt !== undefined && i.doneAt < c.start)
    )
  }
  /** The bounds of the definition that made `c`, if bounded (twins share them, with their values). */
  boundOf(c: Construction): Bound | undefined {
    const b = isKeyed(c.prim) ? this.scenario.bounds[c.prim as Invalidatable] : undefined
    return isBounded(b) ? b : undefined
  }
  /**
   * Why the library may have evicted `c` (a value that completed) by the wall-clock time `atMs` and the logical
   * time `at`, from what the model saw; empty when no eviction could have taken it then:
   * - `ttl`: its time to live had passed since it completed (the library's completion comes after the model's end;
   *   a Promise `singleton`'s value is its function's Promise, stored when the function returned);
   * - `idle`: no call received it that was issued within its idle time to live (a hit is a use, and so is its
   *   completion), less IDLE_SLACK_MS for the rounding of two clocks;
   * - `capacity`: values of `capacity` other keys of its owner and loop had completed by then, one of them after
   *   `c` began (a completion past the capacity evicts the least recently used others), none released before.
   */
  evictable(c: Construction, atMs: number, at: number): ReadonlyArray<"ttl" | "idle" | "capacity"> {
    const bound = this.boundOf(c)
    if (bound === undefined || c.outcome !== "ok") return []
    const reasons: Array<"ttl" | "idle" | "capacity"> = []
    const completedMs = c.prim === "promiseSingleton" ? c.startMs : c.endMs!
    if (bound.ttlMs !== undefined && atMs - completedMs >= bound.ttlMs) reasons.push("ttl")
    if (bound.idleMs !== undefined) {
      const idleFor = atMs - Math.max(completedMs, c.lastIssueMs)
      if (idleFor >= bound.idleMs - IDLE_SLACK_MS) reasons.push("idle")
      this.idleMargin = idleFor - bound.idleMs
    }
    if (bound.capacity !== undefined) {
      // A Promise `singleton`'s value is a pending construction to the bounds until its Promise resolves.
      const completed = (z: Construction) => (z.prim === "promiseSingleton" ? (z.resolved ?? z.start) : z.end!)
      const others = this.constructions.filter(
        (z) =>
          z.loop === c.loop &&
          groupOf(z.prim) === groupOf(c.prim) &&
          z.key !== c.key &&
          (z.outcome === "ok" || z.prim === "promiseSingleton") &&
          completed(z) < at &&
          !(z.releaseStarts[0]! < c.start)
      )
      const keys = new Set(others.map((z) => z.key))
      if (keys.size >= bound.capacity && others.some((z) => completed(z) > c.start)) reasons.push("capacity")
    }
    return reasons
  }
  /** Whether the library may have evicted `c` before its loop began closing (its release is then not the close's). */
  mayBeEvictedBeforeClose(c: Construction): boolean {
    const at = this.closeCalled[c.loop]
    return at !== undefined && this.evictable(c, this.closeCalledMs[c.loop]!, at).length > 0
  }
  /** Whether `c`'s release was an eviction's for sure: started before its loop began closing, not by invalidate. */
  evictedForSure(c: Construction): boolean {
    const started = c.releaseStarts[0]
    return (
      started !== undefined &&
      this.boundOf(c) !== undefined &&
      c.outcome === "ok" &&
      !(started > this.closeCalled[c.loop]!) &&
      !this.invalidatedBefore(c, started)
    )
  }
  /** How long past its idle time to live the value last asked about had been idle: the margin of the rule. */
  idleMargin = 0
  settle(c: Construction, outcome: "ok" | "failed") {
    if (c.outcome !== undefined) this.violations.push(`construction ${c.id} settled twice`)
    c.outcome = outcome
    c.end = this.now()
    c.endMs = Date.now()
  }
  /**
   * An interruption ends a construction, even one that recorded its outcome in an uninterruptible region:
   * leaving the region with an interruption pending turns its outcome into that interruption.
   */
  interrupted(c: Construction) {
    if (c.outcome === "interrupted") this.violations.push(`construction ${c.id} interrupted twice`)
    c.outcome = "interrupted"
    c.end = this.now()
  }
  releaseStarted(c: Construction) {
    c.releaseStarts.push(this.now())
    c.releaseStartMs ??= Date.now()
  }
  /** A release's own work after its uses of the loop: slow, failing or hanging as its behavior says. */
  releaseBody(c: Construction): Effect.Effect<void> {
    const world = this
    return Effect.gen(function* () {
      for (let i = 0; i < c.behavior.releaseSteps; i++) yield* Effect.yieldNow()
      for (let i = 0; i < c.behavior.releaseTurns; i++) yield* Effect.promise(() => tick())
      if (c.behavior.releaseHangs) {
        c.releaseHung = true
        return yield* Effect.async<never>(() => {})
      }
      if (c.behavior.releaseFails) {
        c.releaseFailed = true
        world.releaseEnded(c)
        return yield* Effect.die(new Error(`release of ${c.id} failed`))
      }
      world.releaseEnded(c)
    })
  }
  private releaseEnded(c: Construction) {
    c.releaseEnd = this.now()
    c.releaseEndedClosing = this.loops[c.loop]?.isClosed ?? false
  }
  /** The release of an Effect-side resource: it may use its loop through both APIs first. */
  effectRelease(c: Construction): Effect.Effect<void, never, LoopLocal.LoopLocal> {
    const world = this
    return Effect.suspend(() => {
      world.releaseStarted(c)
      if (c.behavior.releaseUses === "none") return world.releaseBody(c)
      return Effect.zipRight(
        Effect.gen(function* () {
          const loop = world.loops[c.loop]!
          const service = yield* Effect.serviceOption(LoopLocal.LoopLocal)
          if (Option.getOrUndefined(service) !== loop) {
            world.violations.push(
              `4: the Effect release of construction ${c.id} (${c.prim}) has loop ${Option.match(service, {
                onNone: () => "none",
                onSome: (l) => world.loopOf(l)
              })} as its LoopLocal, not loop ${c.loop}`
            )
          }
          world.checkCurrentLoop(c, "Effect")
          // A release run by invalidate finds its loop open, and leaves it alone.
          if (c.behavior.releaseUses !== "primitive" || !loop.isClosed) return
          count("release used its closing loop")
          const exit = yield* Effect.exit(world.api.single(RELEASE_KEY))
          const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : exit.value
          if (!isClosedError(defect)) {
            world.violations.push(
              `4: singleton, used by the Effect release of construction ${c.id} at its loop's close, gave ${errorText(defect)}`
            )
          }
          const promised = yield* Effect.either(
            Effect.tryPromise({ try: () => world.api.pSticky(RELEASE_KEY), catch: (e) => e })
          )
          if (!(promised._tag === "Left" && isClosedError(promised.left))) {
            world.violations.push(
              `4: stickySingleton (Promise API), used by the Effect release of construction ${c.id} at its loop's close, gave ${
                promised._tag === "Left" ? errorText(promised.left) : "a value"
              }`
            )
          }
        }),
        world.releaseBody(c)
      )
    })
  }
  /** The release of a Promise-side value: it may use its loop through the Promise API first, after an await. */
  promiseRelease(c: Construction): Promise<void> {
    this.releaseStarted(c)
    return (async () => {
      if (c.behavior.releaseUses !== "none") {
        await tick()
        const loop = this.loops[c.loop]!
        this.checkCurrentLoop(c, "Promise")
        if (c.behavior.releaseUses === "primitive" && loop.isClosed) {
          count("release used its closing loop")
          for (const [name, use] of [
            ["stickySingleton", () => this.api.pSticky(RELEASE_KEY)],
            ["singleton", () => this.api.pSingle(RELEASE_KEY)]
          ] as const) {
            const outcome = await (async () => use())().then(
              () => "a value",
              (e: unknown) => (isClosedError(e) ? undefined : errorText(e))
            )
            if (outcome !== undefined) {
              this.violations.push(
                `4: ${name}, used by the Promise release of construction ${c.id} at its loop's close, gave ${outcome}`
              )
            }
          }
        }
      }
      return Effect.runPromise(this.releaseBody(c))
    })()
  }
  private checkCurrentLoop(c: Construction, side: string) {
    const seen = currentLoop()
    if (seen !== this.loops[c.loop]) {
      const where = seen === Binding.defaultLoop() ? "the default loop" : `loop ${this.loopOf(seen)}`
      this.violations.push(
        `4: in the ${side} release of construction ${c.id}, currentLoop() is ${where}, not loop ${c.loop}`
      )
    }
  }
}

/**
 * The behavior a construction follows: a Promise-side one is never uninterruptible in part (a Promise cannot be
 * interrupted at all), a Promise `singleton`'s never blocks (its callers get its function's own Promise), and
 * neither does one a probe starts.
 */
const effective = (prim: Prim, b: Behavior, probing: boolean): Behavior => ({
  ...b,
  block: probing || prim === "promiseSingleton" ? "none" : b.block,
  shield: isPromise(prim) ? "none" : b.shield
})

/** Whether the construction stays unfinished for ever by its behavior (an interruption cannot end it). */
const hangsForever = (c: Construction) =>
  c.behavior.block === "forever" && (isPromise(c.prim) || c.behavior.shield !== "none")

const burn = (n: number): Effect.Effect<void> =>
  n === 0 ? Effect.void : Effect.flatMap(Effect.void, () => burn(n - 1))
const yields = (n: number): Effect.Effect<void> =>
  n === 0 ? Effect.void : Effect.zipRight(Effect.yieldNow(), yields(n - 1))

/**
 * The Effect-side acquisition: parts acquired one by one, then the whole, with the behavior's steps and turns
 * between; uninterruptible in part if its behavior says so.
 */
const effectResource = (
  world: World,
  prim: EffectPrim,
  key: number,
  render: string
): Effect.Effect<Construction, ConstructionFailed, LoopLocal.LoopLocal | Scope.Scope> =>
  Effect.gen(function* () {
    const c = world.begin(prim, key, render, yield* LoopLocal.LoopLocal)
    const b = c.behavior
    const scoped = isScoped(prim)
    const wait = Effect.gen(function* () {
      for (let i = 0; i < b.turns; i++) yield* Effect.promise(() => tick())
      if (b.block === "forever") yield* Effect.async<void>(() => {})
      if (b.block === "untilClose") yield* Effect.promise(() => world.gate(c.loop))
    })
    const fail = Effect.suspend(() => {
      world.settle(c, "failed")
      return Effect.fail(new ConstructionFailed(c.id))
    })
    const acquire = (before: Effect.Effect<void>) =>
      Effect.acquireRelease(
        Effect.tap(before, () => {
          c.acquired = true
        }),
        () => world.effectRelease(c)
      )
    const finish = Effect.gen(function* () {
      if (b.fails) return yield* fail
      if (scoped) yield* acquire(Effect.void)
      world.settle(c, "ok")
      return c
    })
    const body = Effect.gen(function* () {
      for (let p = 0; p < (scoped ? b.parts : 0); p++) {
        c.parts.push([])
        const releases = c.parts[p]!
        yield* Effect.acquireRelease(Effect.void, () => Effect.sync(() => void releases.push(world.now())))
        yield* Effect.yieldNow()
      }
      for (let i = 0; i < b.steps; i++) yield* Effect.yieldNow()
      if (b.shield === "acquire" && scoped) {
        if (b.fails) return yield* fail
        // acquireRelease's acquire is uninterruptible: here it takes the turns (and may block).
        yield* acquire(wait)
        world.settle(c, "ok")
        return c
      }
      if (b.shield !== "none") return yield* Effect.uninterruptible(Effect.zipRight(wait, finish))
      yield* wait
      return yield* finish
    })
    return yield* body.pipe(Effect.onInterrupt(() => Effect.sync(() => world.interrupted(c))))
  })

/** The Promise-side construction, run by a factory. */
const promiseResource = async (world: World, prim: PromisePrim, key: number, render: string): Promise<Construction> => {
  const c = world.begin(prim, key, render, nodeRealm.bound.getStore()?.loop)
  const b = c.behavior
  for (let i = 0; i < b.steps; i++) await (i % 2 === 0 ? tick() : Promise.resolve())
  for (let i = 0; i < b.turns; i++) await tick()
  if (b.block === "forever") await new Promise<never>(() => {})
  if (b.block === "untilClose") await world.gate(c.loop)
  if (b.fails) {
    world.settle(c, "failed")
    throw new ConstructionFailed(c.id)
  }
  world.settle(c, "ok")
  c.acquired = prim === "promiseSticky"
  return c
}

interface Caller {
  readonly loop: number
  readonly prim: Prim
  readonly key: number
  issuedAt: number
  /** Wall clock at its issue: a lower bound of when the library saw its call (a hit is a use). */
  issuedMs: number
  loopClosingAtIssue: boolean
  /** A fiber of `loop` woken by another loop's fiber, that then called the Promise API. */
  readonly relay: boolean
  readonly fiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  done: Promise<void>
  result:
    | { readonly _tag: "value"; readonly c: Construction; readonly at: number }
    | { readonly _tag: "failed"; readonly id: number; readonly at: number }
    | { readonly _tag: "closed" }
    | { readonly _tag: "interrupted" }
    | { readonly _tag: "other"; readonly error: unknown }
    | undefined
  settledAt: number | undefined
}

/** The service a memoized layer provides: the construction that built it. */
class Built extends Context.Tag("model/Built")<Built, Construction>() {}
/** Numbers the runs, so that each run's definitions under a shared id are its own. */
let scenarioRuns = 0

/** `singleton`'s resource never uses the scope it is typed to need (its parts are for scoped primitives only). */
const unusedScope = Effect.runSync(Scope.make())

/** A shared Effect primitive a fiber of one loop waits on and a fiber of another loop completes. */
const channel = (via: "queue" | "deferred" | "semaphore"): { wait: Effect.Effect<void>; wake: Effect.Effect<void> } => {
  switch (via) {
    case "queue": {
      const queue = Effect.runSync(Queue.unbounded<void>())
      return { wait: Queue.take(queue), wake: Effect.asVoid(Queue.offer(queue, undefined)) }
    }
    case "deferred": {
      const deferred = Effect.runSync(Deferred.make<void>())
      return { wait: Deferred.await(deferred), wake: Effect.asVoid(Deferred.succeed(deferred, undefined)) }
    }
    case "semaphore": {
      const semaphore = Effect.runSync(Effect.makeSemaphore(1))
      Effect.runSync(semaphore.take(1))
      return { wait: Effect.asVoid(semaphore.take(1)), wake: Effect.asVoid(semaphore.release(1)) }
    }
  }
}

/**
 * Invariant 7, on what each open loop holds now (as `inspect` sees it): no bounded owner holds more completed values
 * than its capacity (the library evicts past it as a construction completes), and no construction in flight has
 * been forgotten (an eviction takes only a ready value: a pending one stays, for its waiters and later callers).
 */
/** The Promises of Promise `singleton` functions that have not settled yet. */
const inFlight = new WeakSet<object>()

const checkHeld = (world: World, loops: ReadonlyArray<Binding.Loop>) => {
  loops.forEach((loop, index) => {
    if (loop.isClosed) return
    for (const [owner, table] of loop.tables) {
      const capacity = owner.bounds?.capacity ?? Number.POSITIVE_INFINITY
      if (capacity === Number.POSITIVE_INFINITY) continue
      let held = 0
      // A Promise `singleton`'s Promise still running is a pending construction, not a completed value.
      for (const entry of table.values()) if (entry.ready && !inFlight.has(entry.value as object)) held++
      if (held > capacity) {
        world.violations.push(
          `7: loop ${index} holds ${held} values of a ${owner.definedAs ?? "definition"} of capacity ${capacity}`
        )
      }
    }
    for (const entry of loop.pending) {
      if (entry.table !== undefined && entry.table.get(entry.key) !== entry) {
        world.violations.push(
          `7: on loop ${index}, a construction of ${entry.kind} in flight was forgotten (evicted while pending)`
        )
      }
    }
  })
}

/** `logs` is what the console has received so far: the run's own lines are those it adds. */
const runScenario = async (s: Scenario, logs: ReadonlyArray<Logged>): Promise<World> => {
  const logsBefore = logs.length
  const defaultHeld = Binding.defaultLoop().inspect().length
  const loops = Array.from({ length: LOOPS }, () => Binding.makeLoop({ deadlineMs: DEADLINE_MS }))
  const world = new World(s, loops)
  /** A factory's call: its key slot and rendering, taken before it fills in defaults on its argument. */
  const call = (args: ReadonlyArray<unknown>) => {
    const info = keyOfCall(args)
    if (world.nextFactoryMutates()) {
      count("factory filled in defaults on its argument")
      fillDefaults(args)
    }
    return info
  }
  // The keyed definitions, with their bounds; under a shared `id`, each has a twin that shares its values.
  const run = ++scenarioRuns
  const promiseOptionsOf = (prim: Invalidatable) => {
    const b = s.bounds[prim]
    if (!isBounded(b) && !s.shareId) return undefined
    return {
      ...(b?.capacity === undefined ? {} : { capacity: b.capacity }),
      ...(b?.idleMs === undefined ? {} : { idleTimeToLive: b.idleMs }),
      ...(b?.ttlMs === undefined ? {} : { timeToLive: b.ttlMs }),
      ...(s.shareId ? { id: `model ${run} ${prim}` } : {})
    }
  }
  // The Effect side takes any Duration input: a string here, a number of milliseconds for the time to live.
  const effectOptionsOf = (prim: Invalidatable) => {
    const options = promiseOptionsOf(prim)
    const idle = options?.idleTimeToLive
    return idle === undefined ? options : { ...options, idleTimeToLive: `${idle} millis` as const }
  }
  const twins = <A>(define: () => A): readonly [A, A] => {
    const first = define()
    return [first, s.shareId ? define() : first]
  }
  const singles = twins(() =>
    LoopLocal.singleton((...args: ReadonlyArray<unknown>) => {
      const { key, render } = call(args)
      return Effect.provideService(effectResource(world, "singleton", key, render), Scope.Scope, unusedScope)
    }, effectOptionsOf("singleton"))
  )
  const stickies = twins(() =>
    LoopLocal.stickySingleton((...args: ReadonlyArray<unknown>) => {
      const { key, render } = call(args)
      return effectResource(world, "stickySingleton", key, render)
    }, effectOptionsOf("stickySingleton"))
  )
  const memos = twins(() =>
    LoopLocal.memoize((...args: ReadonlyArray<unknown>) => {
      const { key, render } = call(args)
      return Layer.scoped(Built, effectResource(world, "memoize", key, render))
    }, effectOptionsOf("memoize"))
  )
  const single = singles[0]
  const onceResources = Array.from({ length: KEYS }, (_, key) => effectResource(world, "enterOnce", key, "[Effect]"))
  const enterResources = Array.from({ length: KEYS }, (_, key) => effectResource(world, "enter", key, "[Effect]"))
  const pStickies = twins(() =>
    promiseStickySingleton(
      (...args: ReadonlyArray<unknown>) => {
        const { key, render } = call(args)
        return promiseResource(world, "promiseSticky", key, render)
      },
      { release: (c: Construction) => world.promiseRelease(c), ...promiseOptionsOf("promiseSticky") }
    )
  )
  const pSingles = twins(() =>
    promiseSingleton((...args: ReadonlyArray<unknown>) => {
      const { key, render } = call(args)
      const promise = promiseResource(world, "promiseSingleton", key, render)
      inFlight.add(promise)
      const settled = () => void inFlight.delete(promise)
      promise.then((c) => {
        // After the library's own reaction, registered when this returns: when the bounds took it as completed.
        queueMicrotask(() => {
          c.resolved = world.now()
        })
        settled()
      }, settled)
      return promise
    }, promiseOptionsOf("promiseSingleton"))
  )
  const pSticky = pStickies[0]
  const pSingle = pSingles[0]
  world.api = { single, pSticky, pSingle }
  /** The definition a call goes through: its twin, when the scenario shares an id and the call says so. */
  const which = (spelled: Spelling) => (spelled.twin && s.shareId ? 1 : 0)

  const callers: Array<Caller> = []
  const pending: Array<Promise<unknown>> = []
  const closes: Array<Promise<unknown> | undefined> = Array.from({ length: LOOPS }, () => undefined)
  /** Where an Effect caller was interrupted: a later call of that key and its invalidation must settle. */
  const interruptedKeys = new Map<string, { loop: number; prim: EffectPrim; key: number }>()
  const onLoop = <A>(loop: number, f: () => A): A => nodeRealm.bound.run({ loop: loops[loop]!, constructing: [] }, f)

  const settled = (caller: Caller, result: NonNullable<Caller["result"]>) => {
    caller.result ??= result
    caller.settledAt ??= world.now()
  }
  const receive = (caller: Caller, value: unknown) => {
    const c = value as Construction
    const at = world.now()
    settled(caller, { _tag: "value", c, at })
    c.firstReceipt ??= at
    c.lastIssueMs = Math.max(c.lastIssueMs, caller.issuedMs)
    checkHeld(world, loops)
    if (c.releaseStarts.length > 0)
      world.violations.push(`caller of ${caller.prim} ${caller.key} received construction ${c.id}, already released`)
    if (c.loop !== caller.loop) {
      world.violations.push(
        `3: caller on loop ${caller.loop}${caller.relay ? " (woken by another loop's fiber)" : ""} received construction ${c.id} of loop ${c.loop}`
      )
    }
    if (groupOf(c.prim) !== groupOf(caller.prim) || c.key !== caller.key) {
      world.violations.push(
        `4: caller of ${caller.prim} ${caller.key} received construction ${c.id} of ${c.prim} ${c.key}`
      )
    }
    if (c.outcome !== "ok") world.violations.push(`caller received construction ${c.id} whose outcome is ${c.outcome}`)
  }
  const reject = (caller: Caller, error: unknown) => {
    if (error instanceof ConstructionFailed) {
      const c = world.constructions[error.id]!
      const at = world.now()
      settled(caller, { _tag: "failed", id: error.id, at })
      c.firstReceipt ??= at
    } else if (isClosedError(error)) settled(caller, { _tag: "closed" })
    else settled(caller, { _tag: "other", error })
  }
  const newCaller = (loop: number, prim: Prim, key: number, relay: boolean): Caller => ({
    loop,
    prim,
    key,
    issuedAt: world.now(),
    issuedMs: Date.now(),
    loopClosingAtIssue: world.closeCalled[loop] !== undefined,
    relay,
    fiber: undefined,
    done: Promise.resolve(),
    result: undefined,
    settledAt: undefined
  })
  const promiseCall = (prim: PromisePrim, args: ReadonlyArray<unknown>, spelled: Spelling): Promise<Construction> =>
    prim === "promiseSticky" ? pStickies[which(spelled)](...args) : pSingles[which(spelled)](...args)

  const use = (cmd: Extract<Command, { _tag: "Use" }>): Caller => {
    const args = isKeyed(cmd.prim) ? spell(s.shapes[cmd.key]!, cmd.key, cmd.spelling) : []
    if (cmd.spelling.trailing > 0 && isKeyed(cmd.prim)) count("trailing undefined arguments")
    const caller = newCaller(cmd.loop, cmd.prim, cmd.key, false)
    callers.push(caller)
    if (s.shareId && cmd.spelling.twin && isKeyed(cmd.prim)) count("call through a twin under a shared id")
    const reuse = () => {
      if (!cmd.spelling.mutate || !isKeyed(cmd.prim)) return
      count("caller mutated its argument after the call")
      reuseArgument(args)
    }
    if (isPromise(cmd.prim)) {
      const prim = cmd.prim
      // `singleton` returns what its function returned, so a closed loop makes it throw rather than reject.
      let promise: Promise<Construction>
      try {
        promise = Promise.resolve(onLoop(cmd.loop, () => promiseCall(prim, args, cmd.spelling)))
      } catch (error) {
        promise = Promise.reject(error)
      }
      reuse()
      caller.done = promise.then(
        (v) => receive(caller, v),
        (e) => reject(caller, e)
      )
      return caller
    }
    const call: Effect.Effect<unknown, unknown, LoopLocal.LoopLocal> =
      cmd.prim === "singleton"
        ? singles[which(cmd.spelling)](...args)
        : cmd.prim === "stickySingleton"
          ? stickies[which(cmd.spelling)](...args)
          : cmd.prim === "memoize"
            ? Effect.provide(Built, memos[which(cmd.spelling)](...args))
            : cmd.prim === "enterOnce"
              ? LoopLocal.enterOnce(onceResources[cmd.key]!)
              : cmd.prim === "sticky"
                ? Effect.scoped(LoopLocal.sticky(onceResources[cmd.key]!))
                : LoopLocal.enter(enterResources[cmd.key]!)
    const before = cmd.pre === undefined ? Effect.void : "burn" in cmd.pre ? burn(cmd.pre.burn) : yields(cmd.pre.yields)
    // A fiber starts at once: without work before it, its call has read its key when runFork returns.
    const fiber = Effect.runFork(
      Effect.provideService(
        Effect.zipRight(
          before,
          Effect.tap(call, (v) => Effect.sync(() => receive(caller, v)))
        ),
        LoopLocal.LoopLocal,
        loops[cmd.loop]!
      )
    )
    Object.assign(caller, { fiber })
    // A memoized layer reads its arguments when it is built, after the fiber's first yield: the caller may reuse
    // them once the call has settled, as after work before the call.
    const readLater = cmd.pre !== undefined || cmd.prim === "memoize"
    if (!readLater) reuse()
    if (cmd.interruptAfter !== undefined) {
      count(cmd.pre !== undefined && "burn" in cmd.pre ? "caller interrupted after a burn" : "caller interrupted")
      const prim = cmd.prim
      interruptedKeys.set(`${cmd.loop} ${groupOf(prim)} ${cmd.key}`, { loop: cmd.loop, prim, key: cmd.key })
      Effect.runFork(
        Effect.zipRight(
          yields(cmd.interruptAfter),
          Effect.sync(() => fiber.unsafeInterruptAsFork(FiberId.none))
        )
      )
    }
    caller.done = Effect.runPromise(Fiber.await(fiber)).then((exit) => {
      if (readLater) reuse()
      if (Exit.isSuccess(exit)) return
      if (Cause.isInterruptedOnly(exit.cause)) settled(caller, { _tag: "interrupted" })
      else reject(caller, Cause.squash(exit.cause))
    })
    return caller
  }

  const invalidate = (loop: number, prim: Invalidatable, key: number, spelled: Spelling): Promise<void> => {
    const args = spell(s.shapes[key]!, key, spelled)
    const i: Invalidation = { loop, prim, group: groupOf(prim), key, at: world.now(), doneAt: undefined }
    world.invalidates.push(i)
    const twin = which(spelled)
    const invalidated =
      prim === "singleton"
        ? loops[loop]!.runPromise(singles[twin].invalidate(...args))
        : prim === "stickySingleton"
          ? loops[loop]!.runPromise(stickies[twin].invalidate(...args))
          : prim === "memoize"
            ? loops[loop]!.runPromise(memos[twin].invalidate(...args))
            : onLoop(loop, () =>
                prim === "promiseSticky" ? pStickies[twin].invalidate(...args) : pSingles[twin].invalidate(...args)
              )
    // A failing or abandoned release surfaces here, and a closed loop rejects: nothing else, and it may not hang.
    return invalidated.then(
      () => {
        i.doneAt = world.now()
      },
      (error: unknown) => {
        i.doneAt = world.now()
        const text = errorText(error)
        if (
          !isClosedError(error) &&
          !/^LoopClosedError/.test(text) &&
          !/release of \d+ failed/.test(text) &&
          !/did not finish within the deadline/.test(text)
        ) {
          world.violations.push(`invalidate of ${prim} ${key} on loop ${loop} failed unexpectedly: ${text}`)
        }
        // The failure of the release it ran: of its own key's value, never an eviction's of another.
        const failed = world.constructions[Number(/release of (\d+) failed/.exec(text)?.[1] ?? -1)]
        if (failed !== undefined && (failed.loop !== loop || groupOf(failed.prim) !== i.group || failed.key !== key)) {
          world.violations.push(
            `8: invalidate of ${prim} ${key} on loop ${loop} failed with the release of construction ${failed.id} (${failed.prim} ${failed.key})`
          )
        }
      }
    )
  }

  const close = (loop: number) => {
    if (world.closeCalled[loop] !== undefined) return
    world.closeCalled[loop] = world.now()
    world.closeCalledMs[loop] = Date.now()
    // The model's own turns, queued before the close queues any: what the close does "at once" comes before them.
    void tick()
      .then(() => {
        world.closeTurn1[loop] = world.now()
        return tick()
      })
      .then(() => tick())
      .then(() => {
        world.closeTurn3[loop] = world.now()
      })
    closes[loop] = Binding.close(loops[loop]!, { deadlineMs: DEADLINE_MS }).then(
      (report) => {
        world.closeResolved[loop] = world.now()
        world.reports[loop] = report
        world.unfinished[loop] = world.constructions.filter(
          (c) =>
            c.loop === loop &&
            c.start < world.closeCalled[loop]! &&
            c.end === undefined &&
            c.prim !== "promiseSingleton"
        )
        world.openGate(loop)
      },
      (error: unknown) => {
        world.violations.push(`the close of loop ${loop} rejected: ${errorText(error)}`)
        world.openGate(loop)
      }
    )
  }

  const relay = (cmd: Extract<Command, { _tag: "Relay" }>) => {
    const args = spell(s.shapes[cmd.key]!, cmd.key, cmd.spelling)
    const { wait, wake } = channel(cmd.via)
    const caller = newCaller(cmd.waiter, cmd.prim, cmd.key, true)
    caller.loopClosingAtIssue = loops[cmd.waiter]!.isClosed
    callers.push(caller)
    const woken = Effect.gen(function* () {
      yield* wait
      // Only now is the call made: it is issued by a fiber the other loop's fiber woke.
      caller.issuedAt = world.now()
      caller.issuedMs = Date.now()
      caller.loopClosingAtIssue = loops[cmd.waiter]!.isClosed
      if (cmd.waiter !== cmd.waker) count("fiber woken by another loop's fiber")
      const seen = currentLoop()
      if (seen !== loops[cmd.waiter]) {
        world.violations.push(
          `3: a fiber of loop ${cmd.waiter} woken by a fiber of loop ${cmd.waker} has ${
            seen === Binding.defaultLoop() ? "the default loop" : `loop ${world.loopOf(seen)}`
          } as its currentLoop()`
        )
      }
      return yield* Effect.either(
        Effect.tryPromise({ try: () => promiseCall(cmd.prim, args, cmd.spelling), catch: (e) => e })
      )
    })
    caller.done = onLoop(cmd.waiter, () => loops[cmd.waiter]!.runPromise(woken)).then(
      (r) => (r._tag === "Right" ? receive(caller, r.right) : reject(caller, r.left)),
      (e) => reject(caller, e)
    )
    // The waker runs a turn later, on its own loop (in its own async context), or outside any once that is closed.
    pending.push(
      onLoop(cmd.waker, () => tick().then(() => loops[cmd.waker]!.runPromise(wake))).catch(() =>
        Effect.runPromise(wake)
      )
    )
  }

  for (const cmd of s.commands) {
    switch (cmd._tag) {
      case "Use": {
        use(cmd)
        break
      }
      case "Interrupt": {
        const fibers = callers.filter((c) => c.fiber !== undefined)
        if (fibers.length > 0) {
          const caller = fibers[cmd.caller % fibers.length]!
          caller.fiber!.unsafeInterruptAsFork(FiberId.none)
          if (caller.prim !== "enter" && !isPromise(caller.prim)) {
            interruptedKeys.set(`${caller.loop} ${groupOf(caller.prim)} ${caller.key}`, {
              loop: caller.loop,
              prim: caller.prim,
              key: caller.key
            })
          }
        }
        break
      }
      case "Invalidate": {
        pending.push(invalidate(cmd.loop, cmd.prim, cmd.key, cmd.spelling))
        if (cmd.closeAfter !== undefined) {
          for (let i = 0; i < cmd.closeAfter; i++) await tick()
          close(cmd.loop)
        }
        break
      }
      case "InvalidateHeld": {
        const held = (c: Construction) =>
          (c.prim === "stickySingleton" || c.prim === "promiseSticky") &&
          c.outcome === "ok" &&
          c.releaseStarts.length === 0 &&
          c.loop >= 0 &&
          world.closeCalled[c.loop] === undefined
        const candidates = world.constructions.filter(held)
        let c: Construction | undefined = candidates[cmd.pick % Math.max(1, candidates.length)]
        if (c === undefined) {
          // None held: a caller gets one first (if its construction succeeds within a few turns).
          const loop = cmd.pick % LOOPS
          if (world.closeCalled[loop] !== undefined) break
          const prim = cmd.pick % 2 === 0 ? "stickySingleton" : "promiseSticky"
          const caller = use({
            _tag: "Use",
            loop,
            prim,
            key: cmd.pick % KEYS,
            spelling: plainSpelling,
            pre: undefined,
            interruptAfter: undefined
          })
          await Promise.race([
            caller.done,
            (async () => {
              for (let i = 0; i < 8; i++) await tick()
            })()
          ])
          c = caller.result?._tag === "value" && held(caller.result.c) ? caller.result.c : undefined
          if (c === undefined) break
        }
        count("invalidate of a held value")
        pending.push(invalidate(c.loop, c.prim as Invalidatable, c.key, plainSpelling))
        if (cmd.closeAfter !== undefined) {
          for (let i = 0; i < cmd.closeAfter; i++) await tick()
          close(c.loop)
        }
        break
      }
      case "Close": {
        close(cmd.loop)
        break
      }
      case "Relay": {
        relay(cmd)
        break
      }
      case "Sleep": {
        await sleep(cmd.ms)
        checkHeld(world, loops)
        break
      }
      case "Yield": {
        for (let i = 0; i < cmd.times; i++) {
          await (cmd.immediate ? tick() : Promise.resolve())
          checkHeld(world, loops)
        }
      }
    }
    checkHeld(world, loops)
  }

  // Invariant 5, before the loops close: a key whose caller was interrupted is not left pending for ever. A later
  // call of it settles, and so does its invalidation (unless a construction of it hangs by its behavior).
  const probes = Array.from(interruptedKeys.values()).filter(
    ({ loop, prim }) => world.closeCalled[loop] === undefined && prim !== "enter"
  )
  if (probes.length > 0) {
    for (let i = 0; i < 3; i++) await tick()
    world.probing = true
    const outcomes = probes.flatMap(({ loop, prim, key }) => {
      const blocking = world.constructions.some(
        (c) =>
          c.loop === loop &&
          groupOf(c.prim) === groupOf(prim) &&
          c.key === key &&
          c.end === undefined &&
          c.behavior.block !== "none"
      )
      if (blocking) return []
      count("probe of an interrupted caller's key")
      const caller = use({
        _tag: "Use",
        loop,
        prim,
        key,
        spelling: plainSpelling,
        pre: undefined,
        interruptAfter: undefined
      })
      const probed = caller.done.then(() =>
        prim === "singleton" || prim === "stickySingleton" ? invalidate(loop, prim, key, plainSpelling) : undefined
      )
      let timer: NodeJS.Timeout | undefined
      const stuck = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve(`${prim} ${key} on loop ${loop}`), 2_000)
      })
      return [Promise.race([probed.then(() => undefined), stuck]).finally(() => clearTimeout(timer))]
    })
    for (const stuck of await Promise.all(outcomes)) {
      if (stuck === undefined) continue
      world.violations.push(
        `5: ${stuck} stayed pending after a caller was interrupted: a later call and its invalidation did not settle within 2 s`
      )
    }
    world.probing = false
  }

  if (s.linger > 0) {
    await sleep(s.linger)
    checkHeld(world, loops)
  }
  for (let loop = 0; loop < LOOPS; loop++) close(loop)
  // Invariant 5: everything settles, within a deadline.
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<"hang">((resolve) => {
    timer = setTimeout(() => resolve("hang"), HANG_MS)
  })
  const allSettled = await Promise.race([Promise.all([...closes, ...pending, ...callers.map((c) => c.done)]), hang])
  clearTimeout(timer)
  if (allSettled === "hang") world.violations.push("5: not every close, caller and invalidate settled within 5 s")
  // Releases after a deadline go on in the background, and late values are released as they come: let them finish.
  for (let i = 0; i < 10; i++) await tick()
  const defaultNow = Binding.defaultLoop().inspect()
  if (defaultNow.length > defaultHeld) {
    world.violations.push(
      `4: the default loop gained ${defaultNow.length - defaultHeld} entries during the run: ${defaultNow
        .slice(defaultHeld)
        .map((e) => `${e.kind} ${e.key}`)
        .join(", ")}`
    )
  }
  checkInvariants(world, callers)
  checkReports(world)
  checkLogs(world, logs.slice(logsBefore))
  tally(world, callers)
  return world
}

/**
 * Invariant 1, for `x`, evicted by its owner's capacity for sure: it was the least recently used of the values its
 * owner kept. A value `z` of another key, released only after `x` (so still held when `x` was forgotten), whose
 * last use before then came surely before `x`'s last use, should have gone first. The model's bounds are loose on
 * purpose: `x`'s last use is at least its completion and the issue of each call that received it; `z`'s is at most
 * its first receipt and the settling of each call of its key issued before `x`'s release (a hit is in between).
 */
const checkLeastRecentlyUsed = (world: World, callers: ReadonlyArray<Caller>, x: Construction) => {
  const forgottenBy = x.releaseStarts[0]!
  const sameOwner = (z: Construction) =>
    z !== x && z.loop === x.loop && groupOf(z.prim) === groupOf(x.prim) && z.key !== x.key
  const xUsed = Math.max(
    x.end!,
    ...callers.flatMap((c) => (c.result?._tag === "value" && c.result.c === x ? [c.issuedAt] : []))
  )
  for (const z of world.constructions) {
    if (
      !sameOwner(z) ||
      z.outcome !== "ok" ||
      z.firstReceipt === undefined ||
      !(z.releaseStarts[0]! > forgottenBy) ||
      world.invalidatedBefore(z, forgottenBy)
    )
      continue
    const zUsed = Math.max(
      z.firstReceipt,
      ...callers.flatMap((c) =>
        c.loop === z.loop && groupOf(c.prim) === groupOf(z.prim) && c.key === z.key && c.issuedAt < forgottenBy
          ? [c.settledAt ?? Number.POSITIVE_INFINITY]
          : []
      )
    )
    count("capacity eviction checked against a value kept")
    if (xUsed > zUsed) {
      world.violations.push(
        `1: the capacity evicted construction ${x.id} (${x.prim} ${x.key} on loop ${x.loop}, used at ${xUsed}) before construction ${z.id} of key ${z.key}, last used by ${zUsed}: not the least recently used`
      )
    }
  }
}

let lastWorld: World | undefined
const checkInvariants = (world: World, callers: ReadonlyArray<Caller>) => {
  lastWorld = world
  const v = world.violations
  // A construction on a loop of no scenario is a violation already; the model follows it no further.
  for (const c of world.constructions.filter((c) => c.loop >= 0)) {
    if (c.outcome === undefined && !hangsForever(c))
      v.push(`4/5: construction ${c.id} (${c.prim} ${c.key}) never settled`)
    // 1: every acquired part is released exactly once (unless its resource's release hung before reaching it).
    c.parts.forEach((releases, p) => {
      if (releases.length > 1) v.push(`1: part ${p} of construction ${c.id} released ${releases.length} times`)
      if (releases.length === 0 && !c.releaseHung && c.outcome !== undefined)
        v.push(`1: part ${p} of construction ${c.id} (${c.prim}, ${c.outcome}) never released`)
    })
    // 1: a resource that came into being is released exactly once, however late it came.
    if (c.releaseStarts.length > 1)
      v.push(`1: construction ${c.id} (${c.prim}) released ${c.releaseStarts.length} times`)
    if (c.acquired && isScoped(c.prim) && c.releaseStarts.length === 0 && c.outcome !== undefined) {
      const late =
        c.end !== undefined && c.end > world.closeCalled[c.loop]! ? ", which arrived after its loop began closing" : ""
      v.push(`1: construction ${c.id} (${c.prim}, ${c.outcome}) acquired its resource${late} but was never released`)
    }
    if (c.outcome === "ok" && isScoped(c.prim)) {
      const releasedAt = c.releaseStarts[0]
      if (
        releasedAt !== undefined &&
        !(world.closeCalled[c.loop]! < releasedAt) &&
        !world.invalidatedBefore(c, releasedAt)
      ) {
        // An eviction: only of a value its bounds could evict by then.
        const reasons = world.evictable(c, c.releaseStartMs!, releasedAt)
        if (reasons.length === 0) {
          const bound = world.boundOf(c)
          const bounded =
            bound === undefined
              ? ""
              : `, nor could its bounds have evicted it yet (${JSON.stringify(bound)}; completed at ${c.endMs}, last call issued at ${c.lastIssueMs}, released at ${c.releaseStartMs}, idle margin ${world.idleMargin})`
          v.push(`1: construction ${c.id} (${c.prim}) released before its loop closed or it was invalidated${bounded}`)
        } else {
          countEviction(reasons, "released")
          if (reasons.length === 1 && reasons[0] === "capacity") checkLeastRecentlyUsed(world, callers, c)
        }
      }
    }
    if (!isScoped(c.prim) && c.releaseStarts.length > 0)
      v.push(`1: construction ${c.id} (${c.prim}) has no release but was released`)
    // 6: a shared construction is interrupted only by its loop's close.
    if (c.outcome === "interrupted" && isShared(c.prim) && !(world.closeCalled[c.loop]! < c.end!)) {
      v.push(`6: shared construction ${c.id} (${c.prim} ${c.key}) was interrupted before its loop closed`)
    }
  }
  // 2: releases at close run in reverse order of acquisition completion (when the completions are ordered for sure).
  const byClose = world.constructions.filter(
    (c) =>
      c.outcome === "ok" &&
      isScoped(c.prim) &&
      c.releaseStarts.length === 1 &&
      c.end! < world.closeCalled[c.loop]! &&
      !world.invalidates.some((i) => i.loop === c.loop && i.group === groupOf(c.prim) && i.key === c.key) &&
      !world.mayBeEvictedBeforeClose(c)
  )
  for (const x of byClose) {
    for (const y of byClose) {
      if (
        x.loop === y.loop &&
        x.firstReceipt !== undefined &&
        x.firstReceipt < y.end! &&
        !(y.releaseStarts[0]! < x.releaseStarts[0]!)
      ) {
        v.push(`2: on loop ${x.loop}, construction ${y.id} completed after ${x.id} but was not released before it`)
      }
    }
  }
  for (let loop = 0; loop < LOOPS; loop++) {
    // 2: the releases of a close start at once (within the model's third turn), whatever constructions still run:
    // they are not starved by an uninterruptible or hung one.
    const closeAt = world.closeCalled[loop]!
    const turn3 = world.closeTurn3[loop]
    const held = world.constructions.some(
      (c) =>
        c.loop === loop &&
        isScoped(c.prim) &&
        c.outcome === "ok" &&
        c.firstReceipt !== undefined &&
        c.firstReceipt < closeAt &&
        !world.invalidatedBefore(c, closeAt) &&
        !world.mayBeEvictedBeforeClose(c)
    )
    if (held && turn3 !== undefined) {
      // (One run by an invalidation counts too: when the model cannot tell, it takes the release for the close's.)
      const first = Math.min(
        ...world.constructions.flatMap((c) =>
          c.loop === loop && c.releaseStarts[0]! > closeAt ? [c.releaseStarts[0]!] : []
        )
      )
      if (!(first < turn3)) {
        const running = world.constructions.filter((c) => c.loop === loop && c.start < closeAt && !(c.end! < closeAt))
        v.push(
          `2: the releases at the close of loop ${loop} did not start within 3 event-loop turns (starved; constructions running at the close: ${
            running
              .map((c) => `${c.id} ${c.prim} ${c.behavior.shield}/${c.behavior.block}/${c.behavior.turns}`)
              .join(", ") || "none"
          })`
        )
      }
    }
  }
  // 4: one construction at a time per loop, shared primitive and key; and one value: a key holding a value is
  // constructed again only after an invalidation that could have forgotten that value, or once its bounds could
  // have evicted it (its release, one event-loop turn later, may then overlap the new construction).
  const shared = world.constructions.filter((c) => isShared(c.prim))
  for (const x of shared) {
    for (const y of shared) {
      if (
        x === y ||
        x.loop !== y.loop ||
        groupOf(x.prim) !== groupOf(y.prim) ||
        x.key !== y.key ||
        !(x.start < y.start)
      )
        continue
      if (!(x.end! < y.start)) {
        v.push(`4: constructions ${x.id} and ${y.id} of ${groupOf(x.prim)} ${x.key} on loop ${x.loop} overlap`)
      } else if (
        x.outcome === "ok" &&
        !world.invalidates.some(
          (i) =>
            i.loop === x.loop &&
            i.group === groupOf(x.prim) &&
            i.key === x.key &&
            i.at < y.start &&
            !(i.doneAt !== undefined && i.doneAt < x.end!)
        ) &&
        !countEviction(world.evictable(x, y.startMs, y.start), "constructed anew")
      ) {
        v.push(
          `4: construction ${y.id} of ${groupOf(y.prim)} ${y.key} (${y.render}) on loop ${y.loop} began while construction ${x.id} (${x.render}) held its value: two values of one key`
        )
      }
    }
  }
  for (const caller of callers) {
    const r = caller.result
    if (r === undefined) {
      v.push(`5: caller of ${caller.prim} ${caller.key} on loop ${caller.loop} never settled`)
      continue
    }
    // 3: callers of a closing or closed loop get LoopClosedError.
    if (caller.loopClosingAtIssue && r._tag !== "closed" && r._tag !== "interrupted") {
      v.push(`3: caller of closed loop ${caller.loop} got ${r._tag} instead of LoopClosedError`)
    }
    if (r._tag === "other") v.push(`caller of ${caller.prim} ${caller.key} failed unexpectedly: ${errorText(r.error)}`)
    if (r._tag === "closed" && world.closeCalled[caller.loop] === undefined)
      v.push(`3: LoopClosedError from an open loop`)
    // 3: a caller waiting when its loop began to close is rejected at once, whatever its construction does (a
    // Promise `singleton` hands out its function's own Promise; a relayed caller waits for its waker first).
    const closeAt = world.closeCalled[caller.loop]!
    const turn1 = world.closeTurn1[caller.loop]
    if (
      !caller.relay &&
      caller.prim !== "promiseSingleton" &&
      caller.issuedAt < closeAt &&
      turn1 !== undefined &&
      !(caller.settledAt! < turn1)
    ) {
      v.push(
        `3: caller of ${caller.prim} ${caller.key} on loop ${caller.loop}, waiting when its loop began closing, was not rejected at the close's start (got ${r._tag} an event-loop turn later or more)`
      )
    }
    // 4: a failed construction is never handed out to a caller issued after its failure was seen.
    if (r._tag === "failed") {
      const c = world.constructions[r.id]!
      const seen = Math.min(
        ...callers.flatMap((o) => (o.result?._tag === "failed" && o.result.id === r.id ? [o.result.at] : []))
      )
      if (caller.issuedAt > seen)
        v.push(`4: caller issued after construction ${c.id}'s failure was seen still got that failure (cached)`)
      if (c.loop !== caller.loop || groupOf(c.prim) !== groupOf(caller.prim) || c.key !== caller.key) {
        v.push(
          `4: caller of ${caller.prim} ${caller.key} got the failure of construction ${c.id} of ${c.prim} ${c.key}`
        )
      }
    }
  }
}

/** How the library names a construction's release in its logs and reports: its entry's kinds and its key. */
const loggedName = (c: Construction): { readonly kinds: ReadonlyArray<string>; readonly key: string } => {
  switch (c.prim) {
    case "stickySingleton":
    case "promiseSticky":
      return { kinds: ["stickySingleton"], key: c.render }
    case "singleton":
      return { kinds: ["singleton"], key: c.render }
    case "memoize":
      return { kinds: ["memoize"], key: c.render }
    // enterOnce and sticky share one acquisition: its entry has the kind of the first caller.
    case "enterOnce":
    case "sticky":
      return { kinds: ["enterOnce", "sticky"], key: "[Effect]" }
    case "enter":
      return { kinds: ["enter"], key: "[Effect]" }
    default:
      return { kinds: [], key: "" }
  }
}
const named = (c: Construction, kind: string, key: string) => {
  const name = loggedName(c)
  return name.kinds.includes(kind) && name.key === key
}

/** A release abandoned at a deadline, and a construction unfinished at a close's deadline, as their causes say. */
const RELEASE_ABANDONED = `did not finish within the deadline (${DEADLINE_MS} ms) and was abandoned`
const CONSTRUCTION_ABANDONED = `did not finish within the close's deadline (${DEADLINE_MS} ms) and was abandoned`

/**
 * What each close reported: every construction begun before it and still unfinished when it resolved, as
 * abandoned; every release still running when it resolved (one run by invalidate included: the close waits for
 * it), as abandoned; every release that failed while it ran, as failed (or abandoned, if it failed after the
 * deadline).
 */
const checkReports = (world: World) => {
  const v = world.violations
  for (let loop = 0; loop < LOOPS; loop++) {
    const report = world.reports[loop]
    const resolved = world.closeResolved[loop]
    if (report === undefined || resolved === undefined) continue
    const records = report.releases.map((r) => ({
      kind: r.kind,
      key: r.key,
      outcome: r.outcome,
      cause: r.cause === undefined ? "" : Cause.pretty(r.cause)
    }))
    // An eviction's (or invalidation's) release that ended before the close began is not the close's to report.
    for (const r of records) {
      const id = r.outcome === "failed" ? /release of (\d+) failed/.exec(r.cause)?.[1] : undefined
      const c = id === undefined ? undefined : world.constructions[Number(id)]
      if (c !== undefined && c.releaseEnd! < world.closeCalled[loop]!) {
        v.push(
          `8: the close of loop ${loop} reports the failed release of construction ${c.id} (${c.prim} ${c.render}), which ended before it began`
        )
      }
    }
    for (const c of world.unfinished[loop]!) {
      count("construction unfinished at its close's deadline")
      if (
        !records.some((r) => r.outcome === "abandoned" && r.cause.includes("construction") && named(c, r.kind, r.key))
      ) {
        v.push(
          `2: construction ${c.id} (${c.prim} ${c.render}), unfinished when the close of loop ${loop} resolved, is not reported abandoned`
        )
      }
    }
    for (const c of world.constructions) {
      const started = c.releaseStarts[0]
      if (c.loop !== loop || started === undefined || !(started < resolved)) continue
      const invalidated = world.invalidatedBefore(c, started)
      if (
        world.invalidatedBefore(c, world.closeCalled[loop]!) &&
        invalidated &&
        !(c.releaseEnd! < world.closeCalled[loop]!)
      )
        count("invalidate's release running when its loop closed")
      if (world.evictedForSure(c) && !(c.releaseEnd! < world.closeCalled[loop]!))
        count("eviction's release running when its loop closed")
      if (c.releaseEnd === undefined || c.releaseEnd > resolved) {
        if (!records.some((r) => r.outcome === "abandoned" && named(c, r.kind, r.key))) {
          v.push(
            `6: the release of construction ${c.id} (${c.prim} ${c.render}${invalidated ? ", run by invalidate" : ""}) was still running when the close of loop ${loop} resolved, and is not reported abandoned`
          )
        }
      } else if (c.releaseFailed && c.releaseEndedClosing) {
        if (
          !records.some(
            (r) =>
              (r.outcome === "failed" && r.cause.includes(`release of ${c.id} failed`)) ||
              (r.outcome === "abandoned" && named(c, r.kind, r.key))
          )
        ) {
          v.push(
            `6: the release of construction ${c.id} (${c.prim} ${c.render}${invalidated ? ", run by invalidate" : ""}) failed during the close of loop ${loop}, which does not report it`
          )
        }
      }
    }
  }
}

const WARNING = /^loop-local: the release of (\S+) (.+) (failed|abandoned) after \d+ ms$/
const STILL_RUNNING = /^loop-local: the release of (\S+) (.+), evicted, is still running after (\d+) ms$/

/**
 * What the library logged during a run: only warnings of releases, each one a
 * release the model knows failed (named by its error), a release that started
 * and may have been abandoned at the deadline, or a construction still
 * unfinished at a close's deadline (named by kind and key); and every release
 * that failed at or after a close is among them, as failed or abandoned, a
 * late value's included; and an eviction's release told still running at the
 * loop's deadline is one that ran that long. Not a release run by invalidate
 * (which surfaces its failure to its caller instead).
 */
const checkLogs = (world: World, logs: ReadonlyArray<Logged>) => {
  const v = world.violations
  const loggedFailed = new Set<number>()
  const loggedAbandoned = new Set<string>()
  for (const log of logs) {
    const running = log.level === "WARN" ? STILL_RUNNING.exec(log.message) : null
    if (running !== null) {
      // 8: an eviction's release still running at the loop's deadline is told, close or not.
      const [, kind, key, ms] = running as unknown as [string, string, string, string]
      count("eviction's release still running, told")
      const slow = (c: Construction) =>
        named(c, kind, key) &&
        c.releaseStartMs !== undefined &&
        // Timers and Date.now() round apart: a timer of the deadline may read a millisecond or two short of it.
        Number(ms) >= DEADLINE_MS - 2 &&
        (c.releaseHung || c.releaseEnd === undefined || c.behavior.releaseTurns > 0)
      if (!world.constructions.some(slow))
        v.push(`"${log.message}": no release of ${kind} ${key} ran for the deadline (${DEADLINE_MS} ms)`)
      continue
    }
    const warning = log.level === "WARN" ? WARNING.exec(log.message) : null
    if (warning === null) {
      v.push(`logged other than a release's failure or abandonment: ${log.level} ${log.message}`)
      continue
    }
    const [, kind, key, outcome] = warning as unknown as [string, string, string, string]
    count(`warning ${outcome}`)
    if (outcome === "abandoned") {
      loggedAbandoned.add(`${kind} ${key}`)
      if (log.cause.includes(CONSTRUCTION_ABANDONED)) {
        count("warning of an unfinished construction")
        // Unfinished to the library: still running when its loop began closing (or begun since), or releasing what
        // it acquired after an interruption (an interrupted `enter`'s).
        const closeAt = (c: Construction) => world.closeCalled[c.loop] ?? Number.POSITIVE_INFINITY
        const unfinished = (c: Construction) =>
          !(c.end! < closeAt(c)) ||
          (c.outcome === "interrupted" && c.releaseStarts.length > 0 && !(c.releaseEnd! < closeAt(c)))
        if (!world.constructions.some((c) => named(c, kind, key) && unfinished(c)))
          v.push(`"${log.message}": no construction of ${kind} ${key} was still running at its loop's close`)
        continue
      }
      if (!log.cause.includes(RELEASE_ABANDONED))
        v.push(`the warning "${log.message}" has another cause than the deadline: ${log.cause}`)
      if (!world.constructions.some((c) => c.releaseStarts.length > 0 && named(c, kind, key)))
        v.push(`"${log.message}": no release of ${kind} ${key} started`)
      continue
    }
    const id = /release of (\d+) failed/.exec(log.cause)?.[1]
    const c = id === undefined ? undefined : world.constructions[Number(id)]
    if (c === undefined) {
      v.push(`"${log.message}" names no failure of a release of the model: ${log.cause}`)
      continue
    }
    if (!c.releaseFailed) v.push(`"${log.message}": the release of construction ${c.id} did not fail`)
    if (!named(c, kind, key)) v.push(`"${log.message}" misnames construction ${c.id} (${c.prim} ${c.render})`)
    if (loggedFailed.has(c.id)) v.push(`the failed release of construction ${c.id} was logged twice`)
    loggedFailed.add(c.id)
  }
  for (const c of world.constructions) {
    const started = c.releaseStarts[0]
    if (!c.releaseFailed || started === undefined) continue
    // A release before the close (an interrupted `enter`'s) fails its construction instead; one run by invalidate
    // fails the invalidation; an eviction's reaches no caller, and is logged (8).
    const evicted = world.evictedForSure(c)
    if (evicted) count("eviction's release failed")
    if (loggedFailed.has(c.id)) continue
    if ((!(started > world.closeCalled[c.loop]!) && !evicted) || world.invalidatedBefore(c, started)) continue
    const name = loggedName(c)
    if (!name.kinds.some((kind) => loggedAbandoned.has(`${kind} ${name.key}`))) {
      const late = c.end !== undefined && c.end > world.closeCalled[c.loop]! ? " (a value that arrived late)" : ""
      v.push(
        `${evicted ? "8: the eviction's" : "the"} release of construction ${c.id} (${c.prim} ${c.render})${late} failed${
          evicted ? "" : " at its loop's close"
        }, unlogged`
      )
    }
  }
  // 8: an eviction's release that hangs is waited for by the close, then abandoned, reported and logged.
  for (const c of world.constructions) {
    if (!c.releaseHung || !world.evictedForSure(c)) continue
    count("eviction's release hung")
    const name = loggedName(c)
    if (!name.kinds.some((kind) => loggedAbandoned.has(`${kind} ${name.key}`)))
      v.push(`8: the eviction's release of construction ${c.id} (${c.prim} ${c.render}) hung, and no warning says so`)
  }
}

/** What the scenarios exercised, checked or printed after the run: a model that never reaches a case proves nothing. */
const coverage: Record<string, number> = {}
const count = (what: string, n = 1) => {
  coverage[what] = (coverage[what] ?? 0) + n
}
/** Counts an eviction the model inferred, by its reason when only one could be; `true` if there is one. */
const countEviction = (reasons: ReadonlyArray<string>, how: string): boolean => {
  if (reasons.length === 0) return false
  count(reasons.length === 1 ? `eviction by ${reasons[0]} (${how})` : `eviction, ambiguous (${how})`)
  if (reasons.length === 1) count(`eviction by ${reasons[0]}`)
  if (reasons.length === 1 && reasons[0] === "idle") idleMargins.push(lastWorld!.idleMargin)
  return true
}
const tally = (world: World, callers: ReadonlyArray<Caller>) => {
  for (const c of world.constructions) {
    count(`construction ${c.outcome}`)
    if (c.prim === "memoize") count(`memoize construction ${c.outcome}`)
    if (c.behavior.shield !== "none") count(`construction shielded (${c.behavior.shield})`)
    if (c.behavior.block !== "none") count(`construction blocked (${c.behavior.block})`)
  }
  for (const shape of world.scenario.shapes) count(`key shape ${shape}`)
  count("release hung", world.constructions.filter((c) => c.releaseHung).length)
  count(
    "release failed",
    world.constructions.filter((c) => c.releaseStarts.length > 0 && c.behavior.releaseFails && !c.behavior.releaseHangs)
      .length
  )
  count(
    "construction completed after its loop began closing",
    world.constructions.filter((c) => c.outcome === "ok" && c.end! > world.closeCalled[c.loop]!).length
  )
  count(
    "resource arrived after its loop's close resolved, then released",
    world.constructions.filter(
      (c) => c.acquired && c.releaseStarts.length === 1 && c.releaseStarts[0]! > world.closeResolved[c.loop]!
    ).length
  )
  for (const caller of callers) count(`${caller.relay ? "relayed " : ""}caller ${caller.result?._tag}`)
  count("invalidate", world.invalidates.length)
}

/** In a survey, the kinds of violations (numbers blanked out), how often, and one example of each. */
const surveyed = new Map<string, { n: number; example: string; scenario: Scenario }>()

it(`holds the lifetime invariants over ${RUNS} random scenarios (seed ${SEED})`, {
  timeout: 60 * 60_000
}, async () => {
  // The loops are closed from Promise code, so the library logs on Effect's default runtime: to the console.
  const logs = captureConsole()
  let last: World | undefined
  const replay = process.env.MODEL_REPLAY
  if (replay !== undefined) {
    const [file, index] = replay.split(":")
    const { scenario: s } = JSON.parse(readFileSync(file!, "utf8"))[Number(index ?? 0)] as { scenario: Scenario }
    const world = await runScenario(s, logs)
    process.stdout.write(`replayed: ${world.violations.join("\n") || "no violations"}\n`)
    process.stdout.write(
      `${JSON.stringify(
        {
          closeCalled: world.closeCalled,
          closeTurn1: world.closeTurn1,
          closeResolved: world.closeResolved,
          closeTurn3: world.closeTurn3,
          invalidates: world.invalidates,
          reports: world.reports.map((r) => r?.releases.map((x) => `${x.outcome} ${x.kind} ${x.key}`)),
          constructions: world.constructions.map(({ behavior: _, ...c }) => c),
          logs: logs.map((l) => `${l.level} ${l.message} ${l.cause.slice(0, 120)}`)
        },
        null,
        1
      )}\n`
    )
    return
  }
  await fc
    .assert(
      fc.asyncProperty(scenario, async (s) => {
        last = await runScenario(s, logs)
        if (SURVEY) {
          for (const violation of new Set(last.violations)) {
            const kind = violation
              .replace(/"[^"]*"/g, "…")
              .replace(/\([^()]*\)|\{[^{}]*\}|\[[^[\]]*\]/g, "…")
              .replace(/\d+/g, "#")
              .slice(0, 160)
            const seen = surveyed.get(kind)
            if (seen === undefined) surveyed.set(kind, { n: 1, example: violation, scenario: s })
            else seen.n++
          }
          return
        }
        if (last.violations.length > 0) throw new Error(`violations:\n${last.violations.join("\n")}`)
      }),
      { numRuns: RUNS, seed: SEED }
    )
    .catch((error: unknown) => {
      throw new Error(`model failed with seed ${SEED} (rerun with MODEL_SEED=${SEED}): ${String(error)}`, {
        cause: error
      })
    })
  expect(last).toBeDefined()
  if (SURVEY) {
    const kinds = Array.from(surveyed.values()).sort((a, b) => b.n - a.n)
    const lines = kinds.map(({ n, example }) => `${String(n).padStart(6)} runs  ${example}`)
    process.stdout.write(
      `model survey over ${RUNS} scenarios (seed ${SEED}):\n${lines.join("\n") || "no violations"}\n`
    )
    // Each kind's first scenario, to replay with MODEL_REPLAY=<file>:<index>.
    if (process.env.MODEL_SURVEY_OUT !== undefined) {
      writeFileSync(
        process.env.MODEL_SURVEY_OUT,
        JSON.stringify(kinds.map(({ example, scenario }) => ({ example, scenario })))
      )
    }
  }
  if (DEFAULT_RUN) {
    // Every case the coverage counts was reached, each failed and abandoned release logged among them.
    expect(Object.keys(coverage).filter((what) => coverage[what]! > 0)).toEqual(
      expect.arrayContaining([
        "construction ok",
        "construction failed",
        "construction interrupted",
        "construction completed after its loop began closing",
        "release hung",
        "release failed",
        "caller value",
        "caller failed",
        "caller closed",
        "caller interrupted",
        "invalidate",
        "warning failed",
        "warning abandoned",
        ...shapes.map((shape) => `key shape ${shape}`),
        "factory filled in defaults on its argument",
        "caller mutated its argument after the call",
        "trailing undefined arguments",
        "construction shielded (region)",
        "construction shielded (acquire)",
        "construction blocked (forever)",
        "construction blocked (untilClose)",
        "construction unfinished at its close's deadline",
        "warning of an unfinished construction",
        "resource arrived after its loop's close resolved, then released",
        "fiber woken by another loop's fiber",
        "relayed caller value",
        "release used its closing loop",
        "caller interrupted after a burn",
        "probe of an interrupted caller's key",
        "invalidate of a held value",
        "invalidate's release running when its loop closed",
        "memoize construction ok",
        "call through a twin under a shared id",
        "eviction by capacity",
        "eviction by idle",
        "eviction by ttl",
        "eviction's release running when its loop closed",
        "eviction's release failed",
        "eviction's release hung"
      ])
    )
  } else {
    if (idleMargins.length > 0)
      process.stdout.write(`idle margins: ${JSON.stringify(idleMargins.sort((a, b) => a - b).slice(0, 20))}\n`)
    process.stdout.write(`model coverage over ${RUNS} scenarios (seed ${SEED}): ${JSON.stringify(coverage, null, 2)}\n`)
  }
})
