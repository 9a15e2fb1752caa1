/**
 * The package as an app gets it: `npm pack` (the `prepare` script builds `dist/`), installed with npm into a
 * separate app next to `effect`, `@effect/platform` and `@effect/platform-node`, at the versions this checkout
 * develops against and at the low end of the peer ranges. The app's program (test/package/app/main.ts) imports
 * every entry point; it is typechecked with `moduleResolution` `NodeNext` (declarations checked too:
 * `skipLibCheck: false`) and `Bundler`, compiled and run, and its calls against the emulators print the result
 * checked here.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as ConsumerApp from "./ConsumerApp.js"

/**
 * The low end of the peer ranges: the oldest line of each that the package installs, typechecks and runs with
 * (the newest patch of each line, as npm resolves the platform packages' own peers within it).
 */
const lowEnd: ConsumerApp.Versions = { effect: "3.20.0", platform: "0.95.0", platformNode: "0.105.0" }

const packDir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-sessions-pack-"))
afterAll(() => Fs.rmSync(packDir, { recursive: true, force: true }))

let tarball: Promise<string> | undefined
const packed = (): Promise<string> => (tarball ??= ConsumerApp.pack(packDir))

/** The subpaths the fixture program imports (`"effect-sessions"` is `"."`). */
const imported = (): ReadonlyArray<string> => {
  const source = Fs.readFileSync(NodePath.join(ConsumerApp.fixtureDir, "main.ts"), "utf8")
  const specifiers = [...source.matchAll(/from "effect-sessions(\/[^"]*)?"/g)].map((m) => `.${m[1] ?? ""}`)
  return [...new Set(specifiers)].sort()
}

const expectedResult = {
  sameModules: true,
  jupyter: { path: "consumer.ipynb", listed: 1, missing: "NotFound" },
  // create, close, a 503 on the status read, then its retry
  deepset: { finished: 0, requests: 4 },
  lookerWorkspace: "dev",
  whylabsUploaded: true
}

const exercise = async (versions: ConsumerApp.Versions) => {
  const app = await ConsumerApp.install(await packed(), versions)
  try {
    const installed = JSON.parse(
      Fs.readFileSync(NodePath.join(app.dir, "node_modules/effect/package.json"), "utf8")
    ) as { version: string }
    expect(installed.version).toBe(versions.effect)
    // The two typechecks run side by side (NodeNext also compiles the program to out/).
    await Promise.all([
      ConsumerApp.typecheck(app, "tsconfig.nodenext.json"),
      ConsumerApp.typecheck(app, "tsconfig.bundler.json")
    ])
    expect(await ConsumerApp.runProgram(app)).toEqual(expectedResult)
  } finally {
    app.release()
  }
}

describe("the packed package in an app", () => {
  it("ships dist/ (.js, .d.ts, source maps) and src/, no tests, bench or examples", async () => {
    const listing = (await ConsumerApp.run("tar", ["-tzf", await packed()], { cwd: packDir })).split("\n").filter((l) => l !== "")
    const files = listing.map((l) => l.replace(/^package\//, ""))
    for (
      const entry of [
        "index",
        "deepset/index",
        "jupyter/index",
        "looker/index",
        "whylabs/index",
        "node/index",
        "testing/index",
        "testing/node"
      ]
    ) {
      for (const suffix of [".js", ".js.map", ".d.ts", ".d.ts.map"]) expect(files).toContain(`dist/${entry}${suffix}`)
    }
    expect(files).toContain("src/index.ts")
    expect(files).toContain("LICENSE")
    expect(files.filter((f) => /^(test|bench|examples)\//.test(f) || f.endsWith(".test.ts"))).toEqual([])
    // Every map's sources resolve inside the tarball.
    const map = JSON.parse(
      await ConsumerApp.run("tar", ["-xzOf", await packed(), "package/dist/deepset/UploadSessions.js.map"], {
        cwd: packDir
      })
    ) as { sources: ReadonlyArray<string> }
    for (const source of map.sources) expect(files).toContain(NodePath.posix.join("dist/deepset", source))
  })

  it("publint (strict) and arethetypeswrong (ESM-only profile) find no problem in the tarball", async () => {
    const bin = (tool: string) => NodePath.join(ConsumerApp.repoRoot, "node_modules/.bin", tool)
    const publint = await ConsumerApp.run(bin("publint"), ["run", "--strict", await packed()], { cwd: packDir })
    expect(publint).toContain("All good!")
    // attw exits non-zero on any problem outside the ignored CommonJS resolutions.
    const attw = await ConsumerApp.run(
      bin("attw"),
      ["--profile", "esm-only", "--format", "table-flipped", "--no-color", await packed()],
      { cwd: packDir }
    )
    for (const entry of Object.keys(ConsumerApp.manifest().exports)) {
      expect(attw).toContain(`"effect-sessions${entry.slice(1)}"`)
    }
  }, 120_000)

  it("the program imports every entry point the package exports", () => {
    const exported = Object.keys(ConsumerApp.manifest().exports).filter((k) => k !== "./package.json").sort()
    expect(exported.length).toBeGreaterThanOrEqual(6)
    expect(imported()).toEqual(exported)
  })

  it("states the low end tested here as the peer ranges' low end", () => {
    const peers = ConsumerApp.manifest().peerDependencies
    const lowest = (range: string) => range.split("||")[0]!.trim().replace(/^\^/, "")
    expect(lowest(peers["effect"]!).split(".").slice(0, 2)).toEqual(lowEnd.effect.split(".").slice(0, 2))
    expect(lowest(peers["@effect/platform"]!)).toBe(lowEnd.platform)
    expect(lowest(peers["@effect/platform-node"]!)).toBe(lowEnd.platformNode)
  })

  it("installs, typechecks (NodeNext, Bundler) and runs at the developed versions", () =>
    exercise(ConsumerApp.developed()), 300_000)

  it("installs, typechecks (NodeNext, Bundler) and runs at the peer ranges' low end", () =>
    exercise(lowEnd), 300_000)
})
