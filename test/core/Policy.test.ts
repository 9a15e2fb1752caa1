import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Policy from "../../src/core/Policy.js"

describe("Policy", () => {
  it("defaults to 4 retries, a per-attempt timeout and a total deadline", () => {
    expect(Policy.defaultPolicy.maxRetries).toBe(4)
    expect(Duration.toMillis(Policy.defaultPolicy.attemptTimeout)).toBe(30_000)
    expect(Duration.toMillis(Policy.defaultPolicy.deadline)).toBe(120_000)
  })

  it("make lays input over a base and clamps nonsense", () => {
    const p = Policy.make({ maxRetries: -3, jitter: 7, deadline: "5 seconds" })
    expect(p.maxRetries).toBe(0)
    expect(p.jitter).toBe(1)
    expect(Duration.toMillis(p.deadline)).toBe(5000)
    expect(p.attemptTimeout).toEqual(Policy.defaultPolicy.attemptTimeout)
    const q = Policy.make({ rateLimit: { limit: 0, interval: "1 second" } })
    expect(q.rateLimit?.limit).toBe(1)
    expect(Policy.make({ rateLimit: undefined }, q).rateLimit).toBeUndefined()
  })

  it("backoff doubles, caps at maxDelay, and jitter only shortens", () => {
    const p = Policy.make({ baseDelay: "100 millis", maxDelay: "1 second", jitter: 0.5 })
    expect(Duration.toMillis(Policy.backoff(p, 0, 0))).toBe(100)
    expect(Duration.toMillis(Policy.backoff(p, 3, 0))).toBe(800)
    expect(Duration.toMillis(Policy.backoff(p, 10, 0))).toBe(1000)
    expect(Duration.toMillis(Policy.backoff(p, 3, 0.999))).toBeCloseTo(400.4, 0)
  })

  it("parses Retry-After as seconds and as an HTTP-date", () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0)
    expect(Policy.parseRetryAfter("7", now)).toEqual(Duration.seconds(7))
    expect(Policy.parseRetryAfter("1.5", now)).toEqual(Duration.millis(1500))
    expect(Policy.parseRetryAfter("Thu, 01 Jan 2026 12:00:30 GMT", now)).toEqual(Duration.seconds(30))
    expect(Policy.parseRetryAfter("Thu, 01 Jan 2026 11:00:00 GMT", now)).toEqual(Duration.zero)
    expect(Policy.parseRetryAfter("soon", now)).toBeUndefined()
    expect(Policy.parseRetryAfter(undefined, now)).toBeUndefined()
  })
})
