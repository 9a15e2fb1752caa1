/**
 * The Jupyter client in memory: what it sends (auth, XSRF, bodies, URLs),
 * its configuration, its policy (TestClock) and its error mapping.
 */
import { describe, expect, it, vi } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Policy from "../../src/core/Policy.js"
import * as Jupyter from "../../src/jupyter/index.js"
import * as Faults from "../../src/testing/Faults.js"
import * as JupyterEmulator from "../../src/testing/JupyterEmulator.js"
import { jupyterTour } from "../../examples/jupyter-tour.js"
import * as Scripted from "../support/Scripted.js"

const token = "jupyter-test-token-0c4f5e"
const notebook = "analysis.ipynb"

const emulatorLayer = (options: Partial<Jupyter.Options> = {}, emulator: JupyterEmulator.Options = { token }) =>
  Jupyter.layer({ baseUrl: JupyterEmulator.baseUrl, token: Redacted.make(token), ...options }).pipe(
    Layer.provideMerge(JupyterEmulator.layerInMemory(emulator))
  )

/** A client on a scripted HttpClient. */
const scriptedLayer = (scripted: ReturnType<typeof Scripted.make>, options: Jupyter.Options) =>
  Jupyter.layer(options).pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, scripted.client)))

/** Advances the TestClock in steps until the fiber is done. */
const settle = <A, E>(fiber: Fiber.Fiber<A, E>, step: Duration.DurationInput = "100 millis", max = 10_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < max && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

const sessionJson = (id: string) => ({
  id,
  path: notebook,
  name: null,
  type: "notebook",
  kernel: null
})

describe("Jupyter.Sessions requests", () => {
  it.effect("sends `Authorization: token`, the user agent, and JSON bodies with only the fields given", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const emulator = yield* JupyterEmulator.JupyterEmulator
      const session = yield* jupyter.createSession({
        path: notebook,
        type: "notebook",
        name: undefined,
        kernel: { name: "python3", id: undefined }
      })
      yield* jupyter.updateSession(session.id, { name: "Analysis", path: undefined })
      const [post, patch] = (yield* emulator.recent).filter((r) => r.method !== "GET")
      expect(post?.url).toBe("/api/sessions")
      expect(JSON.parse(post!.body)).toStrictEqual({ path: notebook, type: "notebook", kernel: { name: "python3" } })
      expect(post?.headers["authorization"]).toBe(`token ${token}`)
      expect(post?.headers["content-type"]).toBe("application/json")
      expect(post?.headers["accept"]).toBe("application/json")
      expect(post?.headers["user-agent"]).toMatch(/^effect-sessions\//)
      expect(post?.headers["x-xsrftoken"]).toBeUndefined()
      expect(post?.headers["cookie"]).toBeUndefined()
      expect(patch?.url).toBe(`/api/sessions/${session.id}`)
      expect(JSON.parse(patch!.body)).toStrictEqual({ name: "Analysis" })
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("the xsrf option sends X-XSRFToken, the _xsrf cookie and the given cookies; no secret shows in errors or logs", () =>
    Effect.gen(function*() {
      const emulator = yield* JupyterEmulator.JupyterEmulator
      const login = yield* emulator.login
      const [cookieName, cookieValue] = Object.entries(login.cookies)[0]!
      const layer = Jupyter.layer({
        baseUrl: JupyterEmulator.baseUrl,
        xsrf: { token: Redacted.make(login.xsrf), cookies: { [cookieName]: Redacted.make(cookieValue) } }
      })
      const jupyter = yield* Effect.provide(Jupyter.Sessions, layer)
      const session = yield* jupyter.createSession({ path: notebook, type: "notebook" })
      const post = (yield* emulator.recent).at(-1)!
      expect(post.headers["x-xsrftoken"]).toBe(login.xsrf)
      expect(post.headers["cookie"]).toBe(`_xsrf=${login.xsrf}; ${cookieName}=${cookieValue}`)
      expect(post.headers["authorization"]).toBeUndefined()

      const logs: Array<string> = []
      const error = yield* Effect.flip(jupyter.getSession("not-a-uuid"))
      yield* Effect.logError(error).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
      )
      expect(error._tag).toBe("NotFound")
      for (const text of [error.message, String(error), JSON.stringify(error), ...logs]) {
        expect(text).not.toContain(login.xsrf)
        expect(text).not.toContain(cookieValue)
      }
      yield* jupyter.deleteSession(session.id)
    }).pipe(Effect.provide(JupyterEmulator.layerInMemory({ token }))))

  it.effect("an xsrf cookie that cannot be sent fails every call naming it, and nothing is sent", () =>
    Effect.gen(function*() {
      const emulator = yield* JupyterEmulator.JupyterEmulator
      const jupyter = yield* Effect.provide(
        Jupyter.Sessions,
        Jupyter.layer({
          baseUrl: JupyterEmulator.baseUrl,
          xsrf: {
            token: Redacted.make("fine"),
            cookies: { "bad name": Redacted.make("v"), session: Redacted.make("a;b=c") }
          }
        })
      )
      for (const call of [jupyter.listSessions(), jupyter.deleteSession("x-x-x-x-x")]) {
        const error = yield* Effect.flip(call)
        expect(error._tag).toBe("InvalidRequest")
        if (error._tag === "InvalidRequest") {
          expect(error.problems.map((p) => p.field)).toEqual(["xsrf.cookies.bad name", "xsrf.cookies.session"])
        }
        expect(error.message).toContain("nothing was sent")
        expect(error.message).not.toContain("a;b=c")
      }
      expect((yield* emulator.stats).requests).toBe(0)
    }).pipe(Effect.provide(JupyterEmulator.layerInMemory({ token }))))

  it.effect("the base URL keeps its base path, with or without a trailing slash; ids are percent-encoded", () =>
    Effect.gen(function*() {
      const scripted = Scripted.make(() => Scripted.json(200, sessionJson("x")))
      for (const baseUrl of ["https://hub.example.org/user/alice", "https://hub.example.org/user/alice/"]) {
        yield* Effect.flatMap(Jupyter.Sessions, (j) => j.getSession("a/b?c#d")).pipe(
          Effect.provide(scriptedLayer(scripted, { baseUrl, token: Redacted.make(token) }))
        )
      }
      expect(scripted.recorded.map((r) => r.url)).toEqual([
        "https://hub.example.org/user/alice/api/sessions/a%2Fb%3Fc%23d",
        "https://hub.example.org/user/alice/api/sessions/a%2Fb%3Fc%23d"
      ])
    }))

  it.effect("layerConfig reads JUPYTER_SERVER_URL and JUPYTER_TOKEN; without them: http://127.0.0.1:8888 and no token", () =>
    Effect.gen(function*() {
      const scripted = Scripted.make(() => Scripted.json(200, []))
      const configured = (env: ReadonlyArray<readonly [string, string]>) =>
        Effect.flatMap(Jupyter.Sessions, (j) => j.listSessions()).pipe(
          Effect.provide(
            Jupyter.layerConfig().pipe(Layer.provide(Layer.succeed(HttpClient.HttpClient, scripted.client)))
          ),
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env)))
        )
      yield* configured([["JUPYTER_SERVER_URL", "https://hub.example.org/user/bob/"], ["JUPYTER_TOKEN", token]])
      yield* configured([])
      yield* configured([["JUPYTER_TOKEN", ""]])
      expect(scripted.recorded.map((r) => [r.url, r.headers["authorization"]])).toEqual([
        ["https://hub.example.org/user/bob/api/sessions", `token ${token}`],
        ["http://127.0.0.1:8888/api/sessions", undefined],
        ["http://127.0.0.1:8888/api/sessions", undefined]
      ])
    }))

  it.effect("layerConfig takes a Config for every option, and a bad URL fails the layer with a ConfigError naming it", () =>
    Effect.gen(function*() {
      const scripted = Scripted.make(() => Scripted.json(503, { message: "Service Unavailable", reason: null }))
      const http = Layer.succeed(HttpClient.HttpClient, scripted.client)
      const env = new Map([["HUB_URL", "https://hub.example.org/user/carol/"], ["HUB_TOKEN", token]])
      const error = yield* Effect.flatMap(Jupyter.Sessions, (j) => Effect.flip(j.listSessions())).pipe(
        Effect.provide(
          Jupyter.layerConfig({
            baseUrl: Config.string("HUB_URL"),
            token: Config.redacted("HUB_TOKEN"),
            xsrf: Config.succeed({ token: Redacted.make("xsrf-value"), cookies: { "jupyterhub-user-carol": Redacted.make("c00kie") } }),
            policy: Config.succeed({ maxRetries: 0 })
          }).pipe(Layer.provide(http))
        ),
        Effect.withConfigProvider(ConfigProvider.fromMap(env))
      )
      expect(error.status).toBe(503)
      expect(scripted.recorded).toHaveLength(1) // the policy from Config: no retries
      const [sent] = scripted.recorded
      expect(sent?.url).toBe("https://hub.example.org/user/carol/api/sessions")
      expect(sent?.headers["authorization"]).toBe(`token ${token}`)
      expect(sent?.headers["x-xsrftoken"]).toBe("xsrf-value")
      expect(sent?.headers["cookie"]).toBe("_xsrf=xsrf-value; jupyterhub-user-carol=c00kie")

      for (const [url, shown] of [["not a url", "\"not a url\""], ["ftp://files.example.org/", "ftp:"]] as const) {
        const bad = yield* Effect.flip(
          Effect.flatMap(Jupyter.Sessions, (j) => j.listSessions()).pipe(
            Effect.provide(Jupyter.layerConfig().pipe(Layer.provide(http))),
            Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["JUPYTER_SERVER_URL", url]])))
          )
        )
        expect(ConfigError.isConfigError(bad)).toBe(true)
        expect(String(bad)).toContain("JUPYTER_SERVER_URL (baseUrl)")
        expect(String(bad)).toContain(shown)
      }
      expect(scripted.recorded).toHaveLength(1) // a bad setting sends nothing
    }))
})

describe("Jupyter.Sessions policy", () => {
  it.effect("a lost answer to createSession is not replayed: one POST, a Transport error, the session is there by path", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const emulator = yield* JupyterEmulator.JupyterEmulator
      yield* emulator.faults.set({
        sequence: [Faults.dropAfterHandler],
        match: (method) => method === "POST"
      })
      const error = yield* Effect.flip(settle(yield* Effect.fork(jupyter.createSession({ path: notebook, type: "notebook" }))))
      expect(error._tag).toBe("Transport")
      expect((yield* emulator.stats).byRoute["POST /api/sessions"]).toBe(1)
      // what a caller does next: the path's session, which a new create also returns
      const sessions = yield* jupyter.listSessions()
      expect(sessions.map((s) => s.path)).toEqual([notebook])
      expect((yield* jupyter.createSession({ path: notebook, type: "notebook" })).id).toBe(sessions[0]!.id)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("createSession and a kernel-starting update are not replayed after 502/503/504 or an attempt timeout; other updates are", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const emulator = yield* JupyterEmulator.JupyterEmulator
      const session = yield* jupyter.createSession({ path: notebook, type: "notebook" })
      const posts = () => Effect.map(emulator.stats, (s) => s.byRoute["POST /api/sessions"] ?? 0)
      const patches = () => Effect.map(emulator.stats, (s) => s.byRoute["PATCH /api/sessions/{id}"] ?? 0)
      for (const status of [502, 503, 504]) {
        yield* emulator.faults.set({ sequence: [Faults.status(status)] })
        const before = yield* posts()
        const error = yield* Effect.flip(settle(yield* Effect.fork(jupyter.createSession({ path: "b.ipynb", type: "notebook" }))))
        expect([error._tag, error.status]).toEqual(["ServerError", status])
        expect((yield* posts()) - before).toBe(1)
        yield* emulator.faults.set({ sequence: [Faults.status(status)] })
        const patched = yield* patches()
        const kernelChange = yield* Effect.flip(
          settle(yield* Effect.fork(jupyter.updateSession(session.id, { kernel: { name: "python3" } })))
        )
        expect(kernelChange.status).toBe(status)
        expect((yield* patches()) - patched).toBe(1)
      }
      // an attempt that takes longer than its timeout
      yield* emulator.faults.set({ latency: "5 seconds", sequence: [Faults.none] })
      const before = yield* posts()
      const timeout = yield* Effect.flip(
        settle(
          yield* Effect.fork(
            jupyter.createSession({ path: "c.ipynb", type: "notebook" }).pipe(Policy.withPolicy({ attemptTimeout: "1 second" }))
          )
        )
      )
      expect(timeout._tag).toBe("Timeout")
      expect((yield* posts()) - before).toBe(1)
      // a rename, a move, or binding a running kernel (kernel.id wins over kernel.name) starts nothing: replayed
      yield* emulator.faults.set({ sequence: [Faults.status(503), Faults.status(504)] })
      const patched = yield* patches()
      const renamed = yield* settle(yield* Effect.fork(jupyter.updateSession(session.id, { name: "renamed" })))
      expect(renamed.name).toBe("renamed")
      expect((yield* patches()) - patched).toBe(3)
      yield* emulator.faults.set({ sequence: [Faults.status(503)] })
      const kernel = session.kernel!.id
      const rebound = yield* settle(
        yield* Effect.fork(jupyter.updateSession(session.id, { kernel: { id: kernel, name: "python3" } }))
      )
      expect(rebound.kernel?.id).toBe(kernel)
      expect((yield* patches()) - patched).toBe(5)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("createSession is still retried when the request surely never left (connection refused)", () =>
    Effect.gen(function*() {
      const scripted = Scripted.sequence(
        { transport: "connect ECONNREFUSED 127.0.0.1:8888", code: "ECONNREFUSED" },
        Scripted.json(201, sessionJson("a-b-c-d-e"))
      )
      const session = yield* settle(
        yield* Effect.fork(
          Effect.flatMap(Jupyter.Sessions, (j) => j.createSession({ path: notebook, type: "notebook" })).pipe(
            Effect.provide(scriptedLayer(scripted, { baseUrl: JupyterEmulator.baseUrl, token: Redacted.make(token) }))
          )
        )
      )
      expect(session.id).toBe("a-b-c-d-e")
      expect(scripted.recorded.map((r) => r.method)).toEqual(["POST", "POST"])
    }))

  it.effect("503 with Retry-After is waited for and retried, for every operation that may be replayed", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const emulator = yield* JupyterEmulator.JupyterEmulator
      const session = yield* jupyter.createSession({ path: notebook, type: "notebook" })
      yield* emulator.faults.set({ sequence: [Faults.status(503, { retryAfter: 3 })] })
      const fiber = yield* Effect.fork(jupyter.getSession(session.id))
      yield* TestClock.adjust("2999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).id).toBe(session.id)
      yield* emulator.faults.set({ sequence: [Faults.status(502), Faults.status(504)] })
      yield* settle(yield* Effect.fork(jupyter.deleteSession(session.id)))
      expect((yield* emulator.stats).byRoute["DELETE /api/sessions/{id}"]).toBe(3)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("500 is not retried by default (Jupyter's 500s are deterministic); a policy can add it back", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const emulator = yield* JupyterEmulator.JupyterEmulator
      yield* emulator.faults.set({ sequence: [Faults.status(500), Faults.status(500)] })
      const error = yield* Effect.flip(jupyter.listSessions())
      expect(error._tag).toBe("ServerError")
      expect((yield* emulator.stats).requests).toBe(1)
      const sessions = yield* settle(
        yield* Effect.fork(jupyter.listSessions().pipe(Policy.withPolicy({ retryStatuses: [500] })))
      )
      expect(sessions).toEqual([])
      expect((yield* emulator.stats).requests).toBe(3)
      expect(Jupyter.defaultPolicy.retryStatuses).not.toContain(500)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("the layer's policy applies: no retries means one attempt", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const emulator = yield* JupyterEmulator.JupyterEmulator
      yield* emulator.faults.set({ sequence: [Faults.status(503)] })
      expect((yield* Effect.flip(jupyter.listSessions())).status).toBe(503)
      expect((yield* emulator.stats).requests).toBe(1)
    }).pipe(Effect.provide(emulatorLayer({ policy: Policy.noRetries }))))
})

describe("Jupyter.Sessions errors", () => {
  it.effect("409 is Conflict, 410 Gone, 400 InvalidRequest, each with the server's message", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const emulator = yield* JupyterEmulator.JupyterEmulator
      const body = (message: string) => ({ body: { message, reason: null } })
      yield* emulator.faults.set({
        sequence: [
          Faults.status(409, body("Kernel already in use")),
          Faults.status(410, body("Kernel deleted before session")),
          Faults.status(400, body("Missing field in JSON data: path"))
        ]
      })
      const conflict = yield* Effect.flip(jupyter.createSession({ path: notebook, type: "notebook" }))
      expect(conflict._tag).toBe("Conflict")
      expect(conflict.message).toContain("Kernel already in use")
      const gone = yield* Effect.flip(jupyter.deleteSession("a-b-c-d-e"))
      expect(gone._tag).toBe("Gone")
      expect(gone.message).toContain("Kernel deleted before session")
      const invalid = yield* Effect.flip(jupyter.createSession({ path: notebook, type: "notebook" }))
      expect(invalid._tag).toBe("InvalidRequest")
      expect(invalid.message).toContain("Missing field in JSON data: path")
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("a 200 that does not match is a DecodeError naming the field", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const emulator = yield* JupyterEmulator.JupyterEmulator
      yield* emulator.faults.set({
        sequence: [Faults.status(200, { body: [sessionJson("a"), { ...sessionJson("b"), id: 7 }] })]
      })
      const error = yield* Effect.flip(jupyter.listSessions())
      expect(error._tag).toBe("DecodeError")
      if (error._tag === "DecodeError") expect(error.path).toBe("[1].id")
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("secrets echoed by a server are cut out of errors", () =>
    Effect.gen(function*() {
      const scripted = Scripted.make(() => Scripted.json(400, { message: `bad token ${token} given`, reason: null }))
      const error = yield* Effect.flatMap(Jupyter.Sessions, (j) => Effect.flip(j.listSessions())).pipe(
        Effect.provide(scriptedLayer(scripted, { baseUrl: JupyterEmulator.baseUrl, token: Redacted.make(token) }))
      )
      expect(error._tag).toBe("InvalidRequest")
      expect(error.message).toMatch(/bad (token )?<redacted> given/)
      expect(JSON.stringify(error)).not.toContain(token)
    }))
})

describe("the example tour", () => {
  it.effect("runs against the emulator and prints each step", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const spy = vi.spyOn(console, "log").mockImplementation((...args: ReadonlyArray<unknown>) => {
        lines.push(args.map(String).join(" "))
      })
      yield* Effect.ensuring(jupyterTour(), Effect.sync(() => spy.mockRestore()))
      expect(lines[0]).toMatch(/^jupyter: creating a session for effect-sessions-tour-\d+\.ipynb/)
      expect(lines).toContain("jupyter: the server runs 1 session(s)")
      expect(lines).toContain("jupyter: renamed the session to \"Tour (renamed)\"")
      expect(lines.at(-1)).toBe("jupyter: deleted the session and its kernel; reading it again gives NotFound (404)")
      const emulator = yield* JupyterEmulator.JupyterEmulator
      expect((yield* emulator.stats).byRoute["DELETE /api/sessions/{id}"]).toBe(1)
    }).pipe(Effect.provide(emulatorLayer())))
})
