/**
 * Group 5: closing a loop that holds N resources released at close (each
 * entered with `LoopLocal.enter`), in ns per resource, against closing an
 * Effect `Scope` holding N resources acquired with `Effect.acquireRelease`.
 * Both run with tracing on, as Effect runs by default: its default tracer,
 * under which the loop makes no `loop-local.release` spans (nobody reads them).
 */
import { Effect, Exit, Scope, Tracer } from "effect"
import { quick, report, type Row } from "../../../bench/harness.js"
import { LoopLocal } from "../src/index.js"
import * as Binding from "../src/internal/binding.js"

const gc = (globalThis as { gc?: () => void }).gc
const counts = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000]
const repeats = quick ? 1 : 5
const resource = Effect.acquireRelease(Effect.void, () => Effect.void)

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Effect's own tracer under another identity: an installed tracer, for which the loop makes its spans. */
const native = Effect.runSync(Effect.tracer)
const installed = Tracer.make({ span: (...args) => native.span(...args), context: native.context })

const closeLoop = async (n: number, tracer?: Tracer.Tracer) => {
  const loop = Binding.makeLoop()
  await loop.runPromise(Effect.forEach(Array.from({ length: n }), () => LoopLocal.enter(resource), { discard: true }))
  gc?.()
  const started = process.hrtime.bigint()
  const report =
    tracer === undefined
      ? await Binding.close(loop)
      : await Effect.runPromise(
          Effect.withTracer(
            Effect.zipRight(
              Scope.close(loop.scope, Exit.void),
              Effect.sync(() => loop.report!)
            ),
            tracer
          )
        )
  const ns = Number(process.hrtime.bigint() - started)
  if (report.releases.length !== n) throw new Error(`closed ${report.releases.length} of ${n}`)
  return ns / n
}

const closeScope = async (n: number) => {
  const scope = Effect.runSync(Scope.make())
  await Effect.runPromise(
    Scope.extend(
      Effect.forEach(Array.from({ length: n }), () => resource, { discard: true }),
      scope
    )
  )
  gc?.()
  const started = process.hrtime.bigint()
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return Number(process.hrtime.bigint() - started) / n
}

const rows: Array<Row> = []
for (const n of counts) {
  const loopNs: Array<number> = []
  const scopeNs: Array<number> = []
  const tracedNs: Array<number> = []
  for (let r = 0; r < repeats; r++) {
    loopNs.push(await closeLoop(n))
    scopeNs.push(await closeScope(n))
    if (n === 10_000) tracedNs.push(await closeLoop(n, installed))
  }
  const base = median(scopeNs)
  rows.push({ group: "5. Close", name: `Scope.close, ${n} resources (baseline)`, nsPerOp: base, ratio: 1 })
  rows.push({
    group: "5. Close",
    name: `loop close, ${n} resources (tracing on, Effect's default tracer)`,
    nsPerOp: median(loopNs),
    ratio: median(loopNs) / base
  })
  if (tracedNs.length > 0) {
    rows.push({
      group: "5. Close",
      name: `loop close, ${n} resources, a tracer installed (a span per release)`,
      nsPerOp: median(tracedNs),
      ratio: median(tracedNs) / base
    })
  }
}
report(rows)
