import { setTimeout as sleep } from "node:timers/promises"
import { request } from "undici"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { lines } from "./child.js"
import { compileExamples, type LoadResult, startDownstream, startLoad, startServer } from "./servers.js"

// The server recipes of the README (examples/server-*.ts, compiled to test/fixtures/dist/ with types stripped) run in
// child processes with plain node, against the built package (dist/): `pnpm test` builds first. Loopback only.

const CONNECTIONS = 50
/** What each run measured, printed at the end when LOOP_LOCAL_TEST_NUMBERS=1 (the README's numbers come from it). */
const measured: Array<Record<string, unknown>> = []

beforeAll(() => compileExamples())
afterAll(() => {
  if (process.env.LOOP_LOCAL_TEST_NUMBERS === "1") console.log(JSON.stringify(measured, null, 1))
})

/**
 * Starts the server, keeps CONNECTIONS keep-alive connections sending, sends SIGTERM once 200 responses came (the
 * server is warm and every connection busy), keeps sending until the server refuses connections, and then waits
 * for the downstream's connections to close.
 */
const underLoad = async (name: string, fixture: string) => {
  const downstream = await startDownstream(10)
  try {
    const server = await startServer(fixture, { DOWNSTREAM_URL: downstream.url })
    const load = startLoad(server.origin, { connections: CONNECTIONS, maxMs: 8_000, stop: server.finished })
    await Promise.race([load.reached(200), load.done, server.finished])
    const signalledAt = Date.now()
    load.signalled()
    server.child.kill("SIGTERM")
    const exited = await server.finished
    const exitMs = Date.now() - signalledAt
    const result: LoadResult = await load.done
    const left = await downstream.settled(2_000)
    const run = {
      name,
      ...result,
      exitCode: exited.code,
      exitMs,
      downstreamRequests: downstream.requests,
      downstreamConnections: downstream.accepted,
      downstreamLeft: left
    }
    measured.push(run)
    return { ...run, stdout: lines(exited.stdout), stderr: exited.stderr }
  } finally {
    await downstream.close()
  }
}

const recipes = [
  ["node:http", "dist/server-http.js"],
  ["Fastify", "dist/server-fastify.js"],
  ["Express", "dist/server-express.js"]
] as const

describe.each(recipes)("the %s recipe under SIGTERM", (name, fixture) => {
  it(`with ${CONNECTIONS} keep-alive connections sending: no 5xx, every release, no connection left, exit 143`, async () => {
    const run = await underLoad(name, fixture)
    expect(run.status5xx).toBe(0)
    expect(run.loopClosed).toBe(0)
    expect(run.exitCode).toBe(143)
    expect(run.stdout.filter((l) => l === "downstream pool closed")).toHaveLength(1)
    expect(run.stderr).toBe("")
    expect(run.downstreamLeft).toBe(0)
    expect(run.downstreamConnections).toBeLessThanOrEqual(10) // one pool, created lazily, shared by every request
    // The requests in flight and arriving during the drain were served.
    expect(run.okAfterSignal).toBeGreaterThan(0)
    // Every request that reached a handler was answered: none was cut short by the exit.
    expect(run.downstreamRequests).toBe(run.ok)
    // What got no answer never reached a handler: a connection refused once the server stopped accepting, or an idle
    // keep-alive connection closed by server.close() just as the client sent on it (at most one per connection; an
    // HTTP client retries such a request, RFC 9112 section 9.3.1). None before the signal.
    expect(run.errorsBeforeSignal).toBe(0)
    expect(
      Object.keys(run.errors).filter((c) => !["ECONNREFUSED", "ECONNRESET", "UND_ERR_SOCKET"].includes(c))
    ).toEqual([])
    expect((run.errors.ECONNRESET ?? 0) + (run.errors.UND_ERR_SOCKET ?? 0)).toBeLessThanOrEqual(CONNECTIONS)
  })
})

// Light, so run side by side.
describe.concurrent.each(recipes)("the %s recipe, a quiet keep-alive client", (_name, fixture) => {
  it("answers a request in flight at SIGTERM with Connection: close, so a client that then goes quiet does not hold the exit", async () => {
    const downstream = await startDownstream(300)
    try {
      const server = await startServer(fixture, { DOWNSTREAM_URL: downstream.url })
      const response = request(`${server.origin}/`) // undici's global agent keeps the connection alive
      for (let waited = 0; downstream.requests === 0 && waited < 10_000; waited += 5) await sleep(5)
      const signalledAt = Date.now()
      server.child.kill("SIGTERM")
      const { statusCode, headers, body } = await response
      expect(await body.text()).toBe("ok")
      expect(statusCode).toBe(200)
      expect(headers.connection).toBe("close")
      const exited = await server.finished
      // Without the header the connection would stay open until the keep-alive timeout (5 s, Fastify's 72 s).
      expect(Date.now() - signalledAt).toBeLessThan(3_000)
      expect(exited.code).toBe(143)
      expect(lines(exited.stdout)).toContain("downstream pool closed")
    } finally {
      await downstream.close()
    }
  })
})

describe("the controls: the same load fails without the drain", () => {
  it("node:http with a plain closeOnSignals(): the loop closes under the server, which answers 500 LoopClosedError", async () => {
    const run = await underLoad("node:http, no drain", "server-http-no-drain.mjs")
    expect(run.exitCode).toBe(143)
    expect(run.loopClosed).toBeGreaterThan(0)
    expect(run.stdout).toContain("downstream pool closed")
  })

  it("Fastify's default return503OnClosing: app.close() as the drain answers 503 to requests arriving meanwhile", async () => {
    const run = await underLoad("Fastify, default return503OnClosing", "server-fastify-503.mjs")
    expect(run.exitCode).toBe(143)
    expect(run.status5xx).toBeGreaterThan(0)
    expect(run.loopClosed).toBe(0)
  })
})
