/**
 * Property test of how a process ends on SIGTERM or SIGINT, over child processes.
 *
 * A scenario (generated with fast-check) says how the process runs: (a) `closeOnSignals({ deadlineMs })` with plain
 * Promise code on the default loop; (b) `closeOnSignals()` and a top-level `await run(main)` whose main goes on
 * using its loop, the README's server pattern; (c) `NodeLoopLocal.runMain` with an Effect program; (d) as (b), with
 * Effect code too, through `currentLoop().runPromise`. Then 1 to 4 resources, each on the default loop or on the
 * loop of run(), Promise- or Effect-side, a stickySingleton or an enter, built in 0-150 ms (so that some are still
 * being built when the signal lands), released in 0-250 ms, the release sometimes failing and rarely hanging; the
 * signal, sent 0-100 ms after the process printed "ready", sometimes followed by a second one; the deadline,
 * 300-1000 ms. The scenario goes as JSON to one fixture, fixtures/signal-scenario.mjs, which builds it with the public
 * API of the built packages and prints what happens; the checks below read its stdout, exit code and timing.
 *
 * The invariants (the contract: a process under closeOnSignals/runMain exits 130/143 only after every loop's
 * releases finished or hit the deadline, whatever main does meanwhile; a second signal exits at once):
 *  1. The exit code is 143 for SIGTERM, 130 for SIGINT: never 0 or 1, and never before the signal.
 *  2. Every resource acquired before the signal, or whose construction was in flight then and finished within the
 *     deadline, has its release called before the process exits; a release that would finish within the deadline
 *     (not hanging, started early enough) finishes before the exit.
 *  3. No release runs twice or without its value; the releases of one loop run in reverse order of acquisition
 *     completion (for the resources acquired before the signal).
 *  4. The process always exits, at most about the deadline after the signal (a hanging release included).
 *  5. After a second signal, the process exits at once, as the signal says (its code, or killed by it).
 *
 * `pnpm test` runs MODEL_SIGNAL_RUNS (default 50) scenarios from a fixed seed, 4 processes at a time. On failure the
 * message gives the seed, the count of failing scenarios per invariant, and each failing scenario with the child's
 * stdout and stderr; MODEL_SEED=<seed> replays the same scenarios, MODEL_SIGNAL_ONLY=<index> runs only one of them,
 * MODEL_SIGNAL_SHOW=<n> shows n failing scenarios in full (default 3).
 */
import { FastCheck as fc } from "effect"
import { performance } from "node:perf_hooks"
import { setTimeout as sleep } from "node:timers/promises"
import { expect, it } from "vitest"
import { type Finished, lines, spawnFixture } from "./child.js"

const RUNS = Number(process.env.MODEL_SIGNAL_RUNS ?? 50)
const SEED = process.env.MODEL_SEED !== undefined ? Number(process.env.MODEL_SEED) : 20260311
const ONLY = process.env.MODEL_SIGNAL_ONLY !== undefined ? Number(process.env.MODEL_SIGNAL_ONLY) : undefined
const SHOW = Number(process.env.MODEL_SIGNAL_SHOW ?? 3)
/** Processes at a time: most of a scenario's time is Node starting up (CPU) or waiting for timers (none). */
const PARALLEL = 4

/** How late after the signal the process may exit, beyond the deadline: scheduling on a loaded 2-core machine. */
const EXIT_MARGIN_MS = 1_500
/** When the test gives up on a process and kills it: the deadline plus this, after the signal. */
const KILL_AFTER_MS = 3_000
/** How soon after a second signal the process must be gone. */
const SECOND_SIGNAL_EXIT_MS = 1_000
/** Only what happens this long before the deadline counts as within it: timers are not exact. */
const DEADLINE_MARGIN_MS = 100
/** Node plus the packages take about a second to start on a loaded machine; "ready" later than this is a failure. */
const READY_TIMEOUT_MS = 15_000

type Mode = "signals" | "run" | "mixed" | "runMain"
const modes: ReadonlyArray<Mode> = ["signals", "run", "mixed", "runMain"]

interface Resource {
  readonly name: string
  readonly loop: "default" | "run"
  readonly api: "promise" | "effect"
  readonly prim: "stickySingleton" | "enter"
  /** Effect side: the construction waits before acquireRelease (interruptible), rather than inside its acquire. */
  readonly interruptible: boolean
  readonly constructMs: number
  readonly releaseMs: number
  readonly release: "ok" | "fails" | "hangs"
}

interface Scenario {
  readonly mode: Mode
  readonly deadlineMs: number
  readonly signal: "SIGTERM" | "SIGINT"
  readonly signalDelayMs: number
  readonly secondSignalAfterMs: number | null
  readonly resources: ReadonlyArray<Resource>
}

const resource = (mode: Mode): fc.Arbitrary<Omit<Resource, "name">> => {
  // Only (b) and (d) have a run() loop; only (c) and (d) have Effect code besides Promise code.
  const loops: Array<Resource["loop"]> = mode === "run" || mode === "mixed" ? ["default", "run"] : ["default"]
  const apis: Array<Resource["api"]> = mode === "mixed" || mode === "runMain" ? ["promise", "effect"] : ["promise"]
  return fc.record({
    loop: fc.constantFrom(...loops),
    api: fc.constantFrom(...apis),
    prim: fc.constantFrom<Resource["prim"]>("stickySingleton", "enter"),
    interruptible: fc.boolean(),
    constructMs: fc.integer({ min: 0, max: 150 }),
    releaseMs: fc.integer({ min: 0, max: 250 }),
    release: fc.oneof(
      { arbitrary: fc.constant<Resource["release"]>("ok"), weight: 15 },
      { arbitrary: fc.constant<Resource["release"]>("fails"), weight: 4 },
      { arbitrary: fc.constant<Resource["release"]>("hangs"), weight: 1 }
    )
  })
}

const scenario: fc.Arbitrary<Scenario> = fc.constantFrom(...modes).chain((mode) =>
  fc.record({
    mode: fc.constant(mode),
    deadlineMs: fc.integer({ min: 300, max: 1_000 }),
    signal: fc.constantFrom<Scenario["signal"]>("SIGTERM", "SIGINT"),
    signalDelayMs: fc.integer({ min: 0, max: 100 }),
    secondSignalAfterMs: fc.oneof(
      { arbitrary: fc.constant(null), weight: 6 },
      { arbitrary: fc.integer({ min: 0, max: 100 }), weight: 1 }
    ),
    resources: fc
      .array(resource(mode), { minLength: 1, maxLength: 4 })
      .map((rs) => rs.map((r, i) => ({ name: `r${i}`, ...r })))
  })
)

/** What the test saw of one process; times are the test's `performance.now()`. */
interface Outcome extends Finished {
  /** Why the test stopped waiting for the process, if it did: it was then killed with SIGKILL. */
  readonly killed: string | undefined
  readonly exitedAt: number
  readonly signalSentAt: number | undefined
  readonly secondSentAt: number | undefined
}

const runScenario = async (s: Scenario): Promise<Outcome> => {
  const { child, finished, waitFor } = spawnFixture("signal-scenario.mjs", [JSON.stringify(s)])
  let exitedAt: number | undefined
  const done = finished.then((f) => {
    exitedAt = performance.now()
    return f
  })
  let killed: string | undefined
  const kill = (why: string) => {
    if (exitedAt !== undefined) return
    killed = why
    child.kill("SIGKILL")
  }
  let signalSentAt: number | undefined
  let secondSentAt: number | undefined
  const readyTimer = setTimeout(() => kill(`no "ready" within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS)
  // The fixture prints "ready" once every construction has started; a process that exits before is reported below.
  const ready = await waitFor("ready ").then(
    () => true,
    () => false
  )
  clearTimeout(readyTimer)
  let killTimer: ReturnType<typeof setTimeout> | undefined
  if (ready) {
    await sleep(s.signalDelayMs)
    if (exitedAt === undefined) {
      signalSentAt = performance.now()
      child.kill(s.signal)
      killTimer = setTimeout(
        () => kill(`still running ${s.deadlineMs + KILL_AFTER_MS} ms after the signal`),
        s.deadlineMs + KILL_AFTER_MS
      )
      if (s.secondSignalAfterMs !== null) {
        // Not before the process has handled the first: two of one signal pending at once are delivered as one.
        await waitFor(`signal ${s.signal} `).catch(() => {})
        await Promise.race([sleep(s.secondSignalAfterMs), done])
        if (exitedAt === undefined) {
          secondSentAt = performance.now()
          child.kill(s.signal)
        }
      }
    }
  }
  const f = await done
  clearTimeout(killTimer)
  return { ...f, killed, exitedAt: exitedAt!, signalSentAt, secondSentAt }
}

interface Event {
  readonly index: number
  readonly kind: string
  readonly word: string | undefined
  readonly t: number
}

const eventKind = /^(?:start|acquired|release|released|release-failed|caller|ready|signal|exit)$/

/** The fixture's lines, in order; other lines (Effect's logger, which writes to stdout) are skipped. */
const parseEvents = (stdout: string): Array<Event> =>
  lines(stdout).flatMap((line, index) => {
    const words = line.split(" ")
    const kind = words[0]!
    const t = Number(words.at(-1))
    return eventKind.test(kind) && Number.isFinite(t) ? [{ index, kind, word: words[1], t }] : []
  })

/**
 * Per loop, the resources acquired before the signal whose release was called, in order of acquisition, with the
 * line of that call: the releases must come in the reverse order.
 */
const releaseOrders = (s: Scenario, events: ReadonlyArray<Event>) => {
  const signal = events.find((e) => e.kind === "signal")
  const first = (kind: string, name: string) => events.find((e) => e.kind === kind && e.word === name)
  return (["default", "run"] as const).map((loop) => {
    const order = s.resources.flatMap((r) => {
      const acquired = first("acquired", r.name)
      const release = first("release", r.name)
      return r.loop === loop &&
        signal !== undefined &&
        acquired !== undefined &&
        acquired.index < signal.index &&
        release
        ? [{ name: r.name, acquired, release }]
        : []
    })
    return [loop, order.sort((x, y) => x.acquired.index - y.acquired.index)] as const
  })
}

type Invariant = 1 | 2 | 3 | 4 | 5
const invariantNames: Record<Invariant, string> = {
  1: "exit code as the signal",
  2: "acquired => released before exit",
  3: "each release once, reverse order",
  4: "exits within about the deadline",
  5: "second signal exits at once"
}

interface Violation {
  readonly invariant: Invariant | "harness"
  readonly text: string
}

const describeResource = (r: Resource) =>
  `${r.name} (${r.api} ${r.prim}${r.api === "effect" && r.interruptible ? ", interruptible" : ""}, ${r.loop} loop, ` +
  `built in ${r.constructMs} ms, release ${r.release} after ${r.releaseMs} ms)`

const check = (s: Scenario, o: Outcome): Array<Violation> => {
  const violations: Array<Violation> = []
  const expectedCode = s.signal === "SIGINT" ? 130 : 143
  if (o.signalSentAt === undefined) {
    // The process never got to the signal: it did not start, or exited by itself.
    return [
      { invariant: o.killed === undefined ? 1 : "harness", text: `no signal sent: ${o.killed ?? "exited before"}` }
    ]
  }
  const events = parseEvents(o.stdout)
  const signal = events.find((e) => e.kind === "signal")
  const second = o.secondSentAt !== undefined

  // 4: always exits, within about the deadline.
  if (o.killed !== undefined) violations.push({ invariant: 4, text: o.killed })
  else if (o.exitedAt - o.signalSentAt > s.deadlineMs + EXIT_MARGIN_MS) {
    violations.push({
      invariant: 4,
      text: `exited ${Math.round(o.exitedAt - o.signalSentAt)} ms after the signal (deadline ${s.deadlineMs} ms)`
    })
  }

  // 1 and 5: the exit code. After a second signal, being killed by it is exiting as it says too (Node's default
  // action, once the handlers are gone).
  if (o.killed === undefined) {
    const asSignal = o.code === expectedCode || (second && o.signal === s.signal)
    if (!asSignal) {
      violations.push({
        invariant: second ? 5 : 1,
        text: `exit code ${o.code}${o.signal === null ? "" : ` (killed by ${o.signal})`}, expected ${expectedCode}`
      })
    }
    if (second && o.exitedAt - o.secondSentAt! > SECOND_SIGNAL_EXIT_MS) {
      violations.push({
        invariant: 5,
        text: `exited ${Math.round(o.exitedAt - o.secondSentAt!)} ms after the second signal`
      })
    }
  }
  if (signal === undefined) {
    if (o.killed === undefined) violations.push({ invariant: 1, text: "exited without the signal reaching it" })
    return violations
  }

  // 3: each release at most once, after its acquisition; per loop, in reverse order of acquisition.
  const acquired = new Map(events.filter((e) => e.kind === "acquired").map((e) => [e.word!, e]))
  const releases = (name: string) => events.filter((e) => e.kind === "release" && e.word === name)
  for (const r of s.resources) {
    const rs = releases(r.name)
    const a = acquired.get(r.name)
    if (rs.length > 1) violations.push({ invariant: 3, text: `${describeResource(r)} released ${rs.length} times` })
    if (rs.length > 0 && (a === undefined || a.index > rs[0]!.index)) {
      violations.push({ invariant: 3, text: `${describeResource(r)} released before it was acquired` })
    }
  }
  for (const [loop, order] of releaseOrders(s, events)) {
    for (let i = 1; i < order.length; i++) {
      const [earlier, later] = [order[i - 1]!, order[i]!]
      if (earlier.release.index < later.release.index) {
        violations.push({
          invariant: 3,
          text: `on the ${loop} loop, ${earlier.name} was acquired before ${later.name} but released before it`
        })
      }
    }
  }

  // 2: what was acquired in time is released before the exit (not checkable when a second signal cut it short, or
  // when the process had to be killed).
  if (!second && o.killed === undefined) {
    const endOfDeadline = signal.t + s.deadlineMs - DEADLINE_MARGIN_MS
    for (const r of s.resources) {
      const a = acquired.get(r.name)
      if (a === undefined) {
        // Never acquired: right for an Effect construction interrupted by the close, wrong for one that cannot be
        // interrupted (a Promise, an uninterruptible acquire) and would have finished within the deadline: the
        // process exited before its value came, so nobody released it.
        const start = events.find((e) => e.kind === "start" && e.word === r.name)
        const interruptible = r.api === "effect" && r.interruptible
        if (start !== undefined && !interruptible && start.t + r.constructMs <= endOfDeadline) {
          violations.push({
            invariant: 2,
            text:
              `${describeResource(r)}, in flight at the signal, due ${Math.round(start.t + r.constructMs - signal.t)} ` +
              "ms after it: never acquired nor released, the process exited first"
          })
        }
        continue
      }
      const when =
        a.index < signal.index
          ? "acquired before the signal"
          : `in flight at the signal, acquired ${Math.round(a.t - signal.t)} ms after it`
      if (a.index > signal.index && a.t > endOfDeadline) continue
      const [release] = releases(r.name)
      if (release === undefined) {
        violations.push({ invariant: 2, text: `${describeResource(r)}, ${when}: never released` })
        continue
      }
      const ended = events.some((e) => (e.kind === "released" || e.kind === "release-failed") && e.word === r.name)
      if (!ended && r.release !== "hangs" && release.t + r.releaseMs <= endOfDeadline) {
        violations.push({
          invariant: 2,
          text:
            `${describeResource(r)}, ${when}: its release, started ${Math.round(release.t - signal.t)} ms after ` +
            `the signal, was cut short by the exit`
        })
      }
    }
  }
  return violations
}

interface Result {
  readonly index: number
  readonly scenario: Scenario
  readonly outcome: Outcome
  readonly violations: ReadonlyArray<Violation>
}

/** Runs `tasks` with at most `parallel` at a time, keeping their order. */
const inBatches = async <A>(tasks: ReadonlyArray<() => Promise<A>>, parallel: number): Promise<Array<A>> => {
  const results: Array<A> = []
  let next = 0
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++
      results[i] = await tasks[i]!()
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, tasks.length) }, worker))
  return results
}

const indent = (text: string) =>
  text.length === 0
    ? "    (nothing)"
    : text
        .trimEnd()
        .split("\n")
        .map((l) => `    ${l}`)
        .join("\n")

const explain = (failed: ReadonlyArray<Result>, total: number): string => {
  const byInvariant = new Map<string, number>()
  for (const { violations } of failed) {
    for (const inv of new Set(violations.map((v) => v.invariant))) {
      byInvariant.set(String(inv), (byInvariant.get(String(inv)) ?? 0) + 1)
    }
  }
  const counts = [...byInvariant]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([inv, n]) => `  ${inv} (${invariantNames[Number(inv) as Invariant] ?? "the test's own"}): ${n} scenarios`)
  const shown = failed
    .slice(0, SHOW)
    .map(({ index, scenario: s, outcome: o, violations }) =>
      [
        `--- scenario ${index}: ${JSON.stringify(s)}`,
        ...violations.map((v) => `  [${v.invariant}] ${v.text}`),
        `  exit code ${o.code}, signal ${o.signal}` +
          (o.signalSentAt === undefined ? "" : `, ${Math.round(o.exitedAt - o.signalSentAt)} ms after the signal`),
        "  stdout:",
        indent(o.stdout),
        "  stderr:",
        indent(o.stderr)
      ].join("\n")
    )
  const rest = failed
    .slice(SHOW)
    .map(
      ({ index, violations }) =>
        `--- scenario ${index}: ${violations.map((v) => `[${v.invariant}] ${v.text}`).join("; ")}`
    )
  return [
    `${failed.length} of ${total} signal scenarios failed (seed ${SEED}: rerun with MODEL_SEED=${SEED} ` +
      `MODEL_SIGNAL_RUNS=${RUNS}, one of them with MODEL_SIGNAL_ONLY=<index>)`,
    "failing scenarios per invariant:",
    ...counts,
    ...shown,
    ...rest
  ].join("\n")
}

it(`processes end as the signal says, after their releases, over ${RUNS} random scenarios (seed ${SEED})`, {
  timeout: 60_000 + RUNS * 2_000
}, async () => {
  const scenarios = fc.sample(scenario, { seed: SEED, numRuns: RUNS })
  const picked = scenarios.map((s, index) => ({ s, index })).filter(({ index }) => ONLY === undefined || index === ONLY)
  expect(picked.length, `MODEL_SIGNAL_ONLY=${ONLY} names no scenario of ${RUNS}`).toBeGreaterThan(0)
  const results = await inBatches(
    picked.map(({ s, index }) => async (): Promise<Result> => {
      const outcome = await runScenario(s)
      return { index, scenario: s, outcome, violations: check(s, outcome) }
    }),
    PARALLEL
  )
  const failed = results.filter((r) => r.violations.length > 0)
  if (failed.length > 0) throw new Error(explain(failed, results.length))

  if (ONLY === undefined && process.env.MODEL_SEED === undefined && process.env.MODEL_SIGNAL_RUNS === undefined) {
    // The default run reached the cases that matter: each way of running, both signals, a second signal, failing
    // and hanging releases, constructions still in flight at the signal that finished, and two releases or more of
    // one loop whose order was checked.
    const stdouts = results.map((r) => parseEvents(r.outcome.stdout))
    const inFlight = stdouts.filter((events) => {
      const signal = events.findIndex((e) => e.kind === "signal")
      return signal >= 0 && events.slice(signal).some((e) => e.kind === "acquired")
    }).length
    expect({
      modes: new Set(scenarios.map((s) => s.mode)).size,
      signals: new Set(scenarios.map((s) => s.signal)).size,
      secondSignal: scenarios.some((s) => s.secondSignalAfterMs !== null),
      releaseFails: scenarios.some((s) => s.resources.some((r) => r.release === "fails")),
      releaseHangs: scenarios.some((s) => s.resources.some((r) => r.release === "hangs")),
      inFlightAcquired: inFlight > 0,
      releaseOrderChecked: stdouts.some((events, i) =>
        releaseOrders(results[i]!.scenario, events).some(([, order]) => order.length >= 2)
      )
    }).toEqual({
      modes: 4,
      signals: 2,
      secondSignal: true,
      releaseFails: true,
      releaseHangs: true,
      inFlightAcquired: true,
      releaseOrderChecked: true
    })
  }
})
