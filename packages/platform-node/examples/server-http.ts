// node:http: on SIGTERM, stop accepting, let in-flight and arriving requests finish, then release the pool, exit 143.
import { closeOnSignals } from "@loop-local/platform-node"
import { createServer } from "node:http"
import { callDownstream } from "./downstream.js"

let draining = false
const server = createServer(async (_req, res) => {
  let status = 200
  let text: string
  try {
    text = await callDownstream()
  } catch (error) {
    console.error(error)
    status = 500
    text = "Internal Server Error"
  }
  // While draining, every response closes its connection: on Node 20, server.close() waits for keep-alive
  // connections, and a client that keeps sending on one would hold the server open until the deadline.
  if (draining) res.setHeader("connection", "close")
  res.writeHead(status, { "content-type": "text/plain" }).end(text)
})

server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const { port } = server.address() as { port: number }
  console.log(`listening on http://127.0.0.1:${port}`)
})

closeOnSignals({
  deadlineMs: 10_000,
  drain: () =>
    new Promise<void>((resolve) => {
      draining = true
      server.close(() => resolve()) // stops accepting; calls back once every connection has closed
      server.closeIdleConnections() // Node >= 19 does this in close() too: idle keep-alive connections close now
    })
})
