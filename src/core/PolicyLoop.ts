/**
 * The policy loop of one call: attempts, retries and the deadline.
 *
 * The deadline is fixed when the call starts and covers every wait of the
 * call: the rate limiter's slot, a dynamic token's fetch (a login), each
 * backoff and `Retry-After` wait, and every attempt (each attempt gets the
 * attempt timeout or what is left of the deadline, whichever is shorter). A
 * wait that would end after the deadline is not started. A server's refusal
 * of a dynamic token is answered once per call: the token is rejected (the
 * source fetches a new one) and the attempt replayed, and a second refusal
 * fails the call.
 *
 * @since 0.1.0
 */
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type * as Redacted from "effect/Redacted"
import type * as ApiError from "./ApiError.js"
import * as Policy from "./Policy.js"

/** A failed attempt, with what the loop needs to decide on a retry. @since 0.1.0 */
export interface Failure {
  readonly error: ApiError.ApiError
  /** Whether replaying is allowed at all (idempotent, or known not sent). */
  readonly replayable: boolean
  readonly retryAfter?: Duration.Duration | undefined
  /** The server refused this dynamic token: reject it and replay once. */
  readonly rejectedToken?: Redacted.Redacted<string> | undefined
}

/** What the loop of a call needs. @since 0.1.0 */
export interface Loop<B> {
  readonly policy: Policy.Policy
  /** The policy's deadline in milliseconds (`Infinity` for none). */
  readonly deadlineMillis: number
  readonly clock: Clock.Clock
  /** Tells the token source that the server refused `token` (a dynamic credential's). */
  readonly rejectToken?: ((token: Redacted.Redacted<string>) => Effect.Effect<void>) | undefined
  /** Called before each retry's wait. */
  readonly onRetry?: ((info: RetryInfo) => void) | undefined
  /**
   * One attempt. It gets the deadline (epoch millis of the loop's clock;
   * `Infinity` for none), must not wait past it, and hands every failure to
   * `recover` (which retries, or fails the call) rather than failing with
   * it: an attempt that succeeds then runs no step of the loop's (no handler
   * frame around it).
   */
  readonly attempt: (deadlineAt: number, recover: (failure: Failure) => Effect.Effect<B, ApiError.ApiError>) => Effect.Effect<B, ApiError.ApiError>
}

/** One retry, for the call's span. @since 0.1.0 */
export interface RetryInfo {
  readonly resend: number
  readonly waitMillis: number
  readonly error: ApiError.ApiError
}

/**
 * Runs the loop's attempts under its policy, the first one at once (the
 * deadline starts now).
 *
 * @since 0.1.0
 */
export const run = <B>(loop: Loop<B>): Effect.Effect<B, ApiError.ApiError> => {
  const { clock, policy } = loop
  const deadlineAt = clock.unsafeCurrentTimeMillis() + loop.deadlineMillis
  const step = (retry: number, tokenRejected: boolean): Effect.Effect<B, ApiError.ApiError> =>
    loop.attempt(deadlineAt, (failure) => {
      const rejectedToken = failure.rejectedToken
      const rejectToken = loop.rejectToken
      if (rejectedToken !== undefined && rejectToken !== undefined && !tokenRejected) {
        return Effect.zipRight(Effect.suspend(() => rejectToken(rejectedToken)), Effect.suspend(() => step(retry, true)))
      }
      if (!failure.replayable || retry >= policy.maxRetries) return Effect.fail(failure.error)
      if (failure.retryAfter !== undefined && Duration.greaterThan(failure.retryAfter, policy.retryAfterCap)) {
        return Effect.fail(failure.error)
      }
      return Effect.flatMap(Random.next, (random) => {
        const wait = failure.retryAfter ?? Policy.backoff(policy, retry, random)
        const waitMillis = Duration.toMillis(wait)
        if (clock.unsafeCurrentTimeMillis() + waitMillis >= deadlineAt) return Effect.fail(failure.error)
        loop.onRetry?.({ resend: retry + 1, waitMillis, error: failure.error })
        return Effect.zipRight(Effect.sleep(wait), Effect.suspend(() => step(retry + 1, tokenRejected)))
      })
    })
  return step(0, false)
}

/** What is left until `deadlineAt` (never negative). @since 0.1.0 */
export const remaining = (clock: Clock.Clock, deadlineAt: number): number =>
  Math.max(0, deadlineAt - clock.unsafeCurrentTimeMillis())
