/**
 * The Python virtualenvs made by `.ci/venvs.sh` (jupyter2, looker, whylabs,
 * deepset), found where that script puts them. A test that needs one asks
 * {@link venv}: under `CI=true` a missing venv fails the test (CI makes them
 * first); elsewhere the test reports why and is skipped by its caller.
 */
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
