/**
 * Jupyter Server sessions: list, create, read, update (rename, move, change
 * kernel) and delete the sessions that bind notebooks, consoles and files to
 * kernels (`/api/sessions`).
 *
 * ```ts
 * import { Jupyter } from "effect-sessions"
 * import { UndiciHttpClient } from "effect-sessions/node"
 *
 * const program = Effect.gen(function*() {
 *   const jupyter = yield* Jupyter.Sessions
 *   const session = yield* jupyter.createSession({ path: "analysis.ipynb", type: "notebook", kernel: { name: "python3" } })
 *   yield* jupyter.updateSession(session.id, { name: "Analysis" })
 *   yield* jupyter.deleteSession(session.id)
 * })
 * program.pipe(Effect.provide(Jupyter.layerConfig()), Effect.provide(UndiciHttpClient.layer))
 * ```
 *
 * Tested against real Jupyter Server 1.23.3 (Debian) and 2.21.1 (the 2.x line
 * JupyterLab 4 and Notebook 7 run on), side by side with their emulations.
 *
 * Behaviour worth knowing (both versions):
 * - `createSession` for a path that already has a session returns that
 *   session (still 201), whatever name or kernel was asked for; but only once
 *   the first create has saved it, after its kernel started: two creates for
 *   one path that overlap make two sessions and two kernels on both versions.
 *   So `createSession` is never replayed once it may have reached the server
 *   (after an attempt timeout, a lost answer or a 502/503/504: it fails, and
 *   the session may exist; `listSessions` finds it by path, and a new
 *   `createSession` returns it). Only a request that surely never left
 *   (connection refused, DNS) is retried. The same holds for `updateSession`
 *   with `kernel.name` (it starts a kernel; a replay would leave one running
 *   that no session uses); other updates are retried;
 * - ids that are not UUID-shaped (`\w+-\w+-\w+-\w+-\w+`) never reach the
 *   sessions handler: the server answers its HTML 404 page, mapped to
 *   `NotFound` like the JSON 404 of an unknown UUID;
 * - a session whose kernel was shut down (`DELETE /api/kernels/{id}`, or
 *   culled for idleness) is removed by the server on its next access, which answers 404
 *   (`NotFound`, "…appears to have been culled or died unexpectedly…"). The
 *   spec's 410 for "kernel deleted before the session" (`Gone`, the session
 *   is kept) is mapped too, though neither version was seen to send it;
 * - HTML pages of logged-in requests embed the server's token, so an error
 *   never keeps an HTML body (nor any of the client's secrets);
 * - a server started without a token lets every read through and checks
 *   every write for XSRF: 403 `'_xsrf' argument missing from POST`, whatever
 *   token is sent; the `xsrf` option (any value) makes writes pass.
 *
 * Where 2.x differs from 1.23:
 * - `Authorization: Bearer <token>` is accepted (any case); 1.23 answers 403.
 *   The client sends `token <token>`, which both accept;
 * - an update naming an unknown kernelspec is 501 `{message: "The 'x' kernel
 *   could not be started: …", short_message: "Error starting kernel x"}`
 *   (`ServerError`, status 501); 1.23 answers 500 `Unhandled error` with a
 *   traceback (`ServerError`, status 500; 500 is not retried);
 * - an unhandled error's `traceback` is always `""`;
 * - a create naming a kernel id that is not running starts the new kernel
 *   under that id (1.23: under a fresh id);
 * - the deprecated `notebook` input's `name` wins over its `path`;
 * - the same otherwise: the 404 of a non-UUID-shaped id is the HTML page, an
 *   unknown kernelspec on create is 501, the session and `kernel` shapes
 *   (`id`, `name`, `last_activity`, `execution_state: "starting"`,
 *   `connections: 0`) carry no new fields, the login flow and cookies work
 *   alike.
 *
 * Where both servers disagree with the spec (`api.yaml`, checked with Prism):
 * `"name": null` for unnamed sessions (a string in the spec); `Location` is
 * a path, not an absolute URL; 403 and 404 answers (and 1.23's 500 above) are
 * statuses the spec does not declare; the spec's request bodies reuse
 * `Session`, whose `kernel` requires both `id` and `name`, while the server
 * takes either (the client sends what the server needs).
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
import * as Redacted from "effect/Redacted"
import * as ApiClient from "../core/ApiClient.js"
import * as ApiError from "../core/ApiError.js"
import * as Credentials from "../core/Credentials.js"
import * as Path from "../core/Path.js"
import * as Policy from "../core/Policy.js"
import * as Settings from "../core/Settings.js"
import * as Schemas from "./Schemas.js"

/** Where `jupyter server` listens by default. @since 0.1.0 */
export const defaultBaseUrl = "http://127.0.0.1:8888"

/**
 * The Jupyter default policy: {@link Policy.defaultPolicy} without 500 among
 * the retried statuses. Jupyter Server answers 500 `"Unhandled error"` (with a
 * traceback) for deterministic handler failures, e.g. a PATCH naming a
 * kernelspec that does not exist, so replaying them only delays the error;
 * 502, 503 and 504 (a proxy such as JupyterHub's in front of a server that is
 * starting) are retried.
 *
 * @since 0.1.0
 */
export const defaultPolicy: Policy.Policy = Policy.make({ retryStatuses: [408, 429, 502, 503, 504] })

/**
 * Cookie authentication (a browser-style login, or JupyterHub's session
 * cookie) instead of, or besides, a token. Jupyter checks writes made with a
 * cookie against XSRF: the client sends `X-XSRFToken: <token>` and the cookie
 * `_xsrf=<token>`, plus every cookie in `cookies`. With a valid token the
 * server needs no XSRF.
 *
 * @since 0.1.0
 */
export interface Xsrf {
  /** The `_xsrf` cookie's value (any value works when the client sends both cookie and header). */
  readonly token: Redacted.Redacted<string>
  /** More cookies to send, e.g. the login cookie `username-127-0-0-1-8888` or `jupyterhub-user-alice`. */
  readonly cookies?: Readonly<Record<string, Redacted.Redacted<string>>> | undefined
}

/** @since 0.1.0 */
export interface Options {
  /** The server's URL, with its base path if any (`https://hub.example.org/user/alice/`). */
  readonly baseUrl: string
  /** The server's token, sent as `Authorization: token <token>`. */
  readonly token?: Redacted.Redacted<string> | undefined
  /** Cookie authentication with XSRF; see {@link Xsrf}. */
  readonly xsrf?: Xsrf | undefined
  /** Laid over {@link defaultPolicy}. */
  readonly policy?: Policy.PolicyInput | undefined
}

/**
 * The sessions client. Every method fails with one {@link ApiError.ApiError}:
 * 400 → `InvalidRequest` (with the server's message), 403 → `Unauthorized`,
 * 404 → `NotFound`, 409 → `Conflict`, 410 → `Gone`, 5xx → `ServerError`
 * (carrying the server's `message` and `short_message`).
 *
 * @since 0.1.0
 */
export interface Service {
  /** Every session of the server. */
  readonly listSessions: () => Effect.Effect<ReadonlyArray<Schemas.Session>, ApiError.ApiError>
  /**
   * Creates a session (201), or returns the existing session of the same path.
   * `path` and `type` are checked before sending (`InvalidRequest`, nothing
   * sent). An unknown kernelspec fails with `ServerError` (501) carrying the
   * server's message.
   *
   * Never replayed once it may have reached the server: a `Timeout`,
   * `Transport` or 502/503/504 error may leave the session created (find it
   * with `listSessions`, or call `createSession` again for the same path,
   * which returns it once the first has finished).
   */
  readonly createSession: (options: Schemas.CreateSession) => Effect.Effect<Schemas.Session, ApiError.ApiError>
  /** One session by id. */
  readonly getSession: (sessionId: string) => Effect.Effect<Schemas.Session, ApiError.ApiError>
  /**
   * Renames (`name`), moves (`path`), retypes (`type`) or changes the kernel
   * (`kernel.name` starts a new one and shuts the old one down; `kernel.id`
   * binds a running kernel, 400 if it is not running). An update with
   * `kernel.name` (and no `kernel.id`) is never replayed once it may have
   * reached the server; every other update is retried like a read.
   *
   * An update with nothing to change is refused locally (`InvalidRequest`,
   * nothing sent): the server would answer 200 with the unchanged session for
   * `{}` (and 400 "No JSON data provided" for an empty body), so sending it
   * could only hide a caller's mistake. Use {@link Service.getSession} to
   * read a session.
   */
  readonly updateSession: (
    sessionId: string,
    changes: Schemas.UpdateSession
  ) => Effect.Effect<Schemas.Session, ApiError.ApiError>
  /**
   * Deletes a session and shuts its kernel down (204). `Gone` (410) when the
   * kernel died first: the server kept the session.
   */
  readonly deleteSession: (sessionId: string) => Effect.Effect<void, ApiError.ApiError>
}

/** The Jupyter Server sessions client. @since 0.1.0 */
export class Sessions extends Context.Tag("effect-sessions/Jupyter/Sessions")<Sessions, Service>() {}

const sessionsPath = Either.right("/api/sessions")
const sessionPath = Path.template("/api/sessions/{session_id}")

const decodeSession = ApiClient.decoder(Schemas.Session)
const decodeSessionList = ApiClient.decoder(Schemas.SessionList)

/** RFC 6265 cookie-name (an HTTP token) and cookie-value characters. */
const cookieName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const cookieValue = /^"?[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*"?$/

const requiredOnCreate = ["path", "type"] as const
const updatable = ["path", "name", "type"] as const

/** The request headers of the XSRF option, and any problem with them. */
const xsrfHeaders = (xsrf: Xsrf | undefined): {
  readonly headers: Record<string, Redacted.Redacted<string>>
  /** Each cookie value on its own: a secret wherever it appears, not only as part of the whole header. */
  readonly secrets: ReadonlyArray<Redacted.Redacted<string>>
  readonly problems: ReadonlyArray<ApiError.FieldProblem>
} => {
  if (xsrf === undefined) return { headers: {}, secrets: [], problems: [] }
  const problems: Array<ApiError.FieldProblem> = []
  const cookies: Array<readonly [string, Redacted.Redacted<string>]> = [["_xsrf", xsrf.token]]
  for (const [name, value] of Object.entries(xsrf.cookies ?? {})) {
    if (name !== "_xsrf") cookies.push([name, value])
  }
  for (const [name, value] of cookies) {
    const field = name === "_xsrf" ? "xsrf.token" : `xsrf.cookies.${name}`
    if (!cookieName.test(name)) problems.push({ field, message: "is not a valid cookie name" })
    else if (!cookieValue.test(Redacted.value(value))) {
      problems.push({ field, message: "is not a valid cookie value (no spaces, quotes, commas, semicolons or backslashes)" })
    }
  }
  const cookie = cookies.map(([name, value]) => `${name}=${Redacted.value(value)}`).join("; ")
  return {
    headers: { "x-xsrftoken": xsrf.token, cookie: Redacted.make(cookie) },
    secrets: cookies.map(([, value]) => value),
    problems
  }
}

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> => typeof u === "object" && u !== null

/** Whether an update starts a kernel: `kernel.name` without `kernel.id` (the server prefers the id). */
const startsKernel = (changes: Schemas.UpdateSession): boolean =>
  changes.kernel !== undefined && changes.kernel.name !== undefined && changes.kernel.id === undefined

/**
 * The client on the `HttpClient` in context.
 *
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const xsrf = xsrfHeaders(options.xsrf)
  const client = yield* ApiClient.make({
    api: "jupyter",
    spanPrefix: "Jupyter",
    baseUrl: options.baseUrl,
    credentials: options.token === undefined ? Credentials.none : Credentials.token(options.token),
    policy: Policy.make(options.policy, defaultPolicy),
    headers: xsrf.headers,
    secrets: xsrf.secrets,
    authHint: options.token === undefined
      ? "Give the server's token (JUPYTER_TOKEN; `jupyter server list` shows it), or the xsrf option with the login cookies."
      : "Check JUPYTER_TOKEN: it must be this server's token (`jupyter server list` shows it).",
    statusHints: {
      404: "Session ids are UUID-shaped (\\w+-\\w+-\\w+-\\w+-\\w+); check the id, and the base URL with its base path.",
      501: "The server cannot start that kernel: ask for an installed kernelspec (`jupyter kernelspec list`), or leave kernel out for the default one."
    }
  })
  const base = options.baseUrl.replace(/\/+$/, "")
  const run = client.run

  /** Fails without sending anything. */
  const refuse = (
    operation: string,
    method: string,
    path: string,
    problems: ReadonlyArray<ApiError.FieldProblem>,
    reason: string
  ) =>
    new ApiError.InvalidRequest({
      api: "jupyter",
      operation,
      method,
      url: ApiClient.redactUrl(base + path),
      problems,
      message: `jupyter ${operation}: ${reason}; nothing was sent`
    })

  /** The configuration problem every call reports, if the XSRF cookies cannot be sent. */
  const misconfigured = (operation: string, method: string, path: string) =>
    xsrf.problems.length === 0 ? undefined : refuse(
      operation,
      method,
      path,
      xsrf.problems,
      `the xsrf option cannot be sent: ${xsrf.problems.map((p) => `${p.field} ${p.message}`).join("; ")}`
    )

  const urlPath = (path: Either.Either<string, Path.BadSegment>) => Either.getOrElse(path, () => "/api/sessions/…")

  return Sessions.of({
    listSessions: () =>
      misconfigured("listSessions", "GET", "/api/sessions") ?? run({
        operation: "listSessions",
        method: "GET",
        path: sessionsPath,
        idempotent: true,
        response: decodeSessionList
      }),
    createSession: (create) => {
      const bad = misconfigured("createSession", "POST", "/api/sessions")
      if (bad !== undefined) return bad
      const given: unknown = create
      const missing = requiredOnCreate.filter((field) => !isRecord(given) || typeof given[field] !== "string")
      if (missing.length > 0) {
        return refuse(
          "createSession",
          "POST",
          "/api/sessions",
          missing.map((field) => ({ field, message: "is required (the server answers 400 without it)" })),
          `${missing.join(" and ")} ${missing.length === 1 ? "is" : "are"} required`
        )
      }
      return run({
        operation: "createSession",
        method: "POST",
        path: sessionsPath,
        body: ApiClient.jsonBody(Schemas.CreateSession, create),
        // Never replayed once it may have reached the server: until the first POST has saved its
        // session (after its kernel started), a replay creates a second session and kernel.
        idempotent: false,
        response: decodeSession
      })
    },
    getSession: (sessionId) => {
      const path = sessionPath({ session_id: sessionId })
      return misconfigured("getSession", "GET", urlPath(path)) ?? run({
        operation: "getSession",
        method: "GET",
        path,
        idempotent: true,
        response: decodeSession
      })
    },
    updateSession: (sessionId, changes) => {
      const path = sessionPath({ session_id: sessionId })
      const bad = misconfigured("updateSession", "PATCH", urlPath(path))
      if (bad !== undefined) return bad
      const given: unknown = changes
      const kernel = isRecord(given) ? given["kernel"] : undefined
      const changesSomething = isRecord(given) &&
        (updatable.some((field) => given[field] !== undefined) ||
          (isRecord(kernel) && (kernel["name"] !== undefined || kernel["id"] !== undefined)))
      if (!changesSomething) {
        return refuse(
          "updateSession",
          "PATCH",
          urlPath(path),
          [{ field: "changes", message: "must set at least one of path, name, type, kernel.name, kernel.id" }],
          "nothing to change: set at least one of path, name, type, kernel.name, kernel.id"
        )
      }
      return run({
        operation: "updateSession",
        method: "PATCH",
        path,
        body: ApiClient.jsonBody(Schemas.UpdateSession, changes),
        // `kernel.name` (without `kernel.id`, which the server prefers) starts a kernel: a replay
        // would start another and leave one running that no session uses.
        idempotent: !startsKernel(changes),
        response: decodeSession
      })
    },
    deleteSession: (sessionId) => {
      const path = sessionPath({ session_id: sessionId })
      return misconfigured("deleteSession", "DELETE", urlPath(path)) ?? run({
        operation: "deleteSession",
        method: "DELETE",
        path,
        idempotent: true,
        response: undefined
      })
    }
  })
})

/**
 * The client as a layer; it needs only an `HttpClient`
 * (`UndiciHttpClient.layer` from `effect-sessions/node`, `FetchHttpClient.layer`, any other, or an emulator's).
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Sessions, never, HttpClient.HttpClient> =>
  Layer.effect(Sessions, make(options))

/** The environment variables {@link layerConfig} reads by default. @since 0.1.0 */
export const env = {
  baseUrl: "JUPYTER_SERVER_URL",
  token: "JUPYTER_TOKEN"
} as const

/**
 * Settings of {@link layerConfig}: each a `Config` (so callers choose the
 * variable names, or pass `Config.succeed`), defaulting to the environment
 * Jupyter itself uses ({@link env}).
 *
 * @since 0.1.0
 */
export interface ConfigOptions {
  /** Default `JUPYTER_SERVER_URL`, else {@link defaultBaseUrl}; must be an http(s) URL (with its base path if any). */
  readonly baseUrl?: Config.Config<string> | undefined
  /**
   * Default `JUPYTER_TOKEN` (optional). Empty means none, as for Jupyter
   * itself (`--IdentityProvider.token=""` starts a server without one).
   */
  readonly token?: Config.Config<Redacted.Redacted<string>> | undefined
  /** Cookie authentication; see {@link Xsrf}. Default none. */
  readonly xsrf?: Config.Config<Xsrf> | undefined
  /** Laid over {@link defaultPolicy}. Default none. */
  readonly policy?: Config.Config<Policy.PolicyInput> | undefined
}

/**
 * The settings {@link layerConfig} reads, validated: a base URL that is not
 * an http(s) URL fails with a `ConfigError` naming the setting.
 *
 * @since 0.1.0
 */
export const config = (options: ConfigOptions = {}): Config.Config<Options> =>
  Config.map(
    Config.all({
      baseUrl: Settings.httpUrl(
        options.baseUrl ?? Config.string(env.baseUrl).pipe(Config.withDefault(defaultBaseUrl)),
        `${env.baseUrl} (baseUrl)`
      ),
      token: Config.option(options.token ?? Config.redacted(env.token)),
      xsrf: options.xsrf === undefined ? Config.succeed(undefined) : options.xsrf,
      policy: options.policy === undefined ? Config.succeed(undefined) : options.policy
    }),
    (settings): Options => ({
      baseUrl: settings.baseUrl,
      token: Option.getOrUndefined(Option.filter(settings.token, (t) => Redacted.value(t).length > 0)),
      xsrf: settings.xsrf,
      policy: settings.policy
    })
  )

/**
 * The client configured from the environment Jupyter itself uses:
 * `JUPYTER_SERVER_URL` (default {@link defaultBaseUrl}) and `JUPYTER_TOKEN`
 * (optional; empty means none), or the `Config`s given. A base URL that is
 * not an http(s) URL fails the layer with a `ConfigError` naming the setting.
 *
 * ```ts
 * Jupyter.layerConfig({ baseUrl: Config.string("HUB_USER_URL"), token: Config.redacted("JUPYTERHUB_API_TOKEN") })
 * ```
 *
 * @since 0.1.0
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<Sessions, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.effect(Sessions, Effect.flatMap(config(options), make))
