/**
 * Group 1: a cache hit from Promise code, one string argument, `await f(url)`
 * in a loop: this project's stickySingleton and singleton, p-memoize, and the
 * limit, a hand-written Map and `await map.get(url)`.
 */
import pMemoize from "p-memoize"
import { measure, report, withRatios } from "../../../bench/harness.js"
import { singleton, stickySingleton } from "../src/index.js"

const url = "http://127.0.0.1:8080"
const OPS = 1_000

const pool = stickySingleton((origin: string) => ({ origin, [Symbol.dispose]() {} }))
const single = singleton(async (origin: string) => ({ origin }))
const memoized = pMemoize(async (origin: string) => ({ origin }))
const map = new Map([[url, { origin: url }]])
await Promise.all([pool(url), single(url), memoized(url)])

const loop = (get: (url: string) => unknown) => async () => {
  for (let i = 0; i < OPS; i++) await get(url)
}

const measured = await measure(
  [
    ["limit: await map.get(url)", loop((u) => map.get(u))],
    ["stickySingleton", loop(pool)],
    ["singleton", loop(single)],
    ["p-memoize", loop(memoized)]
  ],
  OPS
)
report(withRatios("1. Promise hit (one string argument)", measured, "limit: await map.get(url)"))
