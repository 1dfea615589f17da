/**
 * Group 9: a loop's whole life, from its making to its close, against the
 * Effect code it stands in for: an empty `run()` against an empty
 * `Effect.scoped`, a `run()` holding one `enter` against a scoped
 * `acquireRelease`, and `LoopLocal.layer` providing one `enter` against
 * `Layer.scoped` of the same resource. Each row is measured in alternation
 * with its own baseline (batches taken in turn, medians compared), so that a
 * busy machine slows both alike; its ratio is to that baseline.
 */
import { LoopLocal } from "@loop-local/core"
import { Context, Effect, Layer } from "effect"
import { quick, report, type Row } from "../../../bench/harness.js"
import { enter, run } from "../src/index.js"

const GROUP = "9. Loop lifecycle"
const OPS = quick ? 50 : 200
const rounds = quick ? 9 : 61

class Resource extends Context.Tag("bench/Resource")<Resource, { readonly id: number }>() {}

const value = { id: 1 }
const release = () => {}
const resource = Effect.acquireRelease(Effect.succeed(value), () => Effect.void)

const pairs: ReadonlyArray<
  readonly [baseline: string, target: string, base: () => Promise<unknown>, row: () => Promise<unknown>]
> = [
  [
    "Effect.runPromise(Effect.scoped(Effect.void))",
    "run(async () => {})",
    () => Effect.runPromise(Effect.scoped(Effect.void)),
    () => run(async () => {})
  ],
  [
    "Effect.runPromise(Effect.scoped(acquireRelease))",
    "run(async () => { await enter(v, release) })",
    () => Effect.runPromise(Effect.scoped(resource)),
    () =>
      run(async () => {
        await enter(value, release)
      })
  ],
  [
    "Effect.provide(Resource, Layer.scoped(Resource, acquireRelease))",
    "Effect.provide(LoopLocal.enter(acquireRelease), LoopLocal.layer)",
    () => Effect.runPromise(Effect.provide(Resource, Layer.scoped(Resource, resource))),
    () => Effect.runPromise(Effect.provide(LoopLocal.enter(resource), LoopLocal.layer))
  ]
]

/** ns per operation of one batch of `OPS` operations run one after the other. */
const batch = async (op: () => Promise<unknown>): Promise<number> => {
  const started = process.hrtime.bigint()
  for (let i = 0; i < OPS; i++) await op()
  return Number(process.hrtime.bigint() - started) / OPS
}

const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const rows: Array<Row> = []
for (const [baseName, name, base, target] of pairs) {
  // Warm both up before timing, so that neither is measured while it is being compiled.
  for (let i = 0; i < (quick ? 2 : 10); i++) {
    await batch(base)
    await batch(target)
  }
  const baseNs: Array<number> = []
  const targetNs: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    baseNs.push(await batch(base))
    targetNs.push(await batch(target))
  }
  const b = median(baseNs)
  const t = median(targetNs)
  rows.push({ group: GROUP, name: `${baseName} (baseline)`, nsPerOp: b, ratio: 1 })
  rows.push({ group: GROUP, name, nsPerOp: t, ratio: t / b })
}
report(rows)
