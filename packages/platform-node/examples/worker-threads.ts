// Worker threads: each worker has a default loop of its own, closed on the worker's beforeExit when it ends by
// itself. worker.terminate() stops it without running any more JavaScript, so none of its releases run: ask the
// worker to close instead, and terminate only one that does not exit within the deadline.
import { closeOnSignals, shutdown } from "@loop-local/platform-node"
import { once } from "node:events"
import { availableParallelism } from "node:os"
import { isMainThread, parentPort, Worker } from "node:worker_threads"
import { callDownstream } from "./downstream.js"

/**
 * Asks a worker to close its default loop and exit; terminates it if it has not exited within `deadlineMs`. Call it
 * once the worker has no work left: work still running in it would meet a closed loop.
 */
export const closeWorker = async (worker: Worker, deadlineMs = 10_000): Promise<void> => {
  const exited = once(worker, "exit")
  worker.postMessage("close")
  const timer = setTimeout(() => void worker.terminate(), deadlineMs)
  await exited
  clearTimeout(timer)
}

if (isMainThread) {
  const workers = Array.from({ length: availableParallelism() }, () => new Worker(new URL(import.meta.url)))
  // On SIGTERM: the workers' loops close first, then the main thread's, then the process exits 143.
  closeOnSignals({ drain: () => Promise.all(workers.map((worker) => closeWorker(worker))) })
  await Promise.all(workers.map((worker) => once(worker, "message"))) // each has used its downstream pool
  console.log("ready")
} else {
  parentPort!.on("message", async (message) => {
    if (message === "close") {
      await shutdown() // this worker's default loop: its releases run here
      process.exit(0) // in a worker, ends this thread only
    }
  })
  await callDownstream() // the worker's own pool (a loop per worker), created by its first use
  parentPort!.postMessage("ready")
}
