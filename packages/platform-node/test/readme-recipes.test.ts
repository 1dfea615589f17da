import { readFileSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

// The README's recipes are files that tests run: a code block right after `<!-- file: <path from the repo root> -->`
// must be that file, verbatim. `UPDATE_README_RECIPES=1 npx vitest run readme-recipes` rewrites the blocks from the
// files.

const root = fileURLToPath(new URL("../../../", import.meta.url))
const readmePath = `${root}README.md`
const block = /<!-- file: (\S+) -->\n```(\w+)\n([\s\S]*?)```\n/g

describe("the README's recipes", () => {
  it("are the files the tests run, verbatim", () => {
    const readme = readFileSync(readmePath, "utf8")
    const blocks = [...readme.matchAll(block)]
    expect(blocks.map((m) => m[1])).toEqual(
      expect.arrayContaining([
        "packages/platform-node/examples/downstream.ts",
        "packages/platform-node/examples/server-http.ts",
        "packages/platform-node/examples/server-fastify.ts",
        "packages/platform-node/examples/server-express.ts",
        "packages/platform-node/examples/own-signal-handler.ts",
        "packages/platform-node/examples/worker-threads.ts",
        "packages/platform-node/examples/piscina.ts",
        "packages/platform-node/test/fixtures/vitest-setup/vitest.setup.ts"
      ])
    )
    if (process.env.UPDATE_README_RECIPES === "1") {
      writeFileSync(
        readmePath,
        readme.replace(block, (_all, path: string, lang: string) => {
          return `<!-- file: ${path} -->\n\`\`\`${lang}\n${readFileSync(`${root}${path}`, "utf8")}\`\`\`\n`
        })
      )
      return
    }
    for (const [, path, , code] of blocks) {
      expect(code, `the README's block for ${path} (UPDATE_README_RECIPES=1 rewrites it)`).toBe(
        readFileSync(`${root}${path!}`, "utf8")
      )
    }
  })
})
