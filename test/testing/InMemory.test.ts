import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import type * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Deepset from "../../src/deepset/index.js"
import * as Jupyter from "../../src/jupyter/index.js"
import {
  DeepsetEmulator,
  Faults,
  InMemory,
  JupyterEmulator,
  LookerEmulator,
  WhyLabsEmulator
} from "../../src/testing/index.js"

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

  it.effect("layer (no origin) answers any origin, and composes with apps at their own origins", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      expect(yield* Effect.flatMap(client.get("http://anything.test/x"), (r) => r.text)).toBe("fallback")
      expect(yield* Effect.flatMap(client.get("https://a.test/x"), (r) => r.text)).toBe("a")
    }).pipe(
      Effect.provide(Layer.merge(
        InMemory.layer(HttpApp.fromWebHandler(() => Promise.resolve(new Response("fallback")))),
        InMemory.layerAt("https://a.test", Effect.succeed(HttpServerResponse.text("a")))
      ))
    ))
})

const text = (body: string) => Effect.succeed(HttpServerResponse.text(body))
const fetchText = (url: string) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => Effect.flatMap(client.get(url), (r) => r.text))

describe("InMemory routing by origin", () => {
  it.effect("merged layers each answer at their own origin; path and query of the base URL do not matter", () =>
    Effect.gen(function*() {
      expect(yield* fetchText("https://a.test/one")).toBe("a")
      expect(yield* fetchText("http://127.0.0.1:8888/api/sessions?x=1")).toBe("b")
      expect(yield* fetchText("https://c.test:8443/")).toBe("c")
    }).pipe(Effect.provide(Layer.mergeAll(
      InMemory.layerAt("https://a.test/api/v1", text("a")),
      InMemory.layerAt("http://127.0.0.1:8888/user/alice/?token=t", text("b")),
      InMemory.layerAt("https://c.test:8443", text("c"))
    ))))

  it.effect("an unmatched origin is a Transport RequestError naming the known origins", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(fetchText("https://typo.test/x"))
      expect(error._tag).toBe("RequestError")
      const requestError = error as HttpClientError.RequestError
      expect(requestError.reason).toBe("Transport")
      expect(requestError.message).toContain("no in-memory emulator answers at https://typo.test")
      expect(requestError.message).toContain("known origins: https://a.test, https://b.test")
      expect(requestError.cause).toBeInstanceOf(InMemory.NoRoute)
      // same host, other port or scheme: another origin
      expect((yield* Effect.flip(fetchText("http://a.test/x")))._tag).toBe("RequestError")
      expect((yield* Effect.flip(fetchText("https://a.test:444/x")))._tag).toBe("RequestError")
    }).pipe(Effect.provide(Layer.merge(InMemory.layerAt("https://b.test", text("b")), InMemory.layerAt("https://a.test", text("a"))))))

  it.effect("without any registration the routed client says no emulator is provided", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(InMemory.routedClient.get("https://a.test/"))
      expect(error.message).toContain("known origins: none")
    }))

  it.effect("nested provides add up: the inner HttpClient still routes to the outer registration", () =>
    fetchText("https://a.test/").pipe(
      Effect.zip(fetchText("https://b.test/")),
      Effect.provide(InMemory.layerAt("https://b.test", text("b"))),
      Effect.provide(InMemory.layerAt("https://a.test", text("a"))),
      Effect.map(([a, b]) => {
        expect(a).toBe("a")
        expect(b).toBe("b")
      })
    ))

  it.effect("routes end with the scope they were provided in: no test sees another's emulator", () =>
    Effect.gen(function*() {
      expect(yield* fetchText("https://a.test/").pipe(Effect.provide(InMemory.layerAt("https://a.test", text("a"))))).toBe("a")
      const after = yield* Effect.flip(
        fetchText("https://a.test/").pipe(Effect.provide(InMemory.layerAt("https://other.test", text("o"))))
      )
      expect(after.message).toContain("known origins: https://other.test")
      expect(after.message).not.toContain("https://a.test,")
      // merged layers are built side by side; their registrations end with the scope too
      const merged = Layer.merge(InMemory.layerAt("https://m1.test", text("1")), InMemory.layerAt("https://m2.test", text("2")))
      expect(yield* fetchText("https://m2.test/").pipe(Effect.provide(merged))).toBe("2")
      const later = yield* Effect.flip(fetchText("https://m1.test/").pipe(Effect.provide(InMemory.layerRouted)))
      expect(later.message).toContain("known origins: none")
      expect(InMemory.knownOrigins(yield* FiberRef.get(InMemory.currentRoutes))).toEqual([])
    }))

  it.effect("a registration in a nested scope shadows the outer one at the same origin", () =>
    Effect.gen(function*() {
      const inner = yield* fetchText("https://a.test/").pipe(Effect.provide(InMemory.layerAt("https://a.test", text("inner"))))
      const outer = yield* fetchText("https://a.test/")
      expect([inner, outer]).toEqual(["inner", "outer"])
    }).pipe(Effect.provide(InMemory.layerAt("https://a.test", text("outer")))))

  it.effect("a forked fiber inherits the routes", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(fetchText("https://a.test/"))
      expect(yield* Fiber.join(fiber)).toBe("a")
    }).pipe(Effect.provide(InMemory.layerAt("https://a.test", text("a")))))

  it.effect("a ManagedRuntime built from merged layers routes both", () =>
    Effect.gen(function*() {
      const runtime = ManagedRuntime.make(
        Layer.merge(InMemory.layerAt("https://a.test", text("a")), InMemory.layerAt("https://b.test", text("b")))
      )
      const both = yield* Effect.promise(() => runtime.runPromise(Effect.zip(fetchText("https://a.test/"), fetchText("https://b.test/"))))
      yield* Effect.promise(() => runtime.dispose())
      expect(both).toEqual(["a", "b"])
    }))
})

const deepsetKey = "deepset-key-in-memory"
const jupyterToken = "jupyter-token-in-memory"

/** The README's example: a program that uses two clients, tested on both emulators at once. */
const TestLayer = Layer.mergeAll(
  Deepset.layer({ apiKey: Redacted.make(deepsetKey), baseUrl: DeepsetEmulator.baseUrl }),
  Jupyter.layer({ baseUrl: JupyterEmulator.baseUrl, token: Redacted.make(jupyterToken) })
).pipe(
  Layer.provideMerge(Layer.merge(
    DeepsetEmulator.layerInMemory({ apiKey: deepsetKey }),
    JupyterEmulator.layerInMemory({ token: jupyterToken })
  ))
)

const program = Effect.gen(function*() {
  const deepset = yield* Deepset.UploadSessions
  const jupyter = yield* Jupyter.Sessions
  const upload = yield* deepset.create("default")
  const session = yield* jupyter.createSession({ path: "report.ipynb", type: "notebook", kernel: { name: "python3" } })
  const status = yield* deepset.getStatus("default", upload.session_id)
  const sessions = yield* jupyter.listSessions()
  return { status, sessions, kernel: session.kernel }
})

describe("two emulators in one program", () => {
  it.effect("Layer.merge(DeepsetEmulator.layerInMemory, JupyterEmulator.layerInMemory): each client reaches its own", () =>
    Effect.gen(function*() {
      const { sessions, status } = yield* program
      expect(status.session_id).toBeDefined()
      expect(sessions.map((s) => s.path)).toEqual(["report.ipynb"])
      const deepset = yield* DeepsetEmulator.DeepsetEmulator
      const jupyter = yield* JupyterEmulator.JupyterEmulator
      expect((yield* deepset.stats).byRoute).toEqual({
        "POST /upload_sessions": 1,
        "GET /upload_sessions/{id}": 1
      })
      expect((yield* jupyter.stats).byRoute).toMatchObject({ "POST /api/sessions": 1, "GET /api/sessions": 1 })
      expect((yield* jupyter.stats).requests).toBe(2)
      for (const r of yield* deepset.recent) expect(r.headers.authorization).toBe(`Bearer ${deepsetKey}`)
      for (const r of yield* jupyter.recent) expect(r.headers.authorization).toBe(`token ${jupyterToken}`)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("every emulator in one program: each request reaches the emulator of its origin, and only that one", () =>
    Effect.gen(function*() {
      const client = yield* HttpClient.HttpClient
      const requestsOf = <I, S extends { readonly stats: Effect.Effect<{ readonly requests: number }> }>(
        tag: Context.Tag<I, S>
      ) => Effect.flatMap(tag, (emulator) => Effect.map(emulator.stats, (stats) => stats.requests))
      const emulators = [
        { origin: DeepsetEmulator.baseUrl, requests: requestsOf(DeepsetEmulator.DeepsetEmulator) },
        { origin: JupyterEmulator.baseUrl, requests: requestsOf(JupyterEmulator.JupyterEmulator) },
        { origin: LookerEmulator.baseUrl, requests: requestsOf(LookerEmulator.LookerEmulator) },
        { origin: WhyLabsEmulator.baseUrl, requests: requestsOf(WhyLabsEmulator.WhyLabsEmulator) }
      ]
      expect(new Set(emulators.map((e) => new URL(e.origin).origin)).size).toBe(4)
      for (const [i, target] of emulators.entries()) {
        yield* client.get(`${target.origin}/some/path`)
        for (const [j, other] of emulators.entries()) {
          expect(yield* other.requests, `${other.origin} after a request to ${target.origin}`)
            .toBe(j <= i ? 1 : 0)
        }
      }
      const error = yield* Effect.flip(client.get("https://elsewhere.test/"))
      for (const target of emulators) expect(error.message).toContain(new URL(target.origin).origin)
    }).pipe(Effect.provide(Layer.mergeAll(
      DeepsetEmulator.layerInMemory({ apiKey: deepsetKey }),
      JupyterEmulator.layerInMemory({ token: jupyterToken }),
      LookerEmulator.layerInMemory(),
      WhyLabsEmulator.layerInMemory()
    ))))

  it.effect("a client pointed at a base URL no emulator serves gets a typed Transport error listing the origins", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const error = yield* Effect.flip(deepset.create("default"))
      expect(error._tag).toBe("Transport")
      expect(error.message).toContain("https://wrong.deepset.test")
      expect(error.message).toContain(DeepsetEmulator.baseUrl)
      expect(error.message).toContain(JupyterEmulator.baseUrl)
    }).pipe(Effect.provide(
      Deepset.layer({ apiKey: Redacted.make(deepsetKey), baseUrl: "https://wrong.deepset.test" }).pipe(
        Layer.provide(Layer.merge(
          DeepsetEmulator.layerInMemory({ apiKey: deepsetKey }),
          JupyterEmulator.layerInMemory({ token: jupyterToken })
        ))
      )
    )))
})
