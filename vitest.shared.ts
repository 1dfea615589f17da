import { fileURLToPath } from "node:url"
import type { ViteUserConfig } from "vitest/config"

// Tests run on the sources: a package importing another gets its src/.
export const shared: ViteUserConfig = {
  resolve: {
    alias: [
      {
        find: /^@loop-local\/core\/internal$/,
        replacement: fileURLToPath(new URL("./packages/core/src/internal/binding.ts", import.meta.url))
      },
      {
        find: /^@loop-local\/core$/,
        replacement: fileURLToPath(new URL("./packages/core/src/index.ts", import.meta.url))
      }
    ]
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000
  }
}
