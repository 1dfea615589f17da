import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { expect, it } from "vitest"

const run = promisify(execFile)
const packageDir = fileURLToPath(new URL("..", import.meta.url))

// `pnpm test` builds dist/ first; this runs it with plain Node, resolved through the package's exports map.
it("is importable by plain Node from dist through its exports map", async () => {
  const program = `
    import { LoopLocal } from "@loop-local/core"
    import * as Direct from "@loop-local/core/LoopLocal"
    import { Effect } from "effect"
    const Pool = LoopLocal.stickySingleton((url) =>
      Effect.acquireRelease(Effect.succeed({ url }), () => Effect.sync(() => console.log("released " + url))))
    const [a, b] = await LoopLocal.runPromise(Effect.all([Pool("x"), Pool("x")]))
    console.log(a === b, Direct.singleton === LoopLocal.singleton)
    await Effect.runPromise(LoopLocal.shutdown)
  `
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", program], { cwd: packageDir })
  expect(stdout.trim().split("\n")).toEqual(["true true", "released x"])
})
