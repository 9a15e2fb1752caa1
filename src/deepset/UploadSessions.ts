/**
 * deepset Cloud upload sessions: upload files (a session is created, the
 * files POSTed to its presigned S3 target, the session closed, ingestion
 * watched), or drive the sessions yourself, and follow the files.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const deepset = yield* Deepset.UploadSessions
 *   const report = yield* deepset.upload(
 *     "default",
 *     Stream.fromIterable(paths).pipe(Stream.map((path) => UploadFiles.fromPath(path))),
 *     { writeMode: "OVERWRITE", waitForIngestion: true }
 *   )
 *   yield* deepset.streamFiles("default", report.sessionId).pipe(Stream.runForEach(Console.log))
 * })
 * program.pipe(Effect.provide(Deepset.layerConfig()), Effect.provide(UndiciHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as ApiClient from "../core/ApiClient.js"
import * as ApiError from "../core/ApiError.js"
import * as Credentials from "../core/Credentials.js"
import * as Paginate from "../core/Paginate.js"
import * as Path from "../core/Path.js"
import * as Policy from "../core/Policy.js"
import * as Settings from "../core/Settings.js"
import * as Schemas from "./Schemas.js"
import * as Upload from "./Upload.js"

/** The public deepset Cloud API. @since 0.1.0 */
export const defaultBaseUrl = "https://api.cloud.deepset.ai"

/** Items per page of the streams unless `pageSize` is given. @since 0.1.0 */
export const defaultPageSize = 100
/** Pages fetched ahead by the streams unless `prefetch` is given. @since 0.1.0 */
export const defaultPrefetch = 4

/** @since 0.1.0 */
export interface Options {
  /** The deepset Cloud API key (`Authorization: Bearer`). */
  readonly apiKey: Redacted.Redacted<string>
  /** Default {@link defaultBaseUrl}; a trailing `/api/v1` (as in the official SDK's `API_URL`) is accepted. */
  readonly baseUrl?: string | undefined
  /** Laid over {@link Policy.defaultPolicy}. */
  readonly policy?: Policy.PolicyInput | undefined
}

/** Filters of the session listing. @since 0.1.0 */
export interface ListFilter {
  readonly is_expired?: boolean | undefined
  /** Sessions after this session id. */
  readonly after?: string | undefined
  /** Sessions before this session id. */
  readonly before?: string | undefined
}

/** Filters of the file listing. @since 0.1.0 */
export interface FilesFilter {
  /** Only files in this state (sent only when set). */
  readonly ingestion_status?: Schemas.FileIngestionStatus | undefined
  /** Files after this file_ingestion_id. */
  readonly after?: string | undefined
  /** Files before this file_ingestion_id. */
  readonly before?: string | undefined
}

/** One page: `limit` (page size, server default 10) and `page_number` (from 1). @since 0.1.0 */
export interface PageRequest {
  readonly limit?: number | undefined
  readonly page_number?: number | undefined
}

/** How a stream pages: `pageSize` (default 100) and `prefetch` pages ahead (default 4). @since 0.1.0 */
export interface StreamOptions {
  readonly pageSize?: number | undefined
  readonly prefetch?: number | undefined
}

/** @since 0.1.0 */
export interface Service {
  /**
   * Uploads files as the official SDK's `upload` does: creates a session,
   * POSTs every file (and its `<name>.meta.json`) to the presigned S3 target
   * with `concurrency` (default 16) in flight, closes the session exactly once
   * (also when interrupted), and with `waitForIngestion` polls the status
   * until every uploaded file is FINISHED or FAILED. A file that fails for good
   * is reported in `failedUploads`; the call fails only when the session cannot
   * be created or closed, a status poll fails, or `files` fails.
   */
  readonly upload: Upload.Upload
  /** Creates a session (201) with the presigned config to upload files to. Not retried once the server answered. */
  readonly create: (
    workspace: string,
    options?: Schemas.CreateSession
  ) => Effect.Effect<Schemas.UploadSession, ApiError.ApiError>
  /** Closes a session (204), which starts ingestion. */
  readonly close: (workspace: string, sessionId: string) => Effect.Effect<void, ApiError.ApiError>
  /** Expiry and ingestion counts of one session. */
  readonly getStatus: (workspace: string, sessionId: string) => Effect.Effect<Schemas.SessionDetail, ApiError.ApiError>
  /** One page of the workspace's sessions. */
  readonly list: (
    workspace: string,
    options?: ListFilter & PageRequest
  ) => Effect.Effect<Schemas.PaginatedSession, ApiError.ApiError>
  /** One page of a session's files. */
  readonly getFiles: (
    workspace: string,
    sessionId: string,
    options?: FilesFilter & PageRequest
  ) => Effect.Effect<Schemas.PaginatedSessionFile, ApiError.ApiError>
  /** Every session of the workspace, in order, with prefetch. */
  readonly streamSessions: (
    workspace: string,
    options?: ListFilter & StreamOptions
  ) => Stream.Stream<Schemas.Session, ApiError.ApiError>
  /** Every file of a session, in order, with prefetch and flat memory. */
  readonly streamFiles: (
    workspace: string,
    sessionId: string,
    options?: FilesFilter & StreamOptions
  ) => Stream.Stream<Schemas.SessionFile, ApiError.ApiError>
}

/** The upload-sessions client. @since 0.1.0 */
export class UploadSessions extends Context.Tag("effect-sessions/Deepset/UploadSessions")<UploadSessions, Service>() {}

const sessionsPath = Path.template("/api/v1/workspaces/{workspace_name}/upload_sessions")
const sessionPath = Path.template("/api/v1/workspaces/{workspace_name}/upload_sessions/{session_id}")
const filesPath = Path.template("/api/v1/workspaces/{workspace_name}/upload_sessions/{session_id}/files")

const decodeUploadSession = ApiClient.decoder(Schemas.UploadSession)
const decodeSessionDetail = ApiClient.decoder(Schemas.SessionDetail)
const decodeSessionPage = ApiClient.decoder(Schemas.PaginatedSession)
const decodeFilePage = ApiClient.decoder(Schemas.PaginatedSessionFile)
const closeBody = ApiClient.jsonBody(Schemas.CloseSession, { status: "CLOSED" as const })

/** Accepts the official SDK's `API_URL` form (`…/api/v1`). */
const normalizeBaseUrl = (url: string): string => url.replace(/\/+$/, "").replace(/\/api\/v1$/, "")

/**
 * The client on the `HttpClient` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const client = yield* ApiClient.make({
    api: "deepset",
    spanPrefix: "Deepset",
    baseUrl: normalizeBaseUrl(options.baseUrl ?? defaultBaseUrl),
    credentials: Credentials.bearer(options.apiKey),
    policy: Policy.make(options.policy),
    authHint: "Check DEEPSET_CLOUD_API_KEY: it must be an API key of this deepset Cloud organisation."
  })

  const invalidStreamOption = (operation: string, field: string, value: number) =>
    Stream.fail(
      new ApiError.InvalidRequest({
        api: "deepset",
        operation,
        method: "GET",
        url: "(not sent)",
        problems: [{ field, message: "must be a whole number ≥ 1" }],
        message: `deepset ${operation}: ${field} must be a whole number ≥ 1 (got ${value}); nothing was sent`
      })
    )

  const paged = <A>(
    operation: string,
    options: StreamOptions | undefined,
    fetch: (
      page: number,
      limit: number
    ) => Effect.Effect<Effect.Effect<Paginate.Page<A>, ApiError.ApiError>, ApiError.ApiError>
  ): Stream.Stream<A, ApiError.ApiError> => {
    const pageSize = options?.pageSize ?? defaultPageSize
    const prefetch = options?.prefetch ?? defaultPrefetch
    if (!Number.isInteger(pageSize) || pageSize < 1) return invalidStreamOption(operation, "pageSize", pageSize)
    if (!Number.isInteger(prefetch) || prefetch < 1) return invalidStreamOption(operation, "prefetch", prefetch)
    // A page that stays empty though it says more follow, before the end `total` announced: the listing
    // cannot be trusted, so the stream fails instead of following it page by empty page.
    const onGap = ({ expectedPages, page }: { readonly page: number; readonly expectedPages: number }) =>
      new ApiError.ServerError({
        api: "deepset",
        operation,
        method: "GET",
        url: "(listing)",
        status: 200,
        message: `deepset ${operation}: page ${page} of ${expectedPages} came back empty twice while saying more pages follow; ` +
          "the listing is inconsistent (items may be missing), so it stops here. Try again later."
      })
    // The stream's span is the parent of each page's request (set per request, not per chunk as
    // `Stream.withSpan` would: that doubled the run-loop steps of every page).
    return Paginate.streamDeferred((page) => fetch(page, pageSize), { pageSize, prefetch, span: `Deepset.${operation}` }, onGap)
  }

  /** A listing's request for each page: its path and filters made once per stream, the page's number and size set per page. */
  const eachPage = <A>(request: ApiClient.Request<A>) => (page_number: number, limit: number): ApiClient.Request<A> => ({
    ...request,
    query: { ...request.query, limit, page_number }
  })

  const listRequest = (
    workspace: string,
    options?: ListFilter & PageRequest
  ): ApiClient.Request<Schemas.PaginatedSession> => ({
    operation: "list",
    method: "GET",
    path: sessionsPath({ workspace_name: workspace }),
    query: {
      is_expired: options?.is_expired,
      after: options?.after,
      before: options?.before,
      limit: options?.limit,
      page_number: options?.page_number
    },
    idempotent: true,
    response: decodeSessionPage
  })

  const list = (workspace: string, options?: ListFilter & PageRequest) => client.run(listRequest(workspace, options))

  const getFilesRequest = (
    workspace: string,
    sessionId: string,
    options?: FilesFilter & PageRequest
  ): ApiClient.Request<Schemas.PaginatedSessionFile> => ({
    operation: "getFiles",
    method: "GET",
    path: filesPath({ workspace_name: workspace, session_id: sessionId }),
    query: {
      after: options?.after,
      before: options?.before,
      ingestion_status: options?.ingestion_status,
      limit: options?.limit,
      page_number: options?.page_number
    },
    idempotent: true,
    response: decodeFilePage
  })

  const getFiles = (workspace: string, sessionId: string, options?: FilesFilter & PageRequest) =>
    client.run(getFilesRequest(workspace, sessionId, options))

  const create = (workspace: string, options?: Schemas.CreateSession) =>
    client.run({
      operation: "create",
      method: "POST",
      path: sessionsPath({ workspace_name: workspace }),
      body: ApiClient.jsonBody(Schemas.CreateSession, options ?? {}),
      idempotent: false,
      response: decodeUploadSession
    })
  const close = (workspace: string, sessionId: string) =>
    client.run({
      operation: "close",
      method: "PUT",
      path: sessionPath({ workspace_name: workspace, session_id: sessionId }),
      body: closeBody,
      idempotent: true,
      response: undefined
    })
  const getStatus = (workspace: string, sessionId: string) =>
    client.run({
      operation: "getStatus",
      method: "GET",
      path: sessionPath({ workspace_name: workspace, session_id: sessionId }),
      idempotent: true,
      response: decodeSessionDetail
    })

  return UploadSessions.of({
    upload: Upload.make({ client, create, close, getStatus }),
    create,
    close,
    getStatus,
    list,
    getFiles,
    streamSessions: (workspace, options) => {
      const page = eachPage(listRequest(workspace, options))
      return paged("streamSessions", options, (page_number, limit) => client.runDeferred(page(page_number, limit)))
    },
    streamFiles: (workspace, sessionId, options) => {
      const page = eachPage(getFilesRequest(workspace, sessionId, options))
      return paged("streamFiles", options, (page_number, limit) => client.runDeferred(page(page_number, limit)))
    }
  })
})

/**
 * The client as a layer; it needs only an `HttpClient`
 * (`NodeHttpClient.layerUndici`, `FetchHttpClient.layer`, or an emulator's).
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<UploadSessions, never, HttpClient.HttpClient> =>
  Layer.effect(UploadSessions, make(options))

/** Every option of {@link layerConfig} is a `Config` (a plain policy value is accepted too). @since 0.1.0 */
export interface ConfigOptions {
  /** Default `DEEPSET_CLOUD_API_KEY`, else `API_KEY` (the official SDK's name). */
  readonly apiKey?: Config.Config<Redacted.Redacted<string>> | undefined
  /** Default `DEEPSET_CLOUD_API_URL`, else `API_URL`, else {@link defaultBaseUrl}. */
  readonly baseUrl?: Config.Config<string> | undefined
  readonly policy?: Config.Config<Policy.PolicyInput> | Policy.PolicyInput | undefined
}

/** `DEEPSET_CLOUD_API_KEY`, else `API_KEY`. @since 0.1.0 */
export const defaultApiKeyConfig: Config.Config<Redacted.Redacted<string>> = Config.redacted("DEEPSET_CLOUD_API_KEY")
  .pipe(Config.orElse(() => Config.redacted("API_KEY")))

/** `DEEPSET_CLOUD_API_URL`, else `API_URL`, else {@link defaultBaseUrl}. @since 0.1.0 */
export const defaultBaseUrlConfig: Config.Config<string> = Config.string("DEEPSET_CLOUD_API_URL").pipe(
  Config.orElse(() => Config.string("API_URL")),
  Config.withDefault(defaultBaseUrl)
)

/**
 * The client configured from `Config` (the environment by default):
 * `DEEPSET_CLOUD_API_KEY` (or `API_KEY`) and `DEEPSET_CLOUD_API_URL` (or
 * `API_URL`, default {@link defaultBaseUrl}), as deepset's own SDK reads them.
 * A URL that is not http(s) or an empty key fails the layer with a
 * `ConfigError` naming the setting.
 *
 * ```ts
 * Deepset.layerConfig({ apiKey: Config.redacted("PROD_DEEPSET_KEY"), policy: { maxRetries: 8 } })
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<UploadSessions, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(
    UploadSessions,
    Effect.flatMap(
      Config.all({
        apiKey: Settings.nonEmptySecret(
          options.apiKey ?? defaultApiKeyConfig,
          options.apiKey === undefined ? "DEEPSET_CLOUD_API_KEY (apiKey)" : "the deepset API key (apiKey)"
        ),
        baseUrl: Settings.httpUrl(
          options.baseUrl ?? defaultBaseUrlConfig,
          options.baseUrl === undefined ? "DEEPSET_CLOUD_API_URL (baseUrl)" : "the deepset base URL (baseUrl)"
        ),
        policy: options.policy === undefined
          ? Config.succeed(undefined)
          : Config.isConfig(options.policy)
          ? options.policy
          : Config.succeed(options.policy)
      }),
      (config) => make(config)
    )
  )
