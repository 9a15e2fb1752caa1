/**
 * Proven in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core, no browser download) loads a page bundled for the browser
 * that uses `Jupyter.Sessions` over `FetchHttpClient.layer` to list, create
 * and delete sessions on a REAL Jupyter Server 1.23 (Debian's), started for
 * the test with the CORS settings a page on another origin needs. The page
 * reports what it saw back to the test.
 *
 * Locally a missing chromium or server skips with the reason; under CI=true
 * it fails.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { chromium } from "playwright-core"
import { availableRelease, startRealServer, uniquePath } from "../support/JupyterServer.js"
import { bundleForBrowser } from "./Bundle.js"
import type { ScenarioResult } from "./page/jupyter.js"

const executablePath = "/usr/bin/chromium"
const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

const missing = (): string | undefined => {
  if (!Fs.existsSync(executablePath)) {
    return `${executablePath} is missing (apt-get install -y --no-install-recommends chromium)`
  }
  const server = availableRelease("1.23")
  return server.ok ? undefined : server.reason
}

/** The page and its script on 127.0.0.1, a free port, until the scope closes. */
const servePage = (script: string) =>
  Effect.acquireRelease(
    Effect.async<{ readonly server: Http.Server; readonly origin: string }, Error>((resume) => {
      const html = `<!doctype html><html><head><meta charset="utf-8"><title>effect-sessions in a browser</title>` +
        `<script type="module" src="/app.js"></script></head><body>ready</body></html>`
      const server = Http.createServer((request, response) => {
        if (request.url === "/app.js") {
          response.writeHead(200, { "content-type": "text/javascript; charset=utf-8" }).end(script)
        } else if (request.url?.startsWith("/hang/")) {
          // never answered: the page's calls end by their attempt timeout
        } else if (request.url === "/") {
          response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html)
        } else {
          response.writeHead(404).end()
        }
      })
      server.once("error", (e) => resume(Effect.fail(e)))
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, origin: `http://127.0.0.1:${port}` }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections() // the unanswered requests too
      })
  )

/**
 * A Jupyter config directory allowing `origin` (CORS) for the server the
 * harness starts: the harness passes the environment on, and Jupyter reads
 * every directory of `JUPYTER_CONFIG_PATH`. Besides the origin, the preflight
 * must allow the W3C and B3 trace headers the platform's client propagates
 * (`traceparent`, `b3`): Jupyter's default list (accept, content-type,
 * authorization, x-xsrftoken) makes Chromium refuse every call. A server
 * left at that default needs the platform's trace propagation turned off on
 * the page (`Effect.locally(HttpClient.currentTracerPropagation, false)`).
 */
const allowOrigin = (origin: string, traceHeaders: boolean) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "effect-sessions-cors-"))
      Fs.writeFileSync(
        NodePath.join(dir, "jupyter_server_config.json"),
        JSON.stringify({
          ServerApp: {
            allow_origin: origin,
            allow_credentials: false,
            ...(traceHeaders
              ? {
                tornado_settings: {
                  headers: {
                    "Access-Control-Allow-Headers": "accept, content-type, authorization, x-xsrftoken, traceparent, b3"
                  }
                }
              }
              : {})
          }
        })
      )
      const before = process.env["JUPYTER_CONFIG_PATH"]
      process.env["JUPYTER_CONFIG_PATH"] = dir
      return { dir, before }
    }),
    ({ before, dir }) =>
      Effect.sync(() => {
        if (before === undefined) delete process.env["JUPYTER_CONFIG_PATH"]
        else process.env["JUPYTER_CONFIG_PATH"] = before
        Fs.rmSync(dir, { recursive: true, force: true })
      })
  )

const launchBrowser = Effect.acquireRelease(
  Effect.promise(() => chromium.launch({ executablePath, args: chromiumArgs })),
  (browser) => Effect.promise(() => browser.close())
)

/** Serves the page, starts a real server allowing its origin, and opens the page in Chromium. */
const setup = (traceHeaders: boolean) =>
  Effect.gen(function*() {
    const bundle = yield* Effect.promise(() => bundleForBrowser("test/browser/page/jupyter.ts"))
    expect(bundle.nodeImports).toEqual([])
    const page = yield* servePage(bundle.code)
    yield* allowOrigin(page.origin, traceHeaders)
    const server = yield* startRealServer({ version: "1.23" })
    expect(new URL(server.url).origin).not.toBe(page.origin) // every call is cross-origin
    const browser = yield* launchBrowser
    const tab = yield* Effect.promise(() => browser.newPage())
    const console: Array<string> = []
    tab.on("console", (message) => console.push(`${message.type()}: ${message.text()}`))
    tab.on("pageerror", (error) => console.push(`pageerror: ${error.message}`))
    yield* Effect.promise(() => tab.goto(page.origin + "/"))
    yield* Effect.promise(() => tab.waitForFunction(() => typeof window.jupyterScenario === "function"))
    const run = (path: string, propagate: boolean) =>
      Effect.tryPromise({
        try: () =>
          tab.evaluate(
            ([url, token, p, propagate]) => window.jupyterScenario(url as string, token as string, p as string, propagate as boolean),
            [server.url, server.token, path, propagate] as const
          ),
        catch: (e) => new Error(`the page failed: ${e instanceof Error ? e.message : String(e)}\n${console.join("\n")}`)
      })
    const sessionsOnServer = Effect.promise(() =>
      fetch(`${server.url}api/sessions`, { headers: { authorization: `token ${server.token}` } })
        .then((r) => r.json() as Promise<ReadonlyArray<{ readonly path: string }>>)
        .then((sessions) => sessions.map((s) => s.path))
    )
    const timeouts = (count: number) =>
      Effect.promise(() =>
        tab.evaluate(([url, n]) => window.timeoutScenario(url as string, n as number), [`${page.origin}/hang/`, count] as const)
      )
    return { run, console, sessionsOnServer, timeouts }
  })

const checkScenario = (result: ScenarioResult, path: string) => {
  expect(result.userAgent).toContain("Chrome")
  expect(result.before).not.toContain(path)
  expect(result.created.path).toBe(path)
  expect(result.created.kernel).toBe("python3")
  expect(result.during).toContain(path)
  expect(result.after).not.toContain(path)
  expect(result.missing).toBe("NotFound")
}

describe("in a real browser", () => {
  const reason = missing()
  if (reason !== undefined && process.env["CI"] !== "true") {
    console.warn(`skipping the browser tests: ${reason} (under CI=true they fail)`)
  }
  /** Runs `test` unless chromium or the server is missing: then it fails under CI=true, passes with a warning otherwise. */
  const whenAvailable = <A, E, R>(test: Effect.Effect<A, E, R>) =>
    reason === undefined
      ? Effect.asVoid(test)
      : process.env["CI"] === "true"
      ? Effect.die(new Error(`CI=true and the browser test cannot run: ${reason}`))
      : Effect.void

  it.scopedLive("Jupyter.Sessions over FetchHttpClient lists, creates and deletes sessions on a real Jupyter Server", () =>
    whenAvailable(Effect.gen(function*() {
      const { console, run, sessionsOnServer } = yield* setup(true)
      const path = uniquePath("browser")
      const result = yield* Effect.orDie(run(path, true))
      checkScenario(result, path)
      expect(console.filter((line) => line.startsWith("pageerror"))).toEqual([])
      // the server agrees: the session is gone
      expect(yield* sessionsOnServer).not.toContain(path)
    })), 180_000)

  it.scopedLive("attempt timeouts end calls to a server that never answers, the first call and the later ones", () =>
    whenAvailable(Effect.gen(function*() {
      const { console, timeouts } = yield* setup(true)
      const { calls } = yield* timeouts(4)
      expect(calls.map((c) => `${c.tag}/${c.kind}`)).toEqual(Array(4).fill("Timeout/attempt"))
      for (const call of calls) {
        expect(call.millis).toBeGreaterThanOrEqual(295) // the page's clock may round
        expect(call.millis).toBeLessThan(3_000)
      }
      expect(console.filter((line) => line.startsWith("pageerror"))).toEqual([])
    })), 180_000)

  it.scopedLive("on a server with Jupyter's default CORS headers, trace propagation must be off", () =>
    whenAvailable(Effect.gen(function*() {
      const { console, run } = yield* setup(false)
      const refused = yield* Effect.flip(run(uniquePath("browser-traced"), true))
      expect(refused.message).toContain("Transport")
      expect(console.join("\n")).toContain("traceparent is not allowed by Access-Control-Allow-Headers")
      const path = uniquePath("browser-untraced")
      checkScenario(yield* Effect.orDie(run(path, false)), path)
    })), 180_000)
})
