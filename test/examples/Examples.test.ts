/**
 * Examples that never rot: every file in examples/ is spawned as a user runs
 * it (`tsx examples/<file>`), against the emulators (the variables that would
 * point it at a real service are removed), and its output must show that it
 * did its job. The files are discovered at run time: a known file is checked
 * for its own lines, a new one must at least exit 0 and print something.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as NodePath from "node:path"
import { type ExampleRun, runExample } from "../support/RunExample.js"

const root = NodePath.resolve(import.meta.dirname, "../..")

/** Every variable an example reads to reach a real service: removed, so it uses its emulator. */
const offline: Record<string, undefined> = Object.fromEntries(
  [
    "DEEPSET_CLOUD_API_KEY",
    "DEEPSET_CLOUD_API_URL",
    "API_KEY",
    "API_URL",
    "DEEPSET_WORKSPACE",
    "JUPYTER_SERVER_URL",
    "JUPYTER_TOKEN",
    "LOOKERSDK_BASE_URL",
    "LOOKERSDK_CLIENT_ID",
    "LOOKERSDK_CLIENT_SECRET",
    "LOOKERSDK_API_VERSION",
    "WHYLABS_API_KEY",
    "WHYLABS_API_ENDPOINT",
    "WHYLABS_ORG_ID",
    "WHYLABS_PROFILE"
  ].map((name) => [name, undefined])
)

interface Known {
  /** Extra environment. */
  readonly env?: Readonly<Record<string, string>>
  /** Lines (exact, or a pattern) stdout must contain. */
  readonly proves?: ReadonlyArray<string | RegExp>
  /** A module other examples import (no program of its own): it loads cleanly and prints nothing. */
  readonly module?: boolean
  /** Spawned by another test, named here. */
  readonly coveredBy?: string
}

const known: Record<string, Known> = {
  "demo.ts": {
    env: { DEMO_FILES: "5000" },
    proves: [
      /^created session [0-9a-f-]{36}, expires /,
      "an unknown session is a typed error: NotFound (404)",
      /^deepset streamFiles: 5,000 files in [\d.]+ s = [\d,]+ items\/s \(\d+ failed ingestion\); peak RSS \d+ MB$/,
      "jupyter: deleted the session and its kernel; reading it again gives NotFound (404)"
    ]
  },
  "jupyter-sessions.ts": { coveredBy: "test/jupyter/Examples.test.ts" },
  "jupyter-tour.ts": { module: true },
  "progress.ts": { module: true },
  "looker-session.ts": {
    proves: ["switched to: dev", "switched back to: production", "logged out"]
  },
  "whylabs-guest-upload.ts": {
    proves: [
      /^whylabs: guest session \S+$/,
      /^whylabs: uploaded profile \S+ \(\d+ bytes\)$/,
      /^whylabs: observatory link: https:\/\/\S+$/
    ]
  },
  "tracing.ts": {
    proves: [
      "nightly-report",
      /^ {2}Deepset\.getStatus {2}GET https:\/\/api\.cloud\.deepset\.ai\/\S+ → 200$/,
      /^ {4}http\.client GET /,
      "tracing: exported 11 spans in 1 trace(s); calls: Deepset.list, Deepset.getStatus, Jupyter.createSession, " +
      "Jupyter.listSessions, Jupyter.deleteSession"
    ]
  }
}

const files = Fs.readdirSync(NodePath.join(root, "examples")).filter((f) => /\.(ts|mts|js|mjs)$/.test(f)).sort()

const explain = (run: ExampleRun) => `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`

describe("examples/", () => {
  it("holds the examples this test knows, and each runnable one is checked here or elsewhere", () => {
    for (const name of ["demo.ts", "tracing.ts"]) expect(files).toContain(name)
    for (const [name, spec] of Object.entries(known)) {
      if (spec.coveredBy !== undefined && files.includes(name)) {
        expect(Fs.readFileSync(NodePath.join(root, spec.coveredBy), "utf8")).toContain(`examples/${name}`)
      }
    }
  })

  for (const file of files) {
    const spec = known[file]
    if (spec?.coveredBy !== undefined) continue
    const title = spec === undefined
      ? `${file} (not known to this test): exits 0 and prints something`
      : spec.module === true
      ? `${file} is a module the examples import: it loads on its own, prints nothing, and an example imports it`
      : `${file} runs against the emulators and prints what proves it did its job`
    it(title, async () => {
      const run = await runExample(`examples/${file}`, { ...offline, ...spec?.env })
      expect(run.code, explain(run)).toBe(0)
      if (spec === undefined) {
        expect(run.stdout.trim().length, explain(run)).toBeGreaterThan(0)
        return
      }
      if (spec.module === true) {
        expect(run.stdout, explain(run)).toBe("")
        const stem = file.replace(/\.ts$/, "")
        const importers = files.filter((f) =>
          f !== file && Fs.readFileSync(NodePath.join(root, "examples", f), "utf8").includes(`"./${stem}.js"`)
        )
        expect(importers.length, `no example imports ${file}`).toBeGreaterThan(0)
        return
      }
      const lines = run.stdout.split("\n")
      for (const proof of spec.proves ?? []) {
        const found = typeof proof === "string" ? lines.includes(proof) : lines.some((line) => proof.test(line))
        expect(found, `${file} did not print ${String(proof)}\n${explain(run)}`).toBe(true)
      }
      expect(run.stderr, explain(run)).not.toMatch(/Error|FiberFailure|Unhandled/)
    }, 120_000)
  }
})
