import { fileURLToPath } from "node:url"
import type { ViteUserConfig } from "vitest/config"

// Tests run on the sources: a package importing another gets its src/.
export const shared: ViteUserConfig = {
  resolve: {
    alias: {
      "@loop-local/core": fileURLToPath(new URL("./packages/core/src/index.ts", import.meta.url))
    }
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000
  }
}
