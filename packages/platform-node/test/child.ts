import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

/** The package directory: fixtures import "@loop-local/platform-node" from dist/, through the package's own exports. */
const packageDir = fileURLToPath(new URL("..", import.meta.url))

export interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a fixture with plain `node`; `waitFor(text)` resolves once stdout has printed it. */
export const spawnFixture = (
  fixture: string,
  args: ReadonlyArray<string> = [],
  env: Record<string, string> = {},
  nodeOptions: ReadonlyArray<string> = []
) => {
  const child: ChildProcess = spawn(process.execPath, [...nodeOptions, `test/fixtures/${fixture}`, ...args], {
    cwd: packageDir,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  const waiters: Array<{ text: string; resolve: () => void }> = []
  child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
    for (const w of waiters.filter((w) => stdout.includes(w.text))) w.resolve()
  })
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const finished = new Promise<Finished>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  )
  const waitFor = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (stdout.includes(text)) return resolve()
      waiters.push({ text, resolve })
      void finished.then((f) => reject(new Error(`exited before printing "${text}": ${JSON.stringify(f)}`)))
    })
  return { child, finished, waitFor }
}

export const lines = (text: string) => text.split("\n").filter((l) => l.length > 0)
