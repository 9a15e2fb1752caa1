/**
 * Retries, timeouts and rate limits as plain values.
 *
 * A policy is data: a default per API, overridable per layer (`policy`
 * option) and per call ({@link withPolicy}). All time comes from `Clock`, so
 * `TestClock` drives it in tests.
 *
 * Rules:
 * - a failed attempt is retried at most `maxRetries` times, with exponential
 *   backoff (`baseDelay · 2^n`, capped by `maxDelay`) and jitter;
 * - a `Retry-After` answer (seconds or HTTP-date) is honoured when it is not
 *   longer than `retryAfterCap`; a longer one fails at once with `RateLimited`
 *   / `ServerError` carrying it, so the caller decides;
 * - after the server answered, only operations declared idempotent are
 *   retried (a `POST` that creates is never replayed); a request that is known
 *   not to have left (connection refused, DNS) is retried for any operation;
 * - each attempt has `attemptTimeout`, the whole call (retries and waits
 *   included) has `deadline`; a wait that would pass the deadline is not taken.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import { globalValue } from "effect/GlobalValue"
import * as Stream from "effect/Stream"

/**
 * A client-side rate limit: at most `limit` requests per `interval`, spread
 * evenly (token bucket with a burst of `limit`).
 *
 * @since 0.1.0
 */
export interface RateLimit {
  readonly limit: number
  readonly interval: Duration.Duration
}

/** @since 0.1.0 */
export interface Policy {
  /** Retries after the first attempt. Default 4. */
  readonly maxRetries: number
  /** First backoff delay. Default 200 ms. */
  readonly baseDelay: Duration.Duration
  /** Longest backoff delay. Default 10 s. */
  readonly maxDelay: Duration.Duration
  /** Share of each backoff delay that is random, 0 to 1. Default 0.5. */
  readonly jitter: number
  /** Longest `Retry-After` the client waits for. Default 60 s. */
  readonly retryAfterCap: Duration.Duration
  /** Time allowed for one attempt (request and body). Default 30 s. */
  readonly attemptTimeout: Duration.Duration
  /** Time allowed for the whole call, retries and waits included. Default 2 min. */
  readonly deadline: Duration.Duration
  /** Statuses that are retried (for idempotent operations). Default 408, 429, 500, 502, 503, 504. */
  readonly retryStatuses: ReadonlyArray<number>
  /** Client-side rate limit shared by every call of one layer. Default none. */
  readonly rateLimit: RateLimit | undefined
}

/**
 * What a caller may set, a subset of {@link Policy} with durations in every
 * `DurationInput` form (`"10 seconds"`, `Duration.minutes(2)`, a number of
 * milliseconds, `Duration.infinity` for none).
 *
 * @since 0.1.0
 */
export interface PolicyInput {
  /** Retries after the first attempt (default 4; negative counts as 0). */
  readonly maxRetries?: number
  /** The first backoff delay; each retry doubles it (default 200 ms). */
  readonly baseDelay?: Duration.DurationInput
  /** The longest backoff delay (default 10 s). */
  readonly maxDelay?: Duration.DurationInput
  /** The share of each backoff delay that is random, 0 to 1 (default 0.5). */
  readonly jitter?: number
  /** The longest `Retry-After` waited for; a longer one fails at once, carrying it (default 60 s). */
  readonly retryAfterCap?: Duration.DurationInput
  /** Time for one attempt, the response body included (default 30 s). */
  readonly attemptTimeout?: Duration.DurationInput
  /** Time for the whole call: rate-limit slot, login, every backoff and attempt (default 2 min). */
  readonly deadline?: Duration.DurationInput
  /** Statuses retried for operations safe to replay (default 408, 429, 500, 502, 503, 504). */
  readonly retryStatuses?: ReadonlyArray<number>
  /** At most `limit` requests per `interval` for the whole layer (a token bucket); `undefined` for none (the default). */
  readonly rateLimit?: { readonly limit: number; readonly interval: Duration.DurationInput } | undefined
}

/** The default policy. @since 0.1.0 */
export const defaultPolicy: Policy = {
  maxRetries: 4,
  baseDelay: Duration.millis(200),
  maxDelay: Duration.seconds(10),
  jitter: 0.5,
  retryAfterCap: Duration.seconds(60),
  attemptTimeout: Duration.seconds(30),
  deadline: Duration.minutes(2),
  retryStatuses: [408, 429, 500, 502, 503, 504],
  rateLimit: undefined
}

/** A policy that never retries (timeouts stay). @since 0.1.0 */
export const noRetries: PolicyInput = { maxRetries: 0 }

/**
 * A policy: `base` (default {@link defaultPolicy}) with `input` laid over it.
 * Out-of-range numbers are clamped (negative retries → 0, jitter into 0..1).
 *
 * @since 0.1.0
 */
export const make = (input: PolicyInput = {}, base: Policy = defaultPolicy): Policy => ({
  maxRetries: input.maxRetries === undefined ? base.maxRetries : Math.max(0, Math.floor(input.maxRetries)),
  baseDelay: input.baseDelay === undefined ? base.baseDelay : Duration.decode(input.baseDelay),
  maxDelay: input.maxDelay === undefined ? base.maxDelay : Duration.decode(input.maxDelay),
  jitter: input.jitter === undefined ? base.jitter : Math.min(1, Math.max(0, input.jitter)),
  retryAfterCap: input.retryAfterCap === undefined ? base.retryAfterCap : Duration.decode(input.retryAfterCap),
  attemptTimeout: input.attemptTimeout === undefined ? base.attemptTimeout : Duration.decode(input.attemptTimeout),
  deadline: input.deadline === undefined ? base.deadline : Duration.decode(input.deadline),
  retryStatuses: input.retryStatuses ?? base.retryStatuses,
  rateLimit: "rateLimit" in input
    ? input.rateLimit === undefined
      ? undefined
      : { limit: Math.max(1, input.rateLimit.limit), interval: Duration.decode(input.rateLimit.interval) }
    : base.rateLimit
})

/** Per-call overrides, set by {@link withPolicy}. @internal */
export const currentOverrides: FiberRef.FiberRef<PolicyInput | undefined> = globalValue(
  "effect-sessions/Policy/currentOverrides",
  () => FiberRef.unsafeMake<PolicyInput | undefined>(undefined)
)

/**
 * Runs an effect, or a stream, with a policy override for every client call
 * inside it (laid over the layer's policy; inner overrides win). For a stream
 * the override holds for as long as the stream runs, in the pages it fetches
 * ahead too.
 *
 * ```ts
 * deepset.create("ws", {}).pipe(Policy.withPolicy({ attemptTimeout: "5 seconds", maxRetries: 0 }))
 * deepset.streamFiles("ws", id).pipe(Policy.withPolicy({ deadline: "10 seconds" }))
 * ```
 *
 * @since 0.1.0
 */
export const withPolicy: {
  (input: PolicyInput): <Self extends Wrappable>(self: Self) => Self
  <Self extends Wrappable>(self: Self, input: PolicyInput): Self
} = dual(2, <Self extends Wrappable>(self: Self, input: PolicyInput): Self => {
  const lay = (outer: PolicyInput | undefined): PolicyInput => (outer === undefined ? input : { ...outer, ...input })
  if (Stream.StreamTypeId in self) {
    // In the stream's own scope: its pulls, and the fibers it forks for prefetch, see the override.
    const stream = self as Stream.Stream<unknown, unknown, unknown>
    return Stream.unwrapScoped(Effect.as(Effect.locallyScopedWith(currentOverrides, lay), stream)) as unknown as Self
  }
  return Effect.locallyWith(self as Effect.Effect<unknown, unknown, unknown>, currentOverrides, lay) as unknown as Self
})

/** What {@link withPolicy} wraps: an effect or a stream. @since 0.1.0 */
export type Wrappable = Effect.Effect<unknown, unknown, unknown> | Stream.Stream<unknown, unknown, unknown>

/** The policy in force for a call: the layer's, with the fiber's overrides. @internal */
export const resolve = (base: Policy, overrides: PolicyInput | undefined): Policy =>
  overrides === undefined ? base : make(overrides, base)

/**
 * The backoff before retry number `retry` (0-based): `baseDelay · 2^retry`,
 * capped by `maxDelay`, of which a `jitter` share is random (`random` in [0, 1)).
 *
 * @since 0.1.0
 */
export const backoff = (policy: Policy, retry: number, random: number): Duration.Duration => {
  const full = Math.min(Duration.toMillis(policy.maxDelay), Duration.toMillis(policy.baseDelay) * 2 ** retry)
  return Duration.millis(full * (1 - policy.jitter * random))
}

/** IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §5.6.7). */
const imfFixdate = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/
/** The obsolete RFC 850 form, `Sunday, 06-Nov-94 08:49:37 GMT`. */
const rfc850 =
  /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \d{2}-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-\d{2} \d{2}:\d{2}:\d{2} GMT$/
/** The obsolete asctime form, `Sun Nov  6 08:49:37 1994`. */
const asctime = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/

/**
 * Parses a `Retry-After` header as RFC 9110 §10.2.3 defines it: delay-seconds
 * (digits only) or an HTTP-date (IMF-fixdate, or the two obsolete forms a
 * recipient must accept), relative to `nowMillis`. Anything else (a decimal,
 * a negative number, a date in another format, several values) is ignored:
 * undefined, so the policy's own backoff applies. A date in the past is zero.
 *
 * @since 0.1.0
 */
export const parseRetryAfter = (value: string | undefined, nowMillis: number): Duration.Duration | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d{1,15}$/.test(trimmed)) return Duration.seconds(Number(trimmed))
  if (!imfFixdate.test(trimmed) && !rfc850.test(trimmed) && !asctime.test(trimmed)) return undefined
  const at = Date.parse(asctime.test(trimmed) ? `${trimmed.replace(/  /, " ")} GMT` : trimmed)
  if (Number.isNaN(at)) return undefined
  return Duration.millis(Math.max(0, at - nowMillis))
}

/**
 * Whether a status is worth retrying under the policy.
 *
 * @since 0.1.0
 */
export const isRetryableStatus = (policy: Policy, status: number): boolean => policy.retryStatuses.includes(status)
