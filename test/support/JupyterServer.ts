/**
 * The servers the Jupyter suite runs against, behind one `Harness`:
 * - the emulator, in memory (TestClock drives its time);
 * - a REAL Jupyter Server (Debian's `jupyter-server` + `python3-ipykernel`),
 *   started on 127.0.0.1 with a free port, a random token and a fresh root
 *   directory, stopped by PID with SIGTERM when the suite ends.
 *
 * When the real server is not installed, its suites FAIL under `CI=true` and
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
import * as Net from "node:net"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as Jupyter from "../../src/jupyter/index.js"
import * as InMemory from "../../src/testing/InMemory.js"
import * as JupyterEmulator from "../../src/testing/JupyterEmulator.js"

export const python = "/usr/bin/python3"

// ---------------------------------------------------------------------------
// the real server

/** Whether the real server can run here, and why not. */
export const realServerAvailability = (): { readonly ok: true } | { readonly ok: false; readonly reason: string } => {
  if (!Fs.existsSync(python)) return { ok: false, reason: `${python} is missing` }
  const probe = ChildProcess.spawnSync(python, ["-c", "import jupyter_server, ipykernel"], {
    encoding: "utf8",
    timeout: 60_000
  })
  if (probe.status === 0) return { ok: true }
  return {
    ok: false,
    reason: `jupyter_server or ipykernel cannot be imported by ${python} (install the Debian packages ` +
      `jupyter-server python3-ipykernel): ${(probe.stderr ?? "").trim().split("\n").at(-1) ?? probe.error?.message}`
  }
}

/** A running real server. */
export interface RealServer {
  /** Its URL with the base path and a trailing slash, e.g. `http://127.0.0.1:40123/user/alice/`. */
  readonly url: string
  readonly token: string
  readonly pid: number
  readonly rootDir: string
  /** How long it took from spawn to answering `GET {url}api`. */
  readonly startup: Duration.Duration
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

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

const spawnOnce = async (basePath: string): Promise<{ server: RealServer; child: ChildProcess.ChildProcess }> => {
  const rootDir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-sessions-jupyter-"))
  const token = Crypto.randomBytes(24).toString("hex")
  const port = await freePort()
  const started = performance.now()
  const child = ChildProcess.spawn(
    python,
    [
      "-m",
      "jupyter_server",
      "--no-browser",
      "--allow-root",
      "--ip=127.0.0.1",
      `--port=${port}`,
      "--ServerApp.port_retries=0",
      `--ServerApp.token=${token}`,
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
    const ready = await fetch(`${url}api`).then((r) => r.ok, () => false)
    if (ready) {
      return {
        server: {
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

/**
 * A real Jupyter Server for the scope: started (retrying once if its port was
 * taken meanwhile), and stopped by PID with SIGTERM when the scope closes.
 */
export const startRealServer = (options: { readonly basePath?: string } = {}): Effect.Effect<
  RealServer,
  Error,
  Scope.Scope
> => {
  const basePath = normalizeBasePath(options.basePath)
  return Effect.acquireRelease(
    Effect.tryPromise({
      try: () => spawnOnce(basePath).catch(() => spawnOnce(basePath)),
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
  /** Base URL with base path and trailing slash. */
  readonly baseUrl: string
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
  return {
    name: options.name,
    real: options.real,
    baseUrl: options.baseUrl,
    token: options.token,
    client: (overrides = {}) =>
      Jupyter.layer({
        baseUrl: overrides.baseUrl ?? options.baseUrl,
        token: "token" in overrides ? overrides.token : Redacted.make(options.token),
        xsrf: overrides.xsrf,
        policy: overrides.policy
      }).pipe(Layer.provide(httpLayer)),
    raw: (method, path, init = {}) => {
      let request = HttpClientRequest.make(method)(options.baseUrl + path, {
        headers: { ...(init.auth === false ? {} : { authorization: `token ${options.token}` }), ...init.headers }
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
  readonly layer: Layer.Layer<Harness | Jupyter.Sessions, Error>
  /** Set when the target cannot run here: `fail` under CI, skip otherwise. */
  readonly unavailable: { readonly reason: string; readonly fail: boolean } | undefined
}

const withDefaultClient = <E>(harness: Layer.Layer<Harness, E>): Layer.Layer<Harness | Jupyter.Sessions, E> =>
  Layer.provideMerge(Layer.unwrapEffect(Effect.map(Harness, (h) => h.client())), harness)

/** The emulator in memory, optionally under a base path. */
export const emulatorTarget = (options: { readonly basePath?: string } = {}): Target => {
  const basePath = normalizeBasePath(options.basePath)
  return {
    name: basePath === "/" ? "the emulator" : `the emulator under ${basePath}`,
    real: false,
    unavailable: undefined,
    layer: withDefaultClient(Layer.effect(
      Harness,
      Effect.map(JupyterEmulator.make({ token: "emulator-token-7f3a9c", basePath }), (emulator) =>
        makeHarness({
          name: "emulator",
          real: false,
          baseUrl: `${JupyterEmulator.baseUrl}${basePath}`,
          token: "emulator-token-7f3a9c",
          http: InMemory.makeClient(emulator.app),
          login: emulator.login,
          killKernel: (sessionId) => Effect.orDie(emulator.killKernel(sessionId))
        }))
    ))
  }
}

let availability: ReturnType<typeof realServerAvailability> | undefined

/** A real Jupyter Server, started for the suite, optionally with a base URL. */
export const realTarget = (options: { readonly basePath?: string } = {}): Target => {
  availability ??= realServerAvailability()
  const basePath = normalizeBasePath(options.basePath)
  return {
    name: basePath === "/" ? "a real Jupyter Server" : `a real Jupyter Server under ${basePath}`,
    real: true,
    unavailable: availability.ok ? undefined : { reason: availability.reason, fail: process.env["CI"] === "true" },
    layer: withDefaultClient(Layer.scoped(
      Harness,
      Effect.gen(function*() {
        const server = yield* startRealServer({ basePath })
        const http = yield* HttpClient.HttpClient
        yield* Effect.logDebug(`jupyter_server pid ${server.pid} ready in ${Duration.format(server.startup)}`)
        return makeHarness({
          name: "jupyter-server",
          real: true,
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
