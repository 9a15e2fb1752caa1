/**
 * Runs an example script with tsx as a child process, as a user would.
 */
import * as ChildProcess from "node:child_process"
import * as NodePath from "node:path"

export interface ExampleRun {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const root = NodePath.resolve(import.meta.dirname, "../..")

/** `tsx <script>` from the package root, with `env` laid over the environment (undefined removes a variable). */
export const runExample = (
  script: string,
  env: Readonly<Record<string, string | undefined>> = {}
): Promise<ExampleRun> =>
  new Promise((resolve, reject) => {
    const merged: Record<string, string> = {}
    for (const [k, v] of Object.entries({ ...process.env, ...env })) if (v !== undefined) merged[k] = v
    const child = ChildProcess.spawn(NodePath.join(root, "node_modules/.bin/tsx"), [script], {
      cwd: root,
      env: merged,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${script} did not finish within 60 s:\n${stdout}\n${stderr}`))
    }, 60_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
