import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Faults, InMemory } from "../../src/testing/index.js"

const Echo = Schema.Struct({
  method: Schema.String,
  url: Schema.String,
  headers: Schema.Record({ key: Schema.String, value: Schema.String }),
  body: Schema.String
})

const echo: HttpApp.Default<never, never> = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  const body = yield* Effect.orDie(request.text)
  return HttpServerResponse.unsafeJson({ method: request.method, url: request.url, headers: request.headers, body })
})

const callEcho = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.gen(function*() {
    const response = yield* InMemory.makeClient(echo).execute(request)
    expect(response.status).toBe(200)
    return yield* Effect.flatMap(response.json, Schema.decodeUnknown(Echo))
  })

const url = "http://in-memory.test/things"

describe("InMemory", () => {
  it.effect("passes method, path, query and headers to the app", () =>
    Effect.gen(function*() {
      const seen = yield* callEcho(
        HttpClientRequest.get(url).pipe(
          HttpClientRequest.setUrlParams({ a: "1", b: "x y" }),
          HttpClientRequest.setHeader("x-custom", "yes")
        )
      )
      expect(seen.method).toBe("GET")
      expect(seen.url).toBe("/things?a=1&b=x+y")
      expect(seen.headers["x-custom"]).toBe("yes")
      expect(seen.body).toBe("")
    }))

  it.effect("sends Uint8Array, raw string, stream and empty bodies", () =>
    Effect.gen(function*() {
      const json = yield* callEcho(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyUnsafeJson({ n: 1 })))
      expect(json.body).toBe("{\"n\":1}")
      expect(json.headers["content-type"]).toBe("application/json")

      const raw = yield* callEcho(
        HttpClientRequest.put(url).pipe(HttpClientRequest.setBody(HttpBody.raw("raw text", { contentType: "text/plain" })))
      )
      expect(raw.method).toBe("PUT")
      expect(raw.body).toBe("raw text")
      expect(raw.headers["content-type"]).toBe("text/plain")

      const streamed = yield* callEcho(
        HttpClientRequest.post(url).pipe(
          HttpClientRequest.bodyStream(Stream.make("ab", "cd").pipe(Stream.encodeText), { contentType: "text/plain" })
        )
      )
      expect(streamed.body).toBe("abcd")

      const empty = yield* callEcho(HttpClientRequest.del(url))
      expect(empty.method).toBe("DELETE")
      expect(empty.body).toBe("")
    }))

  it.effect("returns the app's status, headers and body; HEAD has no body", () =>
    Effect.gen(function*() {
      const app = Effect.succeed(HttpServerResponse.text("created", { status: 201, headers: { "x-id": "42" } }))
      const client = InMemory.makeClient(app)
      const response = yield* client.execute(HttpClientRequest.post(url))
      expect(response.status).toBe(201)
      expect(response.headers["x-id"]).toBe("42")
      expect(yield* response.text).toBe("created")
      const head = yield* client.execute(HttpClientRequest.head(url))
      expect(head.status).toBe(201)
      expect(yield* head.text).toBe("")
    }))

  it.effect("an app failure or defect is a 500 response", () =>
    Effect.gen(function*() {
      const failing = InMemory.makeClient(Effect.fail("boom"))
      expect((yield* failing.execute(HttpClientRequest.get(url))).status).toBe(500)
      const dying = InMemory.makeClient(Effect.die(new Error("bug")))
      expect((yield* dying.execute(HttpClientRequest.get(url))).status).toBe(500)
    }))

  it.effect("ConnectionDropped, as failure or defect, is a RequestError with reason Transport", () =>
    Effect.gen(function*() {
      const dropped = new Faults.ConnectionDropped({ method: "GET", url: "/things" })
      for (const app of [Effect.fail(dropped), Effect.die(dropped)]) {
        const error = yield* Effect.flip(InMemory.makeClient(app).execute(HttpClientRequest.get(url)))
        expect(error._tag).toBe("RequestError")
        const requestError = error as HttpClientError.RequestError
        expect(requestError.reason).toBe("Transport")
        expect(Faults.isConnectionDropped(requestError.cause)).toBe(true)
      }
    }))

  it.effect("runs the app in the calling fiber: interrupting the call interrupts the handler", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const app = Deferred.succeed(started, undefined).pipe(
        Effect.zipRight(Effect.never),
        Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined)),
        Effect.as(HttpServerResponse.empty())
      )
      const fiber = yield* Effect.fork(InMemory.makeClient(app).execute(HttpClientRequest.get(url)))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(yield* Deferred.isDone(interrupted)).toBe(true)
    }))

  it.effect("TestClock drives Effect.sleep inside the app", () =>
    Effect.gen(function*() {
      const app = Effect.as(Effect.sleep("1 minute"), HttpServerResponse.text("late"))
      const fiber = yield* Effect.fork(InMemory.makeClient(app).execute(HttpClientRequest.get(url)))
      while (Chunk.isEmpty(yield* TestClock.sleeps())) yield* Effect.yieldNow()
      yield* TestClock.adjust("59 seconds")
      expect((yield* Fiber.poll(fiber))._tag).toBe("None")
      yield* TestClock.adjust("1 second")
      const response = yield* Fiber.join(fiber)
      expect(yield* response.text).toBe("late")
    }))

  it.effect("layer provides the in-memory client as HttpClient", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const response = yield* client.get(url)
      expect(yield* response.text).toBe("hello")
    }).pipe(Effect.provide(InMemory.layer(HttpApp.fromWebHandler(() => Promise.resolve(new Response("hello")))))))
})
