import { get } from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import { beforeAll, describe, expect, it } from "vitest"
import { lines } from "./child.js"
import { compileExamples, startDownstream, startServer } from "./servers.js"

// examples/own-signal-handler.ts (compiled to test/fixtures/dist/ with types stripped), run with plain node against
// the built package (dist/): `pnpm test` builds first.

beforeAll(() => compileExamples())

/** One GET on a connection of its own (Connection: close), resolving with the status and the body. */
const fetchOnce = (url: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = ""
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString()
      })
      res.on("end", () => resolve({ status: res.statusCode!, body }))
    }).on("error", reject)
  })

describe("an application's own SIGTERM handler beside closeOnSignals({ exit: false, drain })", () => {
  it("runs to its end: requests during it are served, the releases run, and the process exits with its code", async () => {
    const downstream = await startDownstream(5)
    try {
      const server = await startServer("dist/own-signal-handler.js", { DOWNSTREAM_URL: downstream.url })
      expect(await fetchOnce(`${server.origin}/`)).toEqual({ status: 200, body: "ok" })
      const signalledAt = Date.now()
      server.child.kill("SIGTERM")
      await server.waitFor("app: SIGTERM received")
      // During the handler's 200 ms the server still accepts, and the loops are open: served, not LoopClosedError.
      expect(await fetchOnce(`${server.origin}/`)).toEqual({ status: 200, body: "ok" })
      const { code, stdout, stderr } = await server.finished
      expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(200)
      expect(lines(stdout).slice(1)).toEqual([
        "app: SIGTERM received",
        "app: server closed",
        "downstream pool closed",
        "app: exiting with 3"
      ])
      expect(stderr).toBe("")
      expect(code).toBe(3)
      expect(await downstream.settled(2_000)).toBe(0)
    } finally {
      await downstream.close()
    }
  })

  it("exits 143 at once on a second signal, cutting the handler short", async () => {
    const downstream = await startDownstream(5)
    try {
      const server = await startServer("dist/own-signal-handler.js", { DOWNSTREAM_URL: downstream.url })
      server.child.kill("SIGTERM")
      await server.waitFor("app: SIGTERM received")
      await sleep(20)
      const sentAt = Date.now()
      server.child.kill("SIGTERM")
      const { code, stdout } = await server.finished
      expect(Date.now() - sentAt).toBeLessThan(1_000)
      expect(code).toBe(143)
      expect(lines(stdout)).not.toContain("app: exiting with 3")
    } finally {
      await downstream.close()
    }
  })
})
