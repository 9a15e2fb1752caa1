/**
 * The library runs anywhere: bundled for the browser (esbuild,
 * `platform: "browser"`), neither the main entry nor `effect-sessions/testing`
 * imports a Node built-in, directly or through a dependency.
 */
import { describe, expect, it } from "@effect/vitest"
import { bundleForBrowser } from "./Bundle.js"

describe("browser bundle", () => {
  for (const entry of ["src/index.ts", "src/testing/index.ts"]) {
    it(`${entry} bundles for the browser without any Node built-in`, async () => {
      const { code, inputs, nodeImports } = await bundleForBrowser(entry)
      const report = nodeImports.map((i) => `${i.importer} imports ${i.module}`).join("\n")
      expect(report).toBe("")
      expect(code.length).toBeGreaterThan(10_000)
      // what must stay out of a browser bundle
      expect(inputs.filter((i) => i.includes("src/node/") || i.endsWith("Loopback.ts"))).toEqual([])
      expect(inputs.filter((i) => i.includes("@effect/platform-node") || i.includes("node_modules/undici/"))).toEqual([])
    }, 60_000)
  }

  it("the check can fail: the Node-only entry is caught, naming the importer", async () => {
    const { nodeImports } = await bundleForBrowser("src/testing/node.ts")
    expect(nodeImports.length).toBeGreaterThan(0)
    expect(nodeImports.map((i) => i.importer)).toContain("src/testing/Loopback.ts")
    expect(nodeImports.map((i) => i.module)).toContain("node:http")
  }, 60_000)
})
