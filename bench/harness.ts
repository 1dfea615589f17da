/**
 * Shared by the benchmark groups: each group runs in a process of its own
 * (started by bench/run.ts), measures its rows with tinybench, and prints them
 * as one JSON line that the runner collects.
 */
import { Bench } from "tinybench"

export const quick = process.argv.includes("--quick")

export interface Row {
  readonly group: string
  readonly name: string
  readonly nsPerOp: number
  readonly ratio: number
  /** Figures of the row besides ns/op (constructions, bytes per entry, ...). */
  readonly extra?: Record<string, number>
}

/**
 * Measures each task's median time and divides it by `opsPerRun`: tasks run a
 * batch of operations per call, so that the timer's own cost is spread thin.
 */
export const measure = async (
  tasks: ReadonlyArray<readonly [name: string, run: () => unknown]>,
  opsPerRun: number
): Promise<Array<{ name: string; nsPerOp: number }>> => {
  const bench = new Bench({ time: quick ? 100 : 1_500, warmupTime: quick ? 20 : 300, warmupIterations: 5 })
  for (const [name, run] of tasks) bench.add(name, run)
  await bench.run()
  return bench.tasks.map((task) => {
    const latency = (task.result as { latency?: { p50?: number } }).latency
    if (latency?.p50 === undefined)
      throw new Error(`benchmark ${task.name} did not run: ${JSON.stringify(task.result)}`)
    return { name: task.name, nsPerOp: (latency.p50 * 1e6) / opsPerRun }
  })
}

/** Rows with their ratio to the group's baseline (the row named `baseline`). */
export const withRatios = (
  group: string,
  measured: ReadonlyArray<{ name: string; nsPerOp: number; extra?: Record<string, number> }>,
  baseline: string
): Array<Row> => {
  const base = measured.find((m) => m.name === baseline)
  if (base === undefined) throw new Error(`no baseline row ${baseline} in ${group}`)
  return measured.map((m) => ({ group, ...m, ratio: m.nsPerOp / base.nsPerOp }))
}

/** Hands the rows to the runner. */
export const report = (rows: ReadonlyArray<Row>): void => {
  console.log(`BENCH_ROWS ${JSON.stringify(rows)}`)
}
