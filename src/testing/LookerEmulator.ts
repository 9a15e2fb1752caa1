/**
 * An emulator of the Looker API's login and session endpoints as an
 * `HttpApp`, served under `/api/4.0` and `/api/3.1` at once (tokens work
 * under both, as on a real instance):
 *
 * - `POST /login` with `client_id` and `client_secret` in an
 *   `application/x-www-form-urlencoded` body (query parameters are still
 *   accepted, as Looker does until their deprecation, and counted) → 200
 *   `{access_token, token_type: "Bearer", expires_in, refresh_token: null}`;
 *   wrong credentials → 404 `{message: "Not found", documentation_url}`,
 *   missing ones → 400. `expires_in` is configurable, including values a
 *   server should not send (missing, zero, negative, absurd): only a
 *   positive finite one makes the token expire;
 * - every other route needs `Authorization: token <t>` (or `Bearer`); a
 *   missing, unknown, expired, revoked or logged-out token → 401
 *   `{message: "Requires authentication.", documentation_url}`;
 * - `DELETE /logout` → 204, the token ends (also at `/api/logout` and
 *   `/api/login` without a version, as Looker serves them and the Python SDK
 *   logs out);
 * - `GET /session` / `PATCH /session {workspace_id}` → ApiSession, one
 *   workspace per token ("production" after a login); an unknown workspace →
 *   422 ValidationError `{message, errors: [{field, code, message,
 *   documentation_url}], documentation_url}`; a body that is not a JSON
 *   object → 400. In 4.0 `sudo_user_id` is a string, in 3.1 an integer;
 * - unknown routes → 404 Error; the shared {@link Faults} (429 with
 *   `Retry-After`, 5xx, drops) apply to any request.
 *
 * `layerInMemory` registers the app at {@link baseUrl}'s origin (`InMemory.layerAt`), so it
 * merges with the other emulators. Times come from `Clock` (so `TestClock` expires tokens in memory), tokens
 * from `Random`.
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import type * as Schemas from "../looker/Schemas.js"
import * as Faults from "./Faults.js"
import * as InMemory from "./InMemory.js"
import type * as Recorded from "./Recorded.js"

/** A base URL for in-memory use (the in-memory client ignores the host). @since 0.1.0 */
export const baseUrl = "https://looker.emulator:19999"

/** The API key the emulator accepts by default. @since 0.1.0 */
export const defaultClientId = "emulator-client-id"
/** @since 0.1.0 */
export const defaultClientSecret = "emulator-client-secret-5f2c9d"

/** The documentation URL of authentication errors. @since 0.1.0 */
export const authDocumentationUrl = "https://cloud.google.com/looker/docs/r/api/authorization"

/** The documentation URL of session errors. @since 0.1.0 */
export const sessionDocumentationUrl = "https://cloud.google.com/looker/docs/r/api/4.0/methods/Session/update_session"

/** The workspaces an API session can select. @since 0.1.0 */
export const workspaces: ReadonlyArray<string> = ["production", "dev"]

/** Options of {@link make}. @since 0.1.0 */
export interface Options {
  readonly clientId?: string
  readonly clientSecret?: string
  /** `expires_in` of new tokens (default 3600); `undefined` in {@link Emulator.setExpiresIn} omits the field. */
  readonly expiresIn?: unknown
  /** The sudo user id sessions report (default none: `null`). */
  readonly sudoUserId?: number
}

/** Counters tests can read. @since 0.1.0 */
export interface Stats {
  /** Every request. */
  readonly requests: number
  /** Tokens issued. */
  readonly logins: number
  /** `POST /login` requests (answered or not, faults included). */
  readonly loginRequests: number
  /** Logins whose credentials came as query parameters. */
  readonly queryLogins: number
  /** Successful `DELETE /logout`s. */
  readonly logouts: number
  /** 401 answers. */
  readonly unauthorized: number
  /** Authenticated requests per token (valid or not), logins excluded. */
  readonly requestsByToken: Readonly<Record<string, number>>
  /** `"POST /login"`, `"GET /session"`, `"PATCH /session"`, `"DELETE /logout"`, `"OTHER"`. */
  readonly byRoute: Readonly<Record<string, number>>
}

/** One recorded request (as received, secrets included). @since 0.1.0 */
export type RecordedRequest = Recorded.RecordedRequest

/** A running emulator. @since 0.1.0 */
export interface Emulator {
  /** The full app, fault middleware included. */
  readonly app: HttpApp.Default<never, never>
  readonly faults: Faults.Controller
  /** `expires_in` of tokens issued from now on (`undefined`: the field is omitted). */
  readonly setExpiresIn: (expiresIn: unknown) => Effect.Effect<void>
  /** Revokes one token, or every live token; their next use is a 401. */
  readonly revoke: (token?: string) => Effect.Effect<void>
  /** Tokens issued so far, oldest first. */
  readonly tokens: Effect.Effect<ReadonlyArray<string>>
  /** The workspace of a token's session, if the token is known. */
  readonly workspaceOf: (token: string) => Effect.Effect<string | undefined>
  readonly stats: Effect.Effect<Stats>
  /** The last 200 requests, oldest first. */
  readonly recent: Effect.Effect<ReadonlyArray<RecordedRequest>>
}

/** The emulator of the current test. @since 0.1.0 */
export class LookerEmulator extends Context.Tag("effect-sessions/testing/LookerEmulator")<LookerEmulator, Emulator>() {}

interface TokenRecord {
  readonly token: string
  /** Clock millis after which it is refused; undefined: never. */
  readonly expiresAt: number | undefined
  ended: boolean
  workspace: string
}

type SessionWire4 = typeof Schemas.ApiSession.Encoded

const RECENT = 200

const json = (status: number, body: unknown): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(body, { status })

const errorBody = (status: number, message: string, documentation_url: string) =>
  json(status, { message, documentation_url })

const requiresAuth = errorBody(401, "Requires authentication.", authDocumentationUrl)
const notFound = errorBody(404, "Not found", "https://cloud.google.com/looker/docs/r/api/support")

const hex4 = (n: number): string => n.toString(16).padStart(4, "0")
const randomToken: Effect.Effect<string> = Effect.map(
  Effect.all(Array.from({ length: 10 }, () => Random.nextIntBetween(0, 0x10000))),
  (parts) => parts.map(hex4).join("")
)

const splitUrl = (url: string): readonly [path: string, search: string] => {
  const q = url.indexOf("?")
  return q === -1 ? [url, ""] : [url.slice(0, q), url.slice(q + 1)]
}

const versioned = /^\/api(?:\/(4\.0|3\.1))?(\/.*)$/

/** Routes Looker also serves without a version (the Python SDK logs out at `/api/logout`). */
const unversioned = new Set(["/login", "/logout"])

/**
 * A fresh emulator with no tokens and no fault plan.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Emulator> =>
  Effect.gen(function*() {
    const clientId = options.clientId ?? defaultClientId
    const clientSecret = options.clientSecret ?? defaultClientSecret
    let expiresIn: unknown = "expiresIn" in options ? options.expiresIn : 3600
    const faults = yield* Faults.makeController({
      statusBody: (status) => ({
        message: Faults.reasonPhrase(status),
        documentation_url: "https://cloud.google.com/looker/docs/r/api/support"
      })
    })
    const tokens = new Map<string, TokenRecord>()
    const issued: Array<string> = []
    const counters = { requests: 0, logins: 0, loginRequests: 0, queryLogins: 0, logouts: 0, unauthorized: 0 }
    const requestsByToken: Record<string, number> = {}
    const byRoute: Record<string, number> = {}
    const ring: Array<RecordedRequest> = []

    const sessionWire = (record: TokenRecord, version: string): SessionWire4 | Record<string, unknown> => {
      const sudo = options.sudoUserId ?? null
      return {
        can: { view: true, update: true },
        workspace_id: record.workspace,
        sudo_user_id: sudo === null ? null : version === "3.1" ? sudo : String(sudo)
      }
    }

    /** The token of a request, if it is live now. */
    const authenticate = (request: HttpServerRequest.HttpServerRequest): Effect.Effect<TokenRecord | undefined> =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const header = request.headers["authorization"] ?? ""
        const m = /^(token|bearer)\s+(\S+)\s*$/i.exec(header)
        if (m === null) return undefined
        const token = m[2]!
        requestsByToken[token] = (requestsByToken[token] ?? 0) + 1
        const record = tokens.get(token)
        if (record === undefined || record.ended) return undefined
        if (record.expiresAt !== undefined && now >= record.expiresAt) return undefined
        return record
      })

    const login = (search: string, body: string, contentType: string) =>
      Effect.gen(function*() {
        const query = new URLSearchParams(search)
        const form = contentType.toLowerCase().startsWith("application/x-www-form-urlencoded")
          ? new URLSearchParams(body)
          : new URLSearchParams()
        const id = form.get("client_id") ?? query.get("client_id")
        const secret = form.get("client_secret") ?? query.get("client_secret")
        if (id === null || secret === null || id === "" || secret === "") {
          return errorBody(400, "client_id and client_secret are required", authDocumentationUrl)
        }
        if (id !== clientId || secret !== clientSecret) return errorBody(404, "Not found", authDocumentationUrl)
        if (query.has("client_secret")) counters.queryLogins++
        const token = yield* randomToken
        const now = yield* Clock.currentTimeMillis
        const life = expiresIn
        const lifetime = typeof life === "number" && Number.isFinite(life) && life > 0 ? life * 1000 : undefined
        tokens.set(token, {
          token,
          expiresAt: lifetime === undefined ? undefined : now + lifetime,
          ended: false,
          workspace: "production"
        })
        issued.push(token)
        counters.logins++
        return json(200, {
          access_token: token,
          token_type: "Bearer",
          ...(life === undefined ? {} : { expires_in: life }),
          refresh_token: null
        })
      })

    const updateSession = (record: TokenRecord, version: string, body: string) => {
      let parsed: unknown
      try {
        parsed = JSON.parse(body)
      } catch {
        return errorBody(400, "JSON parse error", sessionDocumentationUrl)
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        return errorBody(400, "The request body must be a JSON object", sessionDocumentationUrl)
      }
      const workspace = (parsed as Record<string, unknown>)["workspace_id"]
      if (workspace !== undefined) {
        if (typeof workspace !== "string" || !workspaces.includes(workspace)) {
          return json(422, {
            message: "Validation Failed",
            errors: [{
              field: "workspace_id",
              code: "invalid",
              message: `Unknown workspace ${JSON.stringify(workspace)}: must be one of production, dev`,
              documentation_url: sessionDocumentationUrl
            }],
            documentation_url: sessionDocumentationUrl
          })
        }
        record.workspace = workspace
      }
      return json(200, sessionWire(record, version))
    }

    const handle = (request: HttpServerRequest.HttpServerRequest, body: string) =>
      Effect.gen(function*() {
        const [path, search] = splitUrl(request.url)
        const m = versioned.exec(path)
        if (m === null) return notFound
        const route = m[2]!.replace(/\/+$/, "")
        if (m[1] === undefined && !unversioned.has(route)) return notFound
        const version = m[1] ?? "4.0"
        if (route === "/login" && request.method === "POST") {
          return yield* login(search, body, request.headers["content-type"] ?? "")
        }
        const known = (route === "/session" && (request.method === "GET" || request.method === "PATCH")) ||
          (route === "/logout" && request.method === "DELETE")
        const record = yield* authenticate(request)
        if (record === undefined) {
          counters.unauthorized++
          return requiresAuth
        }
        if (!known) return notFound
        if (route === "/logout") {
          record.ended = true
          counters.logouts++
          return HttpServerResponse.empty({ status: 204 })
        }
        return request.method === "GET" ? json(200, sessionWire(record, version)) : updateSession(record, version, body)
      })

    const routeKey = (method: string, url: string): string => {
      const m = versioned.exec(splitUrl(url)[0])
      const route = m?.[2]?.replace(/\/+$/, "")
      const key = `${method} ${route}`
      return key === "POST /login" || key === "GET /session" || key === "PATCH /session" || key === "DELETE /logout"
        ? key
        : "OTHER"
    }

    class BodyText extends Context.Tag("effect-sessions/testing/LookerEmulator/BodyText")<BodyText, string>() {}
    const routed: HttpApp.Default<never, BodyText> = Effect.flatMap(
      Effect.zip(HttpServerRequest.HttpServerRequest, BodyText),
      ([request, body]) => handle(request, body)
    )
    const withFaults = faults.middleware(routed)

    const app: HttpApp.Default<never, never> = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      counters.requests++
      const key = routeKey(request.method, request.url)
      byRoute[key] = (byRoute[key] ?? 0) + 1
      if (key === "POST /login") counters.loginRequests++
      const headers: Record<string, string> = {}
      for (const name in request.headers) {
        const value = request.headers[name]
        if (value !== undefined) headers[name] = value
      }
      return Effect.flatMap(Effect.orElseSucceed(request.text, () => ""), (body) => {
        ring.push({ method: request.method, url: request.url, headers, body })
        if (ring.length > RECENT) ring.shift()
        return Effect.orDie(Effect.provideService(withFaults, BodyText, body))
      })
    })

    return {
      app,
      faults,
      setExpiresIn: (value) =>
        Effect.sync(() => {
          expiresIn = value
        }),
      revoke: (token) =>
        Effect.sync(() => {
          for (const record of tokens.values()) if (token === undefined || record.token === token) record.ended = true
        }),
      tokens: Effect.sync(() => issued.slice()),
      workspaceOf: (token) => Effect.sync(() => tokens.get(token)?.workspace),
      stats: Effect.sync((): Stats => ({
        ...counters,
        requestsByToken: { ...requestsByToken },
        byRoute: { ...byRoute }
      })),
      recent: Effect.sync(() => ring.slice())
    } satisfies Emulator
  })

/**
 * A fresh emulator as the `LookerEmulator` service, and an in-memory
 * `HttpClient` that talks to it.
 *
 * @since 0.1.0
 */
export const layerInMemory = (options: Options = {}): Layer.Layer<HttpClient.HttpClient | LookerEmulator> =>
  Layer.unwrapEffect(
    Effect.map(make(options), (emulator) =>
      Layer.merge(Layer.succeed(LookerEmulator, emulator), InMemory.layerAt(baseUrl, emulator.app)))
  )
