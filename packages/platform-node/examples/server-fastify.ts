// Fastify 5: on SIGTERM, app.close() stops accepting and lets in-flight and arriving requests finish, then the pool is
// released, then the process exits 143.
import { closeOnSignals } from "@loop-local/platform-node"
import Fastify from "fastify"
import { callDownstream } from "./downstream.js"

const app = Fastify({
  // Fastify answers 503 to requests that arrive on open connections while it closes, by default: serve them instead
  // (it adds `Connection: close` to their responses itself).
  return503OnClosing: false
})

// Requests already running when the close began get `Connection: close` too: on Node 20, server.close() waits for
// keep-alive connections, and Fastify's keepAliveTimeout is 72 s.
let closing = false
app.addHook("preClose", async () => {
  closing = true
})
app.addHook("onSend", async (_request, reply) => {
  if (closing) reply.header("connection", "close")
})

app.get("/", async () => callDownstream())

const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: "127.0.0.1" })
console.log(`listening on ${address}`)

closeOnSignals({ deadlineMs: 10_000, drain: () => app.close() })
