import { expect, it } from "vitest"
import { lines, spawnFixture } from "./child.js"

// CommonJS callers: the packages are ESM only, and their exports maps have a `default` condition, so Node's
// require(esm) (on by default since Node 20.19) loads them. This runs the built package (dist/) with plain node.

it("require() of both packages works from a .cjs file: a stickySingleton in run(), released when run() ends", async () => {
  const { finished } = spawnFixture("require.cjs")
  const { code, stdout, stderr } = await finished
  // Node 20.19+ prints no ExperimentalWarning for require(esm) unless asked to (--trace-require-module).
  expect(stderr).toBe("")
  expect(lines(stdout)).toEqual([
    "released effect-pool",
    "released promise-pool",
    JSON.stringify({
      promisePool: "promise-pool",
      samePromisePool: true,
      effectPool: "effect-pool",
      sameEffectPool: true
    }),
    "one instance: true"
  ])
  expect(code).toBe(0)
})

it("require() loads the ES modules themselves: --trace-require-module names dist/index.js", async () => {
  const { finished } = spawnFixture("require.cjs", [], {}, ["--trace-require-module=all"])
  const { code, stderr } = await finished
  expect(code).toBe(0)
  expect(stderr).toMatch(/ExperimentalWarning: CommonJS module .*require\.cjs is loading ES Module .*\/dist\/index\.js/)
})
