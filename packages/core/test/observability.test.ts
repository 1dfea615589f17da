import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Option, Scope, Tracer } from "effect"
import { LoopLocal } from "../src/index.js"
import * as Binding from "../src/internal/binding.js"
import { captureConsole, type Logged, recordLogs } from "./helpers.js"

interface Recorded {
  readonly name: string
  readonly attributes: ReadonlyMap<string, unknown>
  readonly parent: string | undefined
}

/** A tracer that records every span the current tracer starts, with its parent's name. */
const recordingTracer = (spans: Array<Recorded>) =>
  Effect.map(Effect.tracer, (current) =>
    Tracer.make({
      span: (name, parent, context, links, startTime, kind, options) => {
        const span = current.span(name, parent, context, links, startTime, kind, options)
        spans.push({
          name,
          attributes: span.attributes,
          parent: Option.match(parent, {
            onNone: () => undefined,
            onSome: (p) => (p._tag === "Span" ? p.name : "external")
          })
        })
        return span
      },
      context: (f, fiber) => current.context(f, fiber)
    })
  )

const inLoop = <A, E>(effect: Effect.Effect<A, E, LoopLocal.LoopLocal>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const loop = yield* Scope.extend(LoopLocal.make, scope)
    const value = yield* Effect.provideService(effect, LoopLocal.LoopLocal, loop)
    yield* Effect.exit(Scope.close(scope, Exit.void))
    return value
  })

describe("observability", () => {
  it.effect("traces acquisitions (under the caller's span) and releases, with kind and key attributes", () =>
    Effect.gen(function* () {
      const spans: Array<Recorded> = []
      const Pool = LoopLocal.stickySingleton((url: string) =>
        Effect.acquireRelease(Effect.succeed({ url }), () => Effect.void)
      )
      const tracer = yield* recordingTracer(spans)
      yield* inLoop(Effect.withSpan(Pool("postgres://app:secret@db/app"), "handler")).pipe(Effect.withTracer(tracer))
      const acquire = spans.find((s) => s.name === "loop-local.acquire")
      const release = spans.find((s) => s.name === "loop-local.release")
      expect(acquire?.attributes.get("kind")).toBe("stickySingleton")
      expect(acquire?.attributes.get("key")).toBe('"postgres://app:***@db/app"')
      expect(acquire?.parent).toBe("handler")
      expect(release?.attributes.get("kind")).toBe("stickySingleton")
      expect(release?.attributes.get("key")).toBe('"postgres://app:***@db/app"')
    })
  )

  it.effect("makes the acquisition's own spans its children, and its annotations reach it", () =>
    Effect.gen(function* () {
      const spans: Array<Recorded> = []
      const traceIds: Array<string> = []
      const Pool = LoopLocal.stickySingleton((url: string) =>
        Effect.acquireRelease(
          Effect.gen(function* () {
            yield* Effect.annotateCurrentSpan("pool.size", 10)
            const connect = yield* Effect.useSpan("connect", (span) => Effect.succeed(span))
            traceIds.push(connect.traceId)
            return { url }
          }),
          () => Effect.void
        )
      )
      const tracer = yield* recordingTracer(spans)
      yield* inLoop(
        Effect.withSpan(
          Effect.zipRight(
            Effect.flatMap(Effect.currentSpan, (handler) => Effect.sync(() => traceIds.push(handler.traceId))),
            Pool("a")
          ),
          "handler"
        )
      ).pipe(Effect.withTracer(tracer))
      expect(spans.find((s) => s.name === "loop-local.acquire")?.attributes.get("pool.size")).toBe(10)
      expect(spans.find((s) => s.name === "connect")?.parent).toBe("loop-local.acquire")
      expect(new Set(traceIds).size).toBe(1)
    })
  )

  it.live(
    "logs a failed release and a slow one through Effect's logger",
    () =>
      Effect.gen(function* () {
        const logs: Array<Logged> = []
        yield* inLoop(
          Effect.gen(function* () {
            yield* LoopLocal.atExit(Effect.die(new Error("flush failed")))
            yield* LoopLocal.atExit(Effect.sleep(Duration.millis(1_200)))
          })
        ).pipe(Effect.provide(recordLogs(logs)))
        expect(logs).toEqual([
          {
            level: "WARN",
            message: expect.stringMatching(/^loop-local: the release of atExit #2 took 1\d{3} ms$/),
            cause: ""
          },
          {
            level: "WARN",
            message: expect.stringMatching(/^loop-local: the release of atExit #1 failed after \d+ ms$/),
            cause: expect.stringMatching(/^Error: flush failed\n/)
          }
        ])
      }),
    10_000
  )

  it.effect("logs every acquisition and release with LOOP_LOCAL_DEBUG=1", () =>
    Effect.gen(function* () {
      const logs: Array<Logged> = []
      const Config = LoopLocal.singleton((env: string) => Effect.succeed({ env }))
      process.env.LOOP_LOCAL_DEBUG = "1"
      try {
        yield* inLoop(
          Effect.zipRight(Config("prod"), LoopLocal.enter(Effect.acquireRelease(Effect.void, () => Effect.void)))
        ).pipe(Effect.provide(recordLogs(logs)))
      } finally {
        delete process.env.LOOP_LOCAL_DEBUG
      }
      expect(logs.map((l) => `${l.level} ${l.message}`)).toEqual([
        expect.stringMatching(/^INFO loop-local: acquired singleton "prod" in \d+ ms$/),
        expect.stringMatching(/^INFO loop-local: acquired enter \[Effect\] in \d+ ms$/),
        expect.stringMatching(/^INFO loop-local: released enter \[Effect\] in \d+ ms$/)
      ])
    })
  )

  it("formats a shutdown report as a short table", async () => {
    const logs = captureConsole()
    const loop = Binding.makeLoop({ deadlineMs: 50 })
    await loop.runPromise(
      Effect.gen(function* () {
        yield* LoopLocal.enter(Effect.acquireRelease(Effect.succeed(1), () => Effect.void))
        yield* LoopLocal.atExit(Effect.die(new Error("flush failed")))
        yield* LoopLocal.atExit(Effect.never)
      })
    )
    const text = LoopLocal.formatShutdownReport(await Binding.close(loop))
    expect(text.split("\n")).toEqual([
      expect.stringMatching(/^loop \d+ closed in \d+ ms: 1 released, 1 failed, 1 abandoned$/),
      expect.stringMatching(/^ {2}abandoned +\d+ ms {2}atExit #3$/),
      expect.stringMatching(/^ {2}failed +\d+ ms {2}atExit #2: Error: flush failed$/),
      expect.stringMatching(/^ {2}ok +\d+ ms {2}enter \[Effect\]$/)
    ])
    // The same two releases were logged, as the close reached them.
    expect(logs).toEqual([
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of atExit #3 abandoned after \d+ ms$/),
        cause: expect.stringContaining("did not finish within the deadline (50 ms) and was abandoned")
      },
      {
        level: "WARN",
        message: expect.stringMatching(/^loop-local: the release of atExit #2 failed after \d+ ms$/),
        cause: expect.stringMatching(/^Error: flush failed\n/)
      }
    ])
  })

  it("lists what a loop holds through Loop.inspect() too", async () => {
    const loop = Binding.makeLoop()
    const Single = LoopLocal.singleton((k: string) => Effect.succeed(k))
    await loop.runPromise(Single("x"))
    expect(loop.inspect().map((e) => `${e.kind} ${e.key}`)).toEqual(['singleton "x"'])
    await Binding.close(loop)
  })
})
