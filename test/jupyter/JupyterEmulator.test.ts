/**
 * What only the emulator has: time from Clock, ids from Random, faults, the
 * test handle, and serving on loopback. (Its API semantics are proven side by
 * side with a real server in Sessions.integration.test.ts.)
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as Jupyter from "../../src/jupyter/index.js"
import * as Faults from "../../src/testing/Faults.js"
import * as InMemory from "../../src/testing/InMemory.js"
import * as JupyterEmulator from "../../src/testing/JupyterEmulator.js"
import * as Loopback from "../../src/testing/Loopback.js"

const token = "emulator-unit-token"

const inMemory = (emulator: JupyterEmulator.Emulator) =>
  Layer.succeed(HttpClient.HttpClient, InMemory.makeClient(emulator.app))

const clientOn = (emulator: JupyterEmulator.Emulator, withToken = true) =>
  Effect.provide(
    Jupyter.Sessions,
    Jupyter.layer({ baseUrl: JupyterEmulator.baseUrl, ...(withToken ? { token: Redacted.make(token) } : {}) }).pipe(
      Layer.provide(inMemory(emulator))
    )
  )

describe("JupyterEmulator", () => {
  it.effect("last_activity comes from the Clock", () =>
    Effect.gen(function*() {
      const emulator = yield* JupyterEmulator.make({ token })
      const jupyter = yield* clientOn(emulator)
      yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2030-01-02T03:04:05.678Z")))
      const first = yield* jupyter.createSession({ path: "a.ipynb", type: "notebook" })
      expect(DateTime.formatIso(first.kernel!.last_activity!)).toBe("2030-01-02T03:04:05.678Z")
      yield* TestClock.adjust("90 minutes")
      const second = yield* jupyter.updateSession(first.id, { kernel: { name: "python3" } })
      expect(DateTime.formatIso(second.kernel!.last_activity!)).toBe("2030-01-02T04:34:05.678Z")
    }))

  it.effect("ids come from Random: the same seed gives the same ids", () =>
    Effect.gen(function*() {
      // a fresh generator per run: the same seed, the same sequence
      const ids = Effect.suspend(() => run.pipe(Effect.withRandom(Random.make("seed-42"))))
      const run = Effect.gen(function*() {
        const emulator = yield* JupyterEmulator.make({ token })
        const jupyter = yield* clientOn(emulator)
        const session = yield* jupyter.createSession({ path: "a.ipynb", type: "notebook" })
        return [session.id, session.kernel?.id]
      })
      const first = yield* ids
      expect(yield* ids).toEqual(first)
      expect(first[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(first[0]).not.toBe(first[1])
    }))

  it.effect("kernelspecs: the first is the default, others must be asked for, unknown ones are 501", () =>
    Effect.gen(function*() {
      const emulator = yield* JupyterEmulator.make({ token, kernelspecs: ["ir", "julia-1.10"] })
      const jupyter = yield* clientOn(emulator)
      expect((yield* jupyter.createSession({ path: "a.r", type: "console" })).kernel?.name).toBe("ir")
      const julia = yield* jupyter.createSession({ path: "b.jl", type: "console", kernel: { name: "julia-1.10" } })
      expect(julia.kernel?.name).toBe("julia-1.10")
      const error = yield* Effect.flip(jupyter.createSession({ path: "c.py", type: "console", kernel: { name: "python3" } }))
      expect(error.status).toBe(501)
    }))

  it.effect("GET /api answers the release of the version emulated; 1.23 is the default", () =>
    Effect.gen(function*() {
      for (const [options, release] of [[{}, "1.23.3"], [{ version: "1.23" }, "1.23.3"], [{ version: "2" }, "2.21.1"]] as const) {
        const emulator = yield* JupyterEmulator.make(options)
        const response = yield* InMemory.makeClient(emulator.app).get(`${JupyterEmulator.baseUrl}/api`)
        expect(yield* response.json).toEqual({ version: release })
      }
      expect(JupyterEmulator.serverVersions).toEqual({ "1.23": "1.23.3", "2": "2.21.1" })
    }))

  it.effect("without a token (both versions): reads need nothing, writes need XSRF, as a real server with an empty token", () =>
    Effect.gen(function*() {
      for (const version of ["1.23", "2"] as const) {
        const emulator = yield* JupyterEmulator.make({ version })
        const open = yield* clientOn(emulator, false)
        expect(yield* open.listSessions()).toEqual([])
        const refused = yield* Effect.flip(open.createSession({ path: "open.ipynb", type: "notebook" }))
        expect([refused._tag, refused.status]).toEqual(["Unauthorized", 403])
        expect(JSON.parse(refused.body!)).toEqual({ message: "'_xsrf' argument missing from POST", reason: null })
        // any token is as good as none: the server has no token to match
        const withSomeToken = yield* clientOn(emulator, true)
        expect((yield* Effect.flip(withSomeToken.createSession({ path: "open.ipynb", type: "notebook" }))).status).toBe(403)
        expect(yield* withSomeToken.listSessions()).toEqual([])
        // the xsrf option (any value, sent as cookie and header) makes writes pass
        const xsrf = yield* Effect.provide(
          Jupyter.Sessions,
          Jupyter.layer({ baseUrl: JupyterEmulator.baseUrl, xsrf: { token: Redacted.make("any-value") } }).pipe(
            Layer.provide(inMemory(emulator))
          )
        )
        const session = yield* xsrf.createSession({ path: "open.ipynb", type: "notebook" })
        expect((yield* open.getSession(session.id)).path).toBe("open.ipynb")
        expect((yield* Effect.flip(open.deleteSession(session.id))).status).toBe(403)
        yield* xsrf.deleteSession(session.id)
        expect(yield* open.listSessions()).toEqual([])
        // a header that does not match the cookie is refused with the real message
        const http = InMemory.makeClient(emulator.app)
        const mismatch = yield* http.execute(
          HttpClientRequest.post(`${JupyterEmulator.baseUrl}/api/sessions`, {
            headers: { "x-xsrftoken": "a", cookie: "_xsrf=b" }
          }).pipe(HttpClientRequest.bodyUnsafeJson({ path: "x.ipynb", type: "notebook" }))
        )
        expect([mismatch.status, yield* mismatch.json]).toEqual([
          403,
          { message: "XSRF cookie does not match POST argument", reason: null }
        ])
        // nothing logged in: the HTML 404 page embeds no token
        const page = yield* http.get(`${JupyterEmulator.baseUrl}/api/sessions/not-a-uuid`)
        expect(page.status).toBe(404)
        expect(yield* page.text).not.toContain("data-jupyter-api-token")
      }
    }))

  it.effect("killKernel of an unknown session fails; fault answers have Jupyter's error shape", () =>
    Effect.gen(function*() {
      const emulator = yield* JupyterEmulator.make({ token })
      const missing = yield* Effect.flip(emulator.killKernel("a-b-c-d-e"))
      expect(missing._tag).toBe("NoSuchElementException")
      yield* emulator.faults.set({ sequence: [Faults.status(503)] })
      const client = InMemory.makeClient(emulator.app)
      const response = yield* client.get(`${JupyterEmulator.baseUrl}/api/sessions`)
      expect(response.status).toBe(503)
      expect(yield* response.json).toEqual({ message: "Service Unavailable", reason: null })
      expect((yield* emulator.stats).byRoute).toEqual({ "GET /api/sessions": 1 })
    }))

  it.live("serves on loopback for clients over real sockets", () =>
    Effect.gen(function*() {
      const emulator = yield* JupyterEmulator.make({ token, basePath: "/user/alice" })
      const served = yield* Loopback.serve(emulator.app)
      const jupyter = yield* Effect.provide(
        Jupyter.Sessions,
        Jupyter.layer({ baseUrl: `${served.url}/user/alice/`, token: Redacted.make(token) })
      )
      const session = yield* jupyter.createSession({ path: "loop.ipynb", type: "notebook" })
      expect((yield* jupyter.listSessions()).map((s) => s.id)).toEqual([session.id])
      const http = yield* HttpClient.HttpClient
      const page = yield* http.get(`${served.url}/user/alice/api/sessions/not-a-uuid`)
      expect(page.status).toBe(404)
      expect(page.headers["content-type"]).toBe("text/html")
      yield* jupyter.deleteSession(session.id)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))
})
