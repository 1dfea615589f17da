// Express 5: on SIGTERM, the http.Server that app.listen() returned stops accepting and lets in-flight and arriving
// requests finish, then the pool is released, then the process exits 143.
import { closeOnSignals } from "@loop-local/platform-node"
import express from "express"
import { callDownstream } from "./downstream.js"

const app = express()

// While draining, every response closes its connection (on Node 20, server.close() waits for keep-alive
// connections): those of requests arriving from now on, and those of requests already running.
let draining = false
const running = new Set<express.Response>()
app.use((_req, res, next) => {
  if (draining) res.set("connection", "close")
  running.add(res)
  res.on("close", () => running.delete(res))
  next()
})

app.get("/", async (_req, res) => {
  res.type("text/plain").send(await callDownstream())
})

const server = app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const { port } = server.address() as { port: number }
  console.log(`listening on http://127.0.0.1:${port}`)
})

closeOnSignals({
  deadlineMs: 10_000,
  drain: () =>
    new Promise<void>((resolve) => {
      draining = true
      for (const res of running) if (!res.headersSent) res.set("connection", "close")
      server.close(() => resolve()) // stops accepting, closes idle connections, calls back once all have closed
    })
})
