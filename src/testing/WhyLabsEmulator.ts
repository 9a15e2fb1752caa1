/**
 * An emulator of the WhyLabs `SessionsApi` as an `HttpApp`, with the upload
 * target whylogs `PUT`s profiles to served on the same origin: the shared
 * S3-style {@link ObjectStore} under {@link uploadPathPrefix}, which checks
 * each presigned URL's signature and expiry, refuses requests that carry
 * `X-API-Key` or `Authorization`, and stores (size, SHA-256, small bodies'
 * bytes) what it received.
 *
 * What it does, following the reconstructed spec and whylabs-client 0.6.16
 * (the seed's Python client, which must work against it):
 * - wire JSON is camelCase; every answer carries every field whylabs-client
 *   requires (`SessionMetadata`'s four ids; `id`, `observatoryUrl`,
 *   `uploadUrl`, `datasetId` of an upload; `id`, `modelId`, `alias`,
 *   `observatoryUrl`, `uploadUrl` of a reference…);
 * - `X-API-Key` is required by `GET /v0/sessions/{id}` and `POST …/claim`
 *   only (missing: 401, unknown: 403); the other five are anonymous;
 * - errors are `{message, requestId, type}` (`parameter` too on
 *   `ArgumentValue` errors): 400 bad argument (more than 3 profiles for an
 *   observatory link included), 401/403, 404 unknown session or reference,
 *   410 a claimed or expired session;
 * - a session is what whylogs sees: `sessionId`, `orgId` (a guest org of its
 *   own), `modelId` (`model-1`), `userId`; `claim` copies it into the key's
 *   org (`org_id` must be that org, else 403) and expires it.
 *
 * Times come from `Clock` (upload URLs expire under `TestClock`), ids from
 * `Random`. Faults: {@link Emulator.faults} for the API,
 * {@link Emulator.uploadFaults} for the upload target.
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Schemas from "../whylabs/Schemas.js"
import * as Faults from "./Faults.js"
import * as InMemory from "./InMemory.js"
import * as ObjectStore from "./ObjectStore.js"

/** The base URL clients use in memory (the in-memory client ignores the host). @since 0.1.0 */
export const baseUrl = "https://api.whylabsapp.com"

/** Where the upload target is served on the emulator's origin. @since 0.1.0 */
export const uploadPathPrefix = "/whylabs-uploads"

/** The observatory origin of the links it answers. @since 0.1.0 */
export const observatoryOrigin = "https://hub.whylabsapp.com"

/** The model (dataset) id of every guest session, as WhyLabs gives guest sessions one model. @since 0.1.0 */
export const guestModelId = "model-1"

/** Options of {@link make}. @since 0.1.0 */
export interface Options {
  /** The API key accepted by `getSession` and `claim` (by default every non-empty key). */
  readonly apiKey?: string
  /** The organization of that key (default `org-emulator`): `claim` copies sessions into it. */
  readonly orgId?: string
  /** The origin presigned URLs start with (default: the request's `Host`, else {@link baseUrl}). */
  readonly origin?: string
  /** How long an upload URL is valid (default 1 hour). */
  readonly uploadUrlExpiresIn?: Duration.DurationInput
  /** Uploads up to this size keep their bytes (default the store's, 8 MiB); larger keep size and SHA-256. */
  readonly storeBytesUpTo?: number
  /** The store's SHA-256 (default `@noble/hashes`; `() => createHash("sha256")` of `node:crypto` is faster on Node). */
  readonly hasher?: () => ObjectStore.Hasher
}

/** One profile upload the API handed out. @since 0.1.0 */
export interface UploadRecord {
  readonly kind: "dataset" | "reference"
  readonly id: string
  readonly sessionId: string
  /** The object key in {@link Emulator.store}. */
  readonly key: string
  readonly datasetTimestamp: number
  readonly uploadTimestamp: number
  readonly segmentTags?: ReadonlyArray<{ readonly key: string; readonly value: string }>
  readonly alias?: string
}

/** A session as the emulator keeps it. @since 0.1.0 */
export interface SessionRecord {
  readonly sessionId: string
  readonly orgId: string
  readonly modelId: string
  readonly userId: string
  readonly createdAt: number
  /** The org it was claimed into (the session is then gone). */
  readonly claimedInto?: string
  readonly expired: boolean
  readonly uploads: ReadonlyArray<UploadRecord>
}

/** One recorded request (headers as received, secrets included; `body` for API calls only). @since 0.1.0 */
export interface RecordedRequest {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

/** Request counters. @since 0.1.0 */
export interface Stats {
  readonly requests: number
  /** e.g. `"POST /v0/sessions"`, `"GET /v0/sessions/{id}"`, `"PUT upload"`; anything else `"OTHER"`. */
  readonly byRoute: Readonly<Record<string, number>>
}

/** A running emulator. @since 0.1.0 */
export interface Emulator {
  /** API and upload target, fault middleware included. */
  readonly app: HttpApp.Default<never, never>
  /** Faults of the API routes. */
  readonly faults: Faults.Controller
  /** Faults of the upload target (its answers are S3 XML). */
  readonly uploadFaults: Faults.Controller
  /** The upload target: what was `PUT` (`get(upload.key)`). */
  readonly store: ObjectStore.ObjectStore
  readonly session: (sessionId: string) => Effect.Effect<Option.Option<SessionRecord>>
  readonly sessions: Effect.Effect<ReadonlyArray<SessionRecord>>
  /** The stored object of an upload the API handed out, once its bytes arrived. */
  readonly uploaded: (uploadId: string) => Effect.Effect<Option.Option<ObjectStore.StoredObject>>
  /** Expires a session (every call on it then answers 410). Fails for an unknown session. */
  readonly expire: (sessionId: string) => Effect.Effect<void, Cause.NoSuchElementException>
  readonly stats: Effect.Effect<Stats>
  /** The last 100 requests (API and upload target), oldest first. */
  readonly recent: Effect.Effect<ReadonlyArray<RecordedRequest>>
}

/** The emulator of the current test. @since 0.1.0 */
export class WhyLabsEmulator extends Context.Tag("effect-sessions/testing/WhyLabsEmulator")<
  WhyLabsEmulator,
  Emulator
>() {}

// ---------------------------------------------------------------------------
// wire helpers

type ErrorWire = typeof Schemas.ErrorBody.Encoded

const RECENT = 100

const json = (status: number, body: unknown): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(body, { status })

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const splitUrl = (url: string): readonly [path: string, search: string] => {
  const q = url.indexOf("?")
  return q === -1 ? [url, ""] : [url.slice(0, q), url.slice(q + 1)]
}

const decodeSegment = (raw: string): string => {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

const randomToken = (length: number): Effect.Effect<string> =>
  Effect.map(
    Effect.all(Array.from({ length }, () => Random.nextIntBetween(0, alphabet.length))),
    (ns) => ns.map((n) => alphabet[n] ?? "A").join("")
  )

/** The request body, read once by the outer app (the router's handlers get a request whose body was consumed). */
class BodyText extends Context.Tag("effect-sessions/testing/WhyLabsEmulator/BodyText")<BodyText, string>() {}

/** The request id of the current request. */
class RequestId extends Context.Tag("effect-sessions/testing/WhyLabsEmulator/RequestId")<RequestId, string>() {}

type Handler = Effect.Effect<
  HttpServerResponse.HttpServerResponse,
  never,
  BodyText | RequestId | HttpServerRequest.HttpServerRequest | HttpRouter.RouteContext
>

interface MutableSession {
  readonly sessionId: string
  readonly orgId: string
  readonly modelId: string
  readonly userId: string
  readonly createdAt: number
  claimedInto: string | undefined
  expired: boolean
  readonly uploads: Array<UploadRecord>
}

const isEpochMillis = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u)

// ---------------------------------------------------------------------------
// the emulator

/**
 * A fresh emulator with no sessions and no fault plan.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Emulator> =>
  Effect.gen(function*() {
    const keyOrg = options.orgId ?? "org-emulator"
    const expiresIn = options.uploadUrlExpiresIn ?? "1 hour"
    const store = yield* ObjectStore.make({
      origin: options.origin ?? baseUrl,
      pathPrefix: uploadPathPrefix,
      ...(options.storeBytesUpTo === undefined ? {} : { storeBytesUpTo: options.storeBytesUpTo }),
      ...(options.hasher === undefined ? {} : { hasher: options.hasher })
    })
    const faults = yield* Faults.makeController({
      statusBody: (status) => ({
        message: Faults.reasonPhrase(status),
        requestId: "emulator-fault",
        type: status >= 500 ? "Internal" : "IllegalArgument"
      } satisfies ErrorWire)
    })
    const sessions = new Map<string, MutableSession>()
    const uploads = new Map<string, UploadRecord>()
    const counters = { requests: 0 }
    const byRoute: Record<string, number> = {}
    const ring: Array<RecordedRequest> = []

    const error = (status: number, type: string, message: string, parameter?: string) =>
      Effect.map(RequestId, (requestId) =>
        json(status, {
          message,
          requestId,
          type,
          ...(parameter === undefined ? {} : { parameter })
        } satisfies ErrorWire))

    const readJson: Effect.Effect<
      { readonly ok: true; readonly value: unknown } | { readonly ok: false },
      never,
      BodyText
    > = Effect.map(BodyText, (text) => {
      if (text.trim().length === 0) return { ok: true, value: undefined }
      try {
        return { ok: true, value: JSON.parse(text) as unknown }
      } catch {
        return { ok: false }
      }
    })

    /** The JSON object body of a request, or the 400 the server answers. */
    const withBody = (handle: (body: Record<string, unknown>) => Handler): Handler =>
      Effect.flatMap(readJson, (body) => {
        if (!body.ok) return error(400, "IllegalArgument", "Malformed JSON in the request body")
        if (body.value === undefined) return error(400, "IllegalArgument", "The request body is required")
        if (!isRecord(body.value)) return error(400, "IllegalArgument", "The request body must be a JSON object")
        return handle(body.value)
      })

    /** The session of the route's `session_id`, or its 404/410. */
    const withSession = (handle: (session: MutableSession) => Handler): Handler =>
      Effect.flatMap(HttpRouter.params, (params) => {
        const id = decodeSegment(params["session_id"] ?? "")
        const session = sessions.get(id)
        if (session === undefined) return error(404, "ResourceNotFound", `Session ${id} not found`)
        if (session.claimedInto !== undefined) {
          return error(410, "SessionExpired", `Session ${id} was claimed into ${session.claimedInto} and has expired`)
        }
        if (session.expired) return error(410, "SessionExpired", `Session ${id} has expired`)
        return handle(session)
      })

    /** The key's org, or the 401/403 the server answers. */
    const withKey = (handle: (org: string) => Handler): Handler =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const key = request.headers["x-api-key"]
        if (key === undefined || key.trim() === "") return error(401, "Unauthorized", "An API key (X-API-Key) is required")
        if (options.apiKey !== undefined && key !== options.apiKey) {
          return error(403, "PermissionDenied", "The API key is not valid")
        }
        return handle(keyOrg)
      })

    /** Where this request's presigned URLs point: the configured origin, the `Host` it came to, or {@link baseUrl}. */
    const originOf = (request: HttpServerRequest.HttpServerRequest): string => {
      if (options.origin !== undefined) return options.origin
      const host = request.headers["host"]
      return host === undefined || host === "" ? baseUrl : `http://${host}`
    }

    const link = (session: MutableSession, profiles: ReadonlyArray<string | number>): string => {
      const query = new URLSearchParams()
      for (const p of profiles) query.append("profile", String(p))
      query.set("sessionToken", session.sessionId)
      return `${observatoryOrigin}/resources/${session.modelId}/profiles?${query.toString()}`
    }

    /** Mints an upload (id, key, presigned URL) of a session. */
    const mint = (
      session: MutableSession,
      kind: UploadRecord["kind"],
      fields: { readonly datasetTimestamp: number | undefined; readonly segmentTags?: UploadRecord["segmentTags"]; readonly alias?: string }
    ) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const now = yield* Clock.currentTimeMillis
        const id = `${kind === "dataset" ? "upload" : "ref"}-${yield* randomToken(16)}`
        const key = `${session.orgId}/${session.modelId}/${id}.bin`
        const record: UploadRecord = {
          kind,
          id,
          sessionId: session.sessionId,
          key,
          datasetTimestamp: fields.datasetTimestamp ?? now,
          uploadTimestamp: now,
          ...(fields.segmentTags === undefined ? {} : { segmentTags: fields.segmentTags }),
          ...(kind === "reference" ? { alias: fields.alias ?? id } : {})
        }
        session.uploads.push(record)
        uploads.set(id, record)
        const uploadUrl = yield* store.presignPut(key, { expiresIn, origin: originOf(request) })
        return { record, uploadUrl }
      })

    /** A `LogReferenceRequest`'s fields, or why not. */
    const referenceFields = (
      body: Record<string, unknown>,
      at: string
    ): { readonly datasetTimestamp: number | undefined; readonly alias?: string } | string => {
      const ts = body["datasetTimestamp"]
      const alias = body["alias"]
      if (ts !== undefined && ts !== null && !isEpochMillis(ts)) return `${at}datasetTimestamp`
      if (alias !== undefined && alias !== null && typeof alias !== "string") return `${at}alias`
      return {
        datasetTimestamp: typeof ts === "number" ? ts : undefined,
        ...(typeof alias === "string" ? { alias } : {})
      }
    }

    const referenceWire = (session: MutableSession, r: UploadRecord, uploadUrl: string) => ({
      id: r.id,
      modelId: session.modelId,
      alias: r.alias ?? r.id,
      observatoryUrl: link(session, [r.id]),
      uploadTimestamp: r.uploadTimestamp,
      uploadUrl
    } satisfies typeof Schemas.LogSessionReferenceResponse.Encoded)

    // -- handlers -------------------------------------------------------------

    const createSession: Handler = withBody((body) => {
      const userId = body["userId"]
      if (typeof userId !== "string" || userId.trim() === "") {
        return error(400, "ArgumentValue", "userId is required", "userId")
      }
      return Effect.gen(function*() {
        const sessionId = `session-${yield* randomToken(8)}`
        const orgId = `org-${yield* randomToken(6)}`
        const createdAt = yield* Clock.currentTimeMillis
        sessions.set(sessionId, {
          sessionId,
          orgId,
          modelId: guestModelId,
          userId,
          createdAt,
          claimedInto: undefined,
          expired: false,
          uploads: []
        })
        return json(200, { id: sessionId } satisfies typeof Schemas.CreateSessionResponse.Encoded)
      })
    })

    const getSession: Handler = withKey(() =>
      withSession((s) =>
        Effect.succeed(json(200, {
          session: { sessionId: s.sessionId, orgId: s.orgId, modelId: s.modelId, userId: s.userId }
        } satisfies typeof Schemas.GetSessionResponse.Encoded))
      )
    )

    const createUpload: Handler = withSession((session) =>
      withBody((body) => {
        const ts = body["datasetTimestamp"]
        if (ts !== undefined && ts !== null && !isEpochMillis(ts)) {
          return error(400, "ArgumentValue", "datasetTimestamp must be epoch milliseconds", "datasetTimestamp")
        }
        const rawTags = body["segmentTags"]
        const tags: Array<{ key: string; value: string }> = []
        if (rawTags !== undefined && rawTags !== null) {
          if (!Array.isArray(rawTags)) return error(400, "ArgumentValue", "segmentTags must be an array", "segmentTags")
          for (const tag of rawTags as ReadonlyArray<unknown>) {
            if (!isRecord(tag) || typeof tag["key"] !== "string" || typeof tag["value"] !== "string") {
              return error(400, "ArgumentValue", "each segment tag needs a string key and value", "segmentTags")
            }
            tags.push({ key: tag["key"], value: tag["value"] })
          }
        }
        return Effect.map(
          mint(session, "dataset", {
            datasetTimestamp: typeof ts === "number" ? ts : undefined,
            ...(tags.length === 0 ? {} : { segmentTags: tags })
          }),
          ({ record, uploadUrl }) =>
            json(200, {
              id: record.id,
              observatoryUrl: link(session, [record.datasetTimestamp]),
              uploadTimestamp: record.uploadTimestamp,
              uploadUrl,
              datasetId: session.modelId
            } satisfies typeof Schemas.CreateDatasetProfileUploadResponse.Encoded)
        )
      })
    )

    const createReference: Handler = withSession((session) =>
      withBody((body) => {
        const fields = referenceFields(body, "")
        if (typeof fields === "string") return error(400, "ArgumentValue", `${fields} is not valid`, fields)
        return Effect.map(
          mint(session, "reference", fields),
          ({ record, uploadUrl }) => json(200, referenceWire(session, record, uploadUrl))
        )
      })
    )

    const createReferences: Handler = withSession((session) =>
      withBody((body) => {
        const raw = body["references"] ?? []
        if (!Array.isArray(raw)) return error(400, "ArgumentValue", "references must be an array", "references")
        const all: Array<{ readonly datasetTimestamp: number | undefined; readonly alias?: string }> = []
        for (const [i, item] of (raw as ReadonlyArray<unknown>).entries()) {
          const fields = isRecord(item) ? referenceFields(item, `references[${i}].`) : `references[${i}]`
          if (typeof fields === "string") return error(400, "ArgumentValue", `${fields} is not valid`, fields)
          all.push(fields)
        }
        return Effect.map(
          Effect.forEach(all, (fields) => mint(session, "reference", fields)),
          (minted) =>
            json(200, {
              references: minted.map(({ record, uploadUrl }) => referenceWire(session, record, uploadUrl)),
              observatoryUrl: link(session, minted.map(({ record }) => record.id))
            } satisfies typeof Schemas.BatchLogSessionReferenceResponse.Encoded)
        )
      })
    )

    const claim: Handler = withKey((org) =>
      withSession((session) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const orgId = new URLSearchParams(splitUrl(request.url)[1]).get("org_id")
          if (orgId === null || orgId === "") return error(400, "ArgumentValue", "org_id is required", "org_id")
          if (orgId !== org) return error(403, "PermissionDenied", `The API key does not belong to ${orgId}`)
          session.claimedInto = orgId
          return Effect.succeed(json(200, {}))
        })
      )
    )

    const observatoryLink: Handler = withSession((session) =>
      withBody((body) => {
        const timestamps = body["batchProfileTimestamps"] ?? []
        const references = body["referenceProfileIds"] ?? []
        if (!Array.isArray(timestamps) || !(timestamps as ReadonlyArray<unknown>).every(isEpochMillis)) {
          return error(400, "ArgumentValue", "batchProfileTimestamps must be epoch milliseconds", "batchProfileTimestamps")
        }
        if (!Array.isArray(references) || !(references as ReadonlyArray<unknown>).every((r) => typeof r === "string")) {
          return error(400, "ArgumentValue", "referenceProfileIds must be strings", "referenceProfileIds")
        }
        const profiles: ReadonlyArray<string | number> = [
          ...(timestamps as ReadonlyArray<number>),
          ...(references as ReadonlyArray<string>)
        ]
        if (profiles.length > 3) return error(400, "IllegalArgument", "A max of 3 profiles can be viewed at a time")
        const unknown = (references as ReadonlyArray<string>).find((id) =>
          !session.uploads.some((u) => u.kind === "reference" && u.id === id)
        )
        if (unknown !== undefined) return error(404, "ResourceNotFound", `Reference profile ${unknown} not found`)
        return Effect.succeed(json(200, {
          observatoryUrl: link(session, profiles),
          individualObservatoryUrls: profiles.map((p) => link(session, [p]))
        } satisfies typeof Schemas.GetProfileObservatoryLinkResponse.Encoded))
      })
    )

    // -- routing ----------------------------------------------------------------

    const router = HttpRouter.empty.pipe(
      HttpRouter.post("/v0/sessions", createSession),
      HttpRouter.get("/v0/sessions/:session_id", getSession),
      HttpRouter.post("/v0/sessions/:session_id/upload", createUpload),
      HttpRouter.post("/v0/sessions/:session_id/reference", createReference),
      HttpRouter.post("/v0/sessions/:session_id/references", createReferences),
      HttpRouter.post("/v0/sessions/:session_id/claim", claim),
      HttpRouter.post("/v0/sessions/observatory-link/:session_id", observatoryLink)
    )
    const routed: HttpApp.Default<never, BodyText | RequestId> = Effect.catchTag(
      router,
      "RouteNotFound",
      (e) => error(404, "ResourceNotFound", `No route for ${e.request.method} ${splitUrl(e.request.url)[0]}`)
    )
    const api = faults.middleware(routed)

    const routeKey = (method: string, url: string): string => {
      const path = splitUrl(url)[0]
      if (path.startsWith(`${uploadPathPrefix}/`)) return `${method} upload`
      if (path === "/v0/sessions") return `${method} /v0/sessions`
      if (/^\/v0\/sessions\/observatory-link\/[^/]+$/.test(path)) return `${method} /v0/sessions/observatory-link/{id}`
      const m = /^\/v0\/sessions\/[^/]+(\/(upload|reference|references|claim))?$/.exec(path)
      if (m !== null) return `${method} /v0/sessions/{id}${m[1] ?? ""}`
      return "OTHER"
    }

    const app: HttpApp.Default<never, never> = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      counters.requests++
      const key = routeKey(request.method, request.url)
      byRoute[key] = (byRoute[key] ?? 0) + 1
      const headers: Record<string, string> = {}
      for (const name in request.headers) {
        const value = request.headers[name]
        if (value !== undefined) headers[name] = value
      }
      const record = (entry: RecordedRequest) => {
        ring.push(entry)
        if (ring.length > RECENT) ring.shift()
      }
      if (splitUrl(request.url)[0].startsWith(`${uploadPathPrefix}/`)) {
        // The store reads the body as it streams; only the head is recorded.
        record({ method: request.method, url: request.url, headers })
        return store.app
      }
      return Effect.flatMap(Effect.orElseSucceed(request.text, () => ""), (body) => {
        record({ method: request.method, url: request.url, headers, body })
        return Effect.flatMap(randomToken(12), (requestId) =>
          api.pipe(
            Effect.provideService(BodyText, body),
            Effect.provideService(RequestId, `req-${requestId}`),
            Effect.orDie
          ))
      })
    })

    // -- the handle -----------------------------------------------------------

    const snapshot = (s: MutableSession): SessionRecord => ({
      sessionId: s.sessionId,
      orgId: s.orgId,
      modelId: s.modelId,
      userId: s.userId,
      createdAt: s.createdAt,
      ...(s.claimedInto === undefined ? {} : { claimedInto: s.claimedInto }),
      expired: s.expired || s.claimedInto !== undefined,
      uploads: s.uploads.slice()
    })

    return {
      app,
      faults,
      uploadFaults: store.faults,
      store,
      session: (sessionId) => Effect.sync(() => Option.map(Option.fromNullable(sessions.get(sessionId)), snapshot)),
      sessions: Effect.sync(() => Array.from(sessions.values(), snapshot)),
      uploaded: (uploadId) =>
        Effect.suspend(() => {
          const upload = uploads.get(uploadId)
          return upload === undefined ? Effect.succeed(Option.none()) : store.get(upload.key)
        }),
      expire: (sessionId) =>
        Effect.suspend(() => {
          const s = sessions.get(sessionId)
          if (s === undefined) return Effect.fail(new Cause.NoSuchElementException(`no session ${sessionId}`))
          s.expired = true
          return Effect.void
        }),
      stats: Effect.sync((): Stats => ({ requests: counters.requests, byRoute: { ...byRoute } })),
      recent: Effect.sync((): ReadonlyArray<RecordedRequest> => ring.slice())
    } satisfies Emulator
  })

/**
 * A fresh emulator as the `WhyLabsEmulator` service, and an in-memory
 * `HttpClient` that talks to it (API and upload target).
 *
 * @since 0.1.0
 */
export const layerInMemory = (options: Options = {}): Layer.Layer<HttpClient.HttpClient | WhyLabsEmulator> =>
  Layer.unwrapEffect(
    Effect.map(make(options), (emulator) =>
      Layer.merge(Layer.succeed(WhyLabsEmulator, emulator), InMemory.layerAt(baseUrl, emulator.app)))
  )
