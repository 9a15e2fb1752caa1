/**
 * The client-side rate limit of a {@link Policy}: a token bucket shared by
 * every call of one client. Each call reserves a slot atomically and sleeps
 * (on `Clock`) until its slot comes, so concurrent callers are served in turn.
 * A waiter that is interrupted gives its slot back, and a slot that would come
 * after the caller's deadline is not taken at all: neither delays the callers
 * behind it.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { RateLimit } from "./Policy.js"

/** Why no slot was taken. @since 0.1.0 */
export interface TooLate {
  readonly _tag: "TooLate"
  /** How long the caller would have had to wait. */
  readonly waitMillis: number
}

/** @since 0.1.0 */
export interface RateLimiter {
  /**
   * Waits until a request may start under `limit` (no wait without one).
   * Fails with {@link TooLate}, taking no slot, when the wait would pass
   * `maxWaitMillis`.
   */
  readonly take: (limit: RateLimit | undefined, nowMillis: number, maxWaitMillis: number) => Effect.Effect<void, TooLate>
}

/** A rate limiter with its own bucket (one per client). @since 0.1.0 */
export const make: Effect.Effect<RateLimiter> = Effect.sync((): RateLimiter => {
  /** Tokens left (negative: reservations ahead of the refill) as of `at`. */
  let tokens = Number.NaN
  let at = 0
  const refill = (limit: RateLimit, now: number, perToken: number) => {
    if (Number.isNaN(tokens)) {
      tokens = limit.limit
      at = now
      return
    }
    tokens = Math.min(limit.limit, tokens + (now - at) / perToken)
    at = now
  }
  return {
    take: (limit, nowMillis, maxWaitMillis) => limit === undefined ? Effect.void : Effect.suspend(() => {
      const perToken = Duration.toMillis(limit.interval) / limit.limit
      refill(limit, nowMillis, perToken)
      const wait = tokens >= 1 ? 0 : (1 - tokens) * perToken
      if (wait > maxWaitMillis) return Effect.fail({ _tag: "TooLate", waitMillis: wait })
      tokens -= 1
      if (wait <= 0) return Effect.void
      // The slot is given back if the waiter is interrupted before it comes.
      return Effect.onInterrupt(Effect.sleep(Duration.millis(wait)), () => Effect.sync(() => void (tokens += 1)))
    })
  }
})
