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
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Schema from "effect/Schema"
import type * as Tracer from "effect/Tracer"
import type * as ApiError from "./ApiError.js"
import * as AttemptTimers from "./AttemptTimers.js"
import * as Credentials from "./Credentials.js"
import * as ErrorMapping from "./ErrorMapping.js"
import * as FastDecode from "./FastDecode.js"
import * as Operation from "./Operation.js"
import * as Outcome from "./Outcome.js"
import * as Outgoing from "./Outgoing.js"
import * as Policy from "./Policy.js"
import * as PolicyLoop from "./PolicyLoop.js"
import * as RateLimiter from "./RateLimiter.js"
import * as Redaction from "./Redaction.js"
import * as Send from "./Send.js"
import * as Tracing from "./Tracing.js"
import type * as Transport from "./Transport.js"
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

/** A request body (see {@link Operation.Body}). @since 0.1.0 */
export type Body = Operation.Body
/** One operation to run (see {@link Operation.Request}). @since 0.1.0 */
export type Request<A> = Operation.Request<A>
/** A query value; `undefined` is not sent. @since 0.1.0 */
export type QueryValue = Operation.QueryValue
/** Decodes a parsed JSON body. @since 0.1.0 */
export type Decoder<A> = Operation.Decoder<A>
/** A JSON body encoded with its schema. @since 0.1.0 */
export const jsonBody = Operation.jsonBody
/** An `application/x-www-form-urlencoded` body. @since 0.1.0 */
export const formBody = Operation.formBody
/** A body of bytes held in memory. @since 0.1.0 */
export const bytesBody = Operation.bytesBody
/** A streamed body, opened anew for each attempt. @since 0.1.0 */
export const streamBody = Operation.streamBody

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

/** What every call of one client shares. */
interface Client {
  readonly api: string
  readonly sender: Send.Sender
  readonly limiter: RateLimiter.RateLimiter
  readonly registry: Redaction.Registry
  readonly advice: ErrorMapping.Advice
  readonly base: Outgoing.Base
}

/** Where a call happens, for its errors and span: the URL is redacted when first read (a call that succeeds without a span never reads it). */
class CallSite<A> implements ErrorMapping.CallSite {
  readonly api: string
  readonly operation: string
  readonly method: string
  #url: string | undefined = undefined
  constructor(
    readonly client: Client,
    readonly spec: Request<A>,
    readonly prepared: Either.Either<Outgoing.Prepared, Outgoing.Refusal>
  ) {
    this.api = client.api
    this.operation = spec.operation
    this.method = spec.method
  }
  get url(): string {
    if (this.#url === undefined) {
      const { base, registry } = this.client
      const { prepared, spec } = this
      const raw = Either.isRight(prepared)
        ? prepared.right.url
        : spec.url ?? (base.invalid === undefined ? base.origin + base.path + Either.getOrElse(spec.path, () => "/…") : "(invalid base URL)")
      this.#url = Redaction.redactUrl(registry.scrub(raw))
    }
    return this.#url
  }
}

/** A policy's timeouts in milliseconds. */
interface PolicyMillis {
  readonly attemptMillis: number
  readonly deadlineMillis: number
}

const millisOf = (policy: Policy.Policy): PolicyMillis => ({
  attemptMillis: Duration.toMillis(policy.attemptTimeout),
  deadlineMillis: Duration.toMillis(policy.deadline)
})

/** The dynamic credentials of a client. */
type Dynamic = Extract<Credentials.Credentials, { readonly _tag: "Dynamic" }>

/** Every failure of an attempt goes to it: the policy loop's retry, or the end of the call. */
type Recover<B> = (failure: PolicyLoop.Failure) => Effect.Effect<B, ApiError.ApiError>

/**
 * One call in flight: what its attempts share, the policy loop's view of it
 * (its attempts) and the judging's (`Outcome.Attempt`). One object per call
 * rather than a closure per step.
 */
class Call<A, B> implements PolicyLoop.Loop<B>, Outcome.Attempt<A> {
  readonly registry: Redaction.Registry
  readonly advice: ErrorMapping.Advice
  readonly attemptMillis: number
  readonly deadlineMillis: number
  readonly rejectToken: ((token: Redacted.Redacted<string>) => Effect.Effect<void>) | undefined
  readonly onRetry: ((info: PolicyLoop.RetryInfo) => void) | undefined
  constructor(
    readonly client: Client,
    readonly spec: Request<A>,
    readonly finish: Outcome.Finish<A, B>,
    readonly ctx: ErrorMapping.CallSite,
    readonly policy: Policy.Policy,
    millis: PolicyMillis,
    readonly clock: Clock.Clock,
    readonly span: Tracer.Span | undefined,
    readonly sent: Outgoing.Prepared,
    readonly source: Dynamic | undefined,
    /** Whether the calling region is interruptible (a wait is aborted on interruption only then). */
    readonly interruptible: boolean
  ) {
    this.registry = client.registry
    this.advice = client.advice
    this.attemptMillis = millis.attemptMillis
    this.deadlineMillis = millis.deadlineMillis
    this.rejectToken = source === undefined ? undefined : (token) => {
      span?.event("credentials refreshed", clock.unsafeCurrentTimeNanos())
      return source.source.reject(token)
    }
    this.onRetry = span === undefined ? undefined : (info) =>
      Tracing.retryEvent(span, clock, {
        resend: info.resend,
        waitMillis: info.waitMillis,
        errorTag: info.error._tag,
        status: info.error.status
      })
  }

  attempt(deadlineAt: number, recover: Recover<B>): Effect.Effect<B, ApiError.ApiError> {
    const limit = this.policy.rateLimit
    if (limit === undefined) return this.withToken(deadlineAt, recover)
    return Effect.matchEffect(
      Effect.suspend(() => {
        const now = this.clock.unsafeCurrentTimeMillis()
        return this.client.limiter.take(limit, now, deadlineAt - now)
      }),
      {
        onFailure: () => recover(Outcome.failed(ErrorMapping.deadline(this.ctx, this.policy.deadline, "the client's rate limit"))),
        onSuccess: () => this.withToken(deadlineAt, recover)
      }
    )
  }

  withToken(deadlineAt: number, recover: Recover<B>): Effect.Effect<B, ApiError.ApiError> {
    const source = this.source
    if (source === undefined) return this.exchange(deadlineAt, this.sent, undefined, recover)
    const current = source.source.current?.()
    const left = PolicyLoop.remaining(this.clock, deadlineAt)
    const get = current !== undefined
      ? Effect.succeed(current)
      : AttemptTimers.fits(left)
      ? Effect.timeoutFail(source.source.get, {
        duration: Duration.millis(left),
        onTimeout: () => ErrorMapping.deadline(this.ctx, this.policy.deadline, "the credentials")
      })
      : source.source.get
    return Effect.matchEffect(get, {
      onFailure: (error) => recover(Outcome.failed(error)),
      onSuccess: (token) => {
        this.registry.addDynamic(token)
        const value = Credentials.authorization(source.scheme, token)
        const problem = Outgoing.checkHeader("authorization", value, "credentials")
        if (problem !== undefined) return recover(Outcome.failed(ErrorMapping.refused(this.ctx, problem)))
        return this.exchange(deadlineAt, { ...this.sent, headers: { ...this.sent.headers, authorization: value } }, token, recover)
      }
    })
  }

  exchange(
    deadlineAt: number,
    request: Outgoing.Prepared,
    token: Redacted.Redacted<string> | undefined,
    recover: Recover<B>
  ): Effect.Effect<B, ApiError.ApiError> {
    const left = PolicyLoop.remaining(this.clock, deadlineAt)
    if (left <= 0) return recover(Outcome.failed(ErrorMapping.deadline(this.ctx, this.policy.deadline, undefined)))
    const budget = Math.min(this.attemptMillis, left)
    return this.client.sender.attempt(
      request,
      budget,
      this.clock,
      this.interruptible,
      new Judge(this, token, left <= this.attemptMillis, recover)
    )
  }
}

/** What one attempt's outcome becomes: the call's value, or a failure for the policy loop. */
class Judge<A, B> implements Send.Handler<B, ApiError.ApiError> {
  constructor(
    readonly call: Call<A, B>,
    /** The dynamic token the attempt carries (a 401 rejects it). */
    readonly token: Redacted.Redacted<string> | undefined,
    /** Whether the attempt's budget was what was left of the deadline. */
    readonly byDeadline: boolean,
    readonly recover: Recover<B>
  ) {}
  onAnswer(answer: Transport.Exchange): Effect.Effect<B, ApiError.ApiError> {
    const call = this.call
    call.span?.attribute("http.response.status_code", answer.status)
    const judged = Outcome.fromAnswer(call, answer, call.clock, this.token, call.finish)
    return Either.isRight(judged) ? Effect.succeed(judged.right) : this.recover(judged.left)
  }
  onFailure(failure: Send.Failure): Effect.Effect<B, ApiError.ApiError> {
    return this.recover(Outcome.fromSend(this.call, this.byDeadline, failure))
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
    const fixed: Outgoing.Fixed = { base, headers: Outgoing.shared(headers), anonymousHeaders: Outgoing.shared(anonymousHeaders) }
    /** The platform's own `http.client` span shows the whole URL: not for a base URL that holds a secret. */
    const hideUrlFromPlatformSpans = baseQuerySecrets(options.baseUrl).length > 0
    const dynamic = credentials._tag === "Dynamic" ? credentials : undefined

    const client: Client = { api, sender, limiter, registry, advice, base }
    /** The client's own policy is the policy of most calls: its timeouts are converted once. */
    const clientMillis = millisOf(options.policy)

    const runWith = <A, B>(spec: Request<A>, finish: Outcome.Finish<A, B>): Effect.Effect<B, ApiError.ApiError> =>
      Effect.withFiberRuntime((fiber, status) => {
        const prepared = Outgoing.prepare(fixed, spec)
        const ctx = new CallSite(client, spec, prepared)
        if (Either.isLeft(prepared)) return Effect.fail(ErrorMapping.refused(ctx, prepared.left))
        const out = prepared.right
        const authenticated = !out.external && spec.authenticated !== false
        if (configProblem !== undefined && !out.external) return Effect.fail(ErrorMapping.refused(ctx, configProblem))
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        const overrides = fiber.getFiberRef(Policy.currentOverrides)
        // The client's policy, then the operation's own (an upload's longer timeout), then the caller's `withPolicy`.
        const policy = Policy.resolve(Policy.resolve(options.policy, spec.policy), overrides)
        const trace = Tracing.start(fiber, clock, spanPrefix, ctx)
        const span = trace.span
        const sent: Outgoing.Prepared = out.external || trace.headers === Tracing.noHeaders
          ? out
          : { ...out, headers: { ...out.headers, ...trace.headers } }
        const call = new Call(
          client,
          spec,
          finish,
          ctx,
          policy,
          policy === options.policy ? clientMillis : millisOf(policy),
          clock,
          span,
          sent,
          authenticated ? dynamic : undefined,
          RuntimeFlags.interruption(status.runtimeFlags)
        )
        let effect = PolicyLoop.run(call)
        if (span !== undefined) effect = Tracing.traced(fiber, clock, span, effect)
        if (hideUrlFromPlatformSpans) {
          effect = Effect.locallyWith(effect, HttpClient.currentTracerDisabledWhen, (previous) => (request) =>
            previous(request) || registry.scrub(request.url) !== request.url)
        }
        return registry.protect(fiber, effect)
      })

    return {
      api,
      run: <A>(spec: Request<A>) => runWith(spec, Outcome.decodeNow<A>),
      runDeferred: <A>(spec: Request<A>) => runWith(spec, Outcome.decodeLater<A>)
    } satisfies ApiClient
  })
