/**
 * The core's promises, held on every transport: effect-sessions' undici fast
 * path, the platform's undici client and `FetchHttpClient` (the generic path),
 * each against a real loopback server under the live clock. Each block names
 * the defect of issue "core invariants" it covers.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as ApiClient from "../../src/core/ApiClient.js"
import type * as ApiError from "../../src/core/ApiError.js"
import * as AttemptTimers from "../../src/core/AttemptTimers.js"
import * as Credentials from "../../src/core/Credentials.js"
import * as Path from "../../src/core/Path.js"
import * as Policy from "../../src/core/Policy.js"
import * as UndiciHttpClient from "../../src/node/UndiciHttpClient.js"
import { freePort } from "../support/Prism.js"
import * as RawServer from "../support/RawServer.js"
import * as RecordingTracer from "../support/RecordingTracer.js"

const secret = "sk-invariant-secret-7f3a"
const Thing = Schema.Struct({ id: Schema.String, n: Schema.Number })
const decodeThing = ApiClient.decoder(Thing)
const thingPath = Path.template("/things/{id}")

const transports: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["UndiciHttpClient (fast path)", UndiciHttpClient.layer],
  ["NodeHttpClient.layerUndici (generic)", NodeHttpClient.layerUndici],
  ["FetchHttpClient (generic)", FetchHttpClient.layer]
]

const get = (id = "t1", extra: Partial<ApiClient.Request<typeof Thing.Type>> = {}): ApiClient.Request<typeof Thing.Type> => ({
  operation: "getThing",
  method: "GET",
  path: thingPath({ id }),
  idempotent: true,
  response: decodeThing,
  ...extra
})

const clientAt = (
  baseUrl: string,
  policy: Policy.PolicyInput = {},
  credentials: Credentials.Credentials = Credentials.bearer(Redacted.make(secret))
) => ApiClient.make({ api: "test", baseUrl, credentials, policy: Policy.make(policy) })

const failure = <A>(exit: Exit.Exit<A, ApiError.ApiError>): ApiError.ApiError => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (error === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return error
}

const okThing = (res: import("node:http").ServerResponse) => RawServer.json(res, 200, { id: "t1", n: 1 })

for (const [name, transport] of transports) {
  describe(`core invariants on ${name}`, () => {
    const live = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient | import("effect/Scope").Scope>) =>
      effect.pipe(Effect.scoped, Effect.provide(transport))

    it.live("a UTF-8 byte-order mark before a JSON body decodes (defect 2)", () =>
      live(Effect.gen(function*() {
        const server = yield* RawServer.serve((_, res) => {
          const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify({ id: "bom", n: 2 }))])
          res.writeHead(200, { "content-type": "application/json", "content-length": body.length })
          res.end(body)
        })
        const client = yield* clientAt(server.url)
        expect(yield* client.run(get())).toEqual({ id: "bom", n: 2 })
      })))

    it.live("a header value the transport would refuse is an InvalidRequest: nothing sent, no retries (defect 9)", () =>
      live(Effect.gen(function*() {
        const server = yield* RawServer.serve((_, res) => okThing(res))
        const cases: ReadonlyArray<readonly [Credentials.Credentials, string]> = [
          [Credentials.bearer(Redacted.make("abc\r\nX-Injected: 1")), "credentials"],
          [Credentials.token(Redacted.make("tökén-☃")), "credentials"],
          [Credentials.header("x-api-key", Redacted.make("a\nb")), "credentials"],
          [
            Credentials.dynamic("token", {
              get: Effect.succeed(Redacted.make("dyn\r\nx")),
              reject: () => Effect.void
            }),
            "credentials"
          ]
        ]
        for (const [credentials, field] of cases) {
          const client = yield* clientAt(server.url, {}, credentials)
          const error = failure(yield* Effect.exit(client.run(get())))
          expect(error._tag).toBe("InvalidRequest")
          expect(error._tag === "InvalidRequest" && error.problems[0]?.field).toBe(field)
          expect(error.message).not.toContain("network")
        }
        const client = yield* clientAt(server.url)
        const perRequest = failure(yield* Effect.exit(client.run(get("t1", { headers: { "x-note": "α\r\nβ" } }))))
        expect(perRequest._tag).toBe("InvalidRequest")
        expect(server.seen).toHaveLength(0)
      })))

    it.live("any policy duration works: a day, a month, infinity (defect: durations)", () =>
      live(Effect.gen(function*() {
        const server = yield* RawServer.serve((_, res) => void setTimeout(() => okThing(res), 30))
        for (
          const policy of [
            { attemptTimeout: "1 day", deadline: "2 days" },
            { attemptTimeout: Duration.days(31), deadline: Duration.days(62) },
            { attemptTimeout: Duration.infinity, deadline: Duration.infinity }
          ] satisfies ReadonlyArray<Policy.PolicyInput>
        ) {
          const client = yield* clientAt(server.url, policy)
          expect(yield* client.run(get())).toEqual({ id: "t1", n: 1 })
        }
      })))

    it.live("an attempt timeout ends a slow answer and is retried; the deadline ends the call", () =>
      live(Effect.gen(function*() {
        // the first two answers come after 5 s, the third at once
        const server = yield* RawServer.serve((_, res, i) => void setTimeout(() => okThing(res), i < 2 ? 5_000 : 0))
        const client = yield* clientAt(server.url, { attemptTimeout: "150 millis", baseDelay: "10 millis", jitter: 0 })
        expect(yield* client.run(get())).toEqual({ id: "t1", n: 1 })
        expect(server.seen).toHaveLength(3)
        const slow = yield* RawServer.serve((_, res) => void setTimeout(() => okThing(res), 5_000))
        const bounded = yield* clientAt(slow.url, { attemptTimeout: "10 seconds", deadline: "300 millis" })
        const error = failure(yield* Effect.exit(bounded.run(get())))
        expect(error._tag === "Timeout" && error.kind).toBe("deadline")
      })))

    it.live("a slow body is bounded by the attempt timeout too", () =>
      live(Effect.gen(function*() {
        const server = yield* RawServer.serve((_, res) => {
          res.writeHead(200, { "content-type": "application/json", "content-length": 100 })
          res.write("{\"id\":")
          // the rest never comes
        })
        const client = yield* clientAt(server.url, { attemptTimeout: "200 millis", maxRetries: 0 })
        const error = failure(yield* Effect.exit(client.run(get())))
        expect(error._tag === "Timeout" && error.kind).toBe("attempt")
      })))

    it.live("an HTML page is never kept in any error, a 2xx DecodeError included (defect 8)", () =>
      live(Effect.gen(function*() {
        const page = `<!DOCTYPE html><html><head><title>Oops</title></head><body><h1>Proxy error</h1>` +
          `<script>var token = "${secret}"; var other = "server-only-token-123456";</script></body></html>`
        const server = yield* RawServer.serve((req, res) => {
          res.writeHead(req.url?.includes("err") ? 502 : 200, { "content-type": "text/html" })
          res.end(page)
        })
        const client = yield* clientAt(server.url, { maxRetries: 0 })
        for (const id of ["ok", "err"]) {
          const error = failure(yield* Effect.exit(client.run(get(id))))
          const text = `${error.message} ${error.body ?? ""} ${JSON.stringify(error)}`
          expect(text).not.toContain("server-only-token-123456")
          expect(text).not.toContain(secret)
          expect(text).not.toContain("<script")
          expect(error.body).toContain("HTML page omitted")
        }
      })))

    it.live("credentials never follow a redirect to another origin (defect: cross-origin)", () =>
      live(Effect.gen(function*() {
        const elsewhere = yield* RawServer.serve((_, res) => okThing(res))
        const server = yield* RawServer.serve((_, res) => {
          res.writeHead(307, { location: `${elsewhere.url}/things/t1` })
          res.end()
        })
        const client = yield* clientAt(server.url, { maxRetries: 0 })
        // three times: the first call of a client also learns what its HttpClient is, the later ones use what it learned
        for (let i = 0; i < 3; i++) {
          const error = failure(yield* Effect.exit(client.run(get())))
          expect(error._tag).toBe("ServerError")
          expect(error.message).toContain("redirect")
        }
        expect(server.seen).toHaveLength(3)
        expect(elsewhere.seen).toHaveLength(0)
      })))

    it.live("no secret reaches a span: not a ?token= of the base URL, not the Authorization header (defect 7)", () => {
      const recorder = RecordingTracer.make()
      return live(Effect.gen(function*() {
        const server = yield* RawServer.serve((_, res) => okThing(res))
        const client = yield* clientAt(`${server.url}/base/?token=${secret}`)
        yield* client.run(get())
        // the caller narrows the redacted header names after the layer was built
        yield* client.run(get()).pipe(Effect.locally(Headers.currentRedactedNames, []))
        expect(server.seen.length).toBe(2)
        expect(recorder.spans.some((s) => s.name === "test.getThing")).toBe(true)
        const all = recorder.everything()
        expect(all).not.toContain(secret)
      }).pipe(Effect.withTracer(recorder.tracer)))
    })

    it.live("the policy, live: 503 and 429 retried honouring Retry-After; a POST is not replayed once answered", () =>
      live(Effect.gen(function*() {
        const server = yield* RawServer.serve((req, res, i) =>
          i === 0
            ? RawServer.json(res, 503, { message: "busy" }, { "retry-after": "0" })
            : i === 1
            ? RawServer.json(res, 429, { message: "slow down" }, { "retry-after": "0" })
            : req.method === "POST"
            ? RawServer.json(res, 503, { message: "busy" })
            : okThing(res)
        )
        const client = yield* clientAt(server.url, { baseDelay: "5 millis", jitter: 0 })
        expect(yield* client.run(get())).toEqual({ id: "t1", n: 1 })
        expect(server.seen).toHaveLength(3)
        const post = failure(yield* Effect.exit(client.run(get("t1", { method: "POST", idempotent: false }))))
        expect(post._tag).toBe("ServerError")
        expect(server.seen).toHaveLength(4)
      })))

    it.live("a POST is replayed when it surely never left (connection refused), not after a drop mid-exchange", () =>
      live(Effect.gen(function*() {
        // a port with nothing listening: connection refused on every attempt
        const port = yield* Effect.promise(() => freePort())
        const refused = yield* clientAt(`http://127.0.0.1:${port}`, { baseDelay: "5 millis", maxRetries: 2 })
        const error = failure(yield* Effect.exit(refused.run(get("t1", { method: "POST", idempotent: false }))))
        expect(error._tag === "Transport" && error.notSent).toBe(true)
        // the server reads the request, then drops the connection: the POST may have been applied
        const dropping = yield* RawServer.serve((_, res) => res.socket?.destroy())
        const client = yield* clientAt(dropping.url, { baseDelay: "5 millis", maxRetries: 3 })
        const dropped = failure(yield* Effect.exit(client.run(get("t1", { method: "POST", idempotent: false }))))
        expect(dropped._tag === "Transport" && dropped.notSent).toBe(false)
        expect(dropping.seen).toHaveLength(1)
        // the same drop on an idempotent call is retried
        yield* Effect.exit(client.run(get()))
        expect(dropping.seen).toHaveLength(5)
      })))

    it.live("error handling is linear and bounded on a hostile 5 MiB error page", () =>
      live(Effect.gen(function*() {
        // patterns that make naive regexes quadratic: unclosed headings, tags, and XML-looking starts
        const hostile = "<html><h1" + "<h1 <a ".repeat(700_000) + "</html>"
        const server = yield* RawServer.serve((_, res) => {
          res.writeHead(500, { "content-type": "text/html" })
          res.end(hostile)
        })
        const client = yield* clientAt(server.url, { maxRetries: 0 })
        const started = performance.now()
        const error = failure(yield* Effect.exit(client.run(get())))
        // generous: a quadratic scan of this body takes minutes
        expect(performance.now() - started).toBeLessThan(5_000)
        expect(error._tag).toBe("ServerError")
        expect((error.body ?? "").length).toBeLessThan(2048)
      })))
  })
}

describe("core invariants, transport-independent", () => {
  it.live("on FetchHttpClient every call keeps the caller's fetch options and refuses redirects; each call its own URL and headers", () => {
    const inits: Array<RequestInit | undefined> = []
    const spy: typeof globalThis.fetch = (input, init) => {
      inits.push(init)
      return globalThis.fetch(input, init)
    }
    return Effect.gen(function*() {
      const server = yield* RawServer.serve((req, res) =>
        RawServer.json(res, 200, { id: req.url?.split("/").pop() ?? "", n: Number(req.headers["x-n"] ?? 0) })
      )
      const client = yield* clientAt(server.url)
      const got = []
      for (let i = 0; i < 4; i++) {
        got.push(yield* client.run(get(`t${i}`, i % 2 === 0 ? {} : { headers: { "x-n": String(i) } })))
      }
      expect(got).toEqual([{ id: "t0", n: 0 }, { id: "t1", n: 1 }, { id: "t2", n: 0 }, { id: "t3", n: 3 }])
      expect(inits.map((init) => [init?.redirect, init?.referrerPolicy])).toEqual(Array(4).fill(["manual", "no-referrer"]))
      expect(server.seen.map((r) => r.headers["authorization"])).toEqual(Array(4).fill(`Bearer ${secret}`))
      // `redirect: "manual"` is in force for the attempts alone: however a call ends, the caller's context is as it was
      // (a server that answers its first request only: after it, the client's attempts run under its native timer)
      let answered = 0
      const once = yield* RawServer.serve((_, res) => {
        if (answered++ === 0) okThing(res)
      })
      const dropping = yield* RawServer.serve((_, res) => res.socket?.destroy())
      const timed = yield* clientAt(once.url, { maxRetries: 0, attemptTimeout: "50 millis" })
      const ends = [
        Effect.exit(client.run(get("t9"))),
        Effect.exit(timed.run(get())),
        Effect.exit((yield* clientAt(dropping.url, { maxRetries: 0 })).run(get())),
        Effect.exit(timed.run(get())),
        Effect.exit(Effect.timeout(client.run(get()).pipe(Effect.zipRight(timed.run(get()))), "30 millis"))
      ]
      const tags = []
      for (const end of ends) {
        const exit = yield* end
        tags.push(Exit.isSuccess(exit) ? "ok" : exit.cause._tag === "Fail" ? exit.cause.error._tag : exit.cause._tag)
        expect(yield* FetchHttpClient.RequestInit).toEqual({ referrerPolicy: "no-referrer" })
      }
      expect(tags).toEqual(["ok", "ok", "Transport", "Timeout", "TimeoutException"])
      expect(inits).toHaveLength(10)
    }).pipe(
      Effect.scoped,
      Effect.provide(FetchHttpClient.layer),
      Effect.provideService(FetchHttpClient.RequestInit, { referrerPolicy: "no-referrer" }),
      Effect.provideService(FetchHttpClient.Fetch, spy)
    )
  })

  it.live("the generic path forks no fiber per call (after the first call of a client)", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.serve((_, res) => okThing(res))
      const client = yield* clientAt(server.url)
      yield* client.run(get()) // learns that this HttpClient takes the abort signal
      // Fiber ids come from one counter: two probe fibers around the calls tell how many fibers were made between.
      const probe = Effect.map(Effect.fork(Effect.void), (fiber) => Number(fiber.id().id))
      const calls = 20
      const platform = yield* HttpClient.HttpClient
      const before = yield* probe
      for (let i = 0; i < calls; i++) yield* Effect.flatMap(platform.get(`${server.url}/things/t1`), (r) => r.json)
      const middle = yield* probe
      for (let i = 0; i < calls; i++) yield* client.run(get())
      const after = yield* probe
      // whatever the platform's client forks by itself, the library adds none
      expect(after - middle).toBe(middle - before)
    }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici)))

  it.live("no caller input makes a call die: lone surrogates, NUL, RTL, emoji, huge and empty values", () =>
    Effect.gen(function*() {
      const server = yield* RawServer.serve((_, res) => okThing(res))
      const client = yield* clientAt(server.url)
      const inputs = ["\uD800", "a\uDFFFb", "", ".", "..", "\u0000", "\u202Eevil", "👩‍👩‍👧", "x".repeat(100_000), "a/b?c#d"]
      for (const input of inputs) {
        const exit = yield* Effect.exit(client.run(get(input)))
        if (Exit.isFailure(exit)) expect(exit.cause._tag).toBe("Fail")
        const query = yield* Effect.exit(client.run(get("ok", { query: { q: input } })))
        if (Exit.isFailure(query)) expect(query.cause._tag).toBe("Fail")
        const form = yield* Effect.exit(
          client.run(get("ok", { method: "POST", body: ApiClient.formBody({ f: input }), idempotent: false }))
        )
        if (Exit.isFailure(form)) expect(form.cause._tag).toBe("Fail")
      }
      const lone = failure(yield* Effect.exit(client.run(get("\uD800"))))
      expect(lone._tag === "InvalidRequest" && lone.problems[0]?.field).toBe("id")
      const loneQuery = failure(yield* Effect.exit(client.run(get("ok", { query: { q: "\uDC00" } }))))
      expect(loneQuery._tag === "InvalidRequest" && loneQuery.problems[0]?.field).toBe("q")
      expect(Either.isLeft(thingPath({ id: "\uD83D" }))).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(UndiciHttpClient.layer)))

  for (const [name, transport] of transports.filter(([name]) => name.includes("generic"))) {
    it.live(`an interrupted call aborts its request and stops its attempt timer on ${name}`, () =>
      Effect.gen(function*() {
        let closed = 0
        const server = yield* RawServer.serve((_, res) => {
          res.on("close", () => closed++)
          // never answers
        })
        const client = yield* clientAt(server.url, { attemptTimeout: "1 minute" })
        yield* client.run(get()).pipe(Effect.timeout("50 millis"), Effect.exit) // learn
        expect(AttemptTimers.waiting()).toBe(0)
        const fiber = yield* Effect.fork(client.run(get()))
        yield* Effect.sleep("100 millis")
        expect(AttemptTimers.waiting()).toBe(1) // the shared timer watches the attempt
        yield* Fiber.interrupt(fiber)
        expect(AttemptTimers.waiting()).toBe(0)
        for (let i = 0; i < 100 && closed < 2; i++) yield* Effect.sleep("20 millis")
        expect(closed).toBe(2)
      }).pipe(Effect.scoped, Effect.provide(transport)))
  }
})
