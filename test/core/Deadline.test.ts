/**
 * The deadline covers every wait of a call (issue "core invariants", defect
 * 5), and the rate limiter gives back the slot of an interrupted waiter
 * (defect 4). Under TestClock: the clock's time when a call ends is exact.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as ApiClient from "../../src/core/ApiClient.js"
import type * as ApiError from "../../src/core/ApiError.js"
import * as Credentials from "../../src/core/Credentials.js"
import * as Paginate from "../../src/core/Paginate.js"
import * as Path from "../../src/core/Path.js"
import * as Policy from "../../src/core/Policy.js"
import * as Scripted from "../support/Scripted.js"

const Thing = Schema.Struct({ id: Schema.String })
const get: ApiClient.Request<typeof Thing.Type> = {
  operation: "getThing",
  method: "GET",
  path: Path.template("/things/{id}")({ id: "t" }),
  idempotent: true,
  response: ApiClient.decoder(Thing)
}
const ok = Scripted.json(200, { id: "t" })

const clientOn = (
  scripted: ReturnType<typeof Scripted.make>,
  policy: Policy.PolicyInput,
  credentials: Credentials.Credentials = Credentials.bearer(Redacted.make("k-12345"))
) =>
  ApiClient.make({ api: "test", baseUrl: "https://api.example", credentials, policy: Policy.make(policy) }).pipe(
    Effect.provideService(HttpClient.HttpClient, scripted.client)
  )

/** Runs `effect`, advancing the TestClock in small steps; gives its exit and the clock time it ended at. */
const timed = <A>(effect: Effect.Effect<A, ApiError.ApiError>, step: Duration.DurationInput = "10 millis", max = 100_000) =>
  Effect.gen(function*() {
    const start = yield* Clock.currentTimeMillis
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < max && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust(step)
    const exit = yield* Fiber.await(fiber)
    return { exit, elapsed: (yield* Clock.currentTimeMillis) - start }
  })

const deadline = 500
/** The call ends within the deadline plus one step of the clock. */
const margin = 20

const expectDeadline = (exit: Exit.Exit<unknown, ApiError.ApiError>) => {
  expect(Exit.isFailure(exit)).toBe(true)
  if (Exit.isFailure(exit) && exit.cause._tag === "Fail") {
    expect(exit.cause.error._tag).toBe("Timeout")
    expect(exit.cause.error._tag === "Timeout" && exit.cause.error.kind).toBe("deadline")
  } else throw new Error(`expected a typed failure, got ${String(exit)}`)
}

describe("the deadline covers every wait", () => {
  it.effect("the rate limiter's wait", () =>
    Effect.gen(function*() {
      const s = Scripted.make(() => ok)
      const client = yield* clientOn(s, { deadline: `${deadline} millis`, rateLimit: { limit: 1, interval: "1 minute" } })
      yield* client.run(get)
      const { elapsed, exit } = yield* timed(client.run(get))
      expectDeadline(exit)
      expect(elapsed).toBeLessThanOrEqual(deadline + margin)
      expect(s.recorded).toHaveLength(1)
      if (Exit.isFailure(exit) && exit.cause._tag === "Fail") expect(exit.cause.error.message).toContain("rate limit")
    }))

  it.effect("fetching a dynamic token (a login that hangs)", () =>
    Effect.gen(function*() {
      const s = Scripted.make(() => ok)
      const slowLogin: Credentials.TokenSource = {
        get: Effect.as(Effect.sleep("1 hour"), Redacted.make("tok-123456")),
        reject: () => Effect.void
      }
      const client = yield* clientOn(s, { deadline: `${deadline} millis` }, Credentials.dynamic("token", slowLogin))
      const { elapsed, exit } = yield* timed(client.run(get))
      expectDeadline(exit)
      expect(elapsed).toBeLessThanOrEqual(deadline + margin)
      expect(s.recorded).toHaveLength(0)
    }))

  it.effect("backoff and Retry-After waits", () =>
    Effect.gen(function*() {
      const s = Scripted.make(() => Scripted.json(503, {}, { "retry-after": "2" }))
      const client = yield* clientOn(s, { deadline: `${deadline} millis`, maxRetries: 10 })
      const { elapsed, exit } = yield* timed(client.run(get))
      expect(elapsed).toBeLessThanOrEqual(deadline + margin)
      expect(Exit.isFailure(exit)).toBe(true)
      const backoff = Scripted.make(() => Scripted.json(503, {}))
      const client2 = yield* clientOn(backoff, { deadline: `${deadline} millis`, maxRetries: 100, baseDelay: "100 millis" })
      const second = yield* timed(client2.run(get))
      expect(second.elapsed).toBeLessThanOrEqual(deadline + margin)
      expect(backoff.recorded.length).toBeGreaterThan(1)
    }))

  it.effect("every attempt: a slow server ends the call at the deadline, not at the attempt timeout", () =>
    Effect.gen(function*() {
      const s = Scripted.make(() => ({ ...ok, delay: "1 hour" }))
      const client = yield* clientOn(s, { deadline: `${deadline} millis`, attemptTimeout: "30 seconds" })
      const { elapsed, exit } = yield* timed(client.run(get))
      expectDeadline(exit)
      expect(elapsed).toBeLessThanOrEqual(deadline + margin)
    }))

  it.effect("a token source with a fresh token is not waited on", () =>
    Effect.gen(function*() {
      const s = Scripted.make(() => ok)
      let gets = 0
      const source: Credentials.TokenSource = {
        get: Effect.sync(() => {
          gets++
          return Redacted.make("tok-123456")
        }),
        reject: () => Effect.void,
        current: () => Redacted.make("tok-123456")
      }
      const client = yield* clientOn(s, {}, Credentials.dynamic("token", source))
      yield* client.run(get)
      expect(gets).toBe(0)
      expect(s.recorded[0]!.headers.authorization).toBe("token tok-123456")
    }))
})

describe("the rate limiter", () => {
  it.effect("gives back the slots of interrupted waiters: 10 interrupted waiters do not delay the 11th caller", () =>
    Effect.gen(function*() {
      const s = Scripted.make(() => ok)
      const client = yield* clientOn(s, { rateLimit: { limit: 1, interval: "1 second" }, deadline: "1 hour" })
      yield* client.run(get) // takes the burst
      const waiters = yield* Effect.forEach(Array.from({ length: 10 }), () => Effect.fork(client.run(get)))
      yield* TestClock.adjust("100 millis")
      yield* Effect.forEach(waiters, Fiber.interrupt)
      expect(s.recorded).toHaveLength(1)
      // the 11th caller waits for the next slot only (at 1 s), not behind 10 abandoned reservations
      const { elapsed, exit } = yield* timed(client.run(get))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(elapsed).toBeLessThanOrEqual(900 + 20)
      expect(s.recorded).toHaveLength(2)
    }))

  it.effect("spaces requests evenly and serves concurrent callers in turn", () =>
    Effect.gen(function*() {
      const s = Scripted.make(() => ok)
      const client = yield* clientOn(s, { rateLimit: { limit: 2, interval: "1 second" } })
      const { elapsed, exit } = yield* timed(Effect.all(Array.from({ length: 6 }, () => client.run(get)), { concurrency: 6 }))
      expect(Exit.isSuccess(exit)).toBe(true)
      // 2 at once, then one every 500 ms: the 6th at 2 s
      expect(elapsed).toBeGreaterThanOrEqual(2_000)
      expect(elapsed).toBeLessThanOrEqual(2_000 + 20)
    }))
})

describe("Policy.withPolicy", () => {
  it.effect("wraps a stream: every page the stream fetches, prefetched ones included, runs under the override", () =>
    Effect.gen(function*() {
      // pages 1 and 2 answer; page 3 answers 503 once, then 200
      let page3 = 0
      const s = Scripted.make((request) => {
        const page = Number(new URL(request.url).searchParams.get("page"))
        if (page === 3 && page3++ === 0) return Scripted.json(503, {})
        return Scripted.json(200, { data: [page], has_more: page < 4, total: 4 })
      })
      const client = yield* clientOn(s, { maxRetries: 3, baseDelay: "1 second", jitter: 0 })
      const Page = Schema.Struct({ data: Schema.Array(Schema.Number), has_more: Schema.Boolean, total: Schema.Number })
      const listing = Paginate.stream(
        (page) =>
          client.run({
            operation: "list",
            method: "GET",
            path: Path.template("/things")({}),
            query: { page },
            idempotent: true,
            response: ApiClient.decoder(Page)
          }),
        { pageSize: 1, prefetch: 3 }
      )
      // without the override the 503 is retried and the listing completes
      const retried = yield* timed(Stream.runCollect(listing) as Effect.Effect<unknown, ApiError.ApiError>, "100 millis")
      expect(Exit.isSuccess(retried.exit)).toBe(true)
      page3 = 0
      const noRetries = yield* timed(
        Stream.runCollect(listing.pipe(Policy.withPolicy({ maxRetries: 0 }))) as Effect.Effect<unknown, ApiError.ApiError>,
        "100 millis"
      )
      expect(Exit.isFailure(noRetries.exit)).toBe(true)
      // an effect still takes it as before
      page3 = 0
      const one = client.run({
        operation: "list",
        method: "GET",
        path: Path.template("/things")({}),
        query: { page: 3 },
        idempotent: true,
        response: ApiClient.decoder(Page)
      })
      const effect = yield* timed(one.pipe(Policy.withPolicy({ maxRetries: 0 })), "100 millis")
      expect(Exit.isFailure(effect.exit)).toBe(true)
    }))
})
