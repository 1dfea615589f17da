/**
 * The demo: an HTTP server in this process serves 500 simulated requests, 50
 * at a time; each calls a downstream endpoint of the same server through an
 * undici Pool. The same workload runs three ways:
 *
 * - naive: a new Pool per request, closed after it;
 * - `stickySingleton` from the Promise API;
 * - an Effect handler run per request with `Effect.runPromise`, getting the
 *   pool from `LoopLocal.stickySingleton` and a service from
 *   `LoopLocal.memoize(layer)`.
 *
 * A fourth row bounds a pool per origin: 2,000 requests, 50 at a time, over
 * 200 origins (tenants; each origin's 10 requests arrive one after another),
 * through a `stickySingleton` with `capacity: 20`, so that the least recently
 * used pools are closed as new origins come. The 200 origins are 200 keys
 * (`<origin>/?tenant=<n>`) whose pools (of at most 2 connections each) all
 * connect to the same server.
 *
 * The server counts the TCP connections it accepts. The program then shuts the
 * default loop down: its releases close the pools, which is what lets the
 * process end by itself. It exits 1 if a loop-local row is not 1 pool, at most
 * the pool's connection limit, 1 pool closed at shutdown; or if the bounded
 * row holds more than 20 pools at the end, or has not closed every pool it
 * created (by eviction or at shutdown) once the loop is shut down.
 *
 * Run: `npx -y pnpm@10 demo`.
 */
import { LoopLocal } from "@loop-local/core"
import { currentLoop, shutdown, stickySingleton } from "@loop-local/platform-node"
import { Context, Effect, Layer } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Pool } from "undici"

const REQUESTS = 500
const CONCURRENCY = 50
const CONNECTION_LIMIT = 10
const TENANTS = 200
const TENANT_REQUESTS = 2_000
const TENANT_CAPACITY = 20
/** A small pool per tenant: each opens at most this many connections. */
const TENANT_CONNECTION_LIMIT = 2

let accepted = 0
const server = createServer((req, res) => {
  if (req.url?.split("?")[0] === "/downstream") {
    res.setHeader("content-type", "application/json")
    res.end(JSON.stringify({ ok: true }))
    return
  }
  res.statusCode = 404
  res.end()
})
server.on("connection", () => void accepted++)
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

interface Way {
  readonly name: string
  readonly loopLocal: boolean
  pools: number
  closedAtShutdown: number
  connections: number
  requestsPerSecond: number
}

/** A Pool that counts its creation and its closing at shutdown in `way`. */
const countedPool = (way: Way) => {
  way.pools++
  const pool = new Pool(origin, { connections: CONNECTION_LIMIT })
  return {
    pool,
    closeAtShutdown: async () => {
      await pool.close()
      way.closedAtShutdown++
      console.log(`  [default loop release] closed the pool of "${way.name}"`)
    }
  }
}

const callDownstream = async (pool: Pool, path = "/downstream") => {
  const { statusCode, body } = await pool.request({ path, method: "GET" })
  const json = (await body.json()) as { ok: boolean }
  if (statusCode !== 200 || !json.ok) throw new Error(`downstream answered ${statusCode}`)
}

const runWorkload = async (way: Way, handler: (request: number) => Promise<void>, requests = REQUESTS) => {
  const before = accepted
  const started = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests) await handler(next++)
    })
  )
  way.requestsPerSecond = Math.round(requests / ((performance.now() - started) / 1000))
  way.connections = accepted - before
}

// 1. Naive: what users do without help.
const naive: Way = {
  name: "naive: new Pool per request",
  loopLocal: false,
  pools: 0,
  closedAtShutdown: 0,
  connections: 0,
  requestsPerSecond: 0
}
await runWorkload(naive, async () => {
  naive.pools++
  const pool = new Pool(origin, { connections: CONNECTION_LIMIT })
  try {
    await callDownstream(pool)
  } finally {
    await pool.close()
  }
})

// 2. The Promise API: one pool per origin, closed when the default loop closes.
const sticky: Way = {
  name: "stickySingleton (Promise)",
  loopLocal: true,
  pools: 0,
  closedAtShutdown: 0,
  connections: 0,
  requestsPerSecond: 0
}
const pool = stickySingleton((_: string) => countedPool(sticky), { release: (p) => p.closeAtShutdown() })
await runWorkload(sticky, async () => callDownstream((await pool(origin)).pool))

// 3. Effect: a handler per request, run with Effect.runPromise on the default loop.
const effectWay: Way = {
  name: "Effect handler (LoopLocal)",
  loopLocal: true,
  pools: 0,
  closedAtShutdown: 0,
  connections: 0,
  requestsPerSecond: 0
}
const EffectPool = LoopLocal.stickySingleton((_: string) =>
  Effect.acquireRelease(
    Effect.sync(() => countedPool(effectWay)),
    (p) => Effect.promise(() => p.closeAtShutdown())
  )
)
class Downstream extends Context.Tag("Downstream")<Downstream, { readonly call: Effect.Effect<void, unknown> }>() {}
let downstreamBuilds = 0
const DownstreamLive = LoopLocal.memoize(
  Layer.effect(
    Downstream,
    Effect.map(EffectPool(origin), (p) => {
      downstreamBuilds++
      return { call: Effect.tryPromise(() => callDownstream(p.pool)) }
    })
  )
)
const effectHandler = Effect.flatMap(Downstream, (downstream) => downstream.call).pipe(
  Effect.provide(DownstreamLive),
  Effect.provide(LoopLocal.Default)
)
await runWorkload(effectWay, () => Effect.runPromise(effectHandler))

// 4. Bounded: a pool per origin for 200 origins, at most 20 of them open; the least recently used are evicted, and
// an eviction closes its pool in the background.
const bounded: Way = {
  name: `stickySingleton, capacity ${TENANT_CAPACITY}, ${TENANTS} origins`,
  loopLocal: true,
  pools: 0,
  closedAtShutdown: 0,
  connections: 0,
  requestsPerSecond: 0
}
let shuttingDown = false
let closingByEviction = 0
let closedByEviction = 0
const tenantPool = stickySingleton(
  (key: string) => {
    bounded.pools++
    return new Pool(new URL(key).origin, { connections: TENANT_CONNECTION_LIMIT })
  },
  {
    capacity: TENANT_CAPACITY,
    release: async (p) => {
      // Counted as an eviction when its release starts before the shutdown does.
      const evicted = !shuttingDown
      if (evicted) closingByEviction++
      await p.close()
      if (evicted) closedByEviction++
      else bounded.closedAtShutdown++
    }
  }
)
const requestsPerTenant = TENANT_REQUESTS / TENANTS
await runWorkload(
  bounded,
  async (request) => {
    const tenant = Math.floor(request / requestsPerTenant)
    await callDownstream(await tenantPool(`${origin}/?tenant=${tenant}`), `/downstream?tenant=${tenant}`)
  },
  TENANT_REQUESTS
)
// An eviction releases one event-loop turn later: the pools alive are those whose release has not started.
await new Promise((resolve) => setImmediate(resolve))
const aliveAtEnd = bounded.pools - closingByEviction
const heldAtEnd = currentLoop()
  .inspect()
  .filter((e) => e.key.includes("?tenant=")).length

// Close the server to new connections, then the default loop: its releases close the pools and their sockets.
server.close()
shuttingDown = true
const report = await shutdown()

const ways = [naive, sticky, effectWay]
console.log(
  `\n${REQUESTS} requests, ${CONCURRENCY} at a time, pool connection limit ${CONNECTION_LIMIT}, node ${process.version}`
)
console.table(
  ways.map((w) => ({
    way: w.name,
    "pools created": w.pools,
    "TCP connections accepted": w.connections,
    "pools closed at shutdown": w.closedAtShutdown,
    "requests/s": w.requestsPerSecond
  }))
)
console.log(
  `\n${TENANT_REQUESTS} requests over ${TENANTS} origins (${requestsPerTenant} each, one origin after another), ${CONCURRENCY} at a time, capacity ${TENANT_CAPACITY}, pool connection limit ${TENANT_CONNECTION_LIMIT}`
)
console.table([
  {
    way: bounded.name,
    "pools created": bounded.pools,
    "pools alive at the end": aliveAtEnd,
    "TCP connections accepted": bounded.connections,
    "pools closed by eviction": closedByEviction,
    "pools closed at shutdown": bounded.closedAtShutdown,
    "requests/s": bounded.requestsPerSecond
  }
])
const releasesOf = (tenants: boolean) => report.releases.filter((r) => r.key.includes("?tenant=") === tenants)
const released = releasesOf(false).map((r) => `${r.kind} ${r.key} ${r.outcome}`)
console.log(
  `Downstream layer built ${downstreamBuilds} time(s); default loop closed in ${report.durationMs} ms: ${released.join(", ")}, and ${releasesOf(true).length} tenant pools`
)

const wrong = ways.filter(
  (w) => w.loopLocal && (w.pools !== 1 || w.connections > CONNECTION_LIMIT || w.closedAtShutdown !== 1)
)
const boundedWrong =
  aliveAtEnd > TENANT_CAPACITY ||
  heldAtEnd !== aliveAtEnd ||
  bounded.connections > bounded.pools * TENANT_CONNECTION_LIMIT ||
  closedByEviction + bounded.closedAtShutdown !== bounded.pools ||
  releasesOf(true).some((r) => r.outcome !== "ok")
if (wrong.length > 0 || downstreamBuilds !== 1 || boundedWrong) {
  console.error(
    `demo: a loop-local row is wrong: ${JSON.stringify(wrong)} (Downstream built ${downstreamBuilds} times); bounded row: ${bounded.pools} pools created, ${aliveAtEnd} alive at the end (the loop held ${heldAtEnd}), ${closedByEviction} closed by eviction, ${bounded.closedAtShutdown} at shutdown`
  )
  process.exitCode = 1
} else {
  console.log(
    `Loop-local rows: 1 pool, at most the connection limit, 1 closed at shutdown; bounded row: ${aliveAtEnd} pools alive at the end (at most ${TENANT_CAPACITY}), all ${bounded.pools} created closed. The process now ends by itself.`
  )
}
