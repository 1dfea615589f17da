// The resource the server recipes share: one undici Pool per downstream origin, created by the first request that
// needs it, closed when the default loop closes (after the drain, on SIGTERM).
import { stickySingleton } from "@loop-local/platform-node"
import { Pool } from "undici"

export const downstream = stickySingleton((origin: string) => new Pool(origin, { connections: 10 }), {
  release: async (pool) => {
    await pool.close() // waits for the requests still running on it, then closes its connections
    console.log("downstream pool closed")
  }
})

/** What a handler does: one request to the downstream service through the shared pool. */
export const callDownstream = async (): Promise<string> => {
  const pool = await downstream(process.env.DOWNSTREAM_URL ?? "http://127.0.0.1:8081")
  const { body } = await pool.request({ method: "GET", path: "/" })
  return body.text()
}
