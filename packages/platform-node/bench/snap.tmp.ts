import { writeHeapSnapshot } from "node:v8"
import { singleton, stickySingleton } from "../src/index.js"
const gc = (globalThis as any).gc
const N = 10_000
const mode = process.argv[2] ?? "psticky"
const keys = Array.from({ length: N }, (_, i) => `key-${i}`)
const settle = async () => { for (let i = 0; i < 3; i++) { await new Promise((r) => setImmediate(r)); gc() } }
const releaseNothing = () => {}
// warm the default loop
await singleton((k: string) => k)("warm")
await settle()
writeHeapSnapshot(`/tmp/mem/${mode}-before.heapsnapshot`)
let held: unknown
if (mode === "psticky") {
  const pool = stickySingleton((key: string) => ({ key }), { release: releaseNothing })
  await Promise.all(keys.map((key) => pool(key)))
  held = pool
} else {
  const cached = singleton((key: string) => ({ key }))
  for (const key of keys) cached(key)
  held = cached
}
await settle()
writeHeapSnapshot(`/tmp/mem/${mode}-after.heapsnapshot`)
console.log(typeof held)
