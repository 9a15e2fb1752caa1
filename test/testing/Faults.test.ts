import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Policy from "../../src/core/Policy.js"
import * as Deepset from "../../src/deepset/index.js"
import { DeepsetEmulator, Faults, InMemory } from "../../src/testing/index.js"

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

  it.effect("shortBody halves a body (content-length of the half) and leaves an empty body alone", () =>
    Effect.gen(function*() {
      const controller = yield* Faults.makeController()
      const text = InMemory.makeClient(controller.middleware(Effect.succeed(HttpServerResponse.text("0123456789"))))
      yield* controller.set({ sequence: [Faults.shortBody, Faults.shortBody] })
      const cut = yield* text.execute(HttpClientRequest.get("http://faults.test/"))
      expect(cut.headers["content-length"]).toBe("5")
      expect(yield* cut.text).toBe("01234")
      const empty = InMemory.makeClient(controller.middleware(Effect.succeed(HttpServerResponse.empty({ status: 204 }))))
      const untouched = yield* empty.execute(HttpClientRequest.get("http://faults.test/"))
      expect(untouched.status).toBe(204)
    }))

  it.effect("truncated and resetMidBody: the whole body's content-length, half the body, then the body stream fails", () =>
    Effect.gen(function*() {
      const controller = yield* Faults.makeController()
      const body = "0123456789".repeat(10)
      const app = Effect.succeed(
        HttpServerResponse.text(body, { status: 201, headers: { "x-id": "7" }, contentType: "application/json" })
      )
      const client = InMemory.makeClient(controller.middleware(app))
      const get = client.execute(HttpClientRequest.get("http://faults.test/"))
      for (const [fault, says] of [[Faults.truncated, "closed"], [Faults.resetMidBody, "ECONNRESET"]] as const) {
        yield* controller.set({ sequence: [fault, fault] })
        const response = yield* get
        expect(response.status).toBe(201)
        expect(response.headers["content-length"]).toBe("100")
        expect(response.headers["x-id"]).toBe("7")
        expect(response.headers["content-type"]).toBe("application/json")
        const error = yield* Effect.flip(response.text)
        expect(error._tag).toBe("ResponseError")
        expect(String((error as HttpClientError.ResponseError).cause)).toContain(says)
        // what arrived before the cut is the first half, byte for byte
        const chunks: Array<Uint8Array> = []
        const streamed = yield* Effect.flip(
          Stream.runForEach((yield* get).stream, (chunk) => Effect.sync(() => chunks.push(chunk)))
        )
        expect(streamed._tag).toBe("ResponseError")
        expect(new TextDecoder().decode(Buffer.concat(chunks))).toBe(body.slice(0, 50))
      }
      expect(yield* controller.injected).toBe(4)
      // once the sequence is used up, the whole body again
      expect(yield* Effect.flatMap(get, (r) => r.text)).toBe(body)
    }))

  it.effect("truncated leaves an empty body and HEAD alone", () =>
    Effect.gen(function*() {
      const controller = yield* Faults.makeController()
      const empty = InMemory.makeClient(controller.middleware(Effect.succeed(HttpServerResponse.empty({ status: 204 }))))
      yield* controller.set({ sequence: [Faults.truncated, Faults.resetMidBody] })
      expect((yield* empty.execute(HttpClientRequest.get("http://faults.test/"))).status).toBe(204)
      const text = InMemory.makeClient(controller.middleware(Effect.succeed(HttpServerResponse.text("abc"))))
      const head = yield* text.execute(HttpClientRequest.head("http://faults.test/"))
      expect(head.status).toBe(200)
      expect(yield* head.text).toBe("")
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

describe("a cut-off body reaches the client as a Transport error", () => {
  const apiKey = "faults-key"
  const clientLayer = (policy: Policy.PolicyInput) =>
    Deepset.layer({ apiKey: Redacted.make(apiKey), baseUrl: DeepsetEmulator.baseUrl, policy }).pipe(
      Layer.provideMerge(DeepsetEmulator.layerInMemory({ apiKey }))
    )

  for (const [name, fault] of [["truncated", Faults.truncated], ["resetMidBody", Faults.resetMidBody]] as const) {
    it.live(`${name}: not a DecodeError of half a JSON; idempotent calls are retried, others are not`, () =>
      Effect.gen(function*() {
        const deepset = yield* Deepset.UploadSessions
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* emulator.seedSession({ workspace: "w", fileCount: 3 })
        const requests = Effect.map(emulator.stats, (s) => s.requests)

        // without retries: the typed error
        yield* emulator.faults.set({ sequence: [fault] })
        const error = yield* Effect.flip(deepset.getStatus("w", id).pipe(Policy.withPolicy({ maxRetries: 0 })))
        expect(error._tag).toBe("Transport")
        expect(error.message).toContain("reading the response body failed")
        expect(yield* requests).toBe(1)

        // idempotent: retried after the cut, the second attempt succeeds
        yield* emulator.faults.set({ sequence: [fault] })
        const status = yield* deepset.getStatus("w", id)
        expect(status.session_id).toBe(id)
        expect(yield* requests).toBe(3)

        // not idempotent (create): the cut may come after the server acted, so no replay
        yield* emulator.faults.set({ sequence: [fault] })
        const created = yield* Effect.flip(deepset.create("w"))
        expect(created._tag).toBe("Transport")
        expect(yield* requests).toBe(4)
      }).pipe(Effect.provide(clientLayer({ baseDelay: "1 millis", maxDelay: "2 millis" }))))
  }
})
