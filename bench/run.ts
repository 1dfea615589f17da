/**
 * `pnpm bench [--quick]`: runs every benchmark group in a process of its own,
 * prints one table per group (ns/op and the ratio to the group's baseline), and
 * writes every row to bench/results.json.
 */
import { spawnSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { cpus } from "node:os"
import { fileURLToPath } from "node:url"
import type { Row } from "./harness.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const quick = process.argv.includes("--quick")

const groups: ReadonlyArray<{ file: string; nodeOptions?: ReadonlyArray<string> }> = [
  { file: "packages/platform-node/bench/promise-hit.ts" },
  { file: "packages/core/bench/effect-hit.ts" },
  { file: "packages/platform-node/bench/key-shapes.ts" },
  { file: "packages/platform-node/bench/contended.ts" },
  { file: "packages/core/bench/close.ts", nodeOptions: ["--expose-gc"] },
  { file: "packages/platform-node/bench/memory.ts", nodeOptions: ["--expose-gc"] },
  { file: "packages/platform-node/bench/bounded-hits.ts" },
  { file: "packages/platform-node/bench/bounded-memory.ts", nodeOptions: ["--expose-gc"] },
  { file: "packages/platform-node/bench/lifecycle.ts" },
  { file: "packages/core/bench/effect-memory.ts", nodeOptions: ["--expose-gc"] }
]

const rows: Array<Row> = []
const started = Date.now()
for (const group of groups) {
  const result = spawnSync(
    process.execPath,
    [...(group.nodeOptions ?? []), "--import", "tsx", group.file, ...(quick ? ["--quick"] : [])],
    { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }
  )
  const line = result.stdout.split("\n").find((l) => l.startsWith("BENCH_ROWS "))
  if (result.status !== 0 || line === undefined) {
    process.stdout.write(result.stdout)
    throw new Error(`benchmark ${group.file} failed with status ${result.status}`)
  }
  const groupRows = JSON.parse(line.slice("BENCH_ROWS ".length)) as Array<Row>
  rows.push(...groupRows)
  console.log(`\n${groupRows[0]?.group ?? group.file}`)
  console.table(
    groupRows.map((r) => ({
      name: r.name,
      "ns/op": r.nsPerOp < 100 ? r.nsPerOp.toFixed(1) : Math.round(r.nsPerOp),
      ratio: r.ratio.toFixed(2),
      ...r.extra
    }))
  )
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? "unknown cpu"}`
writeFileSync(
  new URL("results.json", import.meta.url),
  `${JSON.stringify({ node: process.version, date: new Date().toISOString(), machine, quick, rows }, null, 2)}\n`
)
console.log(
  `\n${rows.length} rows in ${((Date.now() - started) / 1000).toFixed(1)} s (node ${process.version}, ${machine}${quick ? ", quick" : ""}); written to bench/results.json`
)
