import { defineConfig } from "vitest/config"
import CountReporter from "./test/support/CountReporter.js"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", new CountReporter()],
    testTimeout: 60_000,
    hookTimeout: 120_000
  }
})
