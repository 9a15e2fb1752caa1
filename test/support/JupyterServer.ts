/**
 * The servers the Jupyter suite runs against, behind one `Harness`, each in
 * two versions (`"1.23"` and `"2"`):
 * - the emulator of that version, in memory (TestClock drives its time);
 * - a REAL Jupyter Server: 1.23 is Debian's `jupyter-server` +
 *   `python3-ipykernel` (`/usr/bin/python3`), 2.x the newest 2.x release in
 *   the `jupyter2` virtualenv made by `.ci/venvs.sh`. It is started on
 *   127.0.0.1 with a free port, a random token (or none, when asked) and a
 *   fresh root directory, and stopped by PID with SIGTERM (SIGKILL of its
 *   process group if that does not stop it) when the suite ends.
 *
 * When a real server is not installed, its suites FAIL under `CI=true` and
 * are skipped with a message otherwise.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import { describe, it as vitestIt, layer, type Vitest } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as Jupyter from "../../src/jupyter/index.js"
import * as InMemory from "../../src/testing/InMemory.js"
import * as JupyterEmulator from "../../src/testing/JupyterEmulator.js"
import { venv } from "./Venvs.js"
import { freePort } from "./Ports.js"

/** The Jupyter Server lines the suite runs against. */
export type ServerVersion = JupyterEmulator.Version

/** Both, oldest first. */
export const versions: ReadonlyArray<ServerVersion> = ["1.23", "2"]

/** Debian's interpreter, which has jupyter-server 1.23. */
export const python = "/usr/bin/python3"

// ---------------------------------------------------------------------------
// the real server

/** The interpreter that runs a version's server, or why there is none. */
const interpreter = (
  version: ServerVersion
): { readonly ok: true; readonly python: string; readonly install: string } | { readonly ok: false; readonly reason: string } => {
  if (version === "1.23") {
    return Fs.existsSync(python)
      ? { ok: true, python, install: "install the Debian packages jupyter-server python3-ipykernel" }
      : { ok: false, reason: `${python} is missing` }
  }
  const env = venv("jupyter2")
  return env.ok ? { ok: true, python: env.python, install: "run bash .ci/venvs.sh" } : env
}

/** Whether a version's real server can run here (and its exact release), and why not. */
export const realServerAvailability = (
  version: ServerVersion = "1.23"
): { readonly ok: true; readonly python: string; readonly release: string } | { readonly ok: false; readonly reason: string } => {
  const found = interpreter(version)
  if (!found.ok) return found
  const probe = ChildProcess.spawnSync(
    found.python,
    ["-c", "import jupyter_server, ipykernel; print(jupyter_server.__version__)"],
    { encoding: "utf8", timeout: 60_000 }
  )
  const release = (probe.stdout ?? "").trim()
  const line = version === "1.23" ? /^1\.23\./ : /^2\./
  if (probe.status === 0 && line.test(release)) return { ok: true, python: found.python, release }
  if (probe.status === 0) {
    return { ok: false, reason: `${found.python} has jupyter_server ${release}, not ${version}.x (${found.install})` }
  }
  return {
    ok: false,
    reason: `jupyter_server or ipykernel cannot be imported by ${found.python} (${found.install}): ${
      (probe.stderr ?? "").trim().split("\n").at(-1) ?? probe.error?.message
    }`
  }
}

/** A running real server. */
export interface RealServer {
  readonly version: ServerVersion
  /** Its exact release, as `GET /api` answers it (`2.21.1`). */
  readonly release: string
  /** Its URL with the base path and a trailing slash, e.g. `http://127.0.0.1:40123/user/alice/`. */
  readonly url: string
  /** Its token; `""` when it was started without one. */
  readonly token: string
  readonly pid: number
  readonly rootDir: string
  /** How long it took from spawn to answering `GET {url}api`. */
  readonly startup: Duration.Duration
}

const exited = (child: ChildProcess.ChildProcess, timeoutMs: number): Promise<boolean> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(true)
    : new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      child.once("exit", () => {
        clearTimeout(timer)
        resolve(true)
      })
    })

/** SIGTERM by PID; if it does not stop (a kernel that vanished can wedge its shutdown), SIGKILL its process group. */
const stop = async (child: ChildProcess.ChildProcess): Promise<void> => {
  const pid = child.pid
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  child.kill("SIGTERM")
  if (await exited(child, 10_000)) return
  try {
    process.kill(-pid, "SIGKILL")
  } catch {
    child.kill("SIGKILL")
  }
  await exited(child, 5_000)
}

interface SpawnOptions {
  readonly basePath: string
  readonly version: ServerVersion
  readonly python: string
  /** false: started with an empty token ("All authentication is disabled"). */
  readonly token: boolean
}

const spawnOnce = async (options: SpawnOptions): Promise<{ server: RealServer; child: ChildProcess.ChildProcess }> => {
  const { basePath, version } = options
  const rootDir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), `effect-sessions-jupyter${version}-`))
  const token = options.token ? Crypto.randomBytes(24).toString("hex") : ""
  const port = await freePort()
  const started = performance.now()
  const child = ChildProcess.spawn(
    options.python,
    [
      "-m",
      "jupyter_server",
      "--no-browser",
      "--allow-root",
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--ServerApp.port_retries=0",
      // 2.x deprecates ServerApp.token for IdentityProvider.token (and warns)
      version === "1.23" ? `--ServerApp.token=${token}` : `--IdentityProvider.token=${token}`,
      `--ServerApp.root_dir=${rootDir}`,
      ...(basePath === "/" ? [] : [`--ServerApp.base_url=${basePath}`])
    ],
    {
      // its own process group, so that a wedged server and its kernels can be killed together
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        JUPYTER_CONFIG_DIR: NodePath.join(rootDir, ".config"),
        JUPYTER_RUNTIME_DIR: NodePath.join(rootDir, ".runtime"),
        IPYTHONDIR: NodePath.join(rootDir, ".ipython")
      }
    }
  )
  let log = ""
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString("utf8")).slice(-8_000)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const url = `http://127.0.0.1:${port}${basePath}`
  const deadline = started + 60_000
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      Fs.rmSync(rootDir, { recursive: true, force: true })
      throw new Error(`jupyter_server exited (${child.exitCode ?? child.signalCode}) before answering:\n${log}`)
    }
    const ready = await fetch(`${url}api`).then(
      (r) => (r.ok ? r.json().then((body: { readonly version?: unknown }) => String(body.version)) : undefined),
      () => undefined
    )
    if (ready !== undefined) {
      return {
        server: {
          version,
          release: ready,
          url,
          token,
          pid: child.pid ?? -1,
          rootDir,
          startup: Duration.millis(performance.now() - started)
        },
        child
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await stop(child)
  Fs.rmSync(rootDir, { recursive: true, force: true })
  throw new Error(`jupyter_server did not answer GET ${url}api within 60 s:\n${log}`)
}

/** Options of {@link startRealServer}. */
export interface RealServerOptions {
  readonly basePath?: string
  /** Default `"1.23"`. */
  readonly version?: ServerVersion
  /** false: started with an empty token. Default true (a random token). */
  readonly token?: boolean
}

/**
 * A real Jupyter Server for the scope: started (retrying once if its port was
 * taken meanwhile), and stopped by PID with SIGTERM when the scope closes.
 */
export const startRealServer = (options: RealServerOptions = {}): Effect.Effect<
  RealServer,
  Error,
  Scope.Scope
> => {
  const version = options.version ?? "1.23"
  const found = interpreter(version)
  if (!found.ok) return Effect.fail(new Error(found.reason))
  const spawn: SpawnOptions = {
    basePath: normalizeBasePath(options.basePath),
    version,
    python: found.python,
    token: options.token ?? true
  }
  return Effect.acquireRelease(
    Effect.tryPromise({
      try: () => spawnOnce(spawn).catch(() => spawnOnce(spawn)),
      catch: (e) => (e instanceof Error ? e : new Error(String(e)))
    }),
    ({ child, server }) =>
      Effect.promise(async () => {
        await stop(child)
        Fs.rmSync(server.rootDir, { recursive: true, force: true })
      })
  ).pipe(Effect.map(({ server }) => server))
}

/** `/user/alice` → `/user/alice/`; nothing → `/`. */
const normalizeBasePath = (basePath: string | undefined): string => {
  const trimmed = (basePath ?? "/").replace(/^\/+|\/+$/g, "")
  return trimmed === "" ? "/" : `/${trimmed}/`
}

// ---------------------------------------------------------------------------
// the harness the suite talks to

/** An answer to a raw request. */
export interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly text: string
}

/** Cookies of a browser-style login. */
export interface Login {
  readonly xsrf: string
  readonly cookies: Readonly<Record<string, string>>
}

/** What a test can do with the server under test. */
export interface HarnessService {
  readonly name: string
  readonly real: boolean
  /** The Jupyter Server line: the real server's, or the one the emulator emulates. */
  readonly version: ServerVersion
  /** The exact release `GET /api` answers (`1.23.3`, `2.21.1`). */
  readonly release: string
  /** Base URL with base path and trailing slash. */
  readonly baseUrl: string
  /** The server's token; `""` for a server without one. */
  readonly token: string
  /** A client for this server: its base URL and token unless given (explicit `token: undefined`: none). */
  readonly client: (options?: Partial<Jupyter.Options>) => Layer.Layer<Jupyter.Sessions>
  /** A request the client would never send, relative to the base URL (`api/kernels`), with the token unless `auth: false`. */
  readonly raw: (
    method: HttpMethod.HttpMethod,
    path: string,
    options?: {
      readonly body?: string
      readonly headers?: Readonly<Record<string, string>>
      readonly auth?: boolean
    }
  ) => Effect.Effect<RawResponse>
  /** Requests the clients of this harness have sent so far (raw requests not counted). */
  readonly sent: Effect.Effect<number>
  /** A fresh browser-style login (cookies and `_xsrf`). */
  readonly login: Effect.Effect<Login>
  /** The emulator's "kernel died under the session" (undefined on a real server). */
  readonly killKernel: ((sessionId: string) => Effect.Effect<void>) | undefined
}

export class Harness extends Context.Tag("test/JupyterHarness")<Harness, HarnessService>() {}

const makeHarness = (options: {
  readonly name: string
  readonly real: boolean
  readonly version: ServerVersion
  readonly release: string
  readonly baseUrl: string
  readonly token: string
  readonly http: HttpClient.HttpClient
  readonly login: Effect.Effect<Login>
  readonly killKernel: ((sessionId: string) => Effect.Effect<void>) | undefined
}): HarnessService => {
  let sent = 0
  const counted = HttpClient.tapRequest(options.http, () =>
    Effect.sync(() => {
      sent++
    }))
  const httpLayer = Layer.succeed(HttpClient.HttpClient, counted)
  const noToken = options.token === ""
  return {
    name: options.name,
    real: options.real,
    version: options.version,
    release: options.release,
    baseUrl: options.baseUrl,
    token: options.token,
    client: (overrides = {}) =>
      Jupyter.layer({
        baseUrl: overrides.baseUrl ?? options.baseUrl,
        token: "token" in overrides ? overrides.token : noToken ? undefined : Redacted.make(options.token),
        xsrf: overrides.xsrf,
        policy: overrides.policy
      }).pipe(Layer.provide(httpLayer)),
    raw: (method, path, init = {}) => {
      let request = HttpClientRequest.make(method)(options.baseUrl + path, {
        headers: {
          ...(init.auth === false || noToken ? {} : { authorization: `token ${options.token}` }),
          ...init.headers
        }
      })
      if (init.body !== undefined) request = HttpClientRequest.bodyText(request, init.body, "application/json")
      return options.http.execute(request).pipe(
        Effect.flatMap((response) =>
          Effect.map(response.text, (text): RawResponse => ({ status: response.status, headers: response.headers, text }))
        ),
        Effect.orDie
      )
    },
    sent: Effect.sync(() => sent),
    login: options.login,
    killKernel: options.killKernel
  }
}

/** The real server's login: GET /login for the `_xsrf` cookie, POST the token as password for the login cookie. */
const realLogin = (server: RealServer): Effect.Effect<Login> =>
  Effect.promise(async () => {
    const cookiesOf = (response: Response): Record<string, string> => {
      const out: Record<string, string> = {}
      for (const line of response.headers.getSetCookie()) {
        const [pair = ""] = line.split(";")
        const eq = pair.indexOf("=")
        if (eq > 0) out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim().replace(/^"|"$/g, "")
      }
      return out
    }
    const page = await fetch(`${server.url}login`)
    await page.text()
    const xsrf = cookiesOf(page)["_xsrf"]
    if (xsrf === undefined) throw new Error("the login page set no _xsrf cookie")
    const form = new URLSearchParams({ password: server.token, _xsrf: xsrf })
    const answer = await fetch(`${server.url}login?next=${encodeURIComponent(`${server.url}api`)}`, {
      method: "POST",
      body: form,
      headers: { cookie: `_xsrf=${xsrf}` },
      redirect: "manual"
    })
    await answer.text()
    const cookies = cookiesOf(answer)
    delete cookies["_xsrf"]
    if (Object.keys(cookies).length === 0) throw new Error(`the login answered ${answer.status} without a cookie`)
    return { xsrf, cookies }
  })

// ---------------------------------------------------------------------------
// targets: one description per server, the same suite for each

/** A server the suite can run against. */
export interface Target {
  readonly name: string
  readonly real: boolean
  readonly version: ServerVersion
  readonly layer: Layer.Layer<Harness | Jupyter.Sessions, Error>
  /** Set when the target cannot run here: `fail` under CI, skip otherwise. */
  readonly unavailable: { readonly reason: string; readonly fail: boolean } | undefined
}

const withDefaultClient = <E>(harness: Layer.Layer<Harness, E>): Layer.Layer<Harness | Jupyter.Sessions, E> =>
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(Harness, (h) => h.client())), harness)

/** Options of a target: a base path, the version, a server without a token. */
export interface TargetOptions {
  readonly basePath?: string
  /** Default `"1.23"`. */
  readonly version?: ServerVersion
  /** false: the server has no token (reads open, writes need XSRF). Default true. */
  readonly token?: boolean
}

const describeServer = (what: string, basePath: string, token: boolean): string =>
  `${what}${basePath === "/" ? "" : ` under ${basePath}`}${token ? "" : " without a token"}`

const emulatorToken = "emulator-token-7f3a9c"

/** The emulator of a version, in memory, optionally under a base path. */
export const emulatorTarget = (options: TargetOptions = {}): Target => {
  const basePath = normalizeBasePath(options.basePath)
  const version = options.version ?? "1.23"
  const withToken = options.token ?? true
  const token = withToken ? emulatorToken : ""
  return {
    name: describeServer(`the emulator of Jupyter Server ${version}`, basePath, withToken),
    real: false,
    version,
    unavailable: undefined,
    layer: withDefaultClient(Layer.effect(
      Harness,
      Effect.map(
        JupyterEmulator.make({ version, basePath, ...(withToken ? { token } : {}) }),
        (emulator) =>
          makeHarness({
            name: "emulator",
            real: false,
            version,
            release: JupyterEmulator.serverVersions[version],
            baseUrl: `${JupyterEmulator.baseUrl}${basePath}`,
            token,
            http: InMemory.makeClient(emulator.app),
            login: emulator.login,
            killKernel: (sessionId) => Effect.orDie(emulator.killKernel(sessionId))
          })
      )
    ))
  }
}

const availability = new Map<ServerVersion, ReturnType<typeof realServerAvailability>>()

/** Whether a version's real server can run here (probed once per version). */
export const availableRelease = (version: ServerVersion): ReturnType<typeof realServerAvailability> => {
  let found = availability.get(version)
  if (found === undefined) {
    found = realServerAvailability(version)
    availability.set(version, found)
  }
  return found
}

/** A real Jupyter Server of a version, started for the suite, optionally with a base URL or without a token. */
export const realTarget = (options: TargetOptions = {}): Target => {
  const version = options.version ?? "1.23"
  const found = availableRelease(version)
  const basePath = normalizeBasePath(options.basePath)
  const withToken = options.token ?? true
  return {
    name: describeServer(`a real Jupyter Server ${found.ok ? found.release : `${version}.x`}`, basePath, withToken),
    real: true,
    version,
    unavailable: found.ok ? undefined : { reason: found.reason, fail: process.env["CI"] === "true" },
    layer: withDefaultClient(Layer.scoped(
      Harness,
      Effect.gen(function*() {
        const server = yield* startRealServer({ basePath, version, token: withToken })
        const http = yield* HttpClient.HttpClient
        yield* Effect.logDebug(`jupyter_server ${server.release} pid ${server.pid} ready in ${Duration.format(server.startup)}`)
        return makeHarness({
          name: "jupyter-server",
          real: true,
          version,
          release: server.release,
          baseUrl: server.url,
          token: server.token,
          http,
          login: realLogin(server),
          killKernel: undefined
        })
      })
    ).pipe(Layer.provide(NodeHttpClient.layerUndici)))
  }
}

/** The four targets of a shared suite: each version's emulator and real server. */
export const allTargets = (options: Omit<TargetOptions, "version"> = {}): ReadonlyArray<Target> =>
  versions.flatMap((version) => [emulatorTarget({ ...options, version }), realTarget({ ...options, version })])

/**
 * Registers `body` as a describe block on `target`: the server is built once
 * for the block. Tests run with TestServices on the emulator and with the
 * live clock on a real server (a retry's sleep must really elapse there).
 */
export const describeOn = (
  target: Target,
  title: string,
  body: (it: Vitest.MethodsNonLive<Harness | Jupyter.Sessions, boolean>) => void
): void => {
  const name = `${title} on ${target.name}`
  const unavailable = target.unavailable
  if (unavailable !== undefined) {
    if (unavailable.fail) {
      describe(name, () => {
        vitestIt("has a real Jupyter Server to run against (CI never skips it)", () => {
          throw new Error(`CI=true and the real Jupyter Server cannot run: ${unavailable.reason}`)
        })
      })
    } else {
      console.warn(`skipping "${name}": ${unavailable.reason} (under CI=true this fails)`)
      describe.skip(`${name} (skipped: ${unavailable.reason})`, () => {
        vitestIt("needs a real Jupyter Server", () => {})
      })
    }
    return
  }
  layer(target.layer, { excludeTestServices: target.real, timeout: Duration.seconds(90) })(name, body)
}

/** A path no other test uses. */
export const uniquePath = (stem: string, extension = "ipynb"): string =>
  `${stem}-${Crypto.randomBytes(4).toString("hex")}.${extension}`
