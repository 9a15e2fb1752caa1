import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import { Faults, InMemory } from "../../src/testing/index.js"

/** A controller around an app that counts its calls and answers `{"ok":true}`. */
const setup = (options?: Faults.ControllerOptions) =>
  Effect.gen(function*() {
    const controller = yield* Faults.makeController(options)
    const calls = yield* Ref.make(0)
    const app = Effect.as(Ref.update(calls, (n) => n + 1), HttpServerResponse.unsafeJson({ ok: true }))
    const client = InMemory.makeClient(controller.middleware(app))
    const status = (path: string, method: "GET" | "POST" = "GET") =>
      Effect.map(
        client.execute(HttpClientRequest.make(method)(`http://faults.test${path}`)),
        (response) => response.status
      )
    return { controller, client, calls: Ref.get(calls), status }
  })

describe("Faults", () => {
  it.effect("without a plan every request passes through", () =>
    Effect.gen(function*() {
      const { calls, controller, status } = yield* setup()
      expect(yield* status("/a")).toBe(200)
      expect(yield* calls).toBe(1)
      expect(yield* controller.remaining).toBe(0)
      expect(yield* controller.injected).toBe(0)
    }))

  it.effect("a sequence is consumed one fault per request, in order; set restarts it, clear removes it", () =>
    Effect.gen(function*() {
      const { calls, controller, status } = yield* setup()
      const plan: Faults.FaultPlan = { sequence: [Faults.status(500), Faults.none, Faults.status(502)] }
      yield* controller.set(plan)
      expect(yield* controller.remaining).toBe(3)
      const seen = [yield* status("/a"), yield* status("/a"), yield* status("/a"), yield* status("/a")]
      expect(seen).toEqual([500, 200, 502, 200])
      expect(yield* calls).toBe(2)
      expect(yield* controller.remaining).toBe(0)
      expect(yield* controller.injected).toBe(2)

      yield* controller.set(plan)
      expect(yield* status("/a")).toBe(500)
      yield* controller.clear
      expect(yield* status("/a")).toBe(200)
    }))

  it.effect("match selects the requests a plan applies to; others do not consume the sequence", () =>
    Effect.gen(function*() {
      const { controller, status } = yield* setup()
      yield* controller.set({
        sequence: [Faults.status(429)],
        match: (method, path) => method === "POST" && path === "/jobs"
      })
      expect(yield* status("/jobs")).toBe(200)
      expect(yield* status("/other", "POST")).toBe(200)
      expect(yield* controller.remaining).toBe(1)
      expect(yield* status("/jobs", "POST")).toBe(429)
    }))

  it.effect("status faults: default body, custom default, explicit body, Retry-After seconds or verbatim", () =>
    Effect.gen(function*() {
      const plain = yield* setup()
      yield* plain.controller.set({
        sequence: [Faults.status(503, { retryAfter: 7 }), Faults.status(429, { retryAfter: "Fri, 01 Mar 2024 10:00:00 GMT", body: { x: 1 } })]
      })
      const first = yield* plain.client.execute(HttpClientRequest.get("http://faults.test/"))
      expect(first.headers["retry-after"]).toBe("7")
      expect(yield* first.json).toEqual({ message: "Service Unavailable" })
      const second = yield* plain.client.execute(HttpClientRequest.get("http://faults.test/"))
      expect(second.status).toBe(429)
      expect(second.headers["retry-after"]).toBe("Fri, 01 Mar 2024 10:00:00 GMT")
      expect(yield* second.json).toEqual({ x: 1 })

      const custom = yield* setup({ statusBody: (status) => ({ detail: `status ${status}` }) })
      yield* custom.controller.set({ sequence: [Faults.status(500)] })
      const third = yield* custom.client.execute(HttpClientRequest.get("http://faults.test/"))
      expect(third.headers["retry-after"]).toBeUndefined()
      expect(yield* third.json).toEqual({ detail: "status 500" })
    }))

  it.effect("rate applies its fault with the given probability, using Random", () =>
    Effect.gen(function*() {
      const { controller, status } = yield* setup()
      yield* controller.set({ rate: { probability: 0.5, fault: Faults.status(503) } })
      let faulted = 0
      for (let i = 0; i < 400; i++) if ((yield* status("/")) === 503) faulted++
      expect(faulted).toBeGreaterThan(140)
      expect(faulted).toBeLessThan(260)
      expect(yield* controller.injected).toBe(faulted)

      yield* controller.set({ sequence: [Faults.status(500)], rate: { probability: 0, fault: Faults.status(503) } })
      expect([yield* status("/"), yield* status("/"), yield* status("/")]).toEqual([500, 200, 200])
    }).pipe(Effect.withRandom(Random.make(1234))))

  it.effect("truncated halves a body and leaves an empty body alone", () =>
    Effect.gen(function*() {
      const controller = yield* Faults.makeController()
      const text = InMemory.makeClient(controller.middleware(Effect.succeed(HttpServerResponse.text("0123456789"))))
      yield* controller.set({ sequence: [Faults.truncated, Faults.truncated] })
      const cut = yield* text.execute(HttpClientRequest.get("http://faults.test/"))
      expect(cut.headers["content-length"]).toBe("5")
      expect(yield* cut.text).toBe("01234")
      const empty = InMemory.makeClient(controller.middleware(Effect.succeed(HttpServerResponse.empty({ status: 204 }))))
      const untouched = yield* empty.execute(HttpClientRequest.get("http://faults.test/"))
      expect(untouched.status).toBe(204)
    }))

  it.effect("drop fails the app with ConnectionDropped, before or after the handler", () =>
    Effect.gen(function*() {
      const { calls, controller, status } = yield* setup()
      yield* controller.set({ sequence: [Faults.drop, Faults.dropAfterHandler] })
      const before = yield* Effect.flip(status("/x"))
      expect(before._tag).toBe("RequestError")
      expect(yield* calls).toBe(0)
      const after = yield* Effect.flip(status("/x"))
      expect(after._tag).toBe("RequestError")
      expect(yield* calls).toBe(1)
    }))

  it("findConnectionDropped finds it as a failure or a defect, and nothing else", () => {
    const dropped = new Faults.ConnectionDropped({ method: "GET", url: "/" })
    expect(Faults.findConnectionDropped(Cause.fail(dropped))._tag).toBe("Some")
    expect(Faults.findConnectionDropped(Cause.die(dropped))._tag).toBe("Some")
    expect(Faults.findConnectionDropped(Cause.sequential(Cause.fail("x"), Cause.die(dropped)))._tag).toBe("Some")
    expect(Faults.findConnectionDropped(Cause.fail("other"))._tag).toBe("None")
    expect(Faults.findConnectionDropped(Cause.die(new Error("bug")))._tag).toBe("None")
    expect(dropped.message).toContain("connection dropped")
  })
})
