/**
 * Shared by the benchmark groups: each group runs in a process of its own
 * (started by bench/run.ts), measures its rows in turns, and prints them
 * as one JSON line that the runner collects.
 */

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
 * The tasks run in turns, one batch of each per round, until the group has
 * had its time: a busy machine slows the rows compared alike, where timing
 * one row after the other moved a row's ratio by half between runs.
 */
export const measure = async (
  tasks: ReadonlyArray<readonly [name: string, run: () => unknown]>,
  opsPerRun: number
): Promise<Array<{ name: string; nsPerOp: number }>> => {
  const times = tasks.map(() => [] as Array<number>)
  const round = async (keep: boolean) => {
    for (const [i, [, run]] of tasks.entries()) {
      const started = process.hrtime.bigint()
      await run()
      if (keep) times[i]!.push(Number(process.hrtime.bigint() - started))
    }
  }
  const warmUntil = Date.now() + (quick ? 20 : 300) * tasks.length
  for (let r = 0; r < 5 || Date.now() < warmUntil; r++) await round(false)
  const until = Date.now() + (quick ? 100 : 1_500) * tasks.length
  for (let r = 0; r < 15 || Date.now() < until; r++) await round(true)
  return tasks.map(([name], i) => {
    const sorted = times[i]!.sort((a, b) => a - b)
    return { name, nsPerOp: sorted[Math.floor(sorted.length / 2)]! / opsPerRun }
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

/**
 * The heap in use once the event loop has turned and full collections have
 * run (needs --expose-gc). Ten rounds: V8 shrinks a table that a collection
 * emptied only at a later one, so fewer let a previous pass's garbage be
 * counted against the next.
 */
export const settledHeap = async (): Promise<number> => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("run with --expose-gc")
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    gc()
  }
  return process.memoryUsage().heapUsed
}

/** Bytes per entry, over `entries`, that `fill` leaves retained while what it returns is kept alive. */
export const bytesPerEntry = async (entries: number, fill: () => Promise<unknown>): Promise<number> => {
  const before = await settledHeap()
  const held = await fill()
  const after = await settledHeap()
  if (held === undefined) throw new Error("nothing held")
  return (after - before) / entries
}
