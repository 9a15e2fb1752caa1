/**
 * The Python virtualenvs made by `.ci/venvs.sh` (jupyter2, looker, whylabs,
 * deepset), found where that script puts them. A test that needs one asks
 * {@link venv}: under `CI=true` a missing venv fails the test (CI makes them
 * first); elsewhere the test reports why and is skipped by its caller.
 */
import { describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"

export type VenvName = "jupyter2" | "looker" | "whylabs" | "deepset"

/** Where `.ci/venvs.sh` makes the venvs. */
export const venvRoot = process.env["EFFECT_SESSIONS_VENVS"] ?? NodePath.join(Os.homedir(), ".cache/effect-sessions/venvs")

/** A venv's directory and interpreter, or why it is not there. */
export const venv = (
  name: VenvName
): { readonly ok: true; readonly dir: string; readonly python: string; readonly bin: (tool: string) => string } | {
  readonly ok: false
  readonly reason: string
} => {
  const dir = NodePath.join(venvRoot, name)
  const python = NodePath.join(dir, "bin/python")
  if (!Fs.existsSync(NodePath.join(dir, ".stamp")) || !Fs.existsSync(python)) {
    return { ok: false, reason: `the ${name} virtualenv is missing at ${dir}: run bash .ci/venvs.sh` }
  }
  return { ok: true, dir, python, bin: (tool) => NodePath.join(dir, "bin", tool) }
}

/** What a finished child process printed. */
export interface ProcessRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `interpreter script args…` as a child process, killed after
 * `timeoutMs` or when the effect is interrupted. `env` replaces the
 * environment when `cleanEnv` is set (only PATH and HOME kept), else is laid
 * over it.
 */
export const runPython = (
  interpreter: string,
  script: string,
  options: {
    readonly args?: ReadonlyArray<string>
    readonly env?: Readonly<Record<string, string>>
    readonly cleanEnv?: boolean
    readonly cwd?: string
    readonly timeoutMs?: number
  } = {}
): Effect.Effect<ProcessRun> =>
  Effect.async<ProcessRun>((resume) => {
    const base = options.cleanEnv ? { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "" } : process.env
    const child = ChildProcess.spawn(interpreter, [script, ...(options.args ?? [])], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...base, ...options.env },
      ...(options.cwd === undefined ? {} : { cwd: options.cwd })
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resume(Effect.succeed({ code, stdout, stderr }))
    })
    return Effect.sync(() => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, "SIGKILL"))
  })

/**
 * A suite that needs a venv: locally, without it, the suite is one skipped
 * test saying why; under `CI=true` the suite runs and its tests fail on the
 * missing venv (`needVenv`).
 */
export const describeWithVenv = (name: VenvName, title: string, body: () => void): void =>
  void describe(title, () => {
    const found = venv(name)
    if (!found.ok && process.env["CI"] !== "true") {
      it.skip(`skipped: ${found.reason}`, () => {})
      return
    }
    body()
  })

/** The venv, or a failure saying how to make it (CI: a missing venv fails the test). */
export const needVenv = (name: VenvName): Effect.Effect<{ readonly python: string; readonly dir: string }, Error> => {
  const found = venv(name)
  return found.ok ? Effect.succeed({ python: found.python, dir: found.dir }) : Effect.fail(new Error(found.reason))
}
