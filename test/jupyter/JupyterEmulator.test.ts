/**
 * What only the emulator has: time from Clock, ids from Random, faults, the
 * test handle, and serving on loopback. (Its API semantics are proven side by
 * side with a real server in Sessions.integration.test.ts.)
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
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

const clientOn = (emulator: JupyterEmulator.Emulator) =>
  Effect.provide(
    Jupyter.Sessions,
    Jupyter.layer({ baseUrl: JupyterEmulator.baseUrl, token: Redacted.make(token) }).pipe(
      Layer.provide(InMemory.layer(emulator.app))
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

  it.effect("without a token every request is accepted", () =>
    Effect.gen(function*() {
      const emulator = yield* JupyterEmulator.make()
      const jupyter = yield* Effect.provide(
        Jupyter.Sessions,
        Jupyter.layer({ baseUrl: JupyterEmulator.baseUrl }).pipe(Layer.provide(InMemory.layer(emulator.app)))
      )
      const session = yield* jupyter.createSession({ path: "open.ipynb", type: "notebook" })
      yield* jupyter.deleteSession(session.id)
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
