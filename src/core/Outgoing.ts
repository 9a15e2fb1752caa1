/**
 * Building the outgoing request of one operation: base URL and path, query,
 * body encoding, and headers. Everything a caller passes is checked here,
 * before anything is sent: a value that cannot go on the wire (a lone UTF-16
 * surrogate, CR/LF or a non-Latin-1 character in a header, a body the schema
 * refuses) is a {@link Refusal} naming the field, never a defect and never a
 * transport error.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import type * as Stream from "effect/Stream"
import type * as ApiClient from "./Operation.js"
import * as Redaction from "./Redaction.js"

/** Why a request was not sent: the field at fault and what is wrong with it. @since 0.1.0 */
export interface Refusal {
  readonly field: string
  readonly message: string
}

/** A body ready for the wire. @since 0.1.0 */
export type Body =
  | { readonly _tag: "Text"; readonly text: string; readonly contentType: string }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array; readonly contentType: string }
  | {
    readonly _tag: "Stream"
    readonly contentType: string
    readonly contentLength: number | undefined
    readonly open: () => Stream.Stream<Uint8Array, unknown>
  }

/** A request ready to send. @since 0.1.0 */
export interface Prepared {
  readonly method: string
  /** `https://host:port` */
  readonly origin: string
  /** Path and query. */
  readonly path: string
  /** The whole URL (origin + path), unredacted. */
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: Body | undefined
  /** Whether the request goes to an absolute URL of its own (a presigned target), not to the client's base URL. */
  readonly external: boolean
}

/** The parts of a client's base URL. @since 0.1.0 */
export interface Base {
  readonly origin: string
  /** The base path without a trailing slash (`/user/alice`). */
  readonly path: string
  /** A query the base URL carries (`?x=1`), kept on every URL; "" if none. */
  readonly search: string
  /** Why the base URL cannot work (every call then fails with `InvalidRequest` naming `baseUrl`). */
  readonly invalid: string | undefined
}

/**
 * Parses a base URL once; an unusable one is reported by every call instead
 * of crashing the layer.
 *
 * @since 0.1.0
 */
export const parseBase = (raw: string): Base => {
  const parsed = parseHttpUrl(raw.replace(/\/+$/, ""))
  if (Either.isLeft(parsed)) return { origin: "", path: "", search: "", invalid: parsed.left }
  const url = parsed.right
  return { origin: url.origin, path: url.pathname.replace(/\/+$/, ""), search: url.search, invalid: undefined }
}

const parseHttpUrl = (raw: string): Either.Either<URL, string> => {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return Either.left(`is not a URL: ${JSON.stringify(Redaction.redactUrl(raw).slice(0, 200))}`)
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Either.left(`must be http or https (got ${url.protocol})`)
  }
  return Either.right(url)
}

/** A lone UTF-16 surrogate: not encodable as UTF-8, so `encodeURIComponent` throws and `URLSearchParams` replaces it. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Whether a string is well-formed UTF-16 (and so has a UTF-8 form). @since 0.1.0 */
export const isWellFormed = (s: string): boolean => !loneSurrogate.test(s)

/** An HTTP token (RFC 9110), what a header name must be. */
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** A header value: visible Latin-1, spaces and tabs; no CR, LF or NUL (RFC 9110 field-value). */
const fieldValue = /^[\t\x20-\x7E\x80-\xFF]*$/

/**
 * Checks a header before it goes out: what a transport would refuse (or, for
 * CR/LF, what would split the request) is a refusal here. A secret's value is
 * never repeated in the message.
 *
 * @since 0.1.0
 */
export const checkHeader = (name: string, value: string, field: string): Refusal | undefined => {
  if (!token.test(name)) return { field, message: `${JSON.stringify(name.slice(0, 60))} is not a valid header name` }
  if (!fieldValue.test(value)) {
    const bad = /[\r\n\0]/.test(value)
      ? "contains a line break or NUL"
      : /[^\x00-\xFF]/.test(value)
      ? "contains a character outside Latin-1 (HTTP header values are bytes)"
      : "contains a control character"
    return { field, message: `${bad}; it cannot be sent in the ${name} header` }
  }
  return undefined
}

const noQuery: Either.Either<string, Refusal> = Either.right("")

/** Encodes a query; `undefined` values are not sent. @since 0.1.0 */
export const encodeQuery = (
  query: Readonly<Record<string, ApiClient.QueryValue>> | undefined
): Either.Either<string, Refusal> => {
  if (query === undefined) return noQuery
  let out = ""
  for (const key in query) {
    const v = query[key]
    if (v === undefined) continue
    const s = String(v)
    if (!isWellFormed(s) || !isWellFormed(key)) return Either.left({ field: key, message: "is not valid Unicode (it holds a lone surrogate)" })
    out += `${out === "" ? "?" : "&"}${encodeURIComponent(key)}=${encodeURIComponent(s)}`
  }
  return Either.right(out)
}

/** The first problem of a schema error, as a field path and a message. @since 0.1.0 */
export const issuePath = (error: ParseResult.ParseError): Refusal => {
  const first = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (first === undefined) return { field: "(root)", message: error.message }
  const path = first.path.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc === "" ? String(key) : `${acc}.${String(key)}`),
    ""
  )
  return { field: path === "" ? "(root)" : path, message: first.message }
}

const encodeBody = (body: ApiClient.Body): Either.Either<Body, Refusal> => {
  switch (body._tag) {
    case "Json": {
      const encoded = body.encode()
      if (Either.isLeft(encoded)) return Either.left(issuePath(encoded.left))
      let text: string
      try {
        text = JSON.stringify(encoded.right)
      } catch (e) {
        return Either.left({ field: "(body)", message: `cannot be written as JSON: ${e instanceof Error ? e.message : String(e)}` })
      }
      return Either.right({ _tag: "Text", text, contentType: "application/json" })
    }
    case "Form": {
      const fields: Record<string, string> = {}
      for (const [k, v] of Object.entries(body.fields)) {
        const value = Redacted.isRedacted(v) ? Redacted.value(v) : v
        if (!isWellFormed(value) || !isWellFormed(k)) {
          return Either.left({ field: k, message: "is not valid Unicode (it holds a lone surrogate)" })
        }
        fields[k] = value
      }
      return Either.right({
        _tag: "Text",
        text: new URLSearchParams(fields).toString(),
        contentType: "application/x-www-form-urlencoded"
      })
    }
    case "Bytes":
      return Either.right({ _tag: "Bytes", bytes: body.bytes, contentType: body.contentType })
    case "Stream":
      if (body.contentLength !== undefined && !(Number.isSafeInteger(body.contentLength) && body.contentLength >= 0)) {
        return Either.left({ field: "contentLength", message: `must be a whole number ≥ 0 (got ${body.contentLength})` })
      }
      return Either.right({
        _tag: "Stream",
        contentType: body.contentType,
        contentLength: body.contentLength,
        open: body.open
      })
  }
}

/**
 * Marks a headers object as one that every call of a client shares, made once
 * and never changed (it is frozen): a transport may keep work it does on it
 * (the platform's form of it) for as long as the object lives.
 *
 * @since 0.1.0
 */
export const shared = (headers: Record<string, string>): Readonly<Record<string, string>> => Object.freeze(headers)

/** Whether a request's headers are a client's shared ones (see {@link shared}), not made for this call. @since 0.1.0 */
export const isShared = (headers: Readonly<Record<string, string>>): boolean => Object.isFrozen(headers)

/** A client's fixed headers with a content type, made once per pair (they never change once made). */
const contentTyped = new WeakMap<Readonly<Record<string, string>>, Map<string, Readonly<Record<string, string>>>>()

const withContentType = (headers: Readonly<Record<string, string>>, contentType: string): Readonly<Record<string, string>> => {
  let byType = contentTyped.get(headers)
  if (byType === undefined) {
    byType = new Map()
    contentTyped.set(headers, byType)
  }
  let typed = byType.get(contentType)
  if (typed === undefined) {
    // Content types are a few per client (a multipart boundary is the one kind that differs each time).
    if (byType.size < 16) {
      typed = shared({ ...headers, "content-type": contentType })
      byType.set(contentType, typed)
    } else {
      typed = { ...headers, "content-type": contentType }
    }
  }
  return typed
}

/** What a client adds to every request it sends to its own base URL. @since 0.1.0 */
export interface Fixed {
  readonly base: Base
  /** accept, user-agent, the client's extra headers and static credentials, already checked. */
  readonly headers: Readonly<Record<string, string>>
  /** The same without credentials and the client's extra headers (for `authenticated: false`). */
  readonly anonymousHeaders: Readonly<Record<string, string>>
}

/**
 * The request of an operation, or why it cannot be sent.
 *
 * @since 0.1.0
 */
export const prepare = <A>(
  fixed: Fixed,
  request: ApiClient.Request<A>
): Either.Either<Prepared, Refusal> => {
  const query = encodeQuery(request.query)
  if (Either.isLeft(query)) return Either.left(query.left)
  let origin: string
  let path: string
  const external = request.url !== undefined
  if (request.url !== undefined) {
    const url = parseHttpUrl(request.url)
    if (Either.isLeft(url)) return Either.left({ field: "url", message: url.left })
    origin = url.right.origin
    const q = query.right
    path = url.right.pathname + (url.right.search === "" ? q : q === "" ? url.right.search : `${url.right.search}&${q.slice(1)}`)
  } else {
    if (fixed.base.invalid !== undefined) return Either.left({ field: "baseUrl", message: `the base URL ${fixed.base.invalid}` })
    if (Either.isLeft(request.path)) return Either.left(request.path.left)
    const base = fixed.base
    const q = query.right
    origin = base.origin
    path = base.path + request.path.right + (base.search === "" ? q : q === "" ? base.search : `${q}&${base.search.slice(1)}`)
  }
  // The client's fixed headers as they are (never changed after the layer is built) unless this request adds some.
  let headers: Readonly<Record<string, string>> = external || request.authenticated === false
    ? fixed.anonymousHeaders
    : fixed.headers
  if (request.headers !== undefined) {
    const own: Record<string, string> = { ...headers }
    for (const [name, value] of Object.entries(request.headers)) {
      const problem = checkHeader(name, value, `headers.${name}`)
      if (problem !== undefined) return Either.left(problem)
      own[name.toLowerCase()] = value
    }
    headers = own
  }
  let body: Body | undefined
  if (request.body !== undefined) {
    const encoded = encodeBody(request.body)
    if (Either.isLeft(encoded)) return Either.left(encoded.left)
    body = encoded.right
    if (headers["content-type"] === undefined) {
      headers = request.headers === undefined
        ? withContentType(headers, body.contentType)
        : { ...headers, "content-type": body.contentType }
    }
  }
  return Either.right({ method: request.method, origin, path, url: origin + path, headers, body, external })
}
