/**
 * Prism (`@stoplight/prism-cli`, pinned at 5.14.2) serving one of the specs in
 * `../shared/specs/` as a validating mock, started on 127.0.0.1 with a free
 * port and stopped by its PID. Every request it received and every validation
 * error it reported are read from its log, so a contract test asserts that
 * the client's requests produced none.
 *
 * ```ts
 * const prism = await Prism.start(Prism.spec("looker/Looker.4.0.oas.json"))
 * // … calls against prism.url …
 * expect(prism.violations()).toEqual([])
 * await prism.stop()
 * ```
 *
 * Prism serves the spec's paths at its root: a client that adds a base path
 * the spec's `servers` entry carries (Looker's `/api/4.0`) needs that prefix
 * stripped, e.g. with `HttpClient.mapRequest` in the test.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as NodePath from "node:path"
import { freePort } from "./Ports.js"

export { freePort }

const root = NodePath.resolve(import.meta.dirname, "../..")
const binary = NodePath.join(root, "node_modules/.bin/prism")

/** The path of a spec under `../shared/specs/`. */
export const spec = (relative: string): string => NodePath.resolve(root, "../shared/specs", relative)

export interface Prism {
  readonly url: string
  readonly pid: number
  /** The log so far. */
  readonly log: () => string
  /** Requests Prism received, as `METHOD /path` (its own lower-case method words upper-cased). */
  readonly requests: () => ReadonlyArray<string>
  /** Every validation error and unresolved route it reported. */
  readonly violations: () => ReadonlyArray<string>
  /** Resolves once the log has not grown for 300 ms (Prism logs some lines after it answered). */
  readonly settle: () => Promise<void>
  readonly stop: () => Promise<void>
}

// eslint-disable-next-line no-control-regex
const ansi = /\u001b\[[0-9;]*m/g

/**
 * Starts `prism mock FILE` (or `prism proxy FILE UPSTREAM --errors` when
 * `upstream` is given) and resolves when it listens.
 */
export const start = async (
  file: string,
  // validateRequest: false (proxy only) forwards requests the spec rejects, so that their answers are checked too
  options: { readonly upstream?: string; readonly validateRequest?: boolean } = {}
): Promise<Prism> => {
  if (!Fs.existsSync(file)) throw new Error(`no spec at ${file}`)
  if (!Fs.existsSync(binary)) throw new Error(`prism is not installed (${binary}); run npm install`)
  const port = await freePort()
  const args = options.upstream === undefined
    ? ["mock", file, "-h", "127.0.0.1", "-p", String(port)]
    : ["proxy", file, options.upstream, "-h", "127.0.0.1", "-p", String(port), "--errors"].concat(
      options.validateRequest === false ? ["--validate-request=false"] : []
    )
  const child = ChildProcess.spawn(binary, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } })
  let log = ""
  const onData = (chunk: Buffer) => (log += chunk.toString("utf8").replace(ansi, ""))
  child.stdout.on("data", onData)
  child.stderr.on("data", onData)
  const url = `http://127.0.0.1:${port}`
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`prism did not start within 60 s:\n${log}`)), 60_000)
    const check = setInterval(() => {
      if (log.includes("Prism is listening")) {
        clearInterval(check)
        clearTimeout(timer)
        resolve()
      }
    }, 50)
    child.once("exit", (code) => {
      clearInterval(check)
      clearTimeout(timer)
      reject(new Error(`prism exited with ${code}:\n${log}`))
    })
  })
  const lines = () => log.split("\n")
  return {
    url,
    pid: child.pid!,
    log: () => log,
    requests: () =>
      lines().flatMap((line) => {
        const m = /\[HTTP SERVER\] (\w+) (\S+) .*Request received/.exec(line)
        return m === null ? [] : [`${m[1]!.toUpperCase()} ${m[2]}`]
      }),
    violations: () =>
      lines().filter((line) => /Violation:|NO_PATH_MATCHED|Route not resolved/.test(line)).map((l) => l.trim()),
    settle: async () => {
      let seen = -1
      while (seen !== log.length) {
        seen = log.length
        await new Promise((resolve) => setTimeout(resolve, 300))
      }
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve()
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
        child.once("exit", () => {
          clearTimeout(timer)
          resolve()
        })
        child.kill("SIGTERM")
      })
  }
}
