/**
 * The error family's mapping from what happened to one {@link ApiError}:
 * an answer's status and body (JSON error bodies of each API, S3-style XML,
 * HTML pages), a body that does not decode, a transport failure, a timeout,
 * or a request refused before sending.
 *
 * Every text that reaches an error has had the client's secrets cut out
 * (the caller passes `scrub`). HTML is never kept: such pages can embed
 * tokens the client never held (Jupyter writes its API token into every page
 * of a logged-in request), so an HTML body becomes a one-line summary. Work
 * is linear in the size of the body and bounded: only the first
 * {@link maxScanned} characters are ever searched.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as ApiError from "./ApiError.js"
import type * as Outgoing from "./Outgoing.js"

/** Where a failure happened. @since 0.1.0 */
export interface CallSite {
  readonly api: string
  readonly operation: string
  readonly method: string
  /** Redacted. */
  readonly url: string
}

/** What the client tells a person, beyond what the server said. @since 0.1.0 */
export interface Advice {
  readonly authHint?: string | undefined
  /** Advice appended to the message of an error with that status. */
  readonly statusHints?: Readonly<Record<number, string>> | undefined
}

/** How much of an error body is ever searched or parsed. @since 0.1.0 */
export const maxScanned = 64 * 1024

/** The call-site fields every error carries (read one by one: a call site may compute its URL when read). */
const site = (ctx: CallSite): CallSite => ({ api: ctx.api, operation: ctx.operation, method: ctx.method, url: ctx.url })

const where = (ctx: CallSite, status?: number): string =>
  `${ctx.method} ${ctx.url}${status === undefined ? "" : ` → ${status}`}`

const str = (u: unknown): string | undefined => (typeof u === "string" && u.length > 0 ? u : undefined)

/** What the common error body shapes of these APIs say. */
interface ServerSays {
  readonly message?: string | undefined
  readonly problems: ReadonlyArray<ApiError.FieldProblem>
  readonly requestId?: string | undefined
  readonly documentationUrl?: string | undefined
}

/**
 * Reads `{message, short_message, reason, requestId}` (Jupyter, WhyLabs,
 * Looker), FastAPI's `{detail: string | [{loc, msg, type}]}` (deepset) and
 * Looker's `{errors: [{field, code, message}], documentation_url}`.
 */
const readJsonBody = (text: string): ServerSays => {
  if (text.length > maxScanned) return { problems: [] }
  let parsed: unknown
  try {
    parsed = JSON.parse(stripBom(text))
  } catch {
    return { problems: [] }
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return { problems: [] }
  const body = parsed as Record<string, unknown>
  const problems: Array<ApiError.FieldProblem> = []
  if (Array.isArray(body.detail)) {
    for (const d of (body.detail as ReadonlyArray<unknown>).slice(0, 50)) {
      const r = (typeof d === "object" && d !== null ? d : {}) as Record<string, unknown>
      const loc = Array.isArray(r.loc) ? (r.loc as ReadonlyArray<unknown>).join(".") : "request"
      const code = str(r.type)
      problems.push({ field: loc, message: str(r.msg) ?? "invalid", ...(code ? { code } : {}) })
    }
  }
  if (Array.isArray(body.errors)) {
    for (const e of (body.errors as ReadonlyArray<unknown>).slice(0, 50)) {
      const r = (typeof e === "object" && e !== null ? e : {}) as Record<string, unknown>
      const code = str(r.code)
      problems.push({ field: str(r.field) ?? "request", message: str(r.message) ?? "invalid", ...(code ? { code } : {}) })
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
    requestId: str(body.requestId) ?? str(body.request_id),
    documentationUrl: str(body.documentation_url)
  }
}

/** A leading UTF-8 byte-order mark, as text. @since 0.1.0 */
export const stripBom = (text: string): string => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)

/** The text between `<tag>` and `</tag>` after `from`, searched only within `limit`. */
const element = (text: string, tag: string, from = 0, limit = text.length): string | undefined => {
  const open = text.indexOf(`<${tag}>`, from)
  if (open === -1 || open >= limit) return undefined
  const start = open + tag.length + 2
  const close = text.indexOf(`</${tag}>`, start)
  if (close === -1 || close > limit) return undefined
  return decodeXml(text.slice(start, Math.min(close, start + 2048)).trim())
}

const decodeXml = (s: string): string =>
  s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e: string) =>
    e === "lt" ? "<" : e === "gt" ? ">" : e === "amp" ? "&" : e === "quot" ? "\"" : "'")

/** An S3-style XML error (`<Error><Code>…</Code><Message>…</Message>…</Error>`), if the body is one. @since 0.1.0 */
export const readStorageError = (
  text: string
): { readonly code: string; readonly message?: string | undefined; readonly requestId?: string | undefined } | undefined => {
  const head = text.slice(0, maxScanned)
  const start = head.search(/\S/)
  if (start === -1 || head[start] !== "<") return undefined
  const error = head.indexOf("<Error>", start)
  if (error === -1 || error > start + 256) return undefined
  const code = element(head, "Code", error)
  if (code === undefined) return undefined
  return { code, message: element(head, "Message", error), requestId: element(head, "RequestId", error) }
}

const htmlStart = /^\s*<(!doctype\s+html|html|head|body)[\s>]/i

/** Whether an answer is an HTML page (by its content type or its first tag). @since 0.1.0 */
export const isHtml = (text: string, contentType: string | undefined): boolean =>
  (contentType !== undefined && /html/i.test(contentType)) || htmlStart.test(text.slice(0, 1024))

/** What an HTML page says, in one line: its first heading, else its title (bounded work). */
const pageSummary = (html: string): string => {
  const head = html.slice(0, maxScanned)
  const lower = head.toLowerCase()
  const inner = (tag: string): string | undefined => {
    const open = lower.indexOf(`<${tag}`)
    if (open === -1) return undefined
    const gt = lower.indexOf(">", open)
    if (gt === -1) return undefined
    const close = lower.indexOf(`</${tag}`, gt)
    return head.slice(gt + 1, close === -1 ? gt + 1 : Math.min(close, gt + 1 + 512))
  }
  const text = inner("h1") ?? inner("title") ?? ""
  return text.replace(/<[^<>]{0,256}>/g, "").replace(/\s+/g, " ").trim().slice(0, 200)
}

/** The headers a request id is read from, first found wins. */
const requestIdHeaders = ["x-request-id", "request-id", "x-amz-request-id", "x-amzn-requestid", "x-correlation-id"]

/** An answer as error mapping needs it. @since 0.1.0 */
export interface Answer {
  readonly status: number
  readonly header: (name: string) => string | undefined
  /** The body with the client's secrets cut out. */
  readonly text: string
}

/**
 * Maps an answer that is not 2xx to the error family.
 *
 * @since 0.1.0
 */
export const fromStatus = (
  ctx: CallSite,
  answer: Answer,
  retryAfter: Duration.Duration | undefined,
  advice: Advice
): ApiError.ApiError => {
  const { status, text } = answer
  const html = isHtml(text, answer.header("content-type"))
  const storage = html ? undefined : readStorageError(text)
  const summary = html ? pageSummary(text) : ""
  const says: ServerSays = html
    ? { message: summary === "" ? undefined : summary, problems: [] }
    : storage !== undefined
    ? { message: storage.message, problems: [], requestId: storage.requestId }
    : readJsonBody(text)
  let requestId = says.requestId
  for (const name of requestIdHeaders) {
    const v = answer.header(name)
    if (v !== undefined) {
      requestId = v
      break
    }
  }
  const base = {
    ...site(ctx),
    status,
    ...(requestId === undefined ? {} : { requestId }),
    ...(text.length === 0 ? {} : { body: html ? `(HTML page omitted: ${summary || "no heading"})` : ApiError.excerpt(text) })
  }
  const server = says.message === undefined ? "" : `: ${says.message}`
  const docs = says.documentationUrl === undefined ? "" : ` See ${says.documentationUrl}`
  const head = `${ctx.api} ${ctx.operation} failed (${where(ctx, status)})`
  const hint = advice.statusHints?.[status]
  const then = (fallback: string) => ` ${hint ?? fallback}`.trimEnd() + docs
  if (storage !== undefined) {
    return new ApiError.StorageError({
      ...base,
      code: storage.code,
      ...(storage.message === undefined ? {} : { storageMessage: storage.message }),
      ...(retryAfter === undefined ? {} : { retryAfter }),
      message: `${head}: the storage service answered ${storage.code}${server}.${
        then(
          status === 403
            ? "The presigned URL or policy was refused (expired, or signed for other fields); ask for a new one."
            : status >= 500
            ? "The storage service is busy or failing; it is retried under the policy."
            : ""
        )
      }`
    })
  }
  switch (status) {
    case 400:
    case 422: {
      const detail = says.problems.length > 0
        ? `: ${says.problems.map((p) => `${p.field}: ${p.message}`).join("; ")}`
        : server
      return new ApiError.InvalidRequest({
        ...base,
        ...(says.documentationUrl === undefined ? {} : { documentationUrl: says.documentationUrl }),
        problems: says.problems,
        message: `${head}: the server rejected the request${detail}.${then("")}`
      })
    }
    case 401:
    case 403:
      return new ApiError.Unauthorized({
        ...base,
        message: `${head}: the credentials were refused${server}.${then(advice.authHint ?? "Check the API key or token.")}`
      })
    case 404:
      return new ApiError.NotFound({
        ...base,
        ...(says.documentationUrl === undefined ? {} : { documentationUrl: says.documentationUrl }),
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
  }
  if (status >= 300 && status < 400) {
    const location = answer.header("location")
    return new ApiError.ServerError({
      ...base,
      message: `${head}: the server redirected${
        location === undefined ? "" : ` to ${location.slice(0, 200)}`
      }; redirects are not followed, so that credentials never reach another origin.${
        then("Use the final URL as the base URL.")
      }`
    })
  }
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

/**
 * A 2xx body that is not JSON or does not match the schema. `text` has had
 * the secrets cut out; an HTML body is not kept.
 *
 * @since 0.1.0
 */
export const decodeFailure = (
  ctx: CallSite,
  status: number,
  text: string,
  contentType: string | undefined,
  problem: Outgoing.Refusal
): ApiError.DecodeError =>
  new ApiError.DecodeError({
    ...site(ctx),
    status,
    body: isHtml(text, contentType) ? `(HTML page omitted: ${pageSummary(text) || "no heading"})` : ApiError.excerpt(text),
    path: problem.field,
    issue: problem.message,
    message: `${ctx.api} ${ctx.operation}: the response did not match the expected shape at ${problem.field}: ${
      problem.message.slice(0, 500)
    } (${where(ctx, status)})`
  })

/** A request refused before sending. @since 0.1.0 */
export const refused = (ctx: CallSite, refusal: Outgoing.Refusal): ApiError.InvalidRequest =>
  new ApiError.InvalidRequest({
    ...site(ctx),
    problems: [{ field: refusal.field, message: refusal.message }],
    message: `${ctx.api} ${ctx.operation}: ${refusal.field} ${refusal.message}; nothing was sent`
  })

/** The policy's deadline ran out. @since 0.1.0 */
export const deadline = (ctx: CallSite, after: Duration.Duration, waitingFor: string | undefined): ApiError.Timeout =>
  new ApiError.Timeout({
    ...site(ctx),
    kind: "deadline",
    after,
    message: `${ctx.api} ${ctx.operation}: gave up after ${Duration.format(after)}${
      waitingFor === undefined ? "" : ` (while waiting for ${waitingFor})`
    } (${where(ctx)}), the policy's deadline. Raise Policy deadline or check the server.`
  })

/** One attempt got no answer in time. @since 0.1.0 */
export const attemptTimeout = (ctx: CallSite, after: Duration.Duration): ApiError.Timeout =>
  new ApiError.Timeout({
    ...site(ctx),
    kind: "attempt",
    after,
    message: `${ctx.api} ${ctx.operation}: no response within ${Duration.format(after)} (${
      where(ctx)
    }). Raise Policy attemptTimeout if the server is slow.`
  })

const tlsCodes = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_OSSL/

/**
 * The connection failed or the body could not be read.
 *
 * @since 0.1.0
 */
export const transport = (ctx: CallSite, description: string, notSent: boolean, code?: string): ApiError.Transport =>
  new ApiError.Transport({
    ...site(ctx),
    notSent,
    message: `${ctx.api} ${ctx.operation}: could not ${notSent ? "reach the server" : "complete the exchange"} (${
      where(ctx)
    }): ${description}. ${
      code !== undefined && tlsCodes.test(code)
        ? "The server's TLS certificate was refused: give the client its CA, or turn verification off for this client only."
        : "Check the base URL and the network."
    }`
  })
