/**
 * The one place a request is made: base URL, credentials, user agent, JSON
 * accept, path encoding, the policy (rate limit, per-attempt timeout,
 * retries, deadline) and the mapping of every failure into one
 * {@link ApiError}. API clients describe operations; this module runs them.
 *
 * @since 0.1.0
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import * as ApiError from "./ApiError.js"
import * as Credentials from "./Credentials.js"
import * as FastDecode from "./FastDecode.js"
import type * as Path from "./Path.js"
import * as Policy from "./Policy.js"
import * as RateLimiter from "./RateLimiter.js"
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
  /** Extra headers on every request; `Redacted` values are secrets and are registered as redacted. */
  readonly headers?: Readonly<Record<string, string | Redacted.Redacted<string>>> | undefined
  /** What to tell a person whose credentials were refused. */
  readonly authHint?: string | undefined
  /** Advice appended to the message of an error with that status (e.g. `{ 501: "Ask for an installed kernelspec." }`). */
  readonly statusHints?: Readonly<Record<number, string>> | undefined
}

/** A request body. @since 0.1.0 */
export type Body =
  | { readonly _tag: "Json"; readonly encode: () => Either.Either<unknown, ParseResult.ParseError> }
  | { readonly _tag: "Form"; readonly fields: Readonly<Record<string, string | Redacted.Redacted<string>>> }

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
  /** Whether replaying it after the server answered is safe (GET, PUT, DELETE, PATCH to a state). */
  readonly idempotent: boolean
  /** Decodes a 2xx body; `undefined` ignores the body (204). */
  readonly response: Decoder<A> | undefined
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

/** Where a failure happened, for error construction. */
interface CallSite {
  readonly api: string
  readonly operation: string
  readonly method: string
  readonly url: string
}

/** A failed attempt, with what the policy needs to decide on a retry. */
interface Failure {
  readonly error: ApiError.ApiError
  /** Whether replaying is allowed at all (idempotent, or known not sent). */
  readonly replayable: boolean
  readonly retryAfter?: Duration.Duration | undefined
  /** The server refused a dynamic token: fetch a new one and replay once. */
  readonly rejectedToken?: Redacted.Redacted<string> | undefined
}

const notSentCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "UND_ERR_CONNECT_TIMEOUT"])
const secretQuery = /token|key|secret|password|signature|credential|auth/i

/**
 * A URL fit for errors: no user info, secret-looking query values replaced.
 *
 * @since 0.1.0
 */
export const redactUrl = (url: string): string => {
  const query = url.indexOf("?")
  const hasUserInfo = url.lastIndexOf("@", query === -1 ? url.length : query) > url.indexOf("//")
  if (!hasUserInfo && (query === -1 || !secretQuery.test(url.slice(query)))) return url
  try {
    const parsed = new URL(url)
    parsed.username = ""
    parsed.password = ""
    for (const name of Array.from(parsed.searchParams.keys())) {
      if (secretQuery.test(name)) parsed.searchParams.set(name, "REDACTED")
    }
    return parsed.toString()
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//")
  }
}

/** Removes a trailing slash so a base path joins cleanly with `/api/...`. */
const normalizeBase = (baseUrl: string): string => baseUrl.replace(/\/+$/, "")

const errorCode = (cause: unknown): string | undefined => {
  let current = cause
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string") return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

const parseJson = (text: string): Either.Either<unknown, string> => {
  try {
    return Either.right(JSON.parse(text))
  } catch (e) {
    return Either.left(e instanceof Error ? e.message : String(e))
  }
}

/** What the common error body shapes of these APIs say. */
interface ServerSays {
  readonly message?: string | undefined
  readonly problems: ReadonlyArray<ApiError.FieldProblem>
  readonly requestId?: string | undefined
}

const str = (u: unknown): string | undefined => (typeof u === "string" && u.length > 0 ? u : undefined)

/**
 * Reads `{message, short_message, reason, requestId}` (Jupyter, WhyLabs,
 * Looker), FastAPI's `{detail: string | [{loc, msg, type}]}` (deepset) and
 * Looker's `{errors: [{field, code, message}]}`.
 */
const readErrorBody = (text: string): ServerSays => {
  const parsed = parseJson(text)
  if (Either.isLeft(parsed) || typeof parsed.right !== "object" || parsed.right === null) return { problems: [] }
  const body = parsed.right as Record<string, unknown>
  const problems: Array<ApiError.FieldProblem> = []
  if (Array.isArray(body.detail)) {
    for (const d of body.detail as ReadonlyArray<Record<string, unknown>>) {
      const loc = Array.isArray(d?.loc) ? (d.loc as ReadonlyArray<unknown>).join(".") : "request"
      const code = str(d?.type)
      problems.push({ field: loc, message: str(d?.msg) ?? "invalid", ...(code ? { code } : {}) })
    }
  }
  if (Array.isArray(body.errors)) {
    for (const e of body.errors as ReadonlyArray<Record<string, unknown>>) {
      const code = str(e?.code)
      problems.push({ field: str(e?.field) ?? "request", message: str(e?.message) ?? "invalid", ...(code ? { code } : {}) })
    }
  }
  const message = str(body.message) ?? str(body.detail) ?? str(body.short_message) ?? str(body.reason) ??
    str(body.error)
  const shortMessage = str(body.short_message)
  return {
    message: message !== undefined && shortMessage !== undefined && shortMessage !== message
      ? `${message} (${shortMessage})`
      : message,
    problems,
    requestId: str(body.requestId) ?? str(body.request_id)
  }
}

const requestIdHeaders = ["x-request-id", "request-id", "x-amzn-requestid", "x-correlation-id"]

const headerRequestId = (headers: Transport.Exchange["headers"]): string | undefined => {
  for (const name of requestIdHeaders) {
    const v = Transport.header(headers, name)
    if (v !== undefined) return v
  }
  return undefined
}

const where = (ctx: CallSite, status?: number): string =>
  `${ctx.method} ${ctx.url}${status === undefined ? "" : ` → ${status}`}`

/** Maps an HTTP answer that is not 2xx to the error family. */
/** What the client tells a person, beyond what the server said. */
interface Advice {
  readonly authHint?: string | undefined
  readonly statusHints?: Readonly<Record<number, string>> | undefined
}

const htmlPage = /^\s*<(!doctype\s+html|html)[\s>]/i

/** What an HTML page says, in one line: its first heading, else its title. */
const pageSummary = (html: string): string => {
  const heading = /<h1[^>]*>([\s\S]*?)<\/h1>/i.exec(html)?.[1] ?? /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html)?.[1]
  return (heading ?? "").replace(/<[^>]*>/g, "").replace(/\s+/g, " ").trim()
}

/**
 * Maps an HTTP answer that is not 2xx to the error family. `text` has had the
 * client's secrets cut out already. An HTML page (a server's or a proxy's
 * error page) is never kept: such pages can embed tokens the client never
 * held (Jupyter writes its API token into every page of a logged-in request),
 * so the body becomes a one-line summary.
 */
const statusError = (
  ctx: CallSite,
  status: number,
  headers: Transport.Exchange["headers"],
  text: string,
  retryAfter: Duration.Duration | undefined,
  advice: Advice
): ApiError.ApiError => {
  const html = htmlPage.test(text)
  const summary = html ? pageSummary(text) : ""
  const says: ServerSays = html ? { message: summary === "" ? undefined : summary, problems: [] } : readErrorBody(text)
  const requestId = headerRequestId(headers) ?? says.requestId
  const base = {
    ...ctx,
    status,
    ...(requestId === undefined ? {} : { requestId }),
    ...(text.length === 0 ? {} : { body: html ? `(HTML page omitted: ${summary || "no heading"})` : ApiError.excerpt(text) })
  }
  const server = says.message === undefined ? "" : `: ${says.message}`
  const head = `${ctx.api} ${ctx.operation} failed (${where(ctx, status)})`
  const hint = advice.statusHints?.[status]
  const then = (fallback: string) => ` ${hint ?? fallback}`.trimEnd()
  switch (status) {
    case 400:
    case 422: {
      const detail = says.problems.length > 0
        ? `: ${says.problems.map((p) => `${p.field}: ${p.message}`).join("; ")}`
        : server
      return new ApiError.InvalidRequest({
        ...base,
        problems: says.problems,
        message: `${head}: the server rejected the request${detail}.${then("")}`
      })
    }
    case 401:
    case 403:
      return new ApiError.Unauthorized({
        ...base,
        message: `${head}: the credentials were refused${server}.${
          then(advice.authHint ?? "Check the API key or token.")
        }`
      })
    case 404:
      return new ApiError.NotFound({
        ...base,
        message: html
          ? `${head}: no API route matched (the server answered an HTML page).${
            then("Check the id, and the base URL with its base path.")
          }`
          : `${head}: not found${server}.${then("Check the ids in the URL.")}`
      })
    case 409:
      return new ApiError.Conflict({ ...base, message: `${head}: conflict with the current state${server}.${then("")}` })
    case 410:
      return new ApiError.Gone({ ...base, message: `${head}: the resource is gone${server}.${then("")}` })
    case 429:
      return new ApiError.RateLimited({
        ...base,
        ...(retryAfter === undefined ? {} : { retryAfter }),
        message: `${head}: rate limited${
          retryAfter === undefined ? "" : `; the server asked to wait ${Duration.format(retryAfter)}`
        }.${then("Slow down (Policy rateLimit) or allow more retries.")}`
      })
    default:
      if (status >= 500 || status < 400) {
        return new ApiError.ServerError({
          ...base,
          ...(says.message === undefined ? {} : { serverMessage: says.message }),
          message: status === 501
            ? `${head}: the server cannot do this (not implemented)${server}.${then("Retrying will not help.")}`
            : status >= 500
            ? `${head}: the server failed${server}.${then("Try again later.")}`
            : `${head}: unexpected status${server}.${then("")}`
        })
      }
      return new ApiError.InvalidRequest({
        ...base,
        problems: says.problems,
        message: `${head}: the server rejected the request${server}.${then("")}`
      })
  }
}

/** Cuts every secret the client holds out of a text meant for an error. */
const scrubber = (secrets: ReadonlyArray<string>) => (text: string): string => {
  let out = text
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join("<redacted>")
  return out
}

const decodeError = (ctx: CallSite, status: number, text: string, path: string, issue: string) =>
  new ApiError.DecodeError({
    ...ctx,
    status,
    body: ApiError.excerpt(text),
    path,
    issue,
    message: `${ctx.api} ${ctx.operation}: the response did not match the expected shape at ${path}: ${issue} (${
      where(ctx, status)
    })`
  })

const issuePath = (error: ParseResult.ParseError): { path: string; issue: string } => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (first === undefined) return { path: "(root)", issue: error.message }
  const path = first.path.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`),
    ""
  )
  return { path: path === "" ? "(root)" : path, issue: first.message }
}

const deadlineError = (ctx: CallSite, policy: Policy.Policy) =>
  new ApiError.Timeout({
    ...ctx,
    kind: "deadline",
    after: policy.deadline,
    message: `${ctx.api} ${ctx.operation}: gave up after ${Duration.format(policy.deadline)} (${
      where(ctx)
    }), the policy's deadline. Raise Policy deadline or check the server.`
  })

const transportError = (ctx: CallSite, description: string, notSent: boolean) =>
  new ApiError.Transport({
    ...ctx,
    notSent,
    message: `${ctx.api} ${ctx.operation}: could not ${notSent ? "reach the server" : "complete the exchange"} (${
      where(ctx)
    }): ${description}. Check the base URL and the network.`
  })

const liveClockConstructor = Clock.make().constructor

/** The parts of a base URL; an unusable one is reported by every call instead of crashing the layer. */
const parseBaseUrl = (
  raw: string
): { readonly origin: string; readonly pathname: string; readonly search: string; readonly invalid?: string } => {
  try {
    const url = new URL(normalizeBase(raw))
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return { origin: "", pathname: "", search: "", invalid: `must be http or https (got ${url.protocol})` }
    }
    return { origin: url.origin, pathname: url.pathname, search: url.search }
  } catch {
    return { origin: "", pathname: "", search: "", invalid: `is not a URL: ${JSON.stringify(redactUrl(raw))}` }
  }
}

const encodeQuery = (query: Readonly<Record<string, QueryValue>> | undefined): string => {
  if (query === undefined) return ""
  let out = ""
  for (const key in query) {
    const v = query[key]
    if (v === undefined) continue
    out += `${out === "" ? "?" : "&"}${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`
  }
  return out
}

/**
 * A client for one API on the `HttpClient` in context.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<ApiClient, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const http = yield* HttpClient.HttpClient
    const fast = Transport.fastPathOf(http)
    const limiter = yield* RateLimiter.make
    const { api, credentials } = options
    const spanPrefix = options.spanPrefix ?? api
    const advice: Advice = { authHint: options.authHint, statusHints: options.statusHints }
    const base = parseBaseUrl(options.baseUrl)
    const origin = base.origin
    /** The base path (`/user/alice`); a query the base URL carries is kept on every URL. */
    const basePath = base.pathname.replace(/\/+$/, "")

    const fixedHeaders: Record<string, string> = { accept: "application/json", "user-agent": userAgent }
    const extraSecrets: Array<string> = []
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      fixedHeaders[name.toLowerCase()] = Redacted.isRedacted(value) ? Redacted.value(value) : value
      if (Redacted.isRedacted(value)) extraSecrets.push(name.toLowerCase())
    }
    if (credentials._tag === "Header") fixedHeaders[credentials.name] = Redacted.value(credentials.value)
    if (credentials._tag === "Authorization") {
      fixedHeaders.authorization = Credentials.authorization(credentials.scheme, credentials.token)
    }
    const secretNames = [...Credentials.secretHeaderNames(credentials), ...extraSecrets]
    /** Registers this client's secret header names as redacted, only where the defaults lack them. */
    const redactSecrets = (names: ReadonlyArray<string | RegExp>) => {
      const missing = secretNames.filter((n) => !names.includes(n))
      return missing.length === 0 ? names : [...names, ...missing]
    }
    const scrubSecrets = scrubber(
      [
        ...(credentials._tag === "Header" ? [Redacted.value(credentials.value)] : []),
        ...(credentials._tag === "Authorization" ? [Redacted.value(credentials.token)] : []),
        ...Object.values(options.headers ?? {}).flatMap((v) => (Redacted.isRedacted(v) ? [Redacted.value(v)] : []))
      ].filter((secret) => secret.length >= 4)
    )
    const redactedAtStart = yield* FiberRef.get(Headers.currentRedactedNames)
    const needsRedaction = redactSecrets(redactedAtStart) !== redactedAtStart

    const requestFailure = (ctx: CallSite, idempotent: boolean, e: HttpClientError.HttpClientError): Failure => {
      if (e._tag === "RequestError" && e.reason !== "Transport") {
        return {
          error: new ApiError.InvalidRequest({
            ...ctx,
            problems: [],
            message: `${ctx.api} ${ctx.operation}: the request could not be built (${e.reason}): ${
              e.description ?? String(e.cause)
            }`
          }),
          replayable: false
        }
      }
      return e._tag === "ResponseError"
        ? bodyFailure(ctx, idempotent, e.cause ?? e.reason)
        : connectionFailure(ctx, idempotent, e.cause, e.description)
    }
    const connectionFailure = (ctx: CallSite, idempotent: boolean, cause: unknown, description?: string): Failure => {
      const code = errorCode(cause)
      const notSent = code !== undefined && notSentCodes.has(code)
      const text = [code, description ?? (cause instanceof Error ? cause.message : undefined)]
        .filter((s) => s !== undefined).join(" ") || "connection failed"
      return { error: transportError(ctx, text, notSent), replayable: notSent || idempotent }
    }
    const bodyFailure = (ctx: CallSite, idempotent: boolean, cause: unknown): Failure => ({
      error: transportError(
        ctx,
        `reading the response body failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        false
      ),
      replayable: idempotent
    })
    const timeoutFailure = (ctx: CallSite, policy: Policy.Policy, idempotent: boolean, byDeadline: boolean): Failure =>
      byDeadline ? { error: deadlineError(ctx, policy), replayable: false } : {
        error: new ApiError.Timeout({
          ...ctx,
          kind: "attempt",
          after: policy.attemptTimeout,
          message: `${ctx.api} ${ctx.operation}: no response within ${
            Duration.format(policy.attemptTimeout)
          } (${where(ctx)}). Raise Policy attemptTimeout if the server is slow.`
        }),
        replayable: idempotent
      }

    /** The generic path: every `HttpClient` works, the attempt bounded by a `Clock` timer. */
    const genericExchange = (
      out: Transport.Outgoing,
      call: Call,
      idempotent: boolean,
      budget: number,
      byDeadline: boolean
    ): Effect.Effect<Transport.Exchange, Failure> => {
      const { ctx, policy, span } = call
      let request = HttpClientRequest.make(out.method as HttpMethod.HttpMethod)(out.origin + out.path, {
        headers: out.headers
      })
      if (out.body !== undefined) request = HttpClientRequest.bodyText(request, out.body, out.headers["content-type"])
      const executed = span === undefined ? http.execute(request) : Effect.withParentSpan(http.execute(request), span)
      return Effect.mapError(
        Effect.flatMap(executed, (response) =>
          Effect.map(response.text, (text): Transport.Exchange => ({
            status: response.status,
            headers: response.headers,
            readText: () => text
          }))),
        (e) => requestFailure(ctx, idempotent, e)
      ).pipe(
        Effect.timeoutFail({
          duration: Duration.millis(Math.max(0, budget)),
          onTimeout: () => timeoutFailure(ctx, policy, idempotent, byDeadline)
        })
      )
    }

    /** The fast path of effect-sessions' own transport: its timer, no fiber race. */
    const fastExchange = (
      fastPath: Transport.FastPath,
      out: Transport.Outgoing,
      call: Call,
      idempotent: boolean,
      budget: number,
      byDeadline: boolean
    ): Effect.Effect<Transport.Exchange, Failure> =>
      Effect.mapError(fastPath.exchange(out, Math.max(0, budget)), (f): Failure =>
        f._tag === "Timeout"
          ? timeoutFailure(call.ctx, call.policy, idempotent, byDeadline)
          : f._tag === "Body"
          ? bodyFailure(call.ctx, idempotent, f.cause)
          : connectionFailure(call.ctx, idempotent, f.cause))

    /** Turns an answer into the value or a failure the policy can judge. */
    const classify = <A, B>(
      answer: Transport.Exchange,
      spec: Request<A>,
      call: Call,
      token: Redacted.Redacted<string> | undefined,
      finish: Finish<A, B>
    ): Effect.Effect<B, Failure> => {
      const { ctx, policy } = call
      const status = answer.status
      call.span?.attribute("http.response.status_code", status)
      const scrub = token === undefined ? scrubSecrets : (t: string) => scrubber([Redacted.value(token)])(scrubSecrets(t))
      if (status >= 200 && status < 300) {
        const response = spec.response
        if (response === undefined) return finish(() => Effect.void as Effect.Effect<A>)
        return finish((): Effect.Effect<A, Failure> => {
          const text = answer.readText()
          const json = parseJson(text)
          if (Either.isLeft(json)) {
            return Effect.fail({
              error: decodeError(ctx, status, scrub(text), "(body)", `not JSON: ${json.left}`),
              replayable: false
            })
          }
          const decoded = response(json.right)
          if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
          const { issue, path } = issuePath(decoded.left)
          return Effect.fail({ error: decodeError(ctx, status, scrub(text), path, scrub(issue)), replayable: false })
        })
      }
      const retryAfter = Policy.parseRetryAfter(Transport.header(answer.headers, "retry-after"), call.clock.unsafeCurrentTimeMillis())
      return Effect.fail({
        error: statusError(ctx, status, answer.headers, scrub(answer.readText()), retryAfter, advice),
        replayable: spec.idempotent && Policy.isRetryableStatus(policy, status),
        retryAfter,
        rejectedToken: status === 401 ? token : undefined
      })
    }

    /** One attempt, bounded by `budget` (the attempt timeout, or what is left of the deadline). */
    const attempt = <A, B>(
      out: Transport.Outgoing,
      spec: Request<A>,
      call: Call,
      budget: number,
      byDeadline: boolean,
      finish: Finish<A, B>
    ): Effect.Effect<B, Failure> => {
      const send = (o: Transport.Outgoing) =>
        call.fast !== undefined
          ? fastExchange(call.fast, o, call, spec.idempotent, budget, byDeadline)
          : genericExchange(o, call, spec.idempotent, budget, byDeadline)
      const sent: Effect.Effect<B, Failure> = credentials._tag === "Dynamic"
        ? Effect.flatMap(
          Effect.mapError(credentials.source.get, (error): Failure => ({ error, replayable: false })),
          (token) =>
            Effect.flatMap(
              send({
                ...out,
                headers: { ...out.headers, authorization: Credentials.authorization(credentials.scheme, token) }
              }),
              (answer) => classify(answer, spec, call, token, finish)
            )
        )
        : Effect.flatMap(send(out), (answer) => classify(answer, spec, call, undefined, finish))
      return call.policy.rateLimit === undefined ? sent : Effect.zipRight(limiter.take(call.policy.rateLimit), sent)
    }

    /**
     * The policy around attempts: each attempt gets the attempt timeout or
     * what is left of the deadline (one timer per attempt); waits that would
     * pass the deadline are not taken. Each retry is an event on the call's span.
     */
    const withRetries = <A, B>(
      out: Transport.Outgoing,
      spec: Request<A>,
      call: Call,
      finish: Finish<A, B>
    ): Effect.Effect<B, ApiError.ApiError> => {
      const { clock, policy, span } = call
      const deadlineAt = clock.unsafeCurrentTimeMillis() + Duration.toMillis(policy.deadline)
      const attemptMillis = Duration.toMillis(policy.attemptTimeout)
      const loop = (retry: number, tokenRefreshed: boolean): Effect.Effect<B, ApiError.ApiError> => {
        const remaining = deadlineAt - clock.unsafeCurrentTimeMillis()
        return Effect.catchAll(
          attempt(out, spec, call, Math.min(attemptMillis, remaining), remaining <= attemptMillis, finish),
          (failure) => {
            if (failure.rejectedToken !== undefined && credentials._tag === "Dynamic" && !tokenRefreshed) {
              span?.event("credentials refreshed", clock.unsafeCurrentTimeNanos())
              return Effect.zipRight(credentials.source.reject(failure.rejectedToken), Effect.suspend(() => loop(retry, true)))
            }
            if (!failure.replayable || retry >= policy.maxRetries) return Effect.fail(failure.error)
            if (failure.retryAfter !== undefined && Duration.greaterThan(failure.retryAfter, policy.retryAfterCap)) {
              return Effect.fail(failure.error)
            }
            return Effect.flatMap(Random.next, (random) => {
              const wait = failure.retryAfter ?? Policy.backoff(policy, retry, random)
              const waitMillis = Duration.toMillis(wait)
              if (clock.unsafeCurrentTimeMillis() + waitMillis >= deadlineAt) return Effect.fail(failure.error)
              span?.event("retry", clock.unsafeCurrentTimeNanos(), {
                "http.request.resend_count": retry + 1,
                "retry.wait_ms": waitMillis,
                "error.type": failure.error._tag,
                ...(failure.error.status === undefined ? {} : { "http.response.status_code": failure.error.status })
              })
              span?.attribute("http.request.resend_count", retry + 1)
              return Effect.zipRight(Effect.sleep(wait), Effect.suspend(() => loop(retry + 1, tokenRefreshed)))
            })
          }
        )
      }
      return loop(0, false)
    }

    const runWith = <A, B>(spec: Request<A>, finish: Finish<A, B>): Effect.Effect<B, ApiError.ApiError> =>
      Effect.withFiberRuntime((fiber) => {
        if (base.invalid !== undefined) {
          return Effect.fail(
            new ApiError.InvalidRequest({
              api,
              operation: spec.operation,
              method: spec.method,
              url: "(invalid base URL)",
              problems: [{ field: "baseUrl", message: base.invalid }],
              message: `${api} ${spec.operation}: the base URL ${base.invalid}; nothing was sent`
            })
          )
        }
        const query = encodeQuery(spec.query)
        const path = basePath + (Either.isRight(spec.path) ? spec.path.right : "") +
          (base.search === "" ? query : query === "" ? base.search : `${query}&${base.search.slice(1)}`)
        const ctx: CallSite = { api, operation: spec.operation, method: spec.method, url: redactUrl(origin + path) }
        if (Either.isLeft(spec.path)) {
          const bad = spec.path.left
          return Effect.fail(
            new ApiError.InvalidRequest({
              ...ctx,
              problems: [{ field: bad.field, message: bad.message }],
              message: `${api} ${spec.operation}: ${bad.field} ${bad.message}; nothing was sent`
            })
          )
        }
        let headers = fixedHeaders
        let body: string | undefined
        if (spec.body !== undefined) {
          if (spec.body._tag === "Json") {
            const encoded = spec.body.encode()
            if (Either.isLeft(encoded)) {
              const { issue, path } = issuePath(encoded.left)
              return Effect.fail(
                new ApiError.InvalidRequest({
                  ...ctx,
                  problems: [{ field: path, message: issue }],
                  message: `${api} ${spec.operation}: invalid input at ${path}: ${issue}; nothing was sent`
                })
              )
            }
            body = JSON.stringify(encoded.right)
            headers = { ...fixedHeaders, "content-type": "application/json" }
          } else {
            const fields: Record<string, string> = {}
            for (const [k, v] of Object.entries(spec.body.fields)) fields[k] = Redacted.isRedacted(v) ? Redacted.value(v) : v
            body = new URLSearchParams(fields).toString()
            headers = { ...fixedHeaders, "content-type": "application/x-www-form-urlencoded" }
          }
        }
        const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
        const tracing = fiber.getFiberRef(FiberRef.currentTracerEnabled)
        // Effect's built-in tracer records nothing anywhere: under it a call makes no span of its own (about
        // half of a call's cost), and the caller's span, if there is one, is what goes out in `traceparent`.
        const span = tracing && fiber.currentTracer !== builtInTracer
          ? startSpan(fiber, clock, `${spanPrefix}.${spec.operation}`, spec.method, ctx)
          : undefined
        if (tracing && fiber.getFiberRef(HttpClient.currentTracerPropagation)) {
          const propagated = span ?? Option.getOrUndefined(withPropagation(Context.getOption(fiber.currentContext, Tracer.ParentSpan)))
          if (propagated !== undefined) headers = { ...headers, ...traceHeaders(propagated) }
        }
        const call: Call = {
          ctx,
          policy: Policy.resolve(options.policy, fiber.getFiberRef(Policy.currentOverrides)),
          clock,
          span,
          // The fast path keeps its own wall-clock timer, so it serves only the live Clock (TestClock drives the generic one).
          fast: fast !== undefined && clock.constructor === liveClockConstructor ? fast : undefined
        }
        const out: Transport.Outgoing = { method: spec.method, origin, path, headers, body }
        let effect = withRetries(out, spec, call, finish)
        if (span !== undefined) {
          const timed = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
          const end = (exit: Exit.Exit<void, ApiError.ApiError>) =>
            Effect.sync(() => {
              if (exit._tag === "Failure") {
                const failure = Cause.failureOption(exit.cause)
                if (failure._tag === "Some") span.attribute("error.type", failure.value._tag)
              }
              span.end(timed ? clock.unsafeCurrentTimeNanos() : BigInt(0), exit)
            })
          // The span ends however the call ends, interruption included, as `Effect.onExit` would end it (in the
          // no-I/O harness onExit's form had more runs where per-call garbage got promoted and a call cost
          // ~1.5×). A successful call's span ends with `void`, not with its value: a span keeps its exit, and
          // a decoded listing would otherwise live as long as the span does.
          const endSpan = {
            onSuccess: (value: B) => Effect.as(end(Exit.void), value),
            onFailure: (cause: Cause.Cause<ApiError.ApiError>) => Effect.zipRight(end(Exit.failCause(cause)), Effect.failCause(cause))
          }
          const traced = effect
          effect = Effect.checkInterruptible((interruptible) =>
            interruptible
              ? Effect.uninterruptible(Effect.matchCauseEffect(Effect.interruptible(traced), endSpan))
              : Effect.matchCauseEffect(traced, endSpan)
          )
        }
        return needsRedaction ? Effect.locallyWith(effect, Headers.currentRedactedNames, redactSecrets) : effect
      })

    const run = <A>(spec: Request<A>) => runWith(spec, decodeNow<A>)
    return {
      api,
      run,
      runDeferred: <A>(spec: Request<A>) => runWith(spec, decodeLater<A>)
    } satisfies ApiClient
  })

/**
 * What an attempt does with the decoding of a 2xx body: run it now (a
 * failure is judged by the policy) or hand it out to run later.
 */
type Finish<A, B> = (decode: () => Effect.Effect<A, Failure>) => Effect.Effect<B, Failure>
const decodeNow = <A>(decode: () => Effect.Effect<A, Failure>): Effect.Effect<A, Failure> => decode()
const decodeLater = <A>(
  decode: () => Effect.Effect<A, Failure>
): Effect.Effect<Effect.Effect<A, ApiError.ApiError>, Failure> =>
  Effect.succeed(Effect.mapError(Effect.suspend(decode), (failure) => failure.error))

/** What tells the server which span a request belongs to (as the platform's `HttpClient` sends it). */
const traceHeaders = (span: Tracer.AnySpan): Readonly<Record<string, string>> =>
  span._tag === "Span" ? HttpTraceContext.toHeaders(span) : {
    b3: `${span.traceId}-${span.spanId}-${span.sampled ? "1" : "0"}`,
    traceparent: `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
  }

/** The tracer every Effect program has until one is provided. */
const builtInTracer: Tracer.Tracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/** What every step of one call shares. */
interface Call {
  readonly ctx: CallSite
  readonly policy: Policy.Policy
  readonly clock: Clock.Clock
  /** The call's span, when tracing is on. */
  readonly span: Tracer.Span | undefined
  /** The transport's fast path, when it has one and the Clock is the live one. */
  readonly fast: Transport.FastPath | undefined
}

/**
 * The call's span, as `Effect.useSpan` would make it (parent from the
 * context unless propagation is disabled there, the fiber's span annotations
 * and links), without the effects around it: a call costs one span.
 */
const startSpan = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  clock: Clock.Clock,
  name: string,
  method: string,
  ctx: CallSite
): Tracer.Span => {
  const parent = withPropagation(Context.getOption(fiber.currentContext, Tracer.ParentSpan))
  const links = fiber.getFiberRef(FiberRef.currentTracerSpanLinks)
  const timed = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
  const span = fiber.currentTracer.span(
    name,
    parent,
    Context.empty(),
    Chunk.toReadonlyArray(links),
    timed ? clock.unsafeCurrentTimeNanos() : BigInt(0),
    "client"
  )
  const annotations = fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations)
  if (HashMap.size(annotations) > 0) HashMap.forEach(annotations, (value, key) => span.attribute(key, value))
  span.attribute("http.request.method", method)
  span.attribute("url.full", ctx.url)
  return span
}

/** The nearest span whose context does not disable propagation (as Effect's own spans pick their parent). */
const withPropagation = (span: Option.Option<Tracer.AnySpan>): Option.Option<Tracer.AnySpan> => {
  let current = span
  while (current._tag === "Some" && Context.get(current.value.context, Tracer.DisablePropagation)) {
    current = current.value._tag === "Span" ? current.value.parent : Option.none()
  }
  return current
}

