import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as ApiClient from "../../src/core/ApiClient.js"
import type * as ApiError from "../../src/core/ApiError.js"
import * as Credentials from "../../src/core/Credentials.js"
import * as Path from "../../src/core/Path.js"
import * as Policy from "../../src/core/Policy.js"
import { version } from "../../src/core/Version.js"
import * as RecordingTracer from "../support/RecordingTracer.js"
import * as Scripted from "../support/Scripted.js"

const secret = "sk-very-secret-42"
const Thing = Schema.Struct({ id: Schema.String, created_at: Schema.DateTimeUtc })
const decodeThing = ApiClient.decoder(Thing)
const thingPath = Path.template("/things/{id}")

const clientOn = (
  scripted: ReturnType<typeof Scripted.make>,
  policy: Policy.PolicyInput = {},
  credentials: Credentials.Credentials = Credentials.bearer(Redacted.make(secret))
) =>
  ApiClient.make({ api: "test", baseUrl: "https://api.example/base/", credentials, policy: Policy.make(policy) }).pipe(
    Effect.provideService(HttpClient.HttpClient, scripted.client)
  )

const get = (id = "t1", idempotent = true) => ({
  operation: "getThing",
  method: idempotent ? "GET" as const : "POST" as const,
  path: thingPath({ id }),
  idempotent,
  response: decodeThing
})

const ok = Scripted.json(200, { id: "t1", created_at: "2026-01-01T00:00:00Z" })

/** Runs the effect in a fiber and advances the TestClock until it is done. */
const runWithClock = <A, E>(effect: Effect.Effect<A, E>, step: Duration.DurationInput = "1 second", max = 600) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < max; i++) {
      const done = yield* Fiber.poll(fiber)
      if (done._tag === "Some") break
      yield* TestClock.adjust(step)
    }
    return yield* Fiber.await(fiber)
  })

const failure = <A>(exit: Exit.Exit<A, ApiError.ApiError>): ApiError.ApiError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const e = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (e === undefined) throw new Error(`expected a typed failure, got ${exit.cause._tag}`)
  return e
}

describe("ApiClient", () => {
  it.effect("sends base path + encoded path, accept JSON, user agent and the credentials", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(ok)
      const client = yield* clientOn(s)
      const thing = yield* client.run({ ...get("a/b?c"), query: { q: "x y", skip: undefined, flag: false } })
      expect(thing.id).toBe("t1")
      expect(thing.created_at._tag).toBe("Utc")
      const req = s.recorded[0]!
      expect(req.url).toBe("https://api.example/base/things/a%2Fb%3Fc?q=x%20y&flag=false")
      expect(req.headers.accept).toBe("application/json")
      expect(req.headers["user-agent"]).toBe(`effect-sessions/${version}`)
      expect(req.headers.authorization).toBe(`Bearer ${secret}`)
    }))

  it.effect("refuses a path parameter that would leave its segment, sending nothing", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(ok)
      const client = yield* clientOn(s)
      const error = yield* Effect.flip(client.run(get("..")))
      expect(error._tag).toBe("InvalidRequest")
      if (error._tag === "InvalidRequest") expect(error.problems[0]?.field).toBe("id")
      expect(s.recorded).toHaveLength(0)
    }))

  it.effect("an unusable base URL fails every call with InvalidRequest naming baseUrl, never a defect", () =>
    Effect.gen(function*() {
      for (const baseUrl of ["not a url", "ftp://files.example/", ""]) {
        const s = Scripted.sequence(ok)
        const client = yield* ApiClient.make({
          api: "test",
          baseUrl,
          credentials: Credentials.none,
          policy: Policy.make({})
        }).pipe(Effect.provideService(HttpClient.HttpClient, s.client))
        const error = yield* Effect.flip(client.run(get()))
        expect(error._tag).toBe("InvalidRequest")
        if (error._tag === "InvalidRequest") expect(error.problems[0]?.field).toBe("baseUrl")
        expect(s.recorded).toHaveLength(0)
      }
    }))

  it.effect("retries 503 and 429 honouring Retry-After in seconds and as an HTTP-date", () =>
    Effect.gen(function*() {
      // TestClock starts at epoch 0: an HTTP-date 20 s after it
      const s = Scripted.sequence(
        Scripted.json(503, { detail: "busy" }, { "retry-after": "5" }),
        Scripted.json(429, { detail: "slow" }, { "retry-after": "Thu, 01 Jan 1970 00:00:20 GMT" }),
        ok
      )
      const client = yield* clientOn(s)
      const fiber = yield* Effect.fork(client.run(get()))
      yield* TestClock.adjust("4999 millis")
      expect(s.recorded).toHaveLength(1)
      yield* TestClock.adjust("1 millis")
      expect(s.recorded).toHaveLength(2)
      // second wait: until 00:00:20, i.e. 15 s from now
      yield* TestClock.adjust("14 seconds")
      expect(s.recorded).toHaveLength(2)
      yield* TestClock.adjust("1 second")
      const thing = yield* Fiber.join(fiber)
      expect(thing.id).toBe("t1")
      expect(s.recorded).toHaveLength(3)
    }))

  it.effect("gives up after maxRetries with the typed error and its retry-after", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(Scripted.json(429, { message: "too many" }, { "retry-after": "1" }))
      const client = yield* clientOn(s, { maxRetries: 2 })
      const error = failure(yield* runWithClock(client.run(get())))
      expect(error._tag).toBe("RateLimited")
      if (error._tag === "RateLimited") expect(error.retryAfter).toEqual(Duration.seconds(1))
      expect(s.recorded).toHaveLength(3)
    }))

  it.effect("does not wait for a Retry-After longer than the cap", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(Scripted.json(503, {}, { "retry-after": "3600" }), ok)
      const client = yield* clientOn(s, { retryAfterCap: "1 minute" })
      const error = yield* Effect.flip(client.run(get()))
      expect(error._tag).toBe("ServerError")
      expect(s.recorded).toHaveLength(1)
    }))

  it.effect("never replays a non-idempotent request after the server answered", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(Scripted.json(503, { detail: "busy" }, { "retry-after": "1" }), ok)
      const client = yield* clientOn(s)
      const error = failure(yield* runWithClock(client.run(get("t1", false))))
      expect(error._tag).toBe("ServerError")
      expect(error.status).toBe(503)
      expect(s.recorded).toHaveLength(1)
    }))

  it.effect("replays a non-idempotent request that never left (connection refused)", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence({ transport: "connect ECONNREFUSED", code: "ECONNREFUSED" }, ok)
      const client = yield* clientOn(s)
      const exit = yield* runWithClock(client.run(get("t1", false)), "100 millis")
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(s.recorded).toHaveLength(2)
    }))

  it.effect("does not replay a non-idempotent request after an ambiguous transport failure", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence({ transport: "socket hang up", code: "ECONNRESET" }, ok)
      const client = yield* clientOn(s)
      const error = failure(yield* runWithClock(client.run(get("t1", false)), "100 millis"))
      expect(error._tag).toBe("Transport")
      if (error._tag === "Transport") expect(error.notSent).toBe(false)
      expect(s.recorded).toHaveLength(1)
    }))

  it.effect("times out one attempt and retries an idempotent call", () =>
    Effect.gen(function*() {
      const s = Scripted.make((_, i) => (i === 0 ? { ...ok, delay: "1 hour" } : ok))
      const client = yield* clientOn(s, { attemptTimeout: "2 seconds", baseDelay: "1 second", jitter: 0 })
      const fiber = yield* Effect.fork(client.run(get()))
      yield* TestClock.adjust("2 seconds")
      expect(s.recorded).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      const thing = yield* Fiber.join(fiber)
      expect(thing.id).toBe("t1")
      expect(s.recorded).toHaveLength(2)
    }))

  it.effect("fails with Timeout(attempt) when every attempt is slow and retries are off", () =>
    Effect.gen(function*() {
      const s = Scripted.make(() => ({ ...ok, delay: "1 hour" }))
      const client = yield* clientOn(s, { attemptTimeout: "2 seconds", maxRetries: 0 })
      const error = failure(yield* runWithClock(client.run(get())))
      expect(error._tag).toBe("Timeout")
      if (error._tag === "Timeout") expect(error.kind).toBe("attempt")
    }))

  it.effect("stops at the total deadline across retries", () =>
    Effect.gen(function*() {
      const s = Scripted.make(() => ({ ...ok, delay: "1 hour" }))
      const client = yield* clientOn(s, { attemptTimeout: "4 seconds", deadline: "10 seconds", maxRetries: 100 })
      const start = yield* Clock.currentTimeMillis
      // The TestClock moves in steps until the call is done (robust to when the call's fiber starts).
      const error = failure(yield* runWithClock(client.run(get()), "500 millis"))
      expect((yield* Clock.currentTimeMillis) - start).toBeLessThanOrEqual(11_000) // 10 s deadline, 500 ms steps
      expect(error._tag).toBe("Timeout")
      if (error._tag === "Timeout") expect(error.kind).toBe("deadline")
      expect(s.recorded.length).toBeGreaterThanOrEqual(2)
      expect(s.recorded.length).toBeLessThanOrEqual(3)
    }))

  it.effect("each call is one client span under the caller's span; retries are its events", () => {
    const { spans, tracer } = RecordingTracer.make()
    return Effect.gen(function*() {
      const s = Scripted.make((_, i) => (i === 0 || i === 2 ? Scripted.json(503, {}) : ok))
      const client = yield* clientOn(s, { jitter: 0 })
      const result = yield* runWithClock(client.run(get()).pipe(Effect.withSpan("caller")))
      expect(Exit.isSuccess(result)).toBe(true)
      const caller = spans.find((span) => span.name === "caller")!
      const call = spans.find((span) => span.name === "test.getThing")!
      expect(call.kind).toBe("client")
      expect(call.parent).toBe(caller.spanId)
      expect(call.attributes.get("http.request.method")).toBe("GET")
      expect(call.attributes.get("url.full")).toBe("https://api.example/base/things/t1")
      expect(call.attributes.get("http.response.status_code")).toBe(200)
      expect(call.attributes.get("http.request.resend_count")).toBe(1)
      expect(call.events).toEqual([[
        "retry",
        { "http.request.resend_count": 1, "retry.wait_ms": 200, "error.type": "ServerError", "http.response.status_code": 503 }
      ]])
      expect(call.exit && Exit.isSuccess(call.exit)).toBe(true)
      // The generic HttpClient's own span per request sits under the call's span.
      const attempts = spans.filter((span) => span.name.startsWith("http.client"))
      expect(attempts).toHaveLength(2)
      for (const attempt of attempts) expect(attempt.parent).toBe(call.spanId)

      spans.length = 0
      const failed = yield* runWithClock(client.run(get()).pipe(Policy.withPolicy({ maxRetries: 0 })))
      expect(Exit.isFailure(failed)).toBe(true)
      const failedCall = spans.find((span) => span.name === "test.getThing")!
      expect(failedCall.attributes.get("error.type")).toBe("ServerError")

      // An interrupted call's span ends too (interrupted), and so does one run where interruption is off.
      spans.length = 0
      const slow = Scripted.make(() => ({ ...ok, delay: "1 hour" }))
      const slowClient = yield* clientOn(slow)
      const fiber = yield* Effect.fork(slowClient.run(get()))
      yield* TestClock.adjust("1 second")
      yield* Fiber.interrupt(fiber)
      const interrupted = spans.find((span) => span.name === "test.getThing")!
      expect(interrupted.exit !== undefined && Exit.isInterrupted(interrupted.exit)).toBe(true)
      spans.length = 0
      yield* Effect.uninterruptible(client.run(get()))
      expect(spans.find((span) => span.name === "test.getThing")!.exit?._tag).toBe("Success")

      spans.length = 0
      yield* client.run(get()).pipe(Effect.withTracerEnabled(false), Effect.exit)
      expect(spans.filter((span) => span.name === "test.getThing")).toHaveLength(0)
    }).pipe(Effect.withTracer(tracer))
  })

  it.effect("a per-call withPolicy overrides the layer's policy", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(Scripted.json(503, {}))
      const client = yield* clientOn(s)
      const error = yield* Effect.flip(client.run(get()).pipe(Policy.withPolicy({ maxRetries: 0 })))
      expect(error._tag).toBe("ServerError")
      expect(s.recorded).toHaveLength(1)
    }))

  it.effect("maps statuses to the error family with the server's words, request id and body excerpt", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<[number, unknown, ApiError.ApiErrorTag]> = [
        [400, { message: "Missing field in JSON data: path", reason: null }, "InvalidRequest"],
        [401, { detail: "Not authenticated" }, "Unauthorized"],
        [403, { message: "Forbidden" }, "Unauthorized"],
        [404, "<html><title>404 : Not Found</title></html>", "NotFound"],
        [409, { message: "dup" }, "Conflict"],
        [410, { message: "kernel died" }, "Gone"],
        [422, { detail: [{ loc: ["body", "write_mode"], msg: "not a valid enum", type: "enum" }] }, "InvalidRequest"],
        [501, { message: "No such kernel named nope", short_message: "kernel not found" }, "ServerError"],
        [418, { message: "teapot" }, "InvalidRequest"]
      ]
      for (const [status, body, tag] of cases) {
        const s = Scripted.sequence(Scripted.json(status, body, { "x-request-id": `req-${status}` }))
        const client = yield* clientOn(s, { maxRetries: 0 })
        const error = yield* Effect.flip(client.run(get()))
        expect(error._tag).toBe(tag)
        expect(error.status).toBe(status)
        expect(error.requestId).toBe(`req-${status}`)
        expect(error.operation).toBe("getThing")
        expect(error.method).toBe("GET")
        expect(error.url).toBe("https://api.example/base/things/t1")
        expect(error.body?.length).toBeGreaterThan(0)
        if (error._tag === "InvalidRequest" && status === 422) {
          expect(error.problems).toEqual([{ field: "body.write_mode", message: "not a valid enum", code: "enum" }])
          expect(error.message).toContain("body.write_mode: not a valid enum")
        }
        if (error._tag === "InvalidRequest" && status === 400) {
          expect(error.message).toContain("Missing field in JSON data: path")
        }
        if (error._tag === "ServerError") {
          expect(error.serverMessage).toBe("No such kernel named nope (kernel not found)")
        }
      }
    }))

  it.effect("never keeps an HTML page, cuts the client's secrets out of bodies, and appends status hints", () =>
    Effect.gen(function*() {
      const page = `<!DOCTYPE html><html><head><title>Jupyter</title></head><body data-token="server-only-token">` +
        `<h1>404 : Not Found</h1></body></html>`
      const s = Scripted.make((_, i) =>
        i === 0 ? Scripted.json(404, page) : Scripted.json(400, { message: `bad header Bearer ${secret}` })
      )
      const client = yield* ApiClient.make({
        api: "test",
        baseUrl: "https://api.example",
        credentials: Credentials.bearer(Redacted.make(secret)),
        policy: Policy.make({ maxRetries: 0 }),
        statusHints: { 404: "Ids look like a-b-c-d-e." }
      }).pipe(Effect.provideService(HttpClient.HttpClient, s.client))
      const html = yield* Effect.flip(client.run(get()))
      expect(html._tag).toBe("NotFound")
      expect(html.body).toBe("(HTML page omitted: 404 : Not Found)")
      expect(html.message).toContain("no API route matched")
      expect(html.message).toContain("Ids look like a-b-c-d-e.")
      expect(JSON.stringify(html)).not.toContain("server-only-token")
      const echoed = yield* Effect.flip(client.run(get()))
      expect(echoed.body).toContain("<redacted>")
      for (const text of [echoed.body ?? "", echoed.message, JSON.stringify(echoed)]) expect(text).not.toContain(secret)
    }))

  it.effect("bounds the body excerpt", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(Scripted.json(500, "x".repeat(100_000)))
      const client = yield* clientOn(s, { maxRetries: 0 })
      const error = yield* Effect.flip(client.run(get()))
      expect(error.body!.length).toBeLessThan(1100)
    }))

  it.effect("a body that does not match is a DecodeError naming the field", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(Scripted.json(200, { id: "t1", created_at: "yesterday" }))
      const client = yield* clientOn(s)
      const error = yield* Effect.flip(client.run(get()))
      expect(error._tag).toBe("DecodeError")
      if (error._tag === "DecodeError") expect(error.path).toBe("created_at")
      expect(s.recorded).toHaveLength(1)
      const notJson = Scripted.sequence(Scripted.json(200, "{\"id\": \"t1\", \"crea"))
      const error2 = yield* Effect.flip((yield* clientOn(notJson)).run(get()))
      expect(error2._tag).toBe("DecodeError")
      if (error2._tag === "DecodeError") expect(error2.path).toBe("(body)")
    }))

  it.effect("an invalid request body is refused locally with the field", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(ok)
      const client = yield* clientOn(s)
      const Body = Schema.Struct({ n: Schema.Int })
      const error = yield* Effect.flip(
        client.run({ ...get(), method: "POST", body: ApiClient.jsonBody(Body, { n: 1.5 }) })
      )
      expect(error._tag).toBe("InvalidRequest")
      if (error._tag === "InvalidRequest") expect(error.problems[0]?.field).toBe("n")
      expect(s.recorded).toHaveLength(0)
    }))

  it.effect("a dynamic token is fetched per request and refreshed once after a 401", () =>
    Effect.gen(function*() {
      const issued = yield* Ref.make(0)
      const rejected: Array<string> = []
      const source: Credentials.TokenSource = {
        get: Effect.map(Ref.getAndUpdate(issued, (n) => n + 1), (n) => Redacted.make(`tok-${n}`)),
        reject: (t) => Effect.sync(() => void rejected.push(Redacted.value(t)))
      }
      const s = Scripted.make((req) =>
        req.headers.authorization === "token tok-0" ? Scripted.json(401, { message: "expired" }) : ok
      )
      const client = yield* clientOn(s, { maxRetries: 0 }, Credentials.dynamic("token", source))
      const thing = yield* client.run(get("t1", false))
      expect(thing.id).toBe("t1")
      expect(rejected).toEqual(["tok-0"])
      expect(s.recorded.map((r) => r.headers.authorization)).toEqual(["token tok-0", "token tok-1"])
    }))

  it.effect("the rate limit spaces requests on the Clock", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(ok)
      const client = yield* clientOn(s, { rateLimit: { limit: 2, interval: "1 second" } })
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 5 }, () => client.run(get())), { concurrency: 5 }))
      yield* TestClock.adjust("1 millis")
      expect(s.recorded).toHaveLength(2) // the burst
      yield* TestClock.adjust("500 millis")
      expect(s.recorded).toHaveLength(3)
      yield* TestClock.adjust("1 second")
      expect(s.recorded).toHaveLength(5)
      yield* Fiber.join(fiber)
    }))

  it.effect("no secret appears in any error's message, toString, toJSON, or log", () =>
    Effect.gen(function*() {
      const logs: Array<string> = []
      const logger = Logger.make(({ message, cause }) => logs.push(JSON.stringify({ message: String(message), cause: String(cause) })))
      const s = Scripted.make((_, i) =>
        i === 0
          ? Scripted.json(401, { message: "bad" })
          : i === 1
          ? { transport: "refused", code: "ECONNREFUSED" }
          : Scripted.json(200, { id: 1 })
      )
      for (const creds of [Credentials.bearer(Redacted.make(secret)), Credentials.header("X-Api-Key", Redacted.make(secret)), Credentials.token(Redacted.make(secret))]) {
        const client = yield* ApiClient.make({
          api: "test",
          baseUrl: `https://user:${secret}@api.example/?token=${secret}`,
          credentials: creds,
          policy: Policy.make({ maxRetries: 0 }),
          headers: { "X-XSRFToken": Redacted.make(secret) }
        }).pipe(Effect.provideService(HttpClient.HttpClient, s.client))
        for (let i = 0; i < 3; i++) {
          const error = yield* Effect.flip(client.run(get()))
          yield* Effect.logError("call failed", error).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
          const texts = [error.message, String(error), JSON.stringify(error), JSON.stringify(error.toJSON())]
          for (const text of texts) expect(text).not.toContain(secret)
          expect(error.url).toContain("token=REDACTED")
        }
        s.recorded.length = 0
      }
      expect(logs.length).toBe(9)
      for (const line of logs) expect(line).not.toContain(secret)
    }))

  it.effect("decoding tolerates unknown fields", () =>
    Effect.gen(function*() {
      const s = Scripted.sequence(Scripted.json(200, { id: "t1", created_at: "2026-01-01T00:00:00Z", extra: [1] }))
      const client = yield* clientOn(s)
      const result = yield* Effect.either(client.run(get()))
      expect(Either.isRight(result)).toBe(true)
    }))
})

describe("ApiClient.jsonBody", () => {
  const encodeOf = (body: ApiClient.Body) => {
    if (body._tag !== "Json") throw new Error("not a JSON body")
    return body.encode()
  }

  it("a schema without transformations encodes as Schema.encodeEither does: known keys only, the same error", () => {
    const Plain = Schema.Struct({
      name: Schema.String.pipe(Schema.minLength(2)),
      count: Schema.optional(Schema.Number),
      tags: Schema.Array(Schema.Struct({ key: Schema.String, value: Schema.Literal("a", "b") }))
    })
    type Plain = typeof Plain.Type
    const good = { name: "xy", tags: [{ key: "k", value: "a" }], extra: true } as unknown as Plain
    expect(encodeOf(ApiClient.jsonBody(Plain, good))).toEqual(Schema.encodeEither(Plain)(good))
    expect(Either.getOrThrow(encodeOf(ApiClient.jsonBody(Plain, good)))).toEqual({ name: "xy", tags: [{ key: "k", value: "a" }] })
    for (
      const bad of [
        { name: "x", tags: [] },
        { name: "xy", tags: [{ key: "k", value: "c" }] },
        { name: "xy", count: "1", tags: [] }
      ] as unknown as ReadonlyArray<Plain>
    ) {
      const ours = encodeOf(ApiClient.jsonBody(Plain, bad))
      const reference = Schema.encodeEither(Plain)(bad)
      expect(Either.isLeft(ours) && Either.isLeft(reference)).toBe(true)
      if (Either.isLeft(ours) && Either.isLeft(reference)) expect(ours.left.message).toBe(reference.left.message)
    }
  })

  it("a schema with a transformation is encoded by the schema (a DateTime becomes its ISO string)", () => {
    const WithDate = Schema.Struct({ at: Schema.DateTimeUtc })
    const at = DateTime.unsafeMake("2026-01-02T03:04:05.000Z")
    expect(Either.getOrThrow(encodeOf(ApiClient.jsonBody(WithDate, { at })))).toEqual({ at: "2026-01-02T03:04:05.000Z" })
  })
})
