// An application with its own SIGTERM handler: closeOnSignals({ exit: false }) closes the loops once the handler's
// server has closed, and leaves the exit (and its code) to the handler.
import { closeOnSignals, shutdown } from "@loop-local/platform-node"
import { once } from "node:events"
import { createServer } from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import { callDownstream } from "./downstream.js"

const server = createServer(async (_req, res) => {
  res.end(await callDownstream())
})
server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const { port } = server.address() as { port: number }
  console.log(`listening on http://127.0.0.1:${port}`)
})

// The application's own shutdown, as it was: finish its work, close the server, exit with its own code.
process.once("SIGTERM", async () => {
  console.log("app: SIGTERM received")
  await sleep(200) // e.g. deregister from service discovery, flush metrics
  await new Promise((resolve) => server.close(resolve))
  console.log("app: server closed")
  await shutdown() // resolves once the close that closeOnSignals started has run every release
  console.log("app: exiting with 3")
  process.exit(3)
})

// loop-local's: the loops stay open while the server drains (requests meanwhile are served), then close.
closeOnSignals({ deadlineMs: 10_000, exit: false, drain: () => once(server, "close") })
