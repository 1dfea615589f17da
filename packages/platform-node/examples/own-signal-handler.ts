// An application with its own SIGTERM handler: closeOnSignals({ exit: false }) closes the loops once the handler's
// server has closed, and leaves the exit (and its code) to the handler.
import { closeOnSignals, shutdown } from "@loop-local/platform-node"
import { once } from "node:events"
import { createServer } from "node:http"
import { setTimeout as sleep } from "node:timers/promises"
import { callDownstream } from "./downstream.js"

let stopping = false
const server = createServer(async (_req, res) => {
  let text = "Internal Server Error"
  try {
    text = await callDownstream()
  } catch (error) {
    console.error(error)
    res.statusCode = 500
  }
  if (stopping) res.setHeader("connection", "close") // so that keep-alive clients cannot hold server.close()
  res.end(text)
})
server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const { port } = server.address() as { port: number }
  console.log(`listening on http://127.0.0.1:${port}`)
})

// The application's own shutdown, as it was: finish its work, close the server, exit with its own code.
process.once("SIGTERM", async () => {
  console.log("app: SIGTERM received")
  stopping = true
  await sleep(200) // e.g. deregister from service discovery, flush metrics
  await new Promise((resolve) => server.close(resolve))
  console.log("app: server closed")
  await shutdown() // the default loop's close (one close, whoever starts it): resolves once every release has run
  console.log("app: exiting with 3")
  process.exit(3)
})

// loop-local's: the loops stay open while the server drains (requests meanwhile are served), then close.
closeOnSignals({ deadlineMs: 10_000, exit: false, drain: () => once(server, "close") })
