/**
 * An emulator of deepset Cloud's upload-sessions API as an `HttpApp`, with
 * fault injection, request statistics and seeding, and the S3-style upload
 * target ({@link ObjectStore}) served by the same app under `/storage`: a
 * session's `aws_prefixed_request_config` is a real presigned POST to it, on
 * the origin the request came to (the loopback server, or the in-memory
 * client's base URL). Uploaded files are registered in their session (a
 * `<name>.meta.json` companion becomes the file's meta, as deepset does);
 * after close they move from PENDING to FINISHED or FAILED over the
 * configured ingestion time, on `Clock`.
 *
 * Seeded files are generated on demand from a session's file count (nothing
 * per file is stored), so a seeded session pages at full speed with flat
 * memory.
 *
 * Limits, known and assumed (see the specs' README, section 3):
 * - known: a session lives 24 h, holds at most 10 000 files; a listing's page
 *   size defaults to 10. Sessions and files larger than that exist only with
 *   {@link Options.unlimitedForBenchmarks}.
 * - assumed: the largest accepted `limit` (1000 here, {@link Options.maxPageSize});
 *   deepset documents none. A file uploaded beyond the 10 000 of a session is
 *   stored by S3 but fails ingestion (`UNKNOWN_ERROR`) here; how the real
 *   service answers is not documented. An upload to a closed session is
 *   stored by S3 and never ingested.
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DateTime from "effect/DateTime"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import type * as Schemas from "../deepset/Schemas.js"
import * as Faults from "./Faults.js"
import * as InMemory from "./InMemory.js"
import * as ObjectStore from "./ObjectStore.js"
import type * as Recorded from "./Recorded.js"

/** The real service's base URL; the in-memory client ignores the host anyway. @since 0.1.0 */
export const baseUrl = "https://api.cloud.deepset.ai"

/** Who creates the emulator's sessions. @since 0.1.0 */
export interface User {
  readonly user_id: string
  readonly given_name: string
  readonly family_name: string
}

/** The files a session holds at most (deepset's documented limit). @since 0.1.0 */
export const maxFilesPerSession = 10_000

/** How long a session lives (deepset's documented 24 h). @since 0.1.0 */
export const sessionLifetime: Duration.Duration = Duration.hours(24)

/** Options of {@link make}. @since 0.1.0 */
export interface Options {
  /** The only API key accepted (`Authorization: Bearer <apiKey>`). */
  readonly apiKey: string
  /** `created_by` of every session. */
  readonly user?: User
  /** Largest accepted `limit` (default 1000: an assumption, deepset documents no maximum; the default is 10). */
  readonly maxPageSize?: number
  /** How long after close the first file stays PENDING (default 0). */
  readonly ingestionDelay?: Duration.DurationInput
  /**
   * How long ingesting a session's files takes after `ingestionDelay` (default
   * 0: all at once). Files are ingested in order, evenly over this time, so
   * `getStatus` and the file listing show the counts growing.
   */
  readonly ingestionTime?: Duration.DurationInput
  /** Uploaded files (by name) that fail ingestion with `UNKNOWN_ERROR` (default none). */
  readonly failIngestion?: (name: string) => boolean
  /**
   * Lift the real limits (10 000 files a session) for stress benchmarks and
   * demos of very large listings: `seedSession` and `addFiles` then accept
   * any count. Without it they die beyond the limit.
   */
  readonly unlimitedForBenchmarks?: boolean
  /** The upload target (`ObjectStore`): its path (default "/storage"), byte threshold, hasher, or a fixed origin. */
  readonly storage?: Partial<ObjectStore.Options>
}

/** Request counters. @since 0.1.0 */
export interface Stats {
  readonly requests: number
  readonly inFlight: number
  readonly interrupted: number
  /** e.g. `"POST /upload_sessions"`, `"GET /upload_sessions/{id}/files"`, `"POST /storage"`; unknown routes count as `"OTHER"`. */
  readonly byRoute: Record<string, number>
  /** Files registered in sessions by uploads (meta companions not counted). */
  readonly uploadedFiles: number
  /** Uploads stored by S3 that no session took (closed, expired or unknown session). */
  readonly ignoredUploads: number
}

/** One recorded request (as received, secrets included). @since 0.1.0 */
export type RecordedRequest = Recorded.RecordedRequest

/** Options of {@link Emulator.seedSession}. @since 0.1.0 */
export interface SeedOptions {
  readonly workspace: string
  readonly fileCount: number
  readonly status?: "OPEN" | "CLOSED"
  readonly createdAt?: DateTime.Utc
  readonly writeMode?: "KEEP" | "OVERWRITE" | "FAIL"
}

/** A running emulator. @since 0.1.0 */
export interface Emulator {
  /** The full app, fault middleware included (a dropped connection is a `Faults.ConnectionDropped` defect). */
  readonly app: HttpApp.Default<never, never>
  /** Faults of the API routes (the upload target has its own: `storage.faults`). */
  readonly faults: Faults.Controller
  /** The S3-style upload target served under `/storage` (its objects, faults and recorded requests). */
  readonly storage: ObjectStore.ObjectStore
  /** Add a session holding `fileCount` files (created now unless `createdAt`); returns its id. */
  readonly seedSession: (options: SeedOptions) => Effect.Effect<string>
  /** Register `count` more files in a session (as an upload would). */
  readonly addFiles: (sessionId: string, count: number) => Effect.Effect<void, Cause.NoSuchElementException>
  readonly stats: Effect.Effect<Stats>
  /** The last 100 requests, oldest first. */
  readonly recent: Effect.Effect<ReadonlyArray<RecordedRequest>>
}

/** The emulator of the current test. @since 0.1.0 */
export class DeepsetEmulator extends Context.Tag("effect-sessions/testing/DeepsetEmulator")<
  DeepsetEmulator,
  Emulator
>() {}

// ---------------------------------------------------------------------------
// wire helpers

type SessionWire = typeof Schemas.Session.Encoded
type SessionDetailWire = typeof Schemas.SessionDetail.Encoded
type UploadSessionWire = typeof Schemas.UploadSession.Encoded

interface Problem {
  readonly type: string
  readonly loc: ReadonlyArray<string | number>
  readonly msg: string
  readonly input: unknown
  readonly ctx?: Record<string, unknown>
}

const META_SUFFIX = ".meta.json"
const RECENT = 100
const documentationUrl = "https://docs.cloud.deepset.ai/docs"
const defaultUser: User = {
  user_id: "7c3f5b7e-2d1a-4c5b-9e8f-0a1b2c3d4e5f",
  given_name: "Ada",
  family_name: "Lovelace"
}

const json = (status: number, body: unknown): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(body, { status })

const notFound = json(404, { detail: "Not Found" })
const unprocessable = (problems: ReadonlyArray<Problem>) => json(422, { detail: problems })

const iso = (millis: number): string => DateTime.formatIso(DateTime.unsafeMake(millis))

const hex4 = (n: number): string => n.toString(16).padStart(4, "0")

const uuidPattern = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i

/** A UUID in canonical form (lowercase, dashed), or undefined. */
const normalizeUuid = (raw: string): string | undefined => {
  if (!uuidPattern.test(raw)) return undefined
  const h = raw.replace(/-/g, "").toLowerCase()
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

const randomUuid: Effect.Effect<string> = Effect.map(
  Effect.all([0, 1, 2, 3, 4, 5, 6, 7].map(() => Random.nextIntBetween(0, 0x10000))),
  ([a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0]) =>
    `${hex4(a)}${hex4(b)}-${hex4(c)}-${hex4((d & 0x0fff) | 0x4000)}-${hex4((e & 0x3fff) | 0x8000)}-${hex4(f)}${
      hex4(g)
    }${hex4(h)}`
)

const boolTrue = new Set(["1", "on", "t", "true", "y", "yes"])
const boolFalse = new Set(["0", "off", "f", "false", "n", "no"])

class Query {
  readonly problems: Array<Problem> = []
  constructor(readonly params: URLSearchParams) {}

  int(name: string, fallback: number, min: number, max?: number): number {
    const raw = this.params.get(name)
    if (raw === null) return fallback
    const n = Number(raw)
    if (!/^\s*[+-]?\d+\s*$/.test(raw) || !Number.isSafeInteger(n)) {
      this.problems.push({
        type: "int_parsing",
        loc: ["query", name],
        msg: "Input should be a valid integer, unable to parse string as an integer",
        input: raw
      })
      return fallback
    }
    if (n < min) {
      this.problems.push({
        type: "greater_than_equal",
        loc: ["query", name],
        msg: `Input should be greater than or equal to ${min}`,
        input: raw,
        ctx: { ge: min }
      })
    } else if (max !== undefined && n > max) {
      this.problems.push({
        type: "less_than_equal",
        loc: ["query", name],
        msg: `Input should be less than or equal to ${max}`,
        input: raw,
        ctx: { le: max }
      })
    }
    return n
  }

  uuid(name: string): string | undefined {
    const raw = this.params.get(name)
    if (raw === null) return undefined
    const id = normalizeUuid(raw)
    if (id === undefined) {
      this.problems.push({ type: "uuid_parsing", loc: ["query", name], msg: "Input should be a valid UUID", input: raw })
    }
    return id
  }

  bool(name: string): boolean | undefined {
    const raw = this.params.get(name)
    if (raw === null) return undefined
    const value = raw.toLowerCase()
    if (boolTrue.has(value)) return true
    if (boolFalse.has(value)) return false
    this.problems.push({
      type: "bool_parsing",
      loc: ["query", name],
      msg: "Input should be a valid boolean, unable to interpret input",
      input: raw
    })
    return undefined
  }

  literal<const L extends string>(name: string, literals: ReadonlyArray<L>): L | undefined {
    const raw = this.params.get(name)
    if (raw === null) return undefined
    const found = literals.find((l) => l === raw)
    if (found === undefined) {
      const expected = enumExpected(literals)
      this.problems.push({ type: "enum", loc: ["query", name], msg: `Input should be ${expected}`, input: raw, ctx: { expected } })
    }
    return found
  }
}

const enumExpected = (literals: ReadonlyArray<string>): string => {
  const quoted = literals.map((l) => `'${l}'`)
  return quoted.length <= 1 ? quoted.join("") : `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`
}

/** Parse a JSON object body the way FastAPI does; a response when it is not one. */
const jsonObjectBody = (
  request: HttpServerRequest.HttpServerRequest
): Effect.Effect<Record<string, unknown> | HttpServerResponse.HttpServerResponse> =>
  Effect.map(Effect.orElseSucceed(request.text, () => ""), (text) => {
    const contentType = request.headers["content-type"]
    if (contentType !== undefined && contentType !== "" && !/^application\/([\w.+-]*\+)?json\b/i.test(contentType)) {
      return json(415, { detail: "Unsupported Media Type" })
    }
    if (text.trim() === "") {
      return unprocessable([{ type: "missing", loc: ["body"], msg: "Field required", input: null }])
    }
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (error) {
      return unprocessable([{
        type: "json_invalid",
        loc: ["body", 0],
        msg: "JSON decode error",
        input: {},
        ctx: { error: error instanceof Error ? error.message : String(error) }
      }])
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      return unprocessable([{
        type: "model_attributes_type",
        loc: ["body"],
        msg: "Input should be a valid dictionary or object to extract fields from",
        input: body
      }])
    }
    return body as Record<string, unknown>
  })

// ---------------------------------------------------------------------------
// state

interface SessionRecord {
  readonly id: string
  readonly workspace: string
  /** Position in its workspace's creation order. */
  readonly index: number
  fileCount: number
  readonly createdAt: number
  readonly createdAtIso: string
  readonly expiresAtIso: string
  readonly writeMode: "KEEP" | "OVERWRITE" | "FAIL"
  closedAt: number | undefined
  /** File ids: this prefix, then 12 hex digits of (fileOffset + i) mod 2^48. */
  readonly filePrefix: string
  readonly fileOffset: number
  /** Files registered by uploads, after the `fileCount` generated ones. */
  readonly uploads: Array<UploadedFile>
  readonly uploadIndex: Map<string, number>
  /** `<name>.meta.json` companions by file name. */
  readonly metas: Map<string, string>
}

interface UploadedFile {
  readonly name: string
  size: number
  /** Why it fails ingestion, decided at upload and at close. */
  reason: Schemas.FileIngestionStatusReason | undefined
}

interface Workspace {
  readonly sessions: Array<SessionRecord>
  readonly byId: Map<string, SessionRecord>
}

interface MutableRecord {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  body: string
}

const FILE_SPACE = 2 ** 48

const fileName = (i: number): string => `file-${String(i).padStart(7, "0")}.txt`

// 3-hex-digit strings of 0..4095: file ids are on the hot path, and four lookups beat toString(16) + padStart.
const HEX3: ReadonlyArray<string> = Array.from({ length: 4096 }, (_, i) => i.toString(16).padStart(3, "0"))
const hex3 = (n: number): string => HEX3[n] ?? ""

/** 12 lowercase hex digits of 0 <= x < 2^48. */
const hex12 = (x: number): string => {
  const hi = Math.floor(x / 0x1000000)
  const lo = x - hi * 0x1000000
  return hex3(hi >>> 12) + hex3(hi & 0xfff) + hex3(lo >>> 12) + hex3(lo & 0xfff)
}

const fileId = (session: SessionRecord, i: number): string =>
  session.filePrefix + hex12((session.fileOffset + i) % FILE_SPACE)

/** The index of a file id in this session, or undefined. */
const fileIndex = (session: SessionRecord, id: string): number | undefined => {
  if (id.length !== 36 || !id.startsWith(session.filePrefix)) return undefined
  const x = parseInt(id.slice(24), 16)
  const i = (x - session.fileOffset + FILE_SPACE) % FILE_SPACE
  return i < session.fileCount + session.uploads.length ? i : undefined
}

/** Multiples of 97 below n: the files that fail ingestion. */
const failedBelow = (n: number): number => (n <= 0 ? 0 : Math.floor((n + 96) / 97))
const finishedBelow = (n: number): number => (n <= 0 ? 0 : n - failedBelow(n))
const nthFailed = (k: number): number => 97 * k
const nthFinished = (k: number): number => k + Math.floor(k / 96) + 1
const identity = (n: number): number => n
const zero = (_: number): number => 0

const PENDING_TAIL = "\",\"ingestion_status\":\"PENDING\"}"
const FINISHED_TAIL = "\",\"ingestion_status\":\"FINISHED\"}"
const FAILED_TAIL = "\",\"ingestion_status\":\"FAILED\",\"ingestion_status_reason\":\"FAILED_TO_PARSE_META\"}"

const FILE_STATUSES = ["PENDING", "FAILED", "FINISHED"] as const
const WRITE_MODES = ["KEEP", "OVERWRITE", "FAIL"] as const
const CLOSE_STATUSES = ["CLOSED", "closed"] as const

type Route =
  | { readonly _tag: "Collection"; readonly workspace: string }
  | { readonly _tag: "Item"; readonly workspace: string; readonly rawId: string }
  | { readonly _tag: "Files"; readonly workspace: string; readonly rawId: string }

const parseRoute = (path: string): Route | undefined => {
  const s = path.split("/")
  if (
    s.length < 6 || s.length > 8 || s[0] !== "" || s[1] !== "api" || s[2] !== "v1" || s[3] !== "workspaces" ||
    s[5] !== "upload_sessions"
  ) return undefined
  let workspace: string
  try {
    workspace = decodeURIComponent(s[4] ?? "")
  } catch {
    return undefined
  }
  if (workspace === "") return undefined
  if (s.length === 6) return { _tag: "Collection", workspace }
  const rawId = s[6] ?? ""
  if (rawId === "") return undefined
  if (s.length === 7) return { _tag: "Item", workspace, rawId }
  if (s[7] === "files") return { _tag: "Files", workspace, rawId }
  return undefined
}

const routeKey = (method: string, route: Route | undefined): string => {
  if (route === undefined) return "OTHER"
  switch (route._tag) {
    case "Collection":
      return `${method} /upload_sessions`
    case "Item":
      return `${method} /upload_sessions/{id}`
    case "Files":
      return `${method} /upload_sessions/{id}/files`
  }
}

const splitUrl = (url: string): readonly [path: string, query: string] => {
  const q = url.indexOf("?")
  return q === -1 ? [url, ""] : [url.slice(0, q), url.slice(q + 1)]
}

const methodNotAllowed = (allow: string) =>
  HttpServerResponse.unsafeJson({ detail: "Method Not Allowed" }, { status: 405, headers: { allow } })

// ---------------------------------------------------------------------------
// the emulator

/**
 * A fresh emulator with no sessions and no fault plan. Time comes from
 * `Clock`, session ids from `Random`, both read per request.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Emulator> =>
  Effect.gen(function*() {
    const user = options.user ?? defaultUser
    const maxPageSize = options.maxPageSize ?? 1000
    const millisOf = (d: Duration.DurationInput | undefined) => d === undefined ? 0 : Duration.toMillis(Duration.decode(d))
    const ingestionDelay = millisOf(options.ingestionDelay)
    const ingestionTime = millisOf(options.ingestionTime)
    const lifetime = Duration.toMillis(sessionLifetime)
    const fileLimit = options.unlimitedForBenchmarks === true ? Infinity : maxFilesPerSession
    const failIngestion = options.failIngestion ?? (() => false)
    const expectedAuth = `bearer ${options.apiKey}`
    const faults = yield* Faults.makeController({
      statusBody: (status) => ({ detail: Faults.reasonPhrase(status) })
    })
    const storage = yield* ObjectStore.make({ origin: baseUrl, ...options.storage })
    const storagePrefix = (options.storage?.pathPrefix ?? "/storage").replace(/\/+$/, "")
    const instance = (yield* randomUuid).slice(0, 8)

    const workspaces = new Map<string, Workspace>()
    const sessionsById = new Map<string, SessionRecord>()
    /** Names of the files ingested into each workspace (for write_mode FAIL). */
    const workspaceNames = new Map<string, Set<string>>()
    const counters = { requests: 0, inFlight: 0, interrupted: 0, uploadedFiles: 0, ignoredUploads: 0 }
    const byRoute: Record<string, number> = {}
    const ring: Array<MutableRecord | undefined> = new Array(RECENT)

    const statusOf = (s: SessionRecord, now: number): "OPEN" | "CLOSED" | "EXPIRED" =>
      s.closedAt !== undefined ? "CLOSED" : now >= s.createdAt + lifetime ? "EXPIRED" : "OPEN"

    const totalOf = (s: SessionRecord): number => s.fileCount + s.uploads.length

    /** How many of the session's files (in order) are ingested at `now`. */
    const doneCount = (s: SessionRecord, now: number): number => {
      if (s.closedAt === undefined) return 0
      const start = s.closedAt + ingestionDelay
      const n = totalOf(s)
      if (now < start) return 0
      if (ingestionTime <= 0 || now >= start + ingestionTime) return n
      return Math.min(n, Math.floor((n * (now - start)) / ingestionTime))
    }

    const insert = (
      workspace: string,
      id: string,
      createdAt: number,
      writeMode: SessionRecord["writeMode"],
      fileCount: number,
      closedAt: number | undefined
    ): SessionRecord => {
      let ws = workspaces.get(workspace)
      if (ws === undefined) {
        ws = { sessions: [], byId: new Map() }
        workspaces.set(workspace, ws)
      }
      const session: SessionRecord = {
        id,
        workspace,
        index: ws.sessions.length,
        fileCount,
        createdAt,
        createdAtIso: iso(createdAt),
        expiresAtIso: iso(createdAt + lifetime),
        writeMode,
        closedAt,
        filePrefix: `${id.slice(0, 14)}5${id.slice(15, 24)}`,
        fileOffset: parseInt(id.slice(24), 16),
        uploads: [],
        uploadIndex: new Map(),
        metas: new Map()
      }
      ws.sessions.push(session)
      ws.byId.set(id, session)
      sessionsById.set(id, session)
      return session
    }

    const sessionWire = (s: SessionRecord, now: number): SessionWire => ({
      session_id: s.id,
      created_by: user,
      created_at: s.createdAtIso,
      expires_at: s.expiresAtIso,
      write_mode: s.writeMode,
      status: statusOf(s, now)
    })

    // -- uploads (the store tells every stored object) -----------------------

    const register = (object: ObjectStore.StoredObject): Effect.Effect<void> =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        // Keys are `{workspace}/{session_id}/{name}` (the presigned policy's prefix).
        const first = object.key.indexOf("/")
        const second = first === -1 ? -1 : object.key.indexOf("/", first + 1)
        const session = second === -1 ? undefined : sessionsById.get(object.key.slice(first + 1, second))
        if (session === undefined || session.workspace !== object.key.slice(0, first) || statusOf(session, now) !== "OPEN") {
          counters.ignoredUploads++
          return
        }
        const name = object.key.slice(second + 1)
        if (name.endsWith(META_SUFFIX) && name.length > META_SUFFIX.length) {
          session.metas.set(
            name.slice(0, -META_SUFFIX.length),
            object.bytes === undefined ? "" : new TextDecoder().decode(object.bytes)
          )
          return
        }
        const reason = object.size === 0 ? "EMPTY_FILE" : failIngestion(name) ? "UNKNOWN_ERROR" : undefined
        const existing = session.uploadIndex.get(name)
        if (existing !== undefined) {
          // The same key again (a retried POST, or a re-upload): one file, the last content.
          const file = session.uploads[existing]
          if (file !== undefined) {
            file.size = object.size
            file.reason = reason
          }
          return
        }
        const over = totalOf(session) >= fileLimit
        session.uploadIndex.set(name, session.uploads.length)
        session.uploads.push({ name, size: object.size, reason: over ? "UNKNOWN_ERROR" : reason })
        counters.uploadedFiles++
      })
    yield* storage.onStored(register)

    /** At close: meta that does not parse, and names that exist already under write_mode FAIL. */
    const settle = (session: SessionRecord) => {
      let names = workspaceNames.get(session.workspace)
      if (names === undefined) {
        names = new Set()
        workspaceNames.set(session.workspace, names)
      }
      for (const file of session.uploads) {
        if (file.reason !== undefined) continue
        const meta = session.metas.get(file.name)
        if (meta !== undefined && !isJsonObject(meta)) file.reason = "FAILED_TO_PARSE_META"
        else if (session.writeMode === "FAIL" && names.has(file.name)) file.reason = "FILE_ALREADY_EXISTS"
      }
      for (const file of session.uploads) if (file.reason === undefined) names.add(file.name)
    }

    /** Whether file `i` (generated or uploaded) fails ingestion, and why. */
    const failureOf = (s: SessionRecord, i: number): Schemas.FileIngestionStatusReason | undefined =>
      i < s.fileCount ? (i % 97 === 0 ? "FAILED_TO_PARSE_META" : undefined) : s.uploads[i - s.fileCount]?.reason

    const nameOf = (s: SessionRecord, i: number): string =>
      i < s.fileCount ? fileName(i) : s.uploads[i - s.fileCount]?.name ?? ""

    // -- handlers -----------------------------------------------------------

    /** The origin the request came to: the presigned URL points to the store served on it. */
    const originOf = (request: HttpServerRequest.HttpServerRequest): string => {
      if (options.storage?.origin !== undefined) return options.storage.origin
      const original = request.originalUrl
      if (/^https?:\/\//i.test(original)) {
        try {
          return new URL(original).origin
        } catch {
          return baseUrl
        }
      }
      const host = request.headers["host"]
      return host === undefined ? baseUrl : `http://${host}`
    }

    const createSession = (workspace: string, request: HttpServerRequest.HttpServerRequest) =>
      Effect.flatMap(jsonObjectBody(request), (body) => {
        if (HttpServerResponse.isServerResponse(body)) return Effect.succeed(body)
        const raw = body["write_mode"]
        let writeMode: SessionRecord["writeMode"] = "KEEP"
        if (raw !== undefined) {
          const found = WRITE_MODES.find((m) => m === raw)
          if (found === undefined) {
            const expected = enumExpected(WRITE_MODES)
            return Effect.succeed(unprocessable([{
              type: "enum",
              loc: ["body", "write_mode"],
              msg: `Input should be ${expected}`,
              input: raw,
              ctx: { expected }
            }]))
          }
          writeMode = found
        }
        const parallel = body["parallel_processing_enabled"]
        if (parallel !== undefined && typeof parallel !== "boolean") {
          return Effect.succeed(unprocessable([{
            type: "bool_type",
            loc: ["body", "parallel_processing_enabled"],
            msg: "Input should be a valid boolean",
            input: parallel
          }]))
        }
        return Effect.flatMap(Effect.zip(randomUuid, Clock.currentTimeMillis), ([id, now]) => {
          const session = insert(workspace, id, now, writeMode, 0, undefined)
          return Effect.map(
            storage.presignPost(`${workspace}/${id}/`, {
              expiresIn: Duration.millis(lifetime),
              origin: originOf(request)
            }),
            (target) => {
              const answer: UploadSessionWire = {
                session_id: id,
                documentation_url: documentationUrl,
                expires_at: session.expiresAtIso,
                aws_prefixed_request_config: { url: target.url, fields: target.fields }
              }
              return json(201, answer)
            }
          )
        })
      })

    const listSessions = (workspace: string, query: Query) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const after = query.uuid("after")
        const before = query.uuid("before")
        const isExpired = query.bool("is_expired")
        const limit = query.int("limit", 10, 1, maxPageSize)
        const page = query.int("page_number", 1, 1)
        if (query.problems.length > 0) return unprocessable(query.problems)
        const ws = workspaces.get(workspace)
        const all = ws?.sessions ?? []
        let lo = 0
        let hi = all.length
        if (after !== undefined) {
          const s = ws?.byId.get(after)
          if (s === undefined) hi = 0
          else lo = s.index + 1
        }
        if (before !== undefined) {
          const s = ws?.byId.get(before)
          if (s === undefined) hi = 0
          else hi = Math.min(hi, s.index)
        }
        const offset = (page - 1) * limit
        let total: number
        let selected: Array<SessionRecord>
        if (lo >= hi) {
          total = 0
          selected = []
        } else if (isExpired === undefined) {
          total = hi - lo
          selected = all.slice(Math.min(lo + offset, hi), Math.min(lo + offset + limit, hi))
        } else {
          const matching = all.slice(lo, hi).filter((s) => (statusOf(s, now) === "EXPIRED") === isExpired)
          total = matching.length
          selected = matching.slice(offset, offset + limit)
        }
        const data = selected.map((s) => sessionWire(s, now))
        return json(200, { data, has_more: offset + data.length < total, total })
      })

    const countsOf = (session: SessionRecord, now: number): { failed: number; finished: number } => {
      const done = doneCount(session, now)
      let failed = failedBelow(Math.min(done, session.fileCount))
      for (let k = 0; k < done - session.fileCount; k++) {
        if (session.uploads[k]?.reason !== undefined) failed++
      }
      return { failed, finished: done - failed }
    }

    const sessionDetail = (session: SessionRecord) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const { failed, finished } = countsOf(session, now)
        const answer: SessionDetailWire = {
          session_id: session.id,
          documentation_url: documentationUrl,
          expires_at: session.expiresAtIso,
          ingestion_status: { failed_files: failed, finished_files: finished }
        }
        return json(200, answer)
      })

    const closeSession = (session: SessionRecord, body: Record<string, unknown>) => {
      const raw = body["status"]
      if (raw === undefined) {
        return Effect.succeed(
          unprocessable([{ type: "missing", loc: ["body", "status"], msg: "Field required", input: body }])
        )
      }
      if (CLOSE_STATUSES.find((s) => s === raw) === undefined) {
        const expected = enumExpected(CLOSE_STATUSES)
        return Effect.succeed(unprocessable([{
          type: "enum",
          loc: ["body", "status"],
          msg: `Input should be ${expected}`,
          input: raw,
          ctx: { expected }
        }]))
      }
      return Effect.map(Clock.currentTimeMillis, (now) => {
        if (session.closedAt === undefined) {
          session.closedAt = now
          settle(session)
        }
        return HttpServerResponse.empty({ status: 204 })
      })
    }

    const fileEntry = (session: SessionRecord, i: number, done: boolean): string => {
      const head = "{\"file_ingestion_id\":\"" + fileId(session, i) + "\",\"name\":" +
        (i < session.fileCount ? "\"" + fileName(i) + "\"" : JSON.stringify(nameOf(session, i)))
      if (!done) return head + ",\"ingestion_status\":\"PENDING\"}"
      const reason = failureOf(session, i)
      return reason === undefined
        ? head + ",\"ingestion_status\":\"FINISHED\"}"
        : head + ",\"ingestion_status\":\"FAILED\",\"ingestion_status_reason\":\"" + reason + "\"}"
    }

    const listFiles = (session: SessionRecord, query: Query) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const after = query.uuid("after")
        const before = query.uuid("before")
        const status = query.literal("ingestion_status", FILE_STATUSES)
        const limit = query.int("limit", 10, 1, maxPageSize)
        const page = query.int("page_number", 1, 1)
        if (query.problems.length > 0) return unprocessable(query.problems)
        const n = totalOf(session)
        let lo = 0
        let hi = n
        if (after !== undefined) {
          const i = fileIndex(session, after)
          if (i === undefined) hi = 0
          else lo = i + 1
        }
        if (before !== undefined) {
          const i = fileIndex(session, before)
          if (i === undefined) hi = 0
          else hi = Math.min(hi, i)
        }
        if (lo > hi) lo = hi
        const doneUpTo = doneCount(session, now)
        const offset = (page - 1) * limit
        if (session.uploads.length > 0 || (doneUpTo !== 0 && doneUpTo !== n)) {
          // Uploaded files or ingestion under way: walk the range (a real session holds ≤ 10 000 files).
          const statusAt = (i: number) =>
            i >= doneUpTo ? "PENDING" : failureOf(session, i) === undefined ? "FINISHED" : "FAILED"
          const picked: Array<number> = []
          let total = 0
          for (let i = lo; i < hi; i++) {
            if (status !== undefined && statusAt(i) !== status) continue
            if (total >= offset && picked.length < limit) picked.push(i)
            total++
          }
          const entries = picked.map((i) => fileEntry(session, i, i < doneUpTo))
          const body = "{\"data\":[" + entries.join(",") + "],\"has_more\":" + (offset + picked.length < total) +
            ",\"total\":" + total + "}"
          return HttpServerResponse.text(body, { status: 200, contentType: "application/json" })
        }
        const done = doneUpTo === n && n > 0
        let countBelow = identity
        let nth = identity
        if (status === "PENDING") {
          countBelow = done ? zero : identity
        } else if (status === "FAILED") {
          countBelow = done ? failedBelow : zero
          nth = nthFailed
        } else if (status === "FINISHED") {
          countBelow = done ? finishedBelow : zero
          nth = nthFinished
        }
        const rankLo = countBelow(lo)
        const rankHi = countBelow(hi)
        const total = rankHi - rankLo
        const start = rankLo + offset
        const end = Math.min(start + limit, rankHi)
        // The hot path: the page is written as JSON text directly (ids and names need no escaping).
        // Each entry is a SessionFile: {file_ingestion_id, name, ingestion_status, ingestion_status_reason?}.
        let body = "{\"data\":["
        for (let r = start; r < end; r++) {
          const i = nth(r)
          if (r > start) body += ","
          body += "{\"file_ingestion_id\":\"" + fileId(session, i) + "\",\"name\":\"" + fileName(i) +
            (!done ? PENDING_TAIL : i % 97 === 0 ? FAILED_TAIL : FINISHED_TAIL)
        }
        const count = Math.max(0, end - start)
        body += "],\"has_more\":" + (offset + count < total) + ",\"total\":" + total + "}"
        return HttpServerResponse.text(body, { status: 200, contentType: "application/json" })
      })

    // -- routing ------------------------------------------------------------

    const handle = (
      request: HttpServerRequest.HttpServerRequest,
      route: Route | undefined,
      search: string
    ): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
      if (route === undefined) return Effect.succeed(notFound)
      const method = request.method
      const allowed = route._tag === "Collection" ? ["GET", "POST"] : route._tag === "Item" ? ["GET", "PUT"] : ["GET"]
      if (!allowed.includes(method)) return Effect.succeed(methodNotAllowed(allowed.join(", ")))

      const authorization = request.headers["authorization"]
      if (authorization === undefined || !/^bearer\s+\S/i.test(authorization)) {
        return Effect.succeed(
          HttpServerResponse.unsafeJson({ detail: "Not authenticated" }, {
            status: 401,
            headers: { "www-authenticate": "Bearer" }
          })
        )
      }
      if (`bearer ${authorization.slice(6).trim()}` !== expectedAuth) {
        return Effect.succeed(json(403, { detail: "Invalid API key" }))
      }

      const query = new Query(new URLSearchParams(search))
      if (route._tag === "Collection") {
        return method === "POST" ? createSession(route.workspace, request) : listSessions(route.workspace, query)
      }
      const id = normalizeUuid(route.rawId)
      const pathProblem: Array<Problem> = id === undefined
        ? [{ type: "uuid_parsing", loc: ["path", "session_id"], msg: "Input should be a valid UUID", input: route.rawId }]
        : []
      const session = id === undefined ? undefined : workspaces.get(route.workspace)?.byId.get(id)

      if (route._tag === "Files") {
        if (id === undefined) {
          query.literal("ingestion_status", FILE_STATUSES)
          query.int("limit", 10, 1, maxPageSize)
          query.int("page_number", 1, 1)
          return Effect.succeed(unprocessable([...pathProblem, ...query.problems]))
        }
        return session === undefined ? Effect.succeed(notFound) : listFiles(session, query)
      }
      if (method === "GET") {
        if (id === undefined) return Effect.succeed(unprocessable(pathProblem))
        return session === undefined ? Effect.succeed(notFound) : sessionDetail(session)
      }
      return Effect.flatMap(jsonObjectBody(request), (body) => {
        if (HttpServerResponse.isServerResponse(body)) {
          return Effect.succeed(body)
        }
        if (id === undefined) return Effect.succeed(unprocessable(pathProblem))
        return session === undefined ? Effect.succeed(notFound) : closeSession(session, body)
      })
    }

    // -- instrumentation ------------------------------------------------------

    const isStorage = (path: string) => path === storagePrefix || path.startsWith(`${storagePrefix}/`)

    const app: HttpApp.Default<never, never> = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      const method = request.method
      const url = request.url
      const n = ++counters.requests
      counters.inFlight++
      const [path, search] = splitUrl(url)
      const storageRoute = isStorage(path)
      const route = storageRoute ? undefined : parseRoute(path)
      const key = storageRoute
        ? (path === storagePrefix || path === `${storagePrefix}/` ? `${method} /storage` : `${method} /storage/{key}`)
        : routeKey(method, route)
      byRoute[key] = (byRoute[key] ?? 0) + 1
      const record: MutableRecord = { method, url, headers: request.headers, body: "" }
      ring[(n - 1) % RECENT] = record
      const requestId = `${instance}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`
      // The upload target streams its body itself (never read into the record) and has its own faults.
      const run = storageRoute
        ? storage.app
        : method === "GET" || method === "HEAD"
        ? faults.middleware(Effect.suspend(() => handle(request, route, search)))
        : Effect.zipRight(
          Effect.map(Effect.orElseSucceed(request.text, () => ""), (body) => {
            record.body = body
          }),
          faults.middleware(Effect.suspend(() => handle(request, route, search)))
        )
      return run.pipe(
        Effect.map((response) => HttpServerResponse.setHeader(response, "x-request-id", requestId)),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            counters.inFlight--
            if (Exit.isFailure(exit) && Cause.isInterrupted(exit.cause)) counters.interrupted++
          })
        ),
        Effect.orDie
      )
    })

    // -- the handle -----------------------------------------------------------

    const overLimit = (count: number) =>
      Effect.dieMessage(
        `DeepsetEmulator: a session holds at most ${maxFilesPerSession} files (got ${count}); ` +
          "pass unlimitedForBenchmarks: true for larger-than-real sessions"
      )

    const seedSession = (seed: SeedOptions): Effect.Effect<string> => {
      const count = Math.max(0, Math.floor(seed.fileCount))
      if (count > fileLimit) return overLimit(count)
      return Effect.zipWith(randomUuid, Clock.currentTimeMillis, (id, now) => {
        const createdAt = seed.createdAt === undefined ? now : DateTime.toEpochMillis(seed.createdAt)
        insert(
          seed.workspace,
          id,
          createdAt,
          seed.writeMode ?? "KEEP",
          count,
          seed.status === "CLOSED" ? Math.max(now, createdAt) : undefined
        )
        return id
      })
    }

    const addFiles = (sessionId: string, count: number): Effect.Effect<void, Cause.NoSuchElementException> =>
      Effect.suspend(() => {
        const session = sessionsById.get(sessionId)
        if (session === undefined) {
          return Effect.fail(new Cause.NoSuchElementException(`no session ${sessionId}`))
        }
        const more = Math.max(0, Math.floor(count))
        if (totalOf(session) + more > fileLimit) return overLimit(totalOf(session) + more)
        if (session.uploads.length > 0) {
          return Effect.dieMessage("DeepsetEmulator.addFiles: the session has uploaded files; generated ones come first")
        }
        session.fileCount += more
        return Effect.void
      })

    const stats = Effect.sync((): Stats => ({ ...counters, byRoute: { ...byRoute } }))

    const recent = Effect.sync((): ReadonlyArray<RecordedRequest> => {
      const out: Array<RecordedRequest> = []
      const total = counters.requests
      for (let k = Math.max(0, total - RECENT); k < total; k++) {
        const r = ring[k % RECENT]
        if (r === undefined) continue
        const headers: Record<string, string> = {}
        for (const name in r.headers) {
          const value = r.headers[name]
          if (value !== undefined) headers[name] = typeof value === "string" ? value : value.join(", ")
        }
        out.push({ method: r.method, url: r.url, headers, body: r.body })
      }
      return out
    })

    return { app, faults, storage, seedSession, addFiles, stats, recent } satisfies Emulator
  })

const isJsonObject = (text: string): boolean => {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === "object" && value !== null && !Array.isArray(value)
  } catch {
    return false
  }
}

/**
 * A fresh emulator as the `DeepsetEmulator` service, and an in-memory
 * `HttpClient` that talks to it.
 *
 * @since 0.1.0
 */
export const layerInMemory = (options: Options): Layer.Layer<HttpClient.HttpClient | DeepsetEmulator> =>
  Layer.unwrapEffect(
    Effect.map(make(options), (emulator) =>
      Layer.merge(Layer.succeed(DeepsetEmulator, emulator), InMemory.layerAt(baseUrl, emulator.app)))
  )
