import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Policy from "../../src/core/Policy.js"
import * as Deepset from "../../src/deepset/index.js"
import * as Schemas from "../../src/deepset/Schemas.js"
import { UndiciHttpClient } from "../../src/node/index.js"
import { DeepsetEmulator, Faults } from "../../src/testing/index.js"
import { Loopback } from "../../src/testing/node.js"

const apiKey = "loopback-key"

describe("Loopback", () => {
  it.scopedLive("serves the emulator on 127.0.0.1 to a real Node client; a dropped connection is a transport error", () =>
    Effect.gen(function*() {
      const emulator = yield* DeepsetEmulator.make({ apiKey })
      const served = yield* Loopback.serve(emulator.app)
      expect(served.url).toBe(`http://127.0.0.1:${served.port}`)
      expect(served.port).toBeGreaterThan(0)

      const client = (yield* HttpClient.HttpClient).pipe(
        HttpClient.mapRequest(HttpClientRequest.prependUrl(`${served.url}/api/v1/workspaces/default/upload_sessions`)),
        HttpClient.mapRequest(HttpClientRequest.bearerToken(apiKey))
      )

      const created = yield* client.execute(HttpClientRequest.post("").pipe(HttpClientRequest.bodyUnsafeJson({})))
      expect(created.status).toBe(201)
      expect(created.headers["x-request-id"]).toBeDefined()
      const session = yield* Effect.flatMap(created.json, Schema.decodeUnknown(Schemas.UploadSession))

      const id = yield* emulator.seedSession({ workspace: "default", fileCount: 5000 })
      const page = yield* Effect.flatMap(
        client.get(`/${id}/files?limit=1000&page_number=3`),
        (response) => Effect.flatMap(response.json, Schema.decodeUnknown(Schemas.PaginatedSessionFile))
      )
      expect(page.data[0]?.name).toBe("file-0002000.txt")
      expect(page.total).toBe(5000)

      yield* emulator.faults.set({ sequence: [Faults.drop] })
      const error = yield* Effect.flip(client.get(`/${session.session_id}`))
      expect(error._tag).toBe("RequestError")
      expect((error as HttpClientError.RequestError).reason).toBe("Transport")

      // the server keeps serving after the drop
      const after = yield* client.get(`/${session.session_id}`)
      expect(after.status).toBe(200)
      expect((yield* emulator.stats).requests).toBe(4)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scopedLive("a client that gives up interrupts its handler", () =>
    Effect.gen(function*() {
      const emulator = yield* DeepsetEmulator.make({ apiKey })
      const served = yield* Loopback.serve(emulator.app)
      yield* emulator.faults.set({ latency: "5 seconds" })
      const client = yield* HttpClient.HttpClient
      const outcome = yield* client.get(`${served.url}/api/v1/workspaces/default/upload_sessions`).pipe(
        Effect.timeout("200 millis"),
        Effect.either
      )
      expect(outcome._tag).toBe("Left")
      let stats = yield* emulator.stats
      for (let i = 0; i < 100 && stats.interrupted === 0; i++) {
        yield* Effect.sleep("20 millis")
        stats = yield* emulator.stats
      }
      expect(stats).toMatchObject({ requests: 1, inFlight: 0, interrupted: 1 })
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scopedLive("generic apps: failures are 500, a ConnectionDropped failure drops; the port closes with the scope", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const url = yield* Effect.scoped(
        Effect.gen(function*() {
          const failing = yield* Loopback.serve(Effect.fail("boom"))
          expect((yield* client.get(failing.url)).status).toBe(500)
          const dropping = yield* Loopback.serve(Effect.fail(new Faults.ConnectionDropped({ method: "GET", url: "/" })))
          const error = yield* Effect.flip(client.get(dropping.url))
          expect(error._tag).toBe("RequestError")
          const ok = yield* Loopback.serve(Effect.succeed(HttpServerResponse.text("ok")))
          expect(yield* Effect.flatMap(client.get(ok.url), (r) => r.text)).toBe("ok")
          return ok.url
        })
      )
      const closed = yield* Effect.flip(client.get(url))
      expect(closed._tag).toBe("RequestError")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scopedLive("closing the scope does not wait for slow in-flight requests", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const emulator = yield* DeepsetEmulator.make({ apiKey })
      yield* emulator.faults.set({ latency: "30 seconds" })
      const started = Date.now()
      const outcome = yield* Effect.scoped(
        Effect.gen(function*() {
          const served = yield* Loopback.serve(emulator.app)
          const fiber = yield* Effect.fork(client.get(`${served.url}/api/v1/workspaces/default/upload_sessions`))
          while ((yield* emulator.stats).inFlight === 0) yield* Effect.sleep("10 millis")
          return fiber
        })
      ).pipe(Effect.flatMap((fiber) => Effect.either(Fiber.join(fiber))))
      expect(Date.now() - started).toBeLessThan(5000)
      expect(outcome._tag).toBe("Left")
      let stats = yield* emulator.stats
      for (let i = 0; i < 100 && stats.interrupted === 0; i++) {
        yield* Effect.sleep("20 millis")
        stats = yield* emulator.stats
      }
      expect(stats).toMatchObject({ inFlight: 0, interrupted: 1 })
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it.scopedLive("truncated and resetMidBody cut a real transfer mid-body: whole content-length, half the bytes, then FIN or RST", () =>
    Effect.gen(function*() {
      const body = "x".repeat(64 * 1024)
      const controller = yield* Faults.makeController()
      const served = yield* Loopback.serve(controller.middleware(Effect.succeed(HttpServerResponse.text(body))))
      const client = yield* HttpClient.HttpClient
      for (const fault of [Faults.truncated, Faults.resetMidBody]) {
        yield* controller.set({ sequence: [fault] })
        const response = yield* client.get(served.url)
        expect(response.status).toBe(200)
        expect(response.headers["content-length"]).toBe(String(body.length))
        let received = 0
        const error = yield* Effect.flip(
          Stream.runForEach(response.stream, (chunk) => Effect.sync(() => (received += chunk.length)))
        )
        expect(error._tag).toBe("ResponseError")
        // what was sent arrived (a reset may lose what the kernel had not delivered yet), and never all of it
        expect(received).toBeLessThanOrEqual(body.length / 2)
        if (fault === Faults.truncated) expect(received).toBe(body.length / 2)
      }
      // the server keeps serving
      expect((yield* Effect.flatMap(client.get(served.url), (r) => r.text)).length).toBe(body.length)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  const transports = [
    ["NodeHttpClient.layerUndici", NodeHttpClient.layerUndici],
    ["UndiciHttpClient.layer", UndiciHttpClient.layer]
  ] as const
  for (const [transport, httpLayer] of transports) {
    for (const [name, fault] of [["truncated", Faults.truncated], ["resetMidBody", Faults.resetMidBody]] as const) {
      it.scopedLive(`${transport}: ${name} is a Transport error, not a DecodeError; idempotent calls are retried`, () =>
        Effect.gen(function*() {
          const emulator = yield* DeepsetEmulator.make({ apiKey })
          const served = yield* Loopback.serve(emulator.app)
          const deepset = yield* Deepset.make({
            apiKey: Redacted.make(apiKey),
            baseUrl: served.url,
            policy: { baseDelay: "1 millis", maxDelay: "2 millis" }
          })
          const id = yield* emulator.seedSession({ workspace: "w", fileCount: 2000 })
          const requests = Effect.map(emulator.stats, (s) => s.requests)

          yield* emulator.faults.set({ sequence: [fault] })
          const error = yield* Effect.flip(
            deepset.getFiles("w", id, { limit: 1000 }).pipe(Policy.withPolicy({ maxRetries: 0 }))
          )
          expect(error._tag).toBe("Transport")
          expect(yield* requests).toBe(1)

          yield* emulator.faults.set({ sequence: [fault] })
          const page = yield* deepset.getFiles("w", id, { limit: 1000 })
          expect(page.data.length).toBe(1000)
          expect(yield* requests).toBe(3)

          yield* emulator.faults.set({ sequence: [fault] })
          expect((yield* Effect.flip(deepset.create("w")))._tag).toBe("Transport")
          expect(yield* requests).toBe(4)
        }).pipe(Effect.provide(httpLayer)))
    }
  }
})
