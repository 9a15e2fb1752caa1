/**
 * WhyLabs sessions: the seven operations of the `SessionsApi`, and the
 * guest-session upload flow whylogs runs — create a session, ask for an
 * upload URL, `PUT` the profile bytes there, show the observatory link.
 *
 * ```ts
 * import { WhyLabs } from "effect-sessions"
 *
 * const program = Effect.gen(function*() {
 *   const whylabs = yield* WhyLabs.Sessions
 *   const { id } = yield* whylabs.createSession({ userId: "me" })
 *   const uploaded = yield* whylabs.uploadProfile(id, profileBytes, { datasetTimestamp: yield* DateTime.now })
 *   yield* Console.log(uploaded.observatoryUrl)
 * })
 * program.pipe(Effect.provide(WhyLabs.layerConfig()), Effect.provide(UndiciHttpClient.layer))
 * ```
 *
 * Credentials: `X-API-Key` goes only to `getSession` and
 * `claimGuestSession`; the other five are anonymous guest-session calls and
 * never carry it. Without a key those two fail locally with `Unauthorized`
 * naming `WHYLABS_API_KEY` (nothing is sent). The presigned upload URL never
 * gets the key nor any other credential, and no redirect is followed from it.
 *
 * Retries: `getSession` and the observatory link (a read, though a POST) are
 * retried under the policy; the creates are POSTs that mint new ids and
 * `claimGuestSession` expires the session, so none of them is replayed once
 * the request may have reached the server. The upload `PUT` to a presigned
 * URL is idempotent (it writes the same object again), so it is retried under
 * its own policy ({@link defaultUploadPolicy}): a 503 `SlowDown` is retried, a
 * 403 (an expired URL, a bad signature) is not. Storage failures are
 * `ApiError.StorageError` carrying the XML `Code` and `Message`.
 *
 * Upload bodies ({@link UploadBody}): bytes are sent as they are; a stream is
 * sent as it is produced, never held whole in memory. A retry needs the bytes
 * again, so a stream body must be re-creatable: this client **re-runs the
 * stream for each attempt** instead of buffering it (to memory or a temporary
 * file). An Effect `Stream` is a description and re-runs its source when run
 * again (`Stream.fromReadableStream(() => open())`, `FileSystem.stream(path)`,
 * a generated stream); for a source you can read once only, pass a function
 * `() => Stream` that opens it anew, or pass `uploadPolicy: { maxRetries: 0 }`.
 * Give `size` with a stream body: it is sent as `Content-Length` (S3 refuses a
 * presigned PUT without one), and a source that yields a different number of
 * bytes fails the attempt instead of storing a short profile.
 *
 * Where the seed's Python client (whylabs-client 0.6.16) and the
 * reconstructed spec (from 0.5.6) differ:
 * - `claimGuestSession`: the spec answers a free-form object, 0.6.16 reads no
 *   body at all; this client does the same and returns `void`;
 * - 0.6.16 requires most answer fields (`SessionMetadata`'s four ids, the
 *   upload answers' `id`, `observatoryUrl`, `uploadUrl`, …); the spec makes
 *   them optional, and so do these schemas. `uploadProfile` needs `uploadUrl`
 *   and returns `id` and `observatoryUrl`: an answer without them is a
 *   `DecodeError` before any byte is sent;
 * - 0.6.16 adds an optional `region` to the upload requests: accepted here,
 *   sent only when set.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as ApiClient from "../core/ApiClient.js"
import * as ApiError from "../core/ApiError.js"
import * as Credentials from "../core/Credentials.js"
import * as Path from "../core/Path.js"
import * as Policy from "../core/Policy.js"
import * as Settings from "../core/Settings.js"
import type { BodyOptions, Uploaded, UploadBody } from "./ProfileUpload.js"
import * as ProfileUpload from "./ProfileUpload.js"
import * as Schemas from "./Schemas.js"

/** The WhyLabs API. @since 0.1.0 */
export const defaultBaseUrl = "https://api.whylabsapp.com"

/** The environment variables {@link layerConfig} reads. @since 0.1.0 */
export const env = {
  baseUrl: "WHYLABS_API_ENDPOINT",
  apiKey: "WHYLABS_API_KEY",
  orgId: "WHYLABS_DEFAULT_ORG_ID"
} as const

/** Most profiles the observatory shows at once (the server's limit). @since 0.1.0 */
export const maxObservatoryProfiles = 3

export type { BodyOptions, Uploaded, UploadBody } from "./ProfileUpload.js"
/** The upload `PUT`'s default policy (15 min per attempt, 1 h in all). @since 0.1.0 */
export const defaultUploadPolicy = ProfileUpload.defaultUploadPolicy
/** The content type of the profile bytes (as whylogs sends them). @since 0.1.0 */
export const profileContentType = ProfileUpload.profileContentType

/** @since 0.1.0 */
export interface Options {
  /** Default {@link defaultBaseUrl}. */
  readonly baseUrl?: string | undefined
  /** An API key of your organization, for `getSession` and `claimGuestSession` (`X-API-Key`). */
  readonly apiKey?: Redacted.Redacted<string> | undefined
  /** The organization `claimGuestSession` copies a session into unless it is given one. */
  readonly orgId?: string | undefined
  /** Laid over {@link Policy.defaultPolicy}. */
  readonly policy?: Policy.PolicyInput | undefined
  /**
   * Laid over {@link defaultUploadPolicy} for the upload `PUT`; a
   * `Policy.withPolicy` around the call is laid over both.
   */
  readonly uploadPolicy?: Policy.PolicyInput | undefined
}

/** Options of {@link Service.createDatasetProfileUpload}. @since 0.1.0 */
export interface DatasetProfileOptions {
  /** The time the profile describes; on the wire as epoch milliseconds. */
  readonly datasetTimestamp?: Schemas.Instant | undefined
  readonly segmentTags?: ReadonlyArray<Schemas.SegmentTag> | undefined
  readonly region?: string | undefined
}

/** Options of {@link Service.createReferenceProfileUpload}. @since 0.1.0 */
export interface ReferenceProfileOptions {
  /** The reference profile's name in the observatory. */
  readonly alias?: string | undefined
  readonly datasetTimestamp?: Schemas.Instant | undefined
  readonly region?: string | undefined
}

/** Options of {@link Service.getSessionProfileObservatoryLink}: at most 3 profiles in all. @since 0.1.0 */
export interface ObservatoryLinkOptions {
  readonly batchProfileTimestamps?: ReadonlyArray<Schemas.Instant> | undefined
  readonly referenceProfileIds?: ReadonlyArray<string> | undefined
}

/**
 * The sessions client. Every method fails with one {@link ApiError.ApiError};
 * the server's `{message, requestId, type}` body fills the error's `message`
 * and `requestId`.
 *
 * @since 0.1.0
 */
export interface Service {
  /** A new guest session (`POST /v0/sessions`, anonymous); its `id` is the token the other calls take. Not replayed. */
  readonly createSession: (
    request: Schemas.CreateSessionRequest
  ) => Effect.Effect<Schemas.CreateSessionResponse, ApiError.ApiError>
  /** What the server knows of a session (`X-API-Key` required). */
  readonly getSession: (sessionId: string) => Effect.Effect<Schemas.GetSessionResponse, ApiError.ApiError>
  /** An upload URL for one dataset profile (anonymous). Not replayed. */
  readonly createDatasetProfileUpload: (
    sessionId: string,
    options?: DatasetProfileOptions
  ) => Effect.Effect<Schemas.CreateDatasetProfileUploadResponse, ApiError.ApiError>
  /** An upload URL for one reference profile (anonymous). Not replayed. */
  readonly createReferenceProfileUpload: (
    sessionId: string,
    options?: ReferenceProfileOptions
  ) => Effect.Effect<Schemas.LogSessionReferenceResponse, ApiError.ApiError>
  /** Upload URLs for several reference profiles (anonymous). Not replayed. */
  readonly batchCreateReferenceProfileUpload: (
    sessionId: string,
    request: { readonly references: ReadonlyArray<ReferenceProfileOptions> }
  ) => Effect.Effect<Schemas.BatchLogSessionReferenceResponse, ApiError.ApiError>
  /**
   * Copies a guest session's data into an organization and expires the
   * session (`POST …/claim?org_id=`, `X-API-Key` required). `orgId` defaults
   * to the layer's (`WHYLABS_DEFAULT_ORG_ID`). Not replayed.
   */
  readonly claimGuestSession: (sessionId: string, orgId?: string) => Effect.Effect<void, ApiError.ApiError>
  /** Links to view profiles of the session (anonymous); more than 3 profiles is refused locally. */
  readonly getSessionProfileObservatoryLink: (
    sessionId: string,
    options?: ObservatoryLinkOptions
  ) => Effect.Effect<Schemas.GetProfileObservatoryLinkResponse, ApiError.ApiError>
  /** `createDatasetProfileUpload`, then the bytes `PUT` to its presigned URL; the profile's id and link. */
  readonly uploadProfile: (
    sessionId: string,
    body: UploadBody,
    options?: DatasetProfileOptions & BodyOptions
  ) => Effect.Effect<Uploaded, ApiError.ApiError>
  /** `createReferenceProfileUpload`, then the bytes `PUT` to its presigned URL; the profile's id and link. */
  readonly uploadReferenceProfile: (
    sessionId: string,
    body: UploadBody,
    options: ReferenceProfileOptions & BodyOptions
  ) => Effect.Effect<Uploaded, ApiError.ApiError>
}

/** The WhyLabs sessions client. @since 0.1.0 */
export class Sessions extends Context.Tag("effect-sessions/WhyLabs/Sessions")<Sessions, Service>() {}

const sessionsPath = Either.right("/v0/sessions")
const sessionPath = Path.template("/v0/sessions/{session_id}")
const uploadPath = Path.template("/v0/sessions/{session_id}/upload")
const referencePath = Path.template("/v0/sessions/{session_id}/reference")
const referencesPath = Path.template("/v0/sessions/{session_id}/references")
const claimPath = Path.template("/v0/sessions/{session_id}/claim")
const linkPath = Path.template("/v0/sessions/observatory-link/{session_id}")

const decodeCreateSession = ApiClient.decoder(Schemas.CreateSessionResponse)
const decodeGetSession = ApiClient.decoder(Schemas.GetSessionResponse)
const decodeUpload = ApiClient.decoder(Schemas.CreateDatasetProfileUploadResponse)
const decodeReference = ApiClient.decoder(Schemas.LogSessionReferenceResponse)
const decodeReferences = ApiClient.decoder(Schemas.BatchLogSessionReferenceResponse)
const decodeLink = ApiClient.decoder(Schemas.GetProfileObservatoryLinkResponse)

/** The request body of a reference, with only the fields the caller set. */
const referenceRequest = (options: ReferenceProfileOptions | undefined): Schemas.LogReferenceRequest => ({
  ...(options?.alias === undefined ? {} : { alias: options.alias }),
  ...(options?.datasetTimestamp === undefined ? {} : { datasetTimestamp: options.datasetTimestamp }),
  ...(options?.region === undefined ? {} : { region: options.region })
})

/**
 * The client on the `HttpClient` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  const baseUrl = options.baseUrl ?? defaultBaseUrl
  const apiKey = options.apiKey
  const policy = Policy.make(options.policy)
  const uploadPolicy: Policy.PolicyInput = { ...defaultUploadPolicy, ...options.uploadPolicy }
  const client = yield* ApiClient.make({
    api: "whylabs",
    spanPrefix: "WhyLabs",
    baseUrl,
    credentials: apiKey === undefined ? Credentials.none : Credentials.header("x-api-key", apiKey),
    policy,
    authHint: `Check ${env.apiKey}: it must be an API key of your WhyLabs organization (Settings → Access Tokens).`,
    statusHints: {
      404: "Check the session id (createSession returns it; guest sessions expire).",
      410: "The session is gone (expired, or claimed into an organization): create a new one with createSession."
    }
  })
  const base = baseUrl.replace(/\/+$/, "")
  const urlOf = (path: Either.Either<string, Path.BadSegment>) => ApiClient.redactUrl(base + Either.getOrElse(path, () => "/v0/sessions/…"))

  /** The local refusal of a call that needs the key when there is none. */
  const needsKey = (operation: string, method: string, path: Either.Either<string, Path.BadSegment>) =>
    new ApiError.Unauthorized({
      api: "whylabs",
      operation,
      method,
      url: urlOf(path),
      message: `whylabs ${operation} needs an API key (X-API-Key): set ${env.apiKey} or the apiKey option; nothing was sent`
    })

  const refuse = (
    operation: string,
    method: string,
    path: Either.Either<string, Path.BadSegment>,
    problems: ReadonlyArray<ApiError.FieldProblem>
  ) =>
    new ApiError.InvalidRequest({
      api: "whylabs",
      operation,
      method,
      url: urlOf(path),
      problems,
      message: `whylabs ${operation}: ${problems.map((p) => `${p.field} ${p.message}`).join("; ")}; nothing was sent`
    })

  const createDatasetProfileUpload = (sessionId: string, upload?: DatasetProfileOptions) =>
    client.run({
      operation: "createDatasetProfileUpload",
      method: "POST",
      path: uploadPath({ session_id: sessionId }),
      body: ApiClient.jsonBody(Schemas.LogAsyncRequest, {
        ...(upload?.datasetTimestamp === undefined ? {} : { datasetTimestamp: upload.datasetTimestamp }),
        ...(upload?.segmentTags === undefined ? {} : { segmentTags: upload.segmentTags }),
        ...(upload?.region === undefined ? {} : { region: upload.region })
      }),
      idempotent: false,
      authenticated: false,
      response: decodeUpload
    })

  const createReferenceProfileUpload = (sessionId: string, reference?: ReferenceProfileOptions) =>
    client.run({
      operation: "createReferenceProfileUpload",
      method: "POST",
      path: referencePath({ session_id: sessionId }),
      body: ApiClient.jsonBody(Schemas.LogReferenceRequest, referenceRequest(reference)),
      idempotent: false,
      authenticated: false,
      response: decodeReference
    })

  const upload = ProfileUpload.make({ client, uploadPolicy, urlOf, refuse })

  return Sessions.of({
    createSession: (request) =>
      client.run({
        operation: "createSession",
        method: "POST",
        path: sessionsPath,
        body: ApiClient.jsonBody(Schemas.CreateSessionRequest, request),
        idempotent: false,
        authenticated: false,
        response: decodeCreateSession
      }),
    getSession: (sessionId) => {
      const path = sessionPath({ session_id: sessionId })
      if (apiKey === undefined) return Effect.fail(needsKey("getSession", "GET", path))
      return client.run({
        operation: "getSession",
        method: "GET",
        path,
        idempotent: true,
        response: decodeGetSession
      })
    },
    createDatasetProfileUpload,
    createReferenceProfileUpload,
    batchCreateReferenceProfileUpload: (sessionId, request) =>
      client.run({
        operation: "batchCreateReferenceProfileUpload",
        method: "POST",
        path: referencesPath({ session_id: sessionId }),
        body: ApiClient.jsonBody(Schemas.BatchLogReferenceRequest, {
          references: (request?.references ?? []).map(referenceRequest)
        }),
        idempotent: false,
        authenticated: false,
        response: decodeReferences
      }),
    claimGuestSession: (sessionId, orgId) => {
      const path = claimPath({ session_id: sessionId })
      if (apiKey === undefined) return Effect.fail(needsKey("claimGuestSession", "POST", path))
      const org = orgId ?? options.orgId
      if (org === undefined || org.trim() === "") {
        return Effect.fail(
          refuse("claimGuestSession", "POST", path, [{
            field: "orgId",
            message: `is required: pass it, or set ${env.orgId} (the orgId option)`
          }])
        )
      }
      return client.run({
        operation: "claimGuestSession",
        method: "POST",
        path,
        query: { org_id: org },
        idempotent: false,
        response: undefined
      })
    },
    getSessionProfileObservatoryLink: (sessionId, link) => {
      const path = linkPath({ session_id: sessionId })
      const count = (link?.batchProfileTimestamps?.length ?? 0) + (link?.referenceProfileIds?.length ?? 0)
      if (count > maxObservatoryProfiles) {
        return Effect.fail(
          refuse("getSessionProfileObservatoryLink", "POST", path, [{
            field: "profiles",
            message:
              `at most ${maxObservatoryProfiles} profiles can be viewed at a time (batchProfileTimestamps + referenceProfileIds), got ${count}`
          }])
        )
      }
      return client.run({
        operation: "getSessionProfileObservatoryLink",
        method: "POST",
        path,
        body: ApiClient.jsonBody(Schemas.GetProfileObservatoryLinkRequest, {
          ...(link?.batchProfileTimestamps === undefined ? {} : { batchProfileTimestamps: link.batchProfileTimestamps }),
          ...(link?.referenceProfileIds === undefined ? {} : { referenceProfileIds: link.referenceProfileIds })
        }),
        // A read: it mints nothing, so a replay is harmless.
        idempotent: true,
        authenticated: false,
        response: decodeLink
      })
    },
    uploadProfile: (sessionId, body, options) =>
      upload(
        "uploadProfile",
        uploadPath({ session_id: sessionId }),
        createDatasetProfileUpload(sessionId, options),
        body,
        options?.size
      ),
    uploadReferenceProfile: (sessionId, body, options) =>
      upload(
        "uploadReferenceProfile",
        referencePath({ session_id: sessionId }),
        createReferenceProfileUpload(sessionId, options),
        body,
        options?.size
      )
  })
})

/**
 * The client as a layer; it needs only an `HttpClient`
 * (`UndiciHttpClient.layer` from `effect-sessions/node`, `FetchHttpClient.layer`, any other, or an emulator's).
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Sessions, never, HttpClient.HttpClient> =>
  Layer.effect(Sessions, make(options))

/**
 * Settings of {@link layerConfig}: each a `Config`, defaulting to the
 * environment variables whylogs reads ({@link env}).
 *
 * @since 0.1.0
 */
export interface ConfigOptions {
  /** Default `WHYLABS_API_ENDPOINT`, else {@link defaultBaseUrl}; must be an http(s) URL. */
  readonly baseUrl?: Config.Config<string> | undefined
  /** Default `WHYLABS_API_KEY` (optional: guest sessions need none); when given, it must not be empty. */
  readonly apiKey?: Config.Config<Redacted.Redacted<string>> | undefined
  /** Default `WHYLABS_DEFAULT_ORG_ID` (optional); when given, it must not be empty. */
  readonly orgId?: Config.Config<string> | undefined
  readonly policy?: Policy.PolicyInput | undefined
  readonly uploadPolicy?: Policy.PolicyInput | undefined
}

/**
 * The client configured from the environment: `WHYLABS_API_ENDPOINT`
 * (default {@link defaultBaseUrl}), `WHYLABS_API_KEY` and
 * `WHYLABS_DEFAULT_ORG_ID` (both optional), or the `Config`s given. A bad URL
 * or an empty key or org id fails the layer with a `ConfigError` naming the
 * setting.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<Sessions, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    Sessions,
    Effect.flatMap(
      Config.all({
        baseUrl: Settings.httpUrl(
          options.baseUrl ?? Config.string(env.baseUrl).pipe(Config.withDefault(defaultBaseUrl)),
          `${env.baseUrl} (baseUrl)`
        ),
        apiKey: Config.option(
          Settings.nonEmptySecret(options.apiKey ?? Config.redacted(env.apiKey), `${env.apiKey} (apiKey)`)
        ),
        orgId: Config.option(
          Config.validate(options.orgId ?? Config.string(env.orgId), {
            message: `${env.orgId} (orgId) must not be empty`,
            validation: (org) => org.trim().length > 0
          })
        )
      }),
      (config) =>
        make({
          baseUrl: config.baseUrl,
          apiKey: Option.getOrUndefined(config.apiKey),
          orgId: Option.getOrUndefined(config.orgId),
          policy: options.policy,
          uploadPolicy: options.uploadPolicy
        })
    )
  )
