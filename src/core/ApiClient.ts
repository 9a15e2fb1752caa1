/**
 * The one place a request is made. API clients describe operations (a
 * {@link Request}: operation, method, path, query, body, idempotency,
 * response decoder); this module ties the core's pieces together to run
 * them:
 * - {@link Outgoing} builds and checks the request;
 * - {@link Redaction} holds the client's secrets and scrubs them everywhere;
 * - {@link PolicyLoop} runs attempts, retries and the deadline;
 * - {@link Send} makes one attempt on the wire (fast path or any `HttpClient`);
 * - {@link ErrorMapping} turns every failure into one {@link ApiError.ApiError};
 * - {@link Tracing} makes the call's span and propagates its context.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type * as ApiError from "./ApiError.js"
import * as Credentials from "./Credentials.js"
import * as ErrorMapping from "./ErrorMapping.js"
import * as FastDecode from "./FastDecode.js"
import * as Outgoing from "./Outgoing.js"
import type * as Path from "./Path.js"
import * as Policy from "./Policy.js"
import * as PolicyLoop from "./PolicyLoop.js"
import * as RateLimiter from "./RateLimiter.js"
import * as Redaction from "./Redaction.js"
import * as Send from "./Send.js"
import * as Tracing from "./Tracing.js"
import * as Transport from "./Transport.js"
import { userAgent } from "./Version.js"

/** How a client reaches its API. @since 0.1.0 */
export interface Options {
  /** The API's name in errors ("deepset"). */
  readonly api: string
  /** Each call is one span named `<spanPrefix>.<operation>` ("Deepset.getStatus"); default: `api`. */
  readonly spanPrefix?: string | undefined
  /** Base URL, possibly with a base path (`https://hub/user/alice/`). */
  readonly baseUrl: string
  readonly credentials: Credentials.Credentials
  /** The policy of this client (already resolved against the API's default). */
  readonly policy: Policy.Policy
  /** Extra headers on every request to the base URL; `Redacted` values are secrets (registered and scrubbed). */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
  /** More secret values to scrub from every error (e.g. each cookie value of a cookie header). */
  readonly secrets?: ReadonlyArray<Redacted.Redacted<string>> | undefined
  /** What to tell a person whose credentials were refused. */
  readonly authHint?: string | undefined
  /** Advice appended to the message of an error with that status (e.g. `{ 501: "Ask for an installed kernelspec." }`). */
  readonly statusHints?: Readonly<Record<number, string>> | undefined
}

/**
 * A request body. `Json` and `Form` are encoded before sending; `Bytes`,
 * `Stream` and `FormData` go as they are (`Stream` and `FormData` are made
 * anew by `open` for each attempt, so a retry re-reads their source).
 *
 * @since 0.1.0
 */
export type Body =
  | { readonly _tag: "Json"; readonly encode: () => Either.Either<unknown, ParseResult.ParseError> }
  | { readonly _tag: "Form"; readonly fields: Readonly<Record<string, string | Redacted.Redacted<string>>> }
  | { readonly _tag: "Bytes"; readonly contentType: string; readonly bytes: Uint8Array }
  | {
    readonly _tag: "Stream"
    readonly contentType: string
    readonly contentLength?: number | undefined
    readonly open: () => Stream.Stream<Uint8Array, unknown>
  }
  | { readonly _tag: "FormData"; readonly open: () => FormData }

/** A JSON body encoded with its schema (callers pass the `Type`). @since 0.1.0 */
export const jsonBody = <A, I>(schema: Schema.Schema<A, I>, value: A): Body => ({
  _tag: "Json",
  encode: () => Schema.encodeEither(schema)(value)
})

/** An `application/x-www-form-urlencoded` body; `Redacted` values are unwrapped only when sent. @since 0.1.0 */
export const formBody = (fields: Readonly<Record<string, string | Redacted.Redacted<string>>>): Body => ({
  _tag: "Form",
  fields
})

/** A body of bytes held in memory. @since 0.1.0 */
export const bytesBody = (contentType: string, bytes: Uint8Array): Body => ({ _tag: "Bytes", contentType, bytes })

/**
 * A streamed body: `open` is called for each attempt (a retry needs the bytes
 * again), and `contentLength`, when known, is sent as `content-length`.
 *
 * @since 0.1.0
 */
export const streamBody = (
  contentType: string,
  open: () => Stream.Stream<Uint8Array, unknown>,
  contentLength?: number
): Body => ({ _tag: "Stream", contentType, open, contentLength })

/** A `multipart/form-data` body, built anew by `open` for each attempt (`Blob` parts stream). @since 0.1.0 */
export const formDataBody = (open: () => FormData): Body => ({ _tag: "FormData", open })

/** A query value; `undefined` is not sent. @since 0.1.0 */
export type QueryValue = string | number | boolean | undefined

/** One operation to run. @since 0.1.0 */
export interface Request<A> {
  /** The operation's name in errors ("getStatus"). */
  readonly operation: string
  readonly method: HttpMethod.HttpMethod
  /** The encoded path (from a {@link Path.template}), or the parameter that could not be encoded. */
  readonly path: Either.Either<string, Path.BadSegment>
  readonly query?: Readonly<Record<string, QueryValue>> | undefined
  readonly body?: Body | undefined
  /** Whether replaying it after it may have reached the server is safe (GET, PUT, DELETE, PATCH to a state). */
  readonly idempotent: boolean
  /** Decodes a 2xx body; `undefined` ignores the body (204). */
  readonly response: Decoder<A> | undefined
  /**
   * An absolute URL (a presigned upload target) instead of the base URL and
   * `path`. Such a request never carries the client's credentials or extra
   * headers, and no redirect is followed.
   */
  readonly url?: string | undefined
  /** Whether the client's credentials go with the request (default true). */
  readonly authenticated?: boolean | undefined
  /** Headers of this request only (not secrets). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Laid over the client's policy for this request; a caller's `Policy.withPolicy` around the call still wins. */
  readonly policy?: Policy.PolicyInput | undefined
}

/** Decodes a parsed JSON body. @since 0.1.0 */
export type Decoder<A> = (json: unknown) => Either.Either<A, ParseResult.ParseError>

/** A decoder for a schema, compiled once (see {@link FastDecode}). @since 0.1.0 */
export const decoder = <A, I>(schema: Schema.Schema<A, I>): Decoder<A> => FastDecode.decoder(schema)

/** A client bound to one API. @since 0.1.0 */
export interface ApiClient {
  readonly api: string
  /** Runs an operation under the policy; every failure is one {@link ApiError.ApiError}. */
  readonly run: <A>(request: Request<A>) => Effect.Effect<A, ApiError.ApiError>
  /**
   * Runs an operation under the policy but leaves the body undecoded: the
   * outer effect is the exchange (with retries), the inner one parses and
   * decodes. Prefetching listings use it so that pages wait as one string,
   * not as an object graph, and are decoded when consumed.
   */
  readonly runDeferred: <A>(request: Request<A>) => Effect.Effect<Effect.Effect<A, ApiError.ApiError>, ApiError.ApiError>
}

/** A URL fit for errors: no user info, secret-looking query values replaced. @since 0.1.0 */
export const redactUrl = Redaction.redactUrl

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

/**
 * What an attempt does with the decoding of a 2xx body: run it now (a
 * failure is judged by the policy) or hand it out to run later.
 */
type Finish<A, B> = (decode: () => Effect.Effect<A, PolicyLoop.Failure>) => Effect.Effect<B, PolicyLoop.Failure>
const decodeNow = <A>(decode: () => Effect.Effect<A, PolicyLoop.Failure>): Effect.Effect<A, PolicyLoop.Failure> =>
  decode()
const decodeLater = <A>(
  decode: () => Effect.Effect<A, PolicyLoop.Failure>
): Effect.Effect<Effect.Effect<A, ApiError.ApiError>, PolicyLoop.Failure> =>
  Effect.succeed(Effect.mapError(Effect.suspend(decode), (failure) => failure.error))

/** Secret-looking query values of a base URL (`?token=…`, as `jupyter server list` prints it). */
const baseQuerySecrets = (baseUrl: string): ReadonlyArray<string> => {
  try {
    const url = new URL(baseUrl)
    return Array.from(url.searchParams.entries()).flatMap(([name, value]) =>
      Redaction.secretQueryName.test(name) && value !== "" ? [value] : []
    )
  } catch {
    return []
  }
}

/**
 * A client for one API on the `HttpClient` in context.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<ApiClient, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const sender = Send.make(http)
    const limiter = yield* RateLimiter.make
    const { api, credentials } = options
    const spanPrefix = options.spanPrefix ?? api
    const advice: ErrorMapping.Advice = { authHint: options.authHint, statusHints: options.statusHints }
    const base = Outgoing.parseBase(options.baseUrl)

    // Headers every request to the base URL carries, checked once: a bad one fails every call, naming it.
    const anonymousHeaders: Record<string, string> = { accept: "application/json", "user-agent": userAgent }
    const headers: Record<string, string> = { ...anonymousHeaders }
    const secretValues: Array<Redacted.Redacted<string> | string> = [...(options.secrets ?? []), ...baseQuerySecrets(options.baseUrl)]
    const secretHeaders: Array<string> = [...Credentials.secretHeaderNames(credentials)]
    let configProblem: Outgoing.Refusal | undefined
    const add = (name: string, value: string | Redacted.Redacted<string>, field: string) => {
      const plain = Redacted.isRedacted(value) ? Redacted.value(value) : value
      if (Redacted.isRedacted(value)) {
        secretValues.push(plain)
        secretHeaders.push(name.toLowerCase())
      }
      configProblem ??= Outgoing.checkHeader(name, plain, field)
      headers[name.toLowerCase()] = plain
    }
    for (const [name, value] of Object.entries(options.headers ?? {})) add(name, value, `headers.${name}`)
    if (credentials._tag === "Header") add(credentials.name, credentials.value, "credentials")
    if (credentials._tag === "Authorization") {
      add("authorization", Redacted.make(Credentials.authorization(credentials.scheme, credentials.token)), "credentials")
      secretValues.push(credentials.token)
    }
    const registry = Redaction.make({ values: secretValues, headerNames: secretHeaders })
    const fixed: Outgoing.Fixed = { base, headers, anonymousHeaders }
    /** The platform's own `http.client` span shows the whole URL: not for a base URL that holds a secret. */
    const hideUrlFromPlatformSpans = baseQuerySecrets(options.baseUrl).length > 0
    const dynamic = credentials._tag === "Dynamic" ? credentials : undefined

    const failed = (error: ApiError.ApiError): PolicyLoop.Failure => ({ error, replayable: false })

    /** A transport-level failure as the policy sees it. */
    const fromSend = (ctx: ErrorMapping.CallSite, policy: Policy.Policy, idempotent: boolean, byDeadline: boolean) =>
    (f: Send.Failure): PolicyLoop.Failure => {
      switch (f._tag) {
        case "Timeout":
          return byDeadline
            ? failed(ErrorMapping.deadline(ctx, policy.deadline, undefined))
            : { error: ErrorMapping.attemptTimeout(ctx, policy.attemptTimeout), replayable: idempotent }
        case "Request":
          return connection(ctx, idempotent, f.cause, undefined)
        case "Body":
          return {
            error: ErrorMapping.transport(
              ctx,
              `reading the response body failed: ${registry.scrub(describe(f.cause) ?? String(f.cause))}`,
              false,
              errorCode(f.cause)
            ),
            replayable: idempotent
          }
        case "Platform": {
          const e = f.error
          if (e._tag === "RequestError" && e.reason !== "Transport") {
            return failed(ErrorMapping.refused(ctx, {
              field: "request",
              message: `could not be built (${e.reason}): ${registry.scrub(e.description ?? describe(e.cause) ?? String(e.cause))}`
            }))
          }
          if (e._tag === "ResponseError") {
            return {
              error: ErrorMapping.transport(
                ctx,
                `reading the response body failed: ${registry.scrub(describe(e.cause) ?? e.description ?? e.reason)}`,
                false,
                errorCode(e.cause)
              ),
              replayable: idempotent
            }
          }
          return connection(ctx, idempotent, e.cause, e.description)
        }
      }
    }
    const connection = (
      ctx: ErrorMapping.CallSite,
      idempotent: boolean,
      cause: unknown,
      description: string | undefined
    ): PolicyLoop.Failure => {
      const code = errorCode(cause)
      const notSent = code !== undefined && notSentCodes.has(code)
      const text = [code, description ?? describe(cause)].filter((s) => s !== undefined).join(" ") || "connection failed"
      return { error: ErrorMapping.transport(ctx, registry.scrub(text), notSent, code), replayable: notSent || idempotent }
    }

    /** Turns an answer into the value or a failure the policy can judge. */
    const classify = <A, B>(
      answer: Transport.Exchange,
      spec: Request<A>,
      ctx: ErrorMapping.CallSite,
      policy: Policy.Policy,
      clock: Clock.Clock,
      token: Redacted.Redacted<string> | undefined,
      finish: Finish<A, B>,
      span: Tracing.CallTrace["span"]
    ): Effect.Effect<B, PolicyLoop.Failure> => {
      const status = answer.status
      span?.attribute("http.response.status_code", status)
      const header = (name: string) => Transport.header(answer.headers, name)
      if (status >= 200 && status < 300) {
        const response = spec.response
        if (response === undefined) return finish(() => Effect.void as Effect.Effect<A>)
        return finish((): Effect.Effect<A, PolicyLoop.Failure> => {
          const text = ErrorMapping.stripBom(answer.readText())
          let json: unknown
          try {
            json = JSON.parse(text)
          } catch (e) {
            return Effect.fail(failed(ErrorMapping.decodeFailure(ctx, status, registry.scrub(text), header("content-type"), {
              field: "(body)",
              message: `not JSON: ${e instanceof Error ? e.message : String(e)}`
            })))
          }
          const decoded = response(json)
          if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
          const problem = Outgoing.issuePath(decoded.left)
          return Effect.fail(failed(ErrorMapping.decodeFailure(ctx, status, registry.scrub(text), header("content-type"), {
            field: problem.field,
            message: registry.scrub(problem.message)
          })))
        })
      }
      const retryAfter = Policy.parseRetryAfter(header("retry-after"), clock.unsafeCurrentTimeMillis())
      return Effect.fail({
        error: ErrorMapping.fromStatus(ctx, { status, header, text: registry.scrub(answer.readText()) }, retryAfter, advice),
        replayable: spec.idempotent && Policy.isRetryableStatus(policy, status),
        retryAfter,
        rejectedToken: status === 401 ? token : undefined
      })
    }

    const runWith = <A, B>(spec: Request<A>, finish: Finish<A, B>): Effect.Effect<B, ApiError.ApiError> =>
      Effect.withFiberRuntime((fiber) => {
        const prepared = Outgoing.prepare(fixed, spec)
        const rawUrl = Either.isRight(prepared)
          ? prepared.right.url
          : spec.url ?? (base.invalid === undefined ? base.origin + base.path + Either.getOrElse(spec.path, () => "/…") : "(invalid base URL)")
        const ctx: ErrorMapping.CallSite = {
          api,
          operation: spec.operation,
          method: spec.method,
          url: Redaction.redactUrl(registry.scrub(rawUrl))
        }
        if (Either.isLeft(prepared)) return Effect.fail(ErrorMapping.refused(ctx, prepared.left))
        const out = prepared.right
        const authenticated = !out.external && spec.authenticated !== false
        if (configProblem !== undefined && !out.external) return Effect.fail(ErrorMapping.refused(ctx, configProblem))
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        const overrides = fiber.getFiberRef(Policy.currentOverrides)
        // The client's policy, then the operation's own (an upload's longer timeout), then the caller's `withPolicy`.
        const policy = Policy.resolve(Policy.resolve(options.policy, spec.policy), overrides)
        const trace = Tracing.start(fiber, clock, `${spanPrefix}.${spec.operation}`, spec.method, ctx.url)
        const sent: Outgoing.Prepared = out.external || trace.headers === Tracing.noHeaders
          ? out
          : { ...out, headers: { ...out.headers, ...trace.headers } }
        const source = authenticated ? dynamic : undefined

        const exchange = (deadlineAt: number, request: Outgoing.Prepared, token: Redacted.Redacted<string> | undefined) =>
          Effect.suspend((): Effect.Effect<B, PolicyLoop.Failure> => {
            const left = PolicyLoop.remaining(clock, deadlineAt)
            if (left <= 0) return Effect.fail(failed(ErrorMapping.deadline(ctx, policy.deadline, undefined)))
            const attemptMillis = Duration.toMillis(policy.attemptTimeout)
            const byDeadline = left <= attemptMillis
            return Effect.matchEffect(sender.send(request, Math.min(attemptMillis, left), clock), {
              onFailure: (f) => Effect.fail(fromSend(ctx, policy, spec.idempotent, byDeadline)(f)),
              onSuccess: (answer) => classify(answer, spec, ctx, policy, clock, token, finish, trace.span)
            })
          })

        const withToken = (deadlineAt: number): Effect.Effect<B, PolicyLoop.Failure> => {
          if (source === undefined) return exchange(deadlineAt, sent, undefined)
          const current = source.source.current?.()
          const left = PolicyLoop.remaining(clock, deadlineAt)
          const get = current !== undefined
            ? Effect.succeed(current)
            : Send.timed(left)
            ? Effect.timeoutFail(source.source.get, {
              duration: Duration.millis(left),
              onTimeout: () => ErrorMapping.deadline(ctx, policy.deadline, "the credentials")
            })
            : source.source.get
          return Effect.flatMap(Effect.mapError(get, failed), (token) => {
            registry.addDynamic(token)
            const value = Credentials.authorization(source.scheme, token)
            const problem = Outgoing.checkHeader("authorization", value, "credentials")
            if (problem !== undefined) return Effect.fail(failed(ErrorMapping.refused(ctx, problem)))
            return exchange(deadlineAt, { ...sent, headers: { ...sent.headers, authorization: value } }, token)
          })
        }

        const limit = policy.rateLimit
        const attempt = limit === undefined ? withToken : (deadlineAt: number) =>
          Effect.zipRight(
            Effect.mapError(
              Effect.suspend(() => {
                const now = clock.unsafeCurrentTimeMillis()
                return limiter.take(limit, now, deadlineAt - now)
              }),
              () => failed(ErrorMapping.deadline(ctx, policy.deadline, "the client's rate limit"))
            ),
            Effect.suspend(() => withToken(deadlineAt))
          )

        let effect = PolicyLoop.run(
          {
            policy,
            clock,
            rejectToken: source === undefined ? undefined : (token) => {
              trace.span?.event("credentials refreshed", clock.unsafeCurrentTimeNanos())
              return source.source.reject(token)
            },
            onRetry: trace.span === undefined ? undefined : (info) =>
              Tracing.retryEvent(trace.span, clock, {
                resend: info.resend,
                waitMillis: info.waitMillis,
                errorTag: info.error._tag,
                status: info.error.status
              })
          },
          attempt
        )
        if (trace.span !== undefined) effect = Tracing.traced(fiber, clock, trace.span, effect)
        if (hideUrlFromPlatformSpans) {
          effect = Effect.locallyWith(effect, HttpClient.currentTracerDisabledWhen, (previous) => (request) =>
            previous(request) || registry.scrub(request.url) !== request.url)
        }
        return registry.protect(fiber, effect)
      })

    return {
      api,
      run: <A>(spec: Request<A>) => runWith(spec, decodeNow<A>),
      runDeferred: <A>(spec: Request<A>) => runWith(spec, decodeLater<A>)
    } satisfies ApiClient
  })
