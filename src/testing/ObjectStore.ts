/**
 * An S3-style object store as an `HttpApp`: presigned `PUT` URLs and presigned
 * multipart `POST` policies signed with the store's own secret, checked on
 * arrival (signature, expiry against `Clock`, key prefix, content-length
 * range), S3's XML errors, and the shared fault plans. Bodies are parsed as
 * they arrive, chunk by chunk, with multipasta (the parser `@effect/platform`'s
 * `Multipart` is built on) through its callbacks: the platform's `Stream` of
 * parts costs about 1 ms of CPU per request, more than all the rest of a small
 * upload (see `RequestBody`). Size and SHA-256 are computed on the fly and the
 * bytes are kept only up to a threshold, so a 1 GB upload costs no more
 * memory than a 1 KB one.
 *
 * Browser-safe: hashing and signing use `@noble/hashes` (no `node:crypto`).
 *
 * @since 0.1.0
 */
import { hmac } from "@noble/hashes/hmac.js"
import { sha256 } from "@noble/hashes/sha2.js"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Multipasta from "multipasta"
import * as Bytes from "../core/Bytes.js"
import * as Faults from "./Faults.js"
import * as RequestBody from "./RequestBody.js"

/** An incremental SHA-256 (`@noble/hashes` by default; `node:crypto`'s `createHash("sha256")` fits too). @since 0.1.0 */
export interface Hasher {
  readonly update: (chunk: Uint8Array) => unknown
  readonly digest: () => Uint8Array
}

/** Options of {@link make}. @since 0.1.0 */
export interface Options {
  /** Where the store is served, e.g. `http://127.0.0.1:4000` (presigned URLs start with it). */
  readonly origin: string
  /** Path of the bucket (default "/storage"). */
  readonly pathPrefix?: string
  /** Objects up to this size keep their bytes (default 8 MiB); larger ones keep only size and SHA-256. */
  readonly storeBytesUpTo?: number
  /** The SHA-256 implementation (default `@noble/hashes`, which runs anywhere). */
  readonly hasher?: () => Hasher
}

/** One stored object. @since 0.1.0 */
export interface StoredObject {
  readonly key: string
  readonly size: number
  /** Lowercase hex. */
  readonly sha256: string
  /** The content, when `size <= storeBytesUpTo`. */
  readonly bytes?: Uint8Array
  readonly contentType?: string
  /** The form fields of a presigned POST (all but `file`). */
  readonly fields?: Readonly<Record<string, string>>
}

/** One request as received (headers included, so tests can assert no credential was sent). @since 0.1.0 */
export interface RecordedRequest {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
}

/** A presigned POST: the URL and the form fields to send before `file`. @since 0.1.0 */
export interface PresignedPost {
  readonly url: string
  readonly fields: Readonly<Record<string, string>>
}

/** Options of a presigned request. @since 0.1.0 */
export interface PresignOptions {
  /** How long the URL or policy is valid (default 1 hour). */
  readonly expiresIn?: Duration.DurationInput
  /** Overrides `Options.origin` (an emulator serving the store on the caller's origin). */
  readonly origin?: string
}

/** A running store. @since 0.1.0 */
export interface ObjectStore {
  /** `PUT {prefix}/{key}?X-Amz-…` and `POST {prefix}` (multipart: fields, then `file`), with the fault middleware. */
  readonly app: HttpApp.Default<never, never>
  /** A presigned PUT URL for `key`. */
  readonly presignPut: (key: string, options?: PresignOptions) => Effect.Effect<string>
  /**
   * A presigned POST for keys under `keyPrefix`: the `key` field is
   * `${keyPrefix}${filename}` (S3 substitutes the file part's name).
   */
  readonly presignPost: (
    keyPrefix: string,
    options?: PresignOptions & { readonly maxBytes?: number }
  ) => Effect.Effect<PresignedPost>
  readonly get: (key: string) => Effect.Effect<Option.Option<StoredObject>>
  /** Every object, in the order of their first upload. */
  readonly list: Effect.Effect<ReadonlyArray<StoredObject>>
  readonly faults: Faults.Controller
  /** Call `listener` after each object is stored (before the response is sent). */
  readonly onStored: (listener: (object: StoredObject) => Effect.Effect<void>) => Effect.Effect<void>
  /** The last 100 requests, oldest first. */
  readonly recent: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** Requests answered with an error (S3 XML), by code. */
  readonly errors: Effect.Effect<Readonly<Record<string, number>>>
}

/** The size above which only the hash and size are kept (8 MiB). @since 0.1.0 */
export const defaultStoreBytesUpTo = 8 * 1024 * 1024

/** The largest object a presigned POST allows unless `maxBytes` (5 GiB, S3's single-upload maximum). @since 0.1.0 */
export const defaultMaxBytes = 5 * 1024 * 1024 * 1024

// ---------------------------------------------------------------------------
// S3 errors

class S3Error extends Data.TaggedError("S3Error")<{
  readonly status: number
  readonly code: string
  readonly message: string
  readonly extra?: Readonly<Record<string, string>>
}> {}

const xmlEscape = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;")

/** S3's XML error body. @since 0.1.0 */
export const errorXml = (
  code: string,
  message: string,
  requestId: string,
  extra?: Readonly<Record<string, string>>
): string => {
  let body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(code)}</Code><Message>${
    xmlEscape(message)
  }</Message>`
  if (extra !== undefined) {
    for (const name in extra) body += `<${name}>${xmlEscape(extra[name] ?? "")}</${name}>`
  }
  return body + `<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`
}

const codesByStatus: Record<number, readonly [string, string]> = {
  400: ["InvalidRequest", "Invalid Request"],
  403: ["AccessDenied", "Access Denied"],
  404: ["NoSuchKey", "The specified key does not exist."],
  429: ["SlowDown", "Please reduce your request rate."],
  500: ["InternalError", "We encountered an internal error. Please try again."],
  501: ["NotImplemented", "A header you provided implies functionality that is not implemented."],
  503: ["SlowDown", "Please reduce your request rate."]
}

const defaultCode = (status: number): readonly [string, string] =>
  codesByStatus[status] ?? [Faults.reasonPhrase(status).replace(/\s+/g, ""), Faults.reasonPhrase(status)]

const xmlResponse = (status: number, body: string, requestId: string, headers?: Record<string, string>) =>
  HttpServerResponse.text(body, {
    status,
    contentType: "application/xml",
    headers: { "x-amz-request-id": requestId, ...headers }
  })

// ---------------------------------------------------------------------------
// signing

const encoder = new TextEncoder()
const decoder = new TextDecoder()

const hex = (bytes: Uint8Array): string => {
  let out = ""
  for (let i = 0; i < bytes.length; i++) out += (bytes[i] ?? 0).toString(16).padStart(2, "0")
  return out
}

/** `YYYYMMDDTHHMMSSZ`. */
const isoOf = (millis: number): string => DateTime.formatIso(DateTime.unsafeMake(millis))

const amzDate = (millis: number): string => isoOf(millis).replace(/[-:]/g, "").replace(/\.\d+/, "")

const parseAmzDate = (raw: string): number | undefined => {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(raw)
  if (m === null) return undefined
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
}

const credentialOf = (millis: number): string => `EMULATOR/${amzDate(millis).slice(0, 8)}/us-east-1/s3/aws4_request`

const encodeKey = (key: string): string => key.split("/").map(encodeURIComponent).join("/")

const base64Encode = (text: string): string => {
  const bytes = encoder.encode(text)
  let binary = ""
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i] ?? 0)
  return btoa(binary)
}

const base64Decode = (b64: string): string | undefined => {
  try {
    const binary = atob(b64)
    const bytes = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
    return decoder.decode(bytes)
  } catch {
    return undefined
  }
}

const timingSafeEqual = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return diff === 0
}

type Condition =
  | { readonly _tag: "Eq"; readonly field: string; readonly value: string }
  | { readonly _tag: "StartsWith"; readonly field: string; readonly prefix: string }
  | { readonly _tag: "Range"; readonly min: number; readonly max: number }

type RangeCondition = Extract<Condition, { readonly _tag: "Range" }>

const ignoreChunk = (_chunk: Uint8Array | null): void => undefined

interface Policy {
  readonly expiration: number
  readonly conditions: ReadonlyArray<Condition>
}

const parsePolicy = (json: string): Policy | undefined => {
  let raw: unknown
  try {
    raw = JSON.parse(json)
  } catch {
    return undefined
  }
  if (typeof raw !== "object" || raw === null || !("expiration" in raw) || !("conditions" in raw)) return undefined
  const expiration = typeof raw.expiration === "string" ? Date.parse(raw.expiration) : NaN
  if (!Number.isFinite(expiration) || !Array.isArray(raw.conditions)) return undefined
  const conditions: Array<Condition> = []
  for (const c of raw.conditions as ReadonlyArray<unknown>) {
    if (Array.isArray(c)) {
      const [op, a, b] = c as ReadonlyArray<unknown>
      if (op === "content-length-range" && typeof a === "number" && typeof b === "number") {
        conditions.push({ _tag: "Range", min: a, max: b })
      } else if (op === "starts-with" && typeof a === "string" && typeof b === "string") {
        conditions.push({ _tag: "StartsWith", field: a.replace(/^\$/, "").toLowerCase(), prefix: b })
      } else if (op === "eq" && typeof a === "string" && typeof b === "string") {
        conditions.push({ _tag: "Eq", field: a.replace(/^\$/, "").toLowerCase(), value: b })
      } else {
        return undefined
      }
    } else if (typeof c === "object" && c !== null) {
      for (const [field, value] of Object.entries(c)) {
        if (typeof value !== "string") return undefined
        conditions.push({ _tag: "Eq", field: field.toLowerCase(), value })
      }
    } else {
      return undefined
    }
  }
  return { expiration, conditions }
}

const conditionText = (c: Condition): string =>
  c._tag === "Eq"
    ? `["eq", "$${c.field}", "${c.value}"]`
    : c._tag === "StartsWith"
    ? `["starts-with", "$${c.field}", "${c.prefix}"]`
    : `["content-length-range", ${c.min}, ${c.max}]`

// Fields S3 never asks a policy to cover.
const unconditioned = new Set(["policy", "x-amz-signature", "file", "awsaccesskeyid", "signature", "x-ignore"])

// ---------------------------------------------------------------------------
// the store

interface MutableObject {
  key: string
  size: number
  sha256: string
  bytes?: Uint8Array
  contentType?: string
  fields?: Readonly<Record<string, string>>
}

const RECENT = 100

/** Hashes, counts and (up to `keepUpTo`) keeps the chunks of one body. */
class Sink {
  size = 0
  private chunks: Array<Uint8Array> | undefined = []
  private readonly hash: Hasher
  constructor(hasher: () => Hasher, private readonly keepUpTo: number) {
    this.hash = hasher()
  }
  write(chunk: Uint8Array): void {
    this.size += chunk.length
    this.hash.update(chunk)
    if (this.chunks !== undefined) {
      if (this.size > this.keepUpTo) this.chunks = undefined
      // Copy: a transport may reuse its buffers.
      else this.chunks.push(chunk.slice())
    }
  }
  finish(): { readonly size: number; readonly sha256: string; readonly bytes: Uint8Array | undefined } {
    return {
      size: this.size,
      sha256: hex(this.hash.digest()),
      bytes: this.chunks === undefined ? undefined : Bytes.concat(this.chunks)
    }
  }
}

const nobleHasher = (): Hasher => sha256.create()

/**
 * A fresh, empty store with a random secret (from `Random`). Time (expiry)
 * comes from `Clock`, so `TestClock` drives it.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<ObjectStore> =>
  Effect.gen(function*() {
    const prefix = (options.pathPrefix ?? "/storage").replace(/\/+$/, "")
    const keepUpTo = options.storeBytesUpTo ?? defaultStoreBytesUpTo
    const hasher = options.hasher ?? nobleHasher
    const secretWords = yield* Effect.all(Array.from({ length: 8 }, () => Random.nextIntBetween(0, 0x10000)))
    const secret = encoder.encode(`emulator-secret-${secretWords.map((n) => n.toString(16)).join("")}`)
    const sign = (text: string): string => hex(hmac(sha256, secret, encoder.encode(text)))
    const faults = yield* Faults.makeController({ statusBody: (status) => ({ s3: defaultCode(status) }) })

    const objects = new Map<string, MutableObject>()
    const listeners: Array<(object: StoredObject) => Effect.Effect<void>> = []
    const ring: Array<RecordedRequest | undefined> = new Array(RECENT)
    const errorCounts: Record<string, number> = {}
    let requests = 0

    const requestIdOf = (n: number): string => `EMU${n.toString(16).toUpperCase().padStart(13, "0")}`

    const store = (object: MutableObject): Effect.Effect<void> =>
      Effect.suspend(() => {
        objects.set(object.key, object)
        const frozen: StoredObject = { ...object }
        return listeners.length === 0
          ? Effect.void
          : listeners.length === 1
          ? listeners[0]!(frozen)
          : Effect.forEach(listeners, (l) => l(frozen), { discard: true })
      })

    // -- presigning ---------------------------------------------------------

    const presignPut = (key: string, presign?: PresignOptions): Effect.Effect<string> =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const start = Math.floor(now / 1000) * 1000
        const expires = Math.max(1, Math.round(Duration.toSeconds(Duration.decode(presign?.expiresIn ?? "1 hour"))))
        const date = amzDate(start)
        const signature = sign(`PUT\n${key}\n${date}\n${expires}`)
        const query = new URLSearchParams({
          "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
          "X-Amz-Credential": credentialOf(start),
          "X-Amz-Date": date,
          "X-Amz-Expires": String(expires),
          "X-Amz-SignedHeaders": "host",
          "X-Amz-Signature": signature
        })
        return `${presign?.origin ?? options.origin}${prefix}/${encodeKey(key)}?${query.toString()}`
      })

    const presignPost = (
      keyPrefix: string,
      presign?: PresignOptions & { readonly maxBytes?: number }
    ): Effect.Effect<PresignedPost> =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const start = Math.floor(now / 1000) * 1000
        const expiresIn = Duration.toMillis(Duration.decode(presign?.expiresIn ?? "1 hour"))
        const date = amzDate(start)
        const credential = credentialOf(start)
        const policy = base64Encode(JSON.stringify({
          expiration: isoOf(start + expiresIn),
          conditions: [
            { bucket: "emulator" },
            ["starts-with", "$key", keyPrefix],
            ["content-length-range", 0, presign?.maxBytes ?? defaultMaxBytes],
            { "x-amz-algorithm": "AWS4-HMAC-SHA256" },
            { "x-amz-credential": credential },
            { "x-amz-date": date }
          ]
        }))
        return {
          url: `${presign?.origin ?? options.origin}${prefix}`,
          fields: {
            key: `${keyPrefix}\${filename}`,
            "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": credential,
            "x-amz-date": date,
            policy,
            "x-amz-signature": sign(`POST\n${policy}`)
          }
        }
      })

    // -- PUT ------------------------------------------------------------------

    const putObject = (
      request: HttpServerRequest.HttpServerRequest,
      key: string,
      params: URLSearchParams
    ): Effect.Effect<HttpServerResponse.HttpServerResponse, S3Error> =>
      Effect.gen(function*() {
        const signature = params.get("X-Amz-Signature")
        const date = params.get("X-Amz-Date")
        const expiresRaw = params.get("X-Amz-Expires")
        if (signature === null || date === null || expiresRaw === null) {
          return yield* new S3Error({ status: 403, code: "AccessDenied", message: "Access Denied" })
        }
        const signedAt = parseAmzDate(date)
        const expires = Number(expiresRaw)
        if (signedAt === undefined || !Number.isInteger(expires) || expires < 1 || expires > 604800) {
          return yield* new S3Error({
            status: 400,
            code: "AuthorizationQueryParametersError",
            message: "X-Amz-Expires must be a whole number of seconds between 1 and 604800, X-Amz-Date YYYYMMDD'T'HHMMSS'Z'"
          })
        }
        if (!timingSafeEqual(signature, sign(`PUT\n${key}\n${date}\n${expires}`))) {
          return yield* new S3Error({
            status: 403,
            code: "SignatureDoesNotMatch",
            message:
              "The request signature we calculated does not match the signature you provided. Check your key and signing method."
          })
        }
        const now = yield* Clock.currentTimeMillis
        if (now > signedAt + expires * 1000) {
          return yield* new S3Error({
            status: 403,
            code: "AccessDenied",
            message: "Request has expired",
            extra: { Expires: isoOf(signedAt + expires * 1000), ServerTime: isoOf(now) }
          })
        }
        const sink = new Sink(hasher, keepUpTo)
        yield* RequestBody.forEachChunk(request, (chunk) => void sink.write(chunk)).pipe(
          Effect.mapError(() =>
            new S3Error({ status: 400, code: "IncompleteBody", message: "You did not provide the number of bytes specified by the Content-Length HTTP header" })
          )
        )
        const done = sink.finish()
        const contentType = request.headers["content-type"]
        yield* store({
          key,
          size: done.size,
          sha256: done.sha256,
          ...(done.bytes !== undefined ? { bytes: done.bytes } : {}),
          ...(contentType !== undefined ? { contentType } : {})
        })
        return HttpServerResponse.empty({ status: 200, headers: { etag: `"${done.sha256.slice(0, 32)}"` } })
      })

    // -- POST -----------------------------------------------------------------

    /** The policy of a POST's fields, checked (signature, expiry at `now`, every condition, no extra field); or the S3 error. */
    // The signature a policy must carry and the policy parsed, by its base64 text: every file of a session is POSTed
    // with the same policy, whose HMAC and JSON were computed for each file (~25 µs of the server's CPU).
    const policies = new Map<string, { readonly expected: string; readonly policy: Policy | undefined }>()
    const policyOf = (policyB64: string) => {
      let known = policies.get(policyB64)
      if (known === undefined) {
        if (policies.size >= 1024) policies.clear()
        const decoded = base64Decode(policyB64)
        known = { expected: sign(`POST\n${policyB64}`), policy: decoded === undefined ? undefined : parsePolicy(decoded) }
        policies.set(policyB64, known)
      }
      return known
    }

    const checkPolicy = (fields: Readonly<Record<string, string>>, now: number): Policy | S3Error => {
      const policyB64 = fields["policy"]
      const signature = fields["x-amz-signature"]
      if (policyB64 === undefined || signature === undefined) {
        return new S3Error({ status: 403, code: "AccessDenied", message: "Access Denied" })
      }
      const known = policyOf(policyB64)
      if (!timingSafeEqual(signature, known.expected)) {
        return new S3Error({
          status: 403,
          code: "SignatureDoesNotMatch",
          message:
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        })
      }
      const policy = known.policy
      if (policy === undefined) {
        return new S3Error({ status: 400, code: "InvalidPolicyDocument", message: "Invalid Policy: Invalid JSON." })
      }
      if (now > policy.expiration) {
        return new S3Error({ status: 403, code: "AccessDenied", message: "Invalid according to Policy: Policy expired." })
      }
      for (const c of policy.conditions) {
        if (c._tag === "Range") continue
        const value = fields[c.field]
        if (c.field === "bucket") continue
        const ok = value !== undefined && (c._tag === "Eq" ? value === c.value : value.startsWith(c.prefix))
        if (!ok) {
          return new S3Error({
            status: 403,
            code: "AccessDenied",
            message: `Invalid according to Policy: Policy Condition failed: ${conditionText(c)}`
          })
        }
      }
      for (const name in fields) {
        if (unconditioned.has(name) || name.startsWith("x-ignore-")) continue
        if (!policy.conditions.some((c) => c._tag !== "Range" && c.field === name)) {
          return new S3Error({
            status: 403,
            code: "AccessDenied",
            message: `Invalid according to Policy: Extra input fields: ${name}`
          })
        }
      }
      return policy
    }

    /**
     * One POST body, parsed as it arrives (multipasta's callbacks, chunk by
     * chunk): the fields before `file` are collected; at the `file` part the
     * policy is checked (at the Clock's time then); its bytes are hashed,
     * counted against the content-length range and kept up to the threshold;
     * every part after it is ignored (as S3 does).
     */
    class PostParser {
      readonly fields: Record<string, string> = {}
      stored: MutableObject | undefined
      failure: S3Error | undefined
      private file: { readonly key: string; readonly partType: string; readonly range: RangeCondition | undefined; readonly sink: Sink } | undefined
      private fileSeen = false
      private readonly parser: Multipasta.Parser
      constructor(headers: Readonly<Record<string, string>>, private readonly clock: Clock.Clock) {
        this.parser = Multipasta.make({
          headers,
          // @effect/platform's defaults: fields up to 10 MiB, a JSON part is a field.
          maxFieldSize: 10 * 1024 * 1024,
          isFile: (info) => !info.contentType.includes("application/json") && Multipasta.defaultIsFile(info),
          onField: (info, value) => {
            if (this.fileSeen || this.failure !== undefined) return
            if (info.name === "file") {
              // A `file` sent as a plain field: a file without a name.
              this.startFile("", info.contentType)
              this.write(value)
              this.endFile()
              return
            }
            this.fields[info.name.toLowerCase()] = Multipasta.decodeField(info, value)
          },
          onFile: (info) => {
            // S3 ignores every part after the file, and any other file part.
            if (this.fileSeen || this.failure !== undefined || info.name !== "file") return ignoreChunk
            this.startFile(info.filename ?? info.name, info.contentType)
            return (chunk) => {
              if (chunk === null) this.endFile()
              else this.write(chunk)
            }
          },
          onError: (error) => {
            this.failure ??= malformed(error)
          },
          onDone: () => undefined
        })
      }
      private startFile(name: string, partType: string): void {
        this.fileSeen = true
        const policy = checkPolicy(this.fields, this.clock.unsafeCurrentTimeMillis())
        if (policy instanceof S3Error) {
          this.failure = policy
          return
        }
        const key = (this.fields["key"] ?? "").replace(/\$\{filename\}/g, name)
        if (key === "") {
          this.failure = new S3Error({ status: 400, code: "InvalidArgument", message: "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields." })
          return
        }
        const range = policy.conditions.find((c): c is RangeCondition => c._tag === "Range")
        this.file = { key, partType, range, sink: new Sink(hasher, keepUpTo) }
      }
      private write(chunk: Uint8Array): void {
        const file = this.file
        if (file === undefined || this.failure !== undefined) return
        file.sink.write(chunk)
        const max = file.range?.max ?? Infinity
        if (file.sink.size > max) {
          this.failure = new S3Error({
            status: 400,
            code: "EntityTooLarge",
            message: "Your proposed upload exceeds the maximum allowed size",
            extra: { MaxSizeAllowed: String(max) }
          })
        }
      }
      private endFile(): void {
        const file = this.file
        this.file = undefined
        if (file === undefined || this.failure !== undefined) return
        const done = file.sink.finish()
        if (file.range !== undefined && done.size < file.range.min) {
          this.failure = new S3Error({
            status: 400,
            code: "EntityTooSmall",
            message: "Your proposed upload is smaller than the minimum allowed size",
            extra: { MinSizeAllowed: String(file.range.min) }
          })
          return
        }
        this.stored = {
          key: file.key,
          size: done.size,
          sha256: done.sha256,
          ...(done.bytes !== undefined ? { bytes: done.bytes } : {}),
          contentType: this.fields["content-type"] ?? file.partType,
          fields: { ...this.fields }
        }
      }
      /** Feeds a chunk; the error that stops the read, if any. */
      feed(chunk: Uint8Array): S3Error | undefined {
        this.parser.write(chunk)
        return this.failure
      }
      /** The body has ended: the error, if the parse found one. */
      end(): S3Error | undefined {
        if (this.failure === undefined) this.parser.end()
        return this.failure
      }
    }

    const postObject = (
      request: HttpServerRequest.HttpServerRequest
    ): Effect.Effect<HttpServerResponse.HttpServerResponse, S3Error> =>
      Effect.suspend(() => {
        const contentType = request.headers["content-type"] ?? ""
        if (!/^multipart\/form-data/i.test(contentType)) {
          return Effect.fail(new S3Error({
            status: 412,
            code: "PreconditionFailed",
            message: "At least one of the pre-conditions you specified did not hold",
            extra: { Condition: "Bucket POST must be of the enclosure-type multipart/form-data" }
          }))
        }
        return Effect.clockWith((clock) => {
          const parser = new PostParser(request.headers, clock)
          return RequestBody.forEachChunk(request, (chunk) => parser.feed(chunk)).pipe(
            Effect.catchTag("BodyCut", () =>
              Effect.fail(new S3Error({ status: 400, code: "IncompleteBody", message: "The request body terminated unexpectedly" }))),
            Effect.flatMap(() => {
              const failure = parser.end()
              if (failure !== undefined) return Effect.fail(failure)
              const object = parser.stored
              if (object === undefined) {
                return Effect.fail(new S3Error({ status: 400, code: "InvalidArgument", message: "POST requires exactly one file upload per request." }))
              }
              return Effect.as(store(object), postResponse(object, parser.fields["success_action_status"]))
            })
          )
        })
      })

    const postResponse = (object: MutableObject, status: string | undefined): HttpServerResponse.HttpServerResponse => {
      const etag = `"${object.sha256.slice(0, 32)}"`
      const location = `${options.origin}${prefix}/${encodeKey(object.key)}`
      if (status === "201") {
        return HttpServerResponse.text(
          `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${xmlEscape(location)}</Location><Bucket>emulator</Bucket><Key>${
            xmlEscape(object.key)
          }</Key><ETag>${xmlEscape(etag)}</ETag></PostResponse>`,
          { status: 201, contentType: "application/xml", headers: { etag, location } }
        )
      }
      return HttpServerResponse.empty({ status: status === "200" ? 200 : 204, headers: { etag, location } })
    }

    const malformed = (_error: Multipasta.MultipartError): S3Error =>
      new S3Error({
        status: 400,
        code: "MalformedPOSTRequest",
        message: "The body of your POST request is not well-formed multipart/form-data."
      })

    // -- routing --------------------------------------------------------------

    const handle = (
      request: HttpServerRequest.HttpServerRequest
    ): Effect.Effect<HttpServerResponse.HttpServerResponse, S3Error> => {
      if (request.headers["x-api-key"] !== undefined || request.headers["authorization"] !== undefined) {
        return Effect.fail(
          new S3Error({
            status: 400,
            code: "InvalidArgument",
            message:
              "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            extra: { ArgumentName: request.headers["authorization"] !== undefined ? "Authorization" : "X-API-Key" }
          })
        )
      }
      const url = request.url
      const q = url.indexOf("?")
      const path = q === -1 ? url : url.slice(0, q)
      const params = new URLSearchParams(q === -1 ? "" : url.slice(q + 1))
      if (path === prefix || path === `${prefix}/`) {
        if (request.method === "POST") return postObject(request)
        return Effect.fail(new S3Error({ status: 405, code: "MethodNotAllowed", message: "The specified method is not allowed against this resource." }))
      }
      if (path.startsWith(`${prefix}/`)) {
        let key: string
        try {
          key = decodeURIComponent(path.slice(prefix.length + 1))
        } catch {
          return Effect.fail(new S3Error({ status: 400, code: "InvalidURI", message: "Couldn't parse the specified URI." }))
        }
        if (request.method === "PUT") return putObject(request, key, params)
        return Effect.fail(new S3Error({ status: 405, code: "MethodNotAllowed", message: "The specified method is not allowed against this resource." }))
      }
      return Effect.fail(new S3Error({ status: 404, code: "NoSuchBucket", message: "The specified bucket does not exist" }))
    }

    const count = (code: string) => {
      errorCounts[code] = (errorCounts[code] ?? 0) + 1
    }

    // A Status fault answers JSON `{ s3: [code, message] }` (or the plan's own body): render it as S3's XML.
    const faultAsXml = (
      response: HttpServerResponse.HttpServerResponse,
      requestId: string
    ): HttpServerResponse.HttpServerResponse => {
      if (response.status < 400 || response.body._tag !== "Uint8Array" || response.body.contentType !== "application/json") {
        return response
      }
      let parsed: unknown
      try {
        parsed = JSON.parse(decoder.decode(response.body.body))
      } catch {
        parsed = undefined
      }
      if (typeof parsed === "string" && parsed.startsWith("<")) {
        return HttpServerResponse.text(parsed, { status: response.status, contentType: "application/xml", headers: response.headers })
      }
      const [code, message] = typeof parsed === "object" && parsed !== null && "s3" in parsed && Array.isArray(parsed.s3)
        ? [String(parsed.s3[0]), String(parsed.s3[1])]
        : defaultCode(response.status)
      count(code)
      return HttpServerResponse.text(errorXml(code, message, requestId), {
        status: response.status,
        contentType: "application/xml",
        headers: { ...response.headers, "x-amz-request-id": requestId }
      })
    }

    const app: HttpApp.Default<never, never> = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const n = ++requests
      const headers: Record<string, string> = {}
      for (const name in request.headers) {
        const value = request.headers[name]
        if (value !== undefined) headers[name] = value
      }
      ring[(n - 1) % RECENT] = { method: request.method, url: request.url, headers }
      const requestId = requestIdOf(n)
      const inner = Effect.catchTag(Effect.suspend(() => handle(request)), "S3Error", (error) => {
        count(error.code)
        return Effect.succeed(xmlResponse(error.status, errorXml(error.code, error.message, requestId, error.extra), requestId))
      })
      return faults.middleware(inner).pipe(
        Effect.map((response) => faultAsXml(response, requestId)),
        Effect.orDie
      )
    })

    return {
      app,
      presignPut,
      presignPost,
      get: (key) => Effect.sync(() => Option.map(Option.fromNullable(objects.get(key)), (o): StoredObject => ({ ...o }))),
      list: Effect.sync(() => Array.from(objects.values(), (o): StoredObject => ({ ...o }))),
      faults,
      onStored: (listener) => Effect.sync(() => void listeners.push(listener)),
      recent: Effect.sync(() => {
        const out: Array<RecordedRequest> = []
        for (let k = Math.max(0, requests - RECENT); k < requests; k++) {
          const r = ring[k % RECENT]
          if (r !== undefined) out.push(r)
        }
        return out
      }),
      errors: Effect.sync(() => ({ ...errorCounts }))
    } satisfies ObjectStore
  })
