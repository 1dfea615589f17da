// Helpers of the server tests: the recipes in examples/ compiled to plain JavaScript for `node`, a downstream
// service for their pool to connect to, and a load generator that keeps keep-alive connections busy.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { threadId } from "node:worker_threads"
import ts from "typescript"
import { Pool } from "undici"
import { spawnFixture } from "./child.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const examplesDir = join(packageDir, "examples")

/**
 * Compiles every recipe of examples/ (the very files the README shows) to test/fixtures/dist/, with types stripped
 * and nothing else changed, so that plain `node` runs them as fast as a fixture (tsx would add seconds per child).
 * They stay in the package, so "@loop-local/platform-node" resolves to dist/ through the package's own exports.
 * Test files compile them concurrently: each file is written whole, then renamed into place.
 */
export const compileExamples = (): void => {
  const out = join(packageDir, "test/fixtures/dist")
  mkdirSync(out, { recursive: true })
  for (const name of readdirSync(examplesDir).filter((f) => f.endsWith(".ts") && f !== "demo.ts")) {
    const source = readFileSync(join(examplesDir, name), "utf8")
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      fileName: name
    })
    const target = join(out, name.replace(/\.ts$/, ".js"))
    if (existsSync(target) && readFileSync(target, "utf8") === outputText) continue
    const temporary = `${target}.${process.pid}-${threadId}.tmp`
    writeFileSync(temporary, outputText)
    renameSync(temporary, target)
  }
}

/** A downstream HTTP service on loopback: answers "ok" after `delayMs`, and counts the connections it holds. */
export const startDownstream = async (delayMs: number) => {
  const sockets = new Set<Socket>()
  let accepted = 0
  let requests = 0
  const server: Server = createServer((_req, res) => {
    requests++
    setTimeout(() => res.end("ok"), delayMs)
  })
  server.on("connection", (socket: Socket) => {
    accepted++
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get open() {
      return sockets.size
    },
    get accepted() {
      return accepted
    },
    get requests() {
      return requests
    },
    /** Waits (at most `ms`) until no connection is open, and tells how many still are. */
    async settled(ms: number) {
      const until = Date.now() + ms
      while (sockets.size > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10))
      return sockets.size
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** What the load generator saw. */
export interface LoadResult {
  /** Requests sent; responses 200, 5xx, 5xx whose body names LoopClosedError; 200s received after the signal. */
  readonly sent: number
  readonly ok: number
  readonly status5xx: number
  readonly loopClosed: number
  readonly okAfterSignal: number
  /**
   * Requests that got no response, by error code: ECONNREFUSED, the server no longer accepts connections (each
   * connection's loop stops there); ECONNRESET or UND_ERR_SOCKET, the server closed the connection before answering.
   */
  readonly errors: Record<string, number>
  /** Requests that got no response before the signal (there should be none). */
  readonly errorsBeforeSignal: number
  readonly elapsedMs: number
}

/**
 * `connections` keep-alive connections to `origin`, each sending one request after another (an undici Pool with
 * pipelining 1), until every one has met a refused connection (the server stopped accepting), `stop` resolves, or
 * `maxMs` passed. `signalled()` marks the time of the signal; `reached(n)` resolves once n responses came.
 */
export const startLoad = (
  origin: string,
  options: { readonly connections: number; readonly maxMs: number; readonly stop: Promise<unknown> }
) => {
  const pool = new Pool(origin, { connections: options.connections, pipelining: 1 })
  const started = Date.now()
  let stopped = false
  let signalled = false
  void options.stop.then(() => {
    stopped = true
  })
  const result = { sent: 0, ok: 0, status5xx: 0, loopClosed: 0, okAfterSignal: 0, errorsBeforeSignal: 0 }
  const errors: Record<string, number> = {}
  const waiters: Array<{ n: number; resolve: () => void }> = []
  const responded = () => {
    for (const w of waiters.filter((w) => result.ok + result.status5xx >= w.n)) {
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve()
    }
  }
  const loop = async () => {
    while (!stopped && Date.now() - started < options.maxMs) {
      result.sent++
      try {
        const { statusCode, body } = await pool.request({ method: "GET", path: "/" })
        const text = await body.text()
        if (statusCode >= 500) {
          result.status5xx++
          if (/LoopClosed|loop \d+ is closed/.test(text)) result.loopClosed++
        } else if (statusCode === 200) {
          result.ok++
          if (signalled) result.okAfterSignal++
        }
        responded()
      } catch (error) {
        const code = (error as { code?: string }).code ?? (error as Error).name
        errors[code] = (errors[code] ?? 0) + 1
        if (!signalled) result.errorsBeforeSignal++
        if (code === "ECONNREFUSED") return
      }
    }
  }
  const done: Promise<LoadResult> = Promise.all(Array.from({ length: options.connections }, loop)).then(async () => {
    await pool.destroy()
    return { ...result, errors, elapsedMs: Date.now() - started }
  })
  return {
    done,
    signalled: () => {
      signalled = true
    },
    reached: (n: number) =>
      new Promise<void>((resolve) => {
        waiters.push({ n, resolve })
        responded()
      })
  }
}

/** Runs a fixture with `spawnFixture`, killed (SIGKILL) if it is still running after `ms`. */
export const spawnBounded = (
  fixture: string,
  env: Record<string, string>,
  ms = 20_000,
  args: ReadonlyArray<string> = []
) => {
  const spawned = spawnFixture(fixture, args, env)
  const timer = setTimeout(() => spawned.child.kill("SIGKILL"), ms)
  void spawned.finished.then(() => clearTimeout(timer))
  return spawned
}

/** Starts a server fixture (PORT=0), killed after 20 s at the latest, and waits for its "listening on <origin>" line. */
export const startServer = async (fixture: string, env: Record<string, string>) => {
  const spawned = spawnBounded(fixture, { PORT: "0", ...env })
  let stdout = ""
  spawned.child.stdout!.on("data", (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  await spawned.waitFor("listening on ")
  return { ...spawned, origin: /listening on (http:\/\/\S+)/.exec(stdout)![1]! }
}
