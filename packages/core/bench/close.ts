/**
 * Group 5: closing a loop that holds N resources released at close (each
 * entered with `LoopLocal.enter`), in ns per resource, against closing an
 * Effect `Scope` holding N resources acquired with `Effect.acquireRelease`.
 */
import { Effect, Exit, Scope } from "effect"
import { quick, report, type Row } from "../../../bench/harness.js"
import { LoopLocal } from "../src/index.js"
import * as Binding from "../src/internal/binding.js"

const gc = (globalThis as { gc?: () => void }).gc
const counts = quick ? [1_000, 10_000] : [1_000, 10_000, 100_000]
const repeats = quick ? 1 : 5
const resource = Effect.acquireRelease(Effect.void, () => Effect.void)

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const closeLoop = async (n: number) => {
  const loop = Binding.makeLoop()
  await loop.runPromise(Effect.forEach(Array.from({ length: n }), () => LoopLocal.enter(resource), { discard: true }))
  gc?.()
  const started = process.hrtime.bigint()
  const report = await Binding.close(loop)
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
  for (let r = 0; r < repeats; r++) {
    loopNs.push(await closeLoop(n))
    scopeNs.push(await closeScope(n))
  }
  const base = median(scopeNs)
  rows.push({ group: "5. Close", name: `Scope.close, ${n} resources (baseline)`, nsPerOp: base, ratio: 1 })
  rows.push({
    group: "5. Close",
    name: `loop close, ${n} resources`,
    nsPerOp: median(loopNs),
    ratio: median(loopNs) / base
  })
}
report(rows)
