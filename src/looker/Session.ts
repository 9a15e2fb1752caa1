/**
 * The Looker API session (`/login`, `/session`, `/logout`) with a login
 * lifecycle that survives long runs.
 *
 * ```ts
 * import { Looker } from "effect-sessions"
 *
 * const program = Effect.gen(function*() {
 *   const looker = yield* Looker.Session
 *   yield* looker.updateSession({ workspace_id: "dev" })
 *   const session = yield* looker.getSession()
 *   yield* looker.updateSession({ workspace_id: "production" })
 * })
 * program.pipe(Effect.provide(Looker.layerConfig()), Effect.provide(UndiciHttpClient.layer))
 * ```
 *
 * The token lifecycle (see `core/Login`):
 * - the client logs in lazily (`POST /login`, form-encoded `client_id` and
 *   `client_secret`, never query parameters); concurrent callers share one
 *   login, and if it fails they all get that one error;
 * - a token is replaced `refreshLag` (default 60 s) before its `expires_in`;
 *   an `expires_in` that is missing, zero, negative or absurd means the token
 *   is used until the server refuses it;
 * - a 401 on a call logs in once more and replays that call once; a second
 *   401 is an `Unauthorized`, never a loop;
 * - the login is retried by the policy on 5xx and dropped connections; a
 *   400/401/403/404 answer is an `Unauthorized` naming the settings to check,
 *   without the secret;
 * - `DELETE /logout` is sent when the layer's scope closes (a failure is
 *   logged), or explicitly with {@link Service.logout};
 * - a caller-owned token ({@link layerToken}) is never refreshed nor logged
 *   out.
 *
 * Errors: 400 `InvalidRequest`, 404 `NotFound` (Looker's `documentation_url`
 * is kept in the message), 422 `InvalidRequest` with each `{field, code,
 * message}` in `problems`, 429 `RateLimited` (retried after `Retry-After`).
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as ApiClient from "../core/ApiClient.js"
import * as ApiError from "../core/ApiError.js"
import * as Credentials from "../core/Credentials.js"
import * as Login from "../core/Login.js"
import * as Policy from "../core/Policy.js"
import * as Settings from "../core/Settings.js"
import * as Schemas from "./Schemas.js"

/** The API versions this client speaks (the paths are the same; 3.x sends `sudo_user_id` as an integer). @since 0.1.0 */
export type ApiVersion = "4.0" | "3.1"

/** The default API version. @since 0.1.0 */
export const defaultApiVersion: ApiVersion = "4.0"

/** The Looker default policy: {@link Policy.defaultPolicy}. @since 0.1.0 */
export const defaultPolicy: Policy.Policy = Policy.defaultPolicy

/** Where the API lives under a host: `https://acme.looker.com:19999` → `…/api/4.0`. @since 0.1.0 */
export const apiUrl = (baseUrl: string, apiVersion: ApiVersion = defaultApiVersion): string =>
  `${baseUrl.replace(/\/+$/, "")}/api/${apiVersion}`

/** @since 0.1.0 */
export interface Options {
  /** The host, as in `LOOKERSDK_BASE_URL` (`https://acme.looker.com:19999`); the client adds `/api/<version>`. */
  readonly baseUrl: string
  /** Default {@link defaultApiVersion}. */
  readonly apiVersion?: ApiVersion | undefined
  /** The API key's `client_id`. */
  readonly clientId: string
  /** The API key's `client_secret`. */
  readonly clientSecret: Redacted.Redacted<string>
  /** Laid over {@link defaultPolicy}; the login uses it too. */
  readonly policy?: Policy.PolicyInput | undefined
  /** How long before `expires_in` a token is replaced. Default 60 s. */
  readonly refreshLag?: Duration.DurationInput | undefined
}

/** Options of {@link layerToken}. @since 0.1.0 */
export interface TokenOptions {
  readonly baseUrl: string
  readonly apiVersion?: ApiVersion | undefined
  /** A token the caller owns: never refreshed, never logged out. */
  readonly accessToken: Redacted.Redacted<string>
  readonly policy?: Policy.PolicyInput | undefined
}

/**
 * The session client. Every method fails with one {@link ApiError.ApiError}.
 *
 * @since 0.1.0
 */
export interface Service {
  /** `GET /session`: the current API session (workspace, sudo user, permissions). */
  readonly getSession: () => Effect.Effect<Schemas.ApiSession, ApiError.ApiError>
  /**
   * `PATCH /session`: switches the workspace ("production" or "dev"; another
   * value is the server's 422 `InvalidRequest`). A new login starts in
   * "production" again, so a client that needs "dev" across a re-login
   * switches again.
   */
  readonly updateSession: (
    changes: Schemas.WriteApiSession
  ) => Effect.Effect<Schemas.ApiSession, ApiError.ApiError>
  /**
   * `DELETE /logout` of the current token; the next call logs in again.
   * Without a token nothing is sent. On a caller-owned token
   * ({@link layerToken}) it fails with `InvalidRequest` and sends nothing.
   */
  readonly logout: () => Effect.Effect<void, ApiError.ApiError>
}

/** The Looker API session client. @since 0.1.0 */
export class Session extends Context.Tag("effect-sessions/Looker/Session")<Session, Service>() {}

const loginPath = Either.right("/login")
const logoutPath = Either.right("/logout")
const sessionPath = Either.right("/session")

const decodeAccessToken = ApiClient.decoder(Schemas.AccessToken)
const decodeSession = ApiClient.decoder(Schemas.ApiSession)

/** The settings a refused login points at. */
const loginHint =
  "Check LOOKERSDK_CLIENT_ID and LOOKERSDK_CLIENT_SECRET (an API key of a Looker user: Admin > Users > Edit API keys) " +
  "and LOOKERSDK_BASE_URL (the API host and port, e.g. https://acme.looker.com:19999, without /api/<version>)."

/** A refused login (400/401/403/404) as `Unauthorized` naming the settings; the rest keep their tag. */
const loginError = (error: ApiError.ApiError): ApiError.ApiError => {
  if (error.status !== 400 && error.status !== 401 && error.status !== 403 && error.status !== 404) return error
  const server = serverMessage(error.body)
  return new ApiError.Unauthorized({
    api: error.api,
    operation: error.operation,
    method: error.method,
    url: error.url,
    status: error.status,
    ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
    ...(error.body === undefined ? {} : { body: error.body }),
    ...(error.documentationUrl === undefined ? {} : { documentationUrl: error.documentationUrl }),
    message: `looker login failed (${error.method} ${error.url} → ${error.status})${
      server === undefined ? "" : `: ${server}`
    }. ${loginHint}${error.documentationUrl === undefined ? "" : ` See ${error.documentationUrl}`}`
  })
}

/** Looker's `message` in an error body (already scrubbed of the client's secrets by the core). */
const serverMessage = (body: string | undefined): string | undefined => {
  if (body === undefined) return undefined
  try {
    const m = (JSON.parse(body) as { readonly message?: unknown } | null)?.message
    return typeof m === "string" && m.length > 0 ? m : undefined
  } catch {
    return undefined
  }
}

const clientOptions = (baseUrl: string, apiVersion: ApiVersion | undefined, policy: Policy.Policy) => ({
  api: "looker",
  spanPrefix: "Looker",
  baseUrl: apiUrl(baseUrl, apiVersion),
  policy,
  statusHints: {
    422: "Check the values sent (workspace_id is \"production\" or \"dev\")."
  }
})

/** The three methods over a client whose credentials are settled. */
const service = (client: ApiClient.ApiClient, logout: () => Effect.Effect<void, ApiError.ApiError>): Service => {
  const getSessionRequest: ApiClient.Request<Schemas.ApiSession> = {
    operation: "session",
    method: "GET",
    path: sessionPath,
    idempotent: true,
    response: decodeSession
  }
  return Session.of({
    getSession: () => client.run(getSessionRequest),
    updateSession: (changes) =>
      client.run({
        operation: "update_session",
        method: "PATCH",
        path: sessionPath,
        body: ApiClient.jsonBody(Schemas.WriteApiSession, changes),
        // Sets the session to a state: replaying it is safe.
        idempotent: true,
        response: decodeSession
      }),
    logout
  })
}

/**
 * The client, logging in with an API key; the token is logged out when the
 * scope closes.
 *
 * @since 0.1.0
 */
export const make: (options: Options) => Effect.Effect<Service, never, HttpClient.HttpClient | Scope.Scope> = Effect
  .fnUntraced(function*(options: Options) {
    const http = yield* HttpClient.HttpClient
    const policy = Policy.make(options.policy, defaultPolicy)
    const base = clientOptions(options.baseUrl, options.apiVersion, policy)
    const secrets = [options.clientSecret]
    // The login goes through the API client itself, without credentials (so the policy retries it); the
    // client's credentials are this source, which logs in through that client: hence the late binding.
    let api: ApiClient.ApiClient | undefined
    const login = Effect.suspend(() =>
      api === undefined ? Effect.dieMessage("the Looker client logged in before it was built") : api.run({
        operation: "login",
        method: "POST",
        path: loginPath,
        body: ApiClient.formBody({ client_id: options.clientId, client_secret: options.clientSecret }),
        authenticated: false,
        // A replayed login only issues another token: 5xx and dropped connections are retried.
        idempotent: true,
        response: decodeAccessToken
      })
    ).pipe(
      Effect.map((grant): Login.Grant => ({ token: Redacted.make(grant.access_token), expiresIn: grant.expires_in })),
      Effect.mapError(loginError)
    )
    // Logout runs rarely (explicitly, or when the scope closes): a client of its own carries the token it ends.
    const logoutPolicy = Policy.make({ maxRetries: Math.min(1, policy.maxRetries), deadline: "10 seconds" }, policy)
    const logoutToken = (token: Redacted.Redacted<string>) =>
      Effect.flatMap(
        ApiClient.make({ ...base, policy: logoutPolicy, credentials: Credentials.token(token), secrets }),
        (client) =>
          client.run({ operation: "logout", method: "DELETE", path: logoutPath, idempotent: true, response: undefined })
      ).pipe(Effect.provideService(HttpClient.HttpClient, http))
    const source = yield* Login.make({ login, logout: logoutToken, refreshLag: options.refreshLag })
    const client = yield* ApiClient.make({
      ...base,
      credentials: Credentials.dynamic("token", source),
      secrets,
      authHint: "Looker refused a token it had just issued (the client logged in again once): " +
        "check that the API user is still active and allowed to use the API (LOOKERSDK_CLIENT_ID)."
    })
    api = client
    return service(client, () => source.logout)
  })

/**
 * The client on a token the caller owns (from another login, an embed
 * session…): it is sent as `Authorization: token …`, never refreshed and
 * never logged out; a 401 is an `Unauthorized` saying so.
 *
 * @since 0.1.0
 */
export const makeToken: (options: TokenOptions) => Effect.Effect<Service, never, HttpClient.HttpClient> = Effect
  .fnUntraced(function*(options: TokenOptions) {
    const policy = Policy.make(options.policy, defaultPolicy)
    const base = clientOptions(options.baseUrl, options.apiVersion, policy)
    const client = yield* ApiClient.make({
      ...base,
      credentials: Credentials.token(options.accessToken),
      authHint: "The access token given to Looker.layerToken was refused (expired or revoked?). It belongs to the " +
        "caller, so this client never refreshes it: get a new one, or use Looker.layer with an API key."
    })
    const url = `${base.baseUrl}/logout`
    return service(client, () =>
      Effect.fail(
        new ApiError.InvalidRequest({
          api: "looker",
          operation: "logout",
          method: "DELETE",
          url,
          problems: [{ field: "accessToken", message: "is caller-owned: this client never logs it out" }],
          message: "looker logout: the token given to Looker.layerToken belongs to the caller and is never logged " +
            "out by this client; nothing was sent"
        })
      ))
  })

/**
 * The client as a layer: logs in lazily and logs out when the layer's scope
 * closes. It needs only an `HttpClient`.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Session, never, HttpClient.HttpClient> =>
  Layer.scoped(Session, make(options))

/**
 * The client on a caller-owned token (never refreshed, never logged out).
 *
 * @since 0.1.0
 */
export const layerToken = (options: TokenOptions): Layer.Layer<Session, never, HttpClient.HttpClient> =>
  Layer.effect(Session, makeToken(options))

/**
 * Settings of {@link layerConfig}: every one a `Config`, defaulting to the
 * environment variables the official Looker SDKs read.
 *
 * @since 0.1.0
 */
export interface ConfigOptions {
  /** Default `LOOKERSDK_BASE_URL` (required; an http(s) URL). */
  readonly baseUrl?: Config.Config<string> | undefined
  /** Default `LOOKERSDK_API_VERSION` ("4.0" or "3.1"; default "4.0"). */
  readonly apiVersion?: Config.Config<ApiVersion> | undefined
  /** Default `LOOKERSDK_CLIENT_ID` (required, not empty). */
  readonly clientId?: Config.Config<string> | undefined
  /** Default `LOOKERSDK_CLIENT_SECRET` (required, not empty). */
  readonly clientSecret?: Config.Config<Redacted.Redacted<string>> | undefined
  /** Default `LOOKERSDK_TIMEOUT`: seconds per attempt (0 or unset keeps the policy's). */
  readonly timeout?: Config.Config<number> | undefined
  /**
   * Default `LOOKERSDK_VERIFY_SSL` (default true). Certificate checks belong
   * to the transport: when this is false, build this layer with
   * `LookerTls.layerConfig()` from `effect-sessions/node`, which applies it to
   * this client's connections only; here `false` only warns once that the
   * `HttpClient` in context decides.
   */
  readonly verifySsl?: Config.Config<boolean> | undefined
  readonly policy?: Policy.PolicyInput | undefined
  readonly refreshLag?: Duration.DurationInput | undefined
}

/** The settings {@link layerConfig} reads, validated. @since 0.1.0 */
export const config = (options: ConfigOptions = {}) =>
  Config.all({
    baseUrl: Settings.httpUrl(options.baseUrl ?? Config.string("LOOKERSDK_BASE_URL"), "LOOKERSDK_BASE_URL (baseUrl)"),
    apiVersion: options.apiVersion ??
      Config.literal("4.0", "3.1")("LOOKERSDK_API_VERSION").pipe(Config.withDefault(defaultApiVersion)),
    clientId: Config.map(
      Settings.nonEmptySecret(
        Config.map(options.clientId ?? Config.string("LOOKERSDK_CLIENT_ID"), Redacted.make),
        "LOOKERSDK_CLIENT_ID (clientId)"
      ),
      (id) => Redacted.value(id).trim()
    ),
    clientSecret: Settings.nonEmptySecret(
      options.clientSecret ?? Config.redacted("LOOKERSDK_CLIENT_SECRET"),
      "LOOKERSDK_CLIENT_SECRET (clientSecret)"
    ),
    timeout: Settings.seconds(
      options.timeout ?? Config.number("LOOKERSDK_TIMEOUT").pipe(Config.withDefault(0)),
      "LOOKERSDK_TIMEOUT (timeout)"
    ),
    verifySsl: options.verifySsl ?? Config.boolean("LOOKERSDK_VERIFY_SSL").pipe(Config.withDefault(true))
  })

/** The policy input of a `LOOKERSDK_TIMEOUT` in seconds laid under the caller's policy. */
const timeoutPolicy = (seconds: number, policy: Policy.PolicyInput | undefined): Policy.PolicyInput | undefined =>
  seconds <= 0 ? policy : {
    attemptTimeout: Duration.seconds(seconds),
    deadline: Duration.max(Duration.seconds(seconds), defaultPolicy.deadline),
    ...policy
  }

/**
 * The client configured from the environment the official Looker SDKs read:
 * `LOOKERSDK_BASE_URL`, `LOOKERSDK_API_VERSION`, `LOOKERSDK_CLIENT_ID`,
 * `LOOKERSDK_CLIENT_SECRET`, `LOOKERSDK_TIMEOUT` (seconds) and
 * `LOOKERSDK_VERIFY_SSL` (see {@link ConfigOptions.verifySsl}). A bad URL or
 * an empty id or secret fails the layer with a `ConfigError` naming it.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  options: ConfigOptions = {}
): Layer.Layer<Session, ConfigError.ConfigError, HttpClient.HttpClient> =>
  Layer.scoped(
    Session,
    Effect.flatMap(config(options), (settings) =>
      Effect.zipRight(
        settings.verifySsl
          ? Effect.void
          : Effect.logWarning(
            "LOOKERSDK_VERIFY_SSL=false: certificate checks belong to the HttpClient this layer is given; " +
              "use LookerTls.layerConfig() from effect-sessions/node to turn them off for the Looker client only"
          ),
        make({
          baseUrl: settings.baseUrl,
          apiVersion: settings.apiVersion,
          clientId: settings.clientId,
          clientSecret: settings.clientSecret,
          policy: timeoutPolicy(settings.timeout, options.policy),
          refreshLag: options.refreshLag
        })
      ))
  )
