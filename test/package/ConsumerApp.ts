/**
 * A consumer's app for the packed effect-sessions: the tarball `npm pack` makes (its `prepare` script builds
 * `dist/`), installed with npm next to chosen versions of `effect`, `@effect/platform` and
 * `@effect/platform-node`, typechecked and run as an app would.
 *
 * The app directories are kept under `~/.cache/effect-sessions/consumer-apps/`, one per set of versions, so a
 * machine that runs the test again only swaps the tarball (npm reuses the app's lockfile and `node_modules`).
 */
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"

/** The repository root (the package being packed). */
export const repoRoot = NodePath.resolve(import.meta.dirname, "../..")

/** The consumer program and its tsconfigs, copied into every app. */
export const fixtureDir = NodePath.join(import.meta.dirname, "app")

/** Where the apps are kept between runs. */
export const appsRoot = process.env["EFFECT_SESSIONS_CONSUMER_APPS"] ??
  NodePath.join(Os.homedir(), ".cache/effect-sessions/consumer-apps")

/** The versions an app installs next to the tarball (exact versions). */
export interface Versions {
  readonly effect: string
  readonly platform: string
  readonly platformNode: string
}

const installedVersion = (name: string): string =>
  (JSON.parse(Fs.readFileSync(NodePath.join(repoRoot, "node_modules", name, "package.json"), "utf8")) as {
    version: string
  }).version

/** The versions this checkout develops against (its `node_modules`). */
export const developed = (): Versions => ({
  effect: installedVersion("effect"),
  platform: installedVersion("@effect/platform"),
  platformNode: installedVersion("@effect/platform-node")
})

/** The package's manifest. */
export const manifest = (): {
  readonly version: string
  readonly exports: Record<string, unknown>
  readonly peerDependencies: Record<string, string>
  readonly devDependencies: Record<string, string>
} => JSON.parse(Fs.readFileSync(NodePath.join(repoRoot, "package.json"), "utf8"))

/** The environment of a child npm: without the `npm_*` variables of the `npm test` that may be running us. */
const childEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_")))

/** Run a command (without blocking the test worker); its output, or an error carrying it. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly timeoutMs?: number }
): Promise<string> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(command, args, {
      cwd: options.cwd,
      env: childEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 240_000
    })
    let output = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
    child.on("error", reject)
    child.on("close", (code, signal) => {
      if (code === 0) resolve(output)
      else reject(new Error(`${command} ${args.join(" ")} (in ${options.cwd}) failed: ${signal ?? `exit ${code}`}\n${output}`))
    })
  })

/** `npm pack` the repository into `destination` (its `prepare` script builds `dist/` first); the tarball's path. */
export const pack = async (destination: string): Promise<string> => {
  Fs.mkdirSync(destination, { recursive: true })
  const output = await run("npm", ["pack", "--json", "--pack-destination", destination], { cwd: repoRoot })
  // The build's own output precedes the JSON report.
  const report = JSON.parse(output.slice(output.indexOf("\n[") + 1, output.lastIndexOf("]") + 1)) as ReadonlyArray<{
    readonly filename: string
  }>
  return NodePath.join(destination, report[0]!.filename)
}

/** Hold a directory lock (another run using the same app waits), released by the returned function. */
const lock = async (dir: string): Promise<() => void> => {
  const lockDir = `${dir}.lock`
  const deadline = Date.now() + 300_000
  for (;;) {
    try {
      Fs.mkdirSync(lockDir)
      return () => Fs.rmSync(lockDir, { recursive: true, force: true })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      const age = Date.now() - Fs.statSync(lockDir, { throwIfNoEntry: false })!.mtimeMs
      if (age > 600_000) Fs.rmSync(lockDir, { recursive: true, force: true }) // left by a killed run
      else if (Date.now() > deadline) throw new Error(`${lockDir} is held by another run`)
      else await new Promise((resolve) => setTimeout(resolve, 1000))
    }
  }
}

/** An app with the tarball installed; `release` frees it for other runs. */
export interface App {
  readonly dir: string
  /** npm's output of the install. */
  readonly installLog: string
  readonly release: () => void
}

/**
 * Make (or reuse) the app for `versions` and install `tarball` in it with npm (peer dependencies checked as an app's
 * install checks them: no `--force`, no `--legacy-peer-deps`).
 */
export const install = async (tarball: string, versions: Versions): Promise<App> => {
  const typesNode = installedVersion("@types/node")
  const typescript = installedVersion("typescript")
  const dir = NodePath.join(
    appsRoot,
    `effect-${versions.effect}_platform-${versions.platform}_platform-node-${versions.platformNode}_ts-${typescript}`
  )
  Fs.mkdirSync(appsRoot, { recursive: true })
  const release = await lock(dir)
  try {
    Fs.mkdirSync(dir, { recursive: true })
    // A tarball name per content, so npm sees a new dependency spec whenever the package changed.
    const digest = Crypto.createHash("sha256").update(Fs.readFileSync(tarball)).digest("hex").slice(0, 16)
    const tarballName = `effect-sessions-${digest}.tgz`
    for (const old of Fs.readdirSync(dir)) {
      if (old.startsWith("effect-sessions-") && old.endsWith(".tgz") && old !== tarballName) {
        Fs.rmSync(NodePath.join(dir, old))
      }
    }
    Fs.copyFileSync(tarball, NodePath.join(dir, tarballName))
    const appManifest = {
      name: "effect-sessions-consumer",
      private: true,
      type: "module",
      dependencies: {
        "@effect/platform": versions.platform,
        "@effect/platform-node": versions.platformNode,
        effect: versions.effect,
        "effect-sessions": `file:./${tarballName}`
      },
      devDependencies: { "@types/node": typesNode, typescript }
    }
    Fs.writeFileSync(NodePath.join(dir, "package.json"), `${JSON.stringify(appManifest, null, 2)}\n`)
    for (const file of Fs.readdirSync(fixtureDir)) {
      Fs.copyFileSync(NodePath.join(fixtureDir, file), NodePath.join(dir, file))
    }
    Fs.rmSync(NodePath.join(dir, "out"), { recursive: true, force: true })
    const installLog = await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: dir })
    return { dir, installLog, release }
  } catch (error) {
    release()
    throw error
  }
}

/** Typecheck (and, for a config that emits, compile) the app's program with one of its tsconfigs. */
export const typecheck = (app: App, tsconfig: string): Promise<string> =>
  run(process.execPath, [NodePath.join(app.dir, "node_modules/typescript/bin/tsc"), "-p", tsconfig], {
    cwd: app.dir
  })

/** Run the compiled program; the JSON after its `RESULT ` line. */
export const runProgram = async (app: App): Promise<unknown> => {
  const output = await run(process.execPath, ["out/main.js"], { cwd: app.dir, timeoutMs: 60_000 })
  const line = output.split("\n").find((l) => l.startsWith("RESULT "))
  if (line === undefined) throw new Error(`the program printed no RESULT line:\n${output}`)
  return JSON.parse(line.slice("RESULT ".length))
}
