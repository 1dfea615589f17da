/**
 * A complete Effect HTTP server: `@effect/platform-node`'s HTTP server, routes
 * that query PostgreSQL through `@effect/sql-pg`, the client provided per
 * request through `LoopLocal.memoize` (one pool for every request), the whole
 * program run by `NodeLoopLocal.runMain`. On SIGTERM the server stops
 * accepting connections and finishes the requests in flight, then the pool is
 * closed, then the process exits 143.
 *
 *   npx -y pnpm@10 build
 *   PG_URL=postgres://user@127.0.0.1:5432/db npx tsx packages/platform-node/examples/effect-server.ts
 *
 * Environment: PG_URL (required), PORT (default 0: a free port), APP_NAME (the
 * pool's `application_name` in `pg_stat_activity`, default
 * "loop-local-effect-server"). Routes: `GET /now` (one row: the server's time
 * and the backend's pid), `GET /sleep` (the same, after `pg_sleep(0.5)`: a slow
 * request, to watch a drain). Run by packages/platform-node/test/effect-server.test.ts.
 */
import { HttpMiddleware, HttpRouter, HttpServer, HttpServerResponse } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { LoopLocal } from "@loop-local/core"
import { NodeLoopLocal } from "@loop-local/platform-node"
import { Effect, Layer, Redacted } from "effect"
import { createServer } from "node:http"

const url = process.env.PG_URL
if (url === undefined || url === "") {
  console.error("effect-server: set PG_URL to a PostgreSQL URL")
  process.exit(2)
}

// The client layer, memoized: built once per loop however many requests provide it, released when the loop
// closes. PgClient takes the URL as a `Redacted`, which keeps it out of logs.
const Db = LoopLocal.memoize(
  PgClient.layer({
    url: Redacted.make(url),
    applicationName: process.env.APP_NAME ?? "loop-local-effect-server",
    maxConnections: 5
  })
)

interface Row {
  readonly now: string
  readonly pid: number
}

const query = (sleepSeconds: number) =>
  Effect.gen(function* () {
    const sql = yield* PgClient.PgClient
    if (sleepSeconds > 0) yield* sql`select pg_sleep(${sleepSeconds})`
    const rows = yield* sql<Row>`select now()::text as now, pg_backend_pid() as pid`
    return yield* HttpServerResponse.json(rows[0])
  }).pipe(Effect.provide(Db)) // a handler provides what it needs; the pool is still one per loop

const router = HttpRouter.empty.pipe(HttpRouter.get("/now", query(0)), HttpRouter.get("/sleep", query(0.5)))

// The drain. @effect/platform-node's server, torn down, first stops handing requests to the app, then closes:
// a request arriving meanwhile on an open keep-alive connection would get no answer. So this program drains
// first, while the app still serves: `server.close()` refuses new connections and ends idle ones, every response
// from then on says `Connection: close` (Node waits for busy keep-alive connections), and the drain is over when
// the last connection has ended (after at most 10 s, the rest are cut).
const server = createServer()
let draining = false
const closeConnectionsWhileDraining = HttpMiddleware.make((app) =>
  Effect.map(app, (response) => (draining ? HttpServerResponse.setHeader(response, "connection", "close") : response))
)
const drain = Effect.async<void>((resume) => {
  draining = true
  server.close(() => resume(Effect.void))
}).pipe(
  Effect.timeout("10 seconds"),
  Effect.catchAll(() => Effect.sync(() => server.closeAllConnections()))
)

const port = Number(process.env.PORT ?? 0)
const AppLive = HttpServer.serve(router, closeConnectionsWhileDraining).pipe(
  HttpServer.withLogAddress,
  Layer.provide(NodeHttpServer.layer(() => server, { host: "127.0.0.1", port }))
)
// Built after the server and the app, so its finalizer runs first at shutdown.
const DrainLive = Layer.scopedDiscard(Effect.addFinalizer(() => drain)).pipe(Layer.provide(AppLive))

// NodeLoopLocal.runMain rather than NodeRuntime.runMain with LoopLocal.layer: on SIGTERM it interrupts the
// program (the layers' finalizers run: the drain above, then the server's), then closes the default loop (the
// pool: released after the drain, within the deadline, reported on stderr if a release fails), then exits 143
// as a process stopped by SIGTERM should (NodeRuntime.runMain exits 0 after an interruption). The default loop
// is also the one Promise-API code in this process uses, so both APIs share one pool and one shutdown.
NodeLoopLocal.runMain(Layer.launch(DrainLive), { deadlineMs: 5_000 })
