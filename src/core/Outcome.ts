/**
 * Judging the outcome of one attempt: the value, or a failure carrying what
 * the policy loop needs to decide (whether a replay is safe, the server's
 * `Retry-After`, a refused dynamic token). Which replays are safe:
 * - after the server answered, only idempotent operations, and only for the
 *   policy's retry statuses;
 * - after a timeout or a connection lost mid-exchange, only idempotent
 *   operations (the request may have been applied);
 * - a request that surely never left (connection refused, DNS) for any
 *   operation.
 *
 * @since 0.1.0
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Redacted from "effect/Redacted"
import type * as ApiError from "./ApiError.js"
import * as ErrorMapping from "./ErrorMapping.js"
import type * as Operation from "./Operation.js"
import * as Outgoing from "./Outgoing.js"
import * as Policy from "./Policy.js"
import type * as PolicyLoop from "./PolicyLoop.js"
import type * as Redaction from "./Redaction.js"
import type * as Send from "./Send.js"
import * as Transport from "./Transport.js"

/** Codes of connection failures that prove the request never left (safe to replay for any operation). */
const notSentCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"])

const errorCode = (cause: unknown): string | undefined => {
  let current = cause
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const describe = (cause: unknown): string | undefined => {
  let current = cause
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current.message !== "" && current.message !== "fetch failed") return current.message
    current = current.cause
  }
  return undefined
}

/** A failure that is never replayed. @since 0.1.0 */
export const failed = (error: ApiError.ApiError): PolicyLoop.Failure => ({ error, replayable: false })

/**
 * What an attempt does with the decoding of a 2xx body (`decode`, which
 * reads the answer): run it now (a failure is judged by the policy) or hand
 * it out to run later. Both are synchronous: the answer is judged where it
 * arrives.
 *
 * @since 0.1.0
 */
export type Finish<A, B> = (
  decode: (attempt: Attempt<A>, answer: Transport.Exchange) => Either.Either<A, PolicyLoop.Failure>,
  attempt: Attempt<A>,
  answer: Transport.Exchange
) => Either.Either<B, PolicyLoop.Failure>

/** Decode at once. @since 0.1.0 */
export const decodeNow = <A>(
  decode: (attempt: Attempt<A>, answer: Transport.Exchange) => Either.Either<A, PolicyLoop.Failure>,
  attempt: Attempt<A>,
  answer: Transport.Exchange
): Either.Either<A, PolicyLoop.Failure> => decode(attempt, answer)

/** Hand the decoding out, to run when the value is needed. @since 0.1.0 */
export const decodeLater = <A>(
  decode: (attempt: Attempt<A>, answer: Transport.Exchange) => Either.Either<A, PolicyLoop.Failure>,
  attempt: Attempt<A>,
  answer: Transport.Exchange
): Either.Either<Effect.Effect<A, ApiError.ApiError>, PolicyLoop.Failure> =>
  Either.right(Effect.suspend(() => {
    const decoded = decode(attempt, answer)
    return Either.isRight(decoded) ? Effect.succeed(decoded.right) : Effect.fail(decoded.left.error)
  }))

/** One attempt, as the judging sees it. @since 0.1.0 */
export interface Attempt<A> {
  readonly ctx: ErrorMapping.CallSite
  readonly spec: Operation.Request<A>
  readonly policy: Policy.Policy
  readonly registry: Redaction.Registry
  readonly advice: ErrorMapping.Advice
}

const connection = <A>(
  at: Attempt<A>,
  cause: unknown,
  description: string | undefined
): PolicyLoop.Failure => {
  const code = errorCode(cause)
  const notSent = code !== undefined && notSentCodes.has(code)
  const text = [code, description ?? describe(cause)].filter((s) => s !== undefined).join(" ") || "connection failed"
  return {
    error: ErrorMapping.transport(at.ctx, at.registry.scrub(text), notSent, code),
    replayable: notSent || at.spec.idempotent
  }
}

const bodyLost = <A>(at: Attempt<A>, cause: unknown, fallback: string | undefined): PolicyLoop.Failure => ({
  error: ErrorMapping.transport(
    at.ctx,
    `reading the response body failed: ${at.registry.scrub(describe(cause) ?? fallback ?? String(cause))}`,
    false,
    errorCode(cause)
  ),
  replayable: at.spec.idempotent
})

/**
 * A failure on the wire as the policy sees it; `byDeadline`: the attempt's
 * budget was what was left of the deadline.
 *
 * @since 0.1.0
 */
export const fromSend = <A>(at: Attempt<A>, byDeadline: boolean, f: Send.Failure): PolicyLoop.Failure => {
  switch (f._tag) {
    case "Timeout":
      return byDeadline
        ? failed(ErrorMapping.deadline(at.ctx, at.policy.deadline, undefined))
        : { error: ErrorMapping.attemptTimeout(at.ctx, at.policy.attemptTimeout), replayable: at.spec.idempotent }
    case "Request":
      return connection(at, f.cause, undefined)
    case "Body":
      return bodyLost(at, f.cause, undefined)
    case "Platform": {
      const e = f.error
      if (e._tag === "RequestError" && e.reason !== "Transport") {
        return failed(ErrorMapping.refused(at.ctx, {
          field: "request",
          message: `could not be built (${e.reason}): ${
            at.registry.scrub(e.description ?? describe(e.cause) ?? String(e.cause))
          }`
        }))
      }
      if (e._tag === "ResponseError") return bodyLost(at, e.cause, e.description ?? e.reason)
      return connection(at, e.cause, e.description)
    }
  }
}

/** The value of a 2xx answer that has no body to decode. */
const noValue: Either.Either<never, never> = Either.right(undefined as never)

const noBody = <A>(): Either.Either<A, PolicyLoop.Failure> => noValue

/** A 2xx answer's body, parsed and decoded; a failure names the field. */
const decodeBody = <A>(at: Attempt<A>, answer: Transport.Exchange): Either.Either<A, PolicyLoop.Failure> => {
  const { ctx, registry, spec } = at
  const status = answer.status
  const text = ErrorMapping.stripBom(answer.readText())
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Either.left(failed(ErrorMapping.decodeFailure(ctx, status, registry.scrub(text), Transport.header(answer.headers, "content-type"), {
      field: "(body)",
      message: `not JSON: ${e instanceof Error ? e.message : String(e)}`
    })))
  }
  const decoded = spec.response!(json)
  // A `Right` carries no error type at run time: the decoder's own result is the value.
  if (Either.isRight(decoded)) return decoded as unknown as Either.Either<A, PolicyLoop.Failure>
  const problem = Outgoing.issuePath(decoded.left)
  return Either.left(failed(ErrorMapping.decodeFailure(ctx, status, registry.scrub(text), Transport.header(answer.headers, "content-type"), {
    field: problem.field,
    message: registry.scrub(problem.message)
  })))
}

/**
 * An answer as the value, or a failure the policy can judge; `token` is the
 * dynamic token the attempt carried (a 401 rejects it). Synchronous: a 2xx
 * answer's headers are read only if its body fails to decode.
 *
 * @since 0.1.0
 */
export const fromAnswer = <A, B>(
  at: Attempt<A>,
  answer: Transport.Exchange,
  clock: Clock.Clock,
  token: Redacted.Redacted<string> | undefined,
  finish: Finish<A, B>
): Either.Either<B, PolicyLoop.Failure> => {
  const status = answer.status
  if (status >= 200 && status < 300) return finish(at.spec.response === undefined ? noBody : decodeBody, at, answer)
  const { ctx, registry, spec } = at
  const header = (name: string) => Transport.header(answer.headers, name)
  const retryAfter = Policy.parseRetryAfter(header("retry-after"), clock.unsafeCurrentTimeMillis())
  return Either.left({
    error: ErrorMapping.fromStatus(ctx, { status, header, text: registry.scrub(answer.readText()) }, retryAfter, at.advice),
    replayable: spec.idempotent && Policy.isRetryableStatus(at.policy, status),
    retryAfter,
    rejectedToken: status === 401 ? token : undefined
  })
}
