// Piscina: pool.destroy() and pool.close() terminate the workers, so none of their releases run. Before that, ask
// every worker to close its default loop: a BroadcastChannel reaches them all; `atomics: "async"` keeps an idle
// worker's event loop running so that it hears it.
import { shutdown } from "@loop-local/platform-node"
import { availableParallelism } from "node:os"
import { BroadcastChannel, isMainThread } from "node:worker_threads"
import { Piscina } from "piscina"
import { callDownstream } from "./downstream.js"

const CLOSE = "loop-local:close-workers"

/**
 * Asks every worker of the pool to close its default loop, waits for each (at most `deadlineMs`), then destroys the
 * pool. Call it once no task runs any more: a task still running would meet a closed loop.
 */
export const destroyPool = async (pool: Piscina, deadlineMs = 10_000): Promise<void> => {
  const channel = new BroadcastChannel(CLOSE)
  const closed = new Promise<void>((resolve) => {
    let acks = 0
    channel.onmessage = (event) => {
      if ((event as MessageEvent).data === "closed" && ++acks === pool.threads.length) resolve()
    }
  })
  channel.postMessage("close")
  await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, deadlineMs).unref())])
  channel.close()
  await pool.destroy()
}

if (isMainThread) {
  const threads = availableParallelism()
  const pool = new Piscina({ filename: import.meta.url, minThreads: threads, maxThreads: threads, atomics: "async" })
  await Promise.all(Array.from({ length: 10 * threads }, () => pool.run(null))) // the workers use their pools
  await destroyPool(pool)
  console.log("pool destroyed")
} else {
  const channel = new BroadcastChannel(CLOSE)
  channel.unref() // listening must not keep the worker alive
  channel.onmessage = async (event) => {
    if ((event as MessageEvent).data !== "close") return // the other workers' answers
    await shutdown() // this worker's default loop: its releases run here
    channel.postMessage("closed")
  }
}

/** The task: one call to the downstream service through this worker's pool. */
export default () => callDownstream()
