/**
 * The client-side rate limit of a {@link Policy}: a token bucket shared by
 * every call of one client. Each call reserves a slot atomically and sleeps
 * (on `Clock`) until its slot comes, so concurrent callers are served in turn.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import type { RateLimit } from "./Policy.js"

/** @since 0.1.0 */
export interface RateLimiter {
  /** Waits until a request may start under `limit` (no wait without one). */
  readonly take: (limit: RateLimit | undefined) => Effect.Effect<void>
}

interface Bucket {
  readonly tokens: number
  readonly at: number
}

/** A rate limiter with its own bucket (one per client). @since 0.1.0 */
export const make: Effect.Effect<RateLimiter> = Effect.map(
  Ref.make<Bucket | undefined>(undefined),
  (ref): RateLimiter => ({
    take: (limit) =>
      limit === undefined ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.flatMap(
          Ref.modify(ref, (bucket): [number, Bucket] => {
            const perToken = Duration.toMillis(limit.interval) / limit.limit
            const previous = bucket ?? { tokens: limit.limit, at: now }
            const refilled = Math.min(limit.limit, previous.tokens + (now - previous.at) / perToken)
            const tokens = refilled - 1
            return [tokens >= 0 ? 0 : -tokens * perToken, { tokens, at: now }]
          }),
          (wait) => (wait <= 0 ? Effect.void : Effect.sleep(Duration.millis(wait)))
        ))
  })
)
