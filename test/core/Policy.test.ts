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
    expect(Policy.parseRetryAfter(" 7 ", now)).toEqual(Duration.seconds(7))
    expect(Policy.parseRetryAfter("Thu, 01 Jan 2026 12:00:30 GMT", now)).toEqual(Duration.seconds(30))
    expect(Policy.parseRetryAfter("Thu, 01 Jan 2026 11:00:00 GMT", now)).toEqual(Duration.zero)
    // the two obsolete date forms a recipient must accept (RFC 9110 §5.6.7)
    expect(Policy.parseRetryAfter("Thursday, 01-Jan-26 12:00:10 GMT", now)).toEqual(Duration.seconds(10))
    expect(Policy.parseRetryAfter("Thu Jan  1 12:00:20 2026", now)).toEqual(Duration.seconds(20))
    expect(Policy.parseRetryAfter("soon", now)).toBeUndefined()
  })

  it("ignores every Retry-After that is neither delay-seconds nor an HTTP-date (RFC 9110 §10.2.3)", () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0)
    // Date.parse would read "2" as the year 2001 and "1.5" as a date: none of these may be guessed at
    for (const bad of ["1.5", "-3", "+2", "1e3", "0x10", "3, 4", "2026-01-01T12:00:30Z", "Thu, 01 Jan 2026 12:00:30", "", "  "]) {
      expect(Policy.parseRetryAfter(bad, now), bad).toBeUndefined()
    }
    expect(Policy.parseRetryAfter(undefined, now)).toBeUndefined()
  })
})
