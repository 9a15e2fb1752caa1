/**
 * An emulator of Jupyter Server's sessions API as an `HttpApp` (routed with
 * `HttpRouter`), with the semantics observed on the real Jupyter Server of
 * the version it emulates (option `version`: `"1.23"`, Debian's 1.23.3, the
 * default; or `"2"`, the 2.x line JupyterLab 4 and Notebook 7 run on,
 * observed on 2.21.1). What both versions do:
 *
 * - auth: `Authorization: token <t>` (scheme case-insensitive; version 2
 *   also takes `Bearer <t>`) or `?token=`;
 *   a missing or wrong token is 403 `{"message": "Forbidden", "reason": null}`,
 *   except that writes are checked for XSRF first (403 `"'_xsrf' argument
 *   missing from POST"`), as the real server does for every request that is
 *   not token-authenticated. A cookie login ({@link Emulator.login}) works
 *   like the real one: reads need the cookie, writes also `X-XSRFToken`
 *   equal to the `_xsrf` cookie;
 * - without a token (a server started with an empty token: "All
 *   authentication is disabled"), both versions let every read through but
 *   still check every write for XSRF: 403 `'_xsrf' argument missing from
 *   POST` unless `X-XSRFToken` (or `?_xsrf=`) equals the `_xsrf` cookie;
 * - `POST /api/sessions` → 201 + `Location: {base}api/sessions/{id}`; `path`
 *   and `type` required (400 `Missing field in JSON data: path`); the session
 *   of an existing path is returned (201); an unknown kernelspec is 501
 *   `{message, short_message}`; `kernel: null` is the real server's 500;
 * - `GET`/`PATCH`/`DELETE /api/sessions/{id}`: ids that are not UUID-shaped
 *   (`\w+-\w+-\w+-\w+-\w+`) get the HTML 404 page, unknown ones 404 JSON;
 *   PATCH with no body is 400 `No JSON data provided`, with `{}` 200
 *   unchanged; `kernel.name` starts a new kernel and shuts the old one down
 *   (an unknown name is the real server's 500), `kernel.id` of a kernel that
 *   is not running is 400; DELETE is 204;
 * - `GET /api/kernels`, `GET`/`DELETE /api/kernels/{id}`: shutting a kernel
 *   down under a session makes the session vanish on its next access (404
 *   with the server's "culled" message), as on the real server;
 * - the HTML 404 page of a logged-in request embeds the token
 *   (`data-jupyter-api-token`), as the real page does;
 * - {@link Emulator.killKernel} makes a session's kernel die while the
 *   server keeps the session (the spec's 410 case, which neither version was seen
 *   to produce): it shows `kernel: null`, DELETE answers 410 `Kernel deleted
 *   before session` and keeps it, a PATCH with `kernel.name` gives it a new
 *   kernel.
 *
 * Where version 2 differs from 1.23: `Bearer` is accepted; a PATCH naming
 * an unknown kernelspec is 501 `{message, short_message}` (1.23: the 500
 * `Unhandled error`); an unhandled error's `traceback` is always `""`; a
 * create naming a kernel id that is not running starts the new kernel under
 * that id (1.23: under a fresh id); the deprecated `notebook` input's `name`
 * wins over its `path` as the session's path.
 *
 * Kernels stay `execution_state: "starting"` with no connections (REST calls
 * alone never make a real kernel idle). Times come from `Clock`, ids from
 * `Random`.
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
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import type * as Schemas from "../jupyter/Schemas.js"
import * as Faults from "./Faults.js"
import * as InMemory from "./InMemory.js"
import type * as Recorded from "./Recorded.js"

/** The default URL of a local Jupyter Server; the in-memory client ignores the host anyway. @since 0.1.0 */
export const baseUrl = "http://127.0.0.1:8888"

/** The Jupyter Server lines the emulator can follow. @since 0.1.0 */
export type Version = "1.23" | "2"

/** The exact release each {@link Version} was observed on (answered by `GET /api`). @since 0.1.0 */
export const serverVersions: Readonly<Record<Version, string>> = { "1.23": "1.23.3", "2": "2.21.1" }

/** The release the default version (`"1.23"`) answers by `GET /api`. @since 0.1.0 */
export const emulatedVersion = serverVersions["1.23"]

/** The name of the login cookie {@link Emulator.login} issues. @since 0.1.0 */
export const loginCookieName = "username-emulator"

/** Options of {@link make}. @since 0.1.0 */
export interface Options {
  /** The version to emulate; default `"1.23"`. */
  readonly version?: Version
  /**
   * The server's token. Without one the emulator is a server started with an
   * empty token: reads need nothing, writes need XSRF (as both real versions do).
   */
  readonly token?: string
  /** A base path such as `/user/alice/` (JupyterHub); default `/`. */
  readonly basePath?: string
  /** Installed kernelspecs; the first is the default kernel. Default `["python3"]`. */
  readonly kernelspecs?: ReadonlyArray<string>
}

/** Cookies of a browser-style login: send them with `X-XSRFToken: <xsrf>`. @since 0.1.0 */
export interface Login {
  /** The `_xsrf` cookie's value. */
  readonly xsrf: string
  /** The login cookie (name → value). */
  readonly cookies: Readonly<Record<string, string>>
}

/** Request counters. @since 0.1.0 */
export interface Stats {
  readonly requests: number
  /** e.g. `"POST /api/sessions"`, `"DELETE /api/sessions/{id}"`; anything else counts as `"OTHER"`. */
  readonly byRoute: Readonly<Record<string, number>>
}

/** One recorded request (as received, secrets included). @since 0.1.0 */
export type RecordedRequest = Recorded.RecordedRequest

/** A running emulator. @since 0.1.0 */
export interface Emulator {
  /** The full app, fault middleware included (a dropped connection is a `Faults.ConnectionDropped` defect). */
  readonly app: HttpApp.Default<never, never>
  readonly faults: Faults.Controller
  /** The base path it serves under, with slashes on both ends (`/`, `/user/alice/`). */
  readonly basePath: string
  /** The session's kernel dies; the server keeps the session (DELETE → 410). Fails for an unknown session. */
  readonly killKernel: (sessionId: string) => Effect.Effect<void, Cause.NoSuchElementException>
  /** A fresh browser-style login: a login cookie and an `_xsrf` value. */
  readonly login: Effect.Effect<Login>
  readonly stats: Effect.Effect<Stats>
  /** The last 100 requests, oldest first. */
  readonly recent: Effect.Effect<ReadonlyArray<RecordedRequest>>
}

/** The emulator of the current test. @since 0.1.0 */
export class JupyterEmulator extends Context.Tag("effect-sessions/testing/JupyterEmulator")<
  JupyterEmulator,
  Emulator
>() {}

// ---------------------------------------------------------------------------
// wire helpers

type KernelWire = typeof Schemas.Kernel.Encoded

/** A session as the server sends it; the server stores `path`, `name` and `type` as given, so they stay `unknown`. */
interface SessionWire {
  readonly id: string
  readonly path: unknown
  readonly name: unknown
  readonly type: unknown
  readonly kernel: KernelWire | null
  readonly notebook?: { readonly path: unknown; readonly name: unknown }
}

type ErrorWire = typeof Schemas.ErrorBody.Encoded

const RECENT = 100

/** The real server's route pattern for session and kernel ids (tornado matches it on the raw path). */
const idShape = /^\w+-\w+-\w+-\w+-\w+$/

const json = (status: number, body: unknown, headers?: Record<string, string>): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(body, headers === undefined ? { status } : { status, headers })

/** A body already serialized as JSON. */
const jsonText = (status: number, body: string): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.text(body, { status, contentType: "application/json" })

const error = (status: number, message: string): HttpServerResponse.HttpServerResponse =>
  json(status, { message, reason: null } satisfies ErrorWire)

const forbidden = error(403, "Forbidden")
const methodNotAllowed = error(405, "Method Not Allowed")
const noJson = error(400, "No JSON data provided")
const invalidJson = error(400, "Invalid JSON in body of request")

/**
 * The real server's answer to an exception its handler did not catch; version
 * 2 keeps the `traceback` field but always sends it empty.
 */
const unhandledOf = (version: Version) => (handler: string, line: string, exception: string): HttpServerResponse.HttpServerResponse =>
  json(500, {
    message: "Unhandled error",
    reason: null,
    traceback: version === "2" ? "" : "Traceback (most recent call last):\n" +
      "  File \"/usr/lib/python3/dist-packages/tornado/web.py\", line 1735, in _execute\n" +
      "    result = await result\n" +
      `  File "/usr/lib/python3/dist-packages/jupyter_server/services/sessions/handlers.py", in ${handler}\n` +
      `    ${line}\n` +
      `${exception}\n`
  } satisfies ErrorWire)

/** Python's name for the type of a JSON value, for `AttributeError` messages. */
const pythonType = (u: unknown): string =>
  u === null
    ? "NoneType"
    : typeof u === "string"
    ? "str"
    : typeof u === "boolean"
    ? "bool"
    : typeof u === "number"
    ? (Number.isInteger(u) ? "int" : "float")
    : Array.isArray(u)
    ? "list"
    : "dict"

/** Python's `repr` of a string, as the server's messages show ids. */
const pyRepr = (s: string): string => (s.includes("'") && !s.includes("\"") ? `"${s}"` : `'${s.replace(/'/g, "\\'")}'`)

/** Python's `str` of a value, as `%s` formats it. */
const pyStr = (u: unknown): string =>
  u === null ? "None" : u === true ? "True" : u === false ? "False" : typeof u === "string" ? u : JSON.stringify(u)

/**
 * The real server's HTML 404 page. Like the real one, the page of a
 * logged-in request embeds the server's token (`data-jupyter-api-token`).
 */
const notFoundPage = (basePath: string, token: string | undefined) =>
  HttpServerResponse.text(
    `<!DOCTYPE HTML>
<html>
<head>
    <meta charset="utf-8">
    <title>Jupyter Server</title>
    <link id="favicon" rel="shortcut icon" type="image/x-icon" href="${basePath}static/favicon.ico">
</head>
<body class="" ${token === undefined ? "" : `data-jupyter-api-token="${encodeURIComponent(token)}" `}dir="ltr">
<div id="site">
<div class="error">
    <h1>404 : Not Found</h1>
    <p>You are requesting a page that does not exist!</p>
</div>
</div>
</body>
</html>
`,
    { status: 404, contentType: "text/html" }
  )

const iso = (millis: number): string => DateTime.formatIso(DateTime.unsafeMake(millis))

const hex4 = (n: number): string => n.toString(16).padStart(4, "0")

const randomUuid: Effect.Effect<string> = Effect.map(
  Effect.all(Array.from({ length: 8 }, () => Random.nextIntBetween(0, 0x10000))),
  ([a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0]) =>
    `${hex4(a)}${hex4(b)}-${hex4(c)}-${hex4((d & 0x0fff) | 0x4000)}-${hex4((e & 0x3fff) | 0x8000)}-${hex4(f)}${
      hex4(g)
    }${hex4(h)}`
)

const randomHex = (digits: number): Effect.Effect<string> =>
  Effect.map(
    Effect.all(Array.from({ length: Math.ceil(digits / 4) }, () => Random.nextIntBetween(0, 0x10000))),
    (parts) => parts.map(hex4).join("").slice(0, digits)
  )

const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** `/user/alice` → `/user/alice/`; `""` or `/` → `/`. */
const normalizeBasePath = (basePath: string | undefined): string => {
  const trimmed = (basePath ?? "/").replace(/^\/+|\/+$/g, "")
  return trimmed === "" ? "/" : `/${trimmed}/`
}

const splitUrl = (url: string): readonly [path: string, search: string] => {
  const q = url.indexOf("?")
  return q === -1 ? [url, ""] : [url.slice(0, q), url.slice(q + 1)]
}

/** The last path segment, still percent-encoded (the id as the real server's router matches it). */
const lastSegment = (url: string): string => {
  const path = splitUrl(url)[0]
  return path.slice(path.lastIndexOf("/") + 1)
}

const decodeSegment = (raw: string): string => {
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/** What tornado's `get_json_body` makes of a request body. */
type JsonBody =
  | { readonly _tag: "None" }
  | { readonly _tag: "Invalid" }
  | { readonly _tag: "Value"; readonly value: unknown }

/**
 * The request body, read once by the outer app: the router hands handlers a
 * copy of the request whose body stream was already consumed.
 */
class BodyText extends Context.Tag("effect-sessions/testing/JupyterEmulator/BodyText")<BodyText, string>() {}

const readJson: Effect.Effect<JsonBody, never, BodyText> = Effect.map(BodyText, (text): JsonBody => {
    if (text.length === 0) return { _tag: "None" }
    try {
      const value: unknown = JSON.parse(text.trim())
      return value === null ? { _tag: "None" } : { _tag: "Value", value }
    } catch {
    return { _tag: "Invalid" }
  }
})

// ---------------------------------------------------------------------------
// state

interface KernelRecord {
  readonly id: string
  readonly name: string
  readonly startedAt: number
}

interface SessionRecord {
  readonly id: string
  path: unknown
  name: unknown
  type: unknown
  kernelId: string
  /** The kernel died under the session (killKernel): the session stays, DELETE answers 410. */
  kernelDied: boolean
}

const kernelWire = (k: KernelRecord): KernelWire => ({
  id: k.id,
  name: k.name,
  last_activity: iso(k.startedAt),
  execution_state: "starting",
  connections: 0
})

const pathKey = (path: unknown): string => (typeof path === "string" ? `s:${path}` : `j:${JSON.stringify(path)}`)

// ---------------------------------------------------------------------------
// the emulator

/**
 * A fresh emulator with no sessions, no kernels and no fault plan.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Emulator> =>
  Effect.gen(function*() {
    const token = options.token
    const version = options.version ?? "1.23"
    const unhandled = unhandledOf(version)
    const basePath = normalizeBasePath(options.basePath)
    const kernelspecs = options.kernelspecs ?? ["python3"]
    const faults = yield* Faults.makeController({
      statusBody: (status) => ({ message: Faults.reasonPhrase(status), reason: null })
    })

    const kernels = new Map<string, KernelRecord>()
    /** In creation order, as the real server lists them. */
    const sessions = new Map<string, SessionRecord>()
    const logins = new Set<string>()
    const counters = { requests: 0 }
    const byRoute: Record<string, number> = {}
    const ring: Array<RecordedRequest> = []

    // -- auth ---------------------------------------------------------------

    /** `Authorization: token <t>` (any case); version 2 also `Bearer <t>`. */
    const authScheme = version === "2" ? /^(?:token|bearer)\s+(.+)$/i : /^token\s+(.+)$/i

    /** The token a request carries: its `Authorization` header, else `?token=`. */
    const tokenOf = (request: HttpServerRequest.HttpServerRequest): string | undefined =>
      authScheme.exec(request.headers["authorization"] ?? "")?.[1] ??
        new URLSearchParams(splitUrl(request.url)[1]).get("token") ?? undefined

    const loggedInByCookie = (request: HttpServerRequest.HttpServerRequest): boolean => {
      const cookie = request.cookies[loginCookieName]
      return cookie !== undefined && logins.has(cookie)
    }

    /**
     * The real server's order: token-authenticated requests pass; other writes
     * are checked for XSRF first; then the user (a login cookie) is required,
     * unless `userRequired` is false (handlers that are not `@authenticated`)
     * or the server has no token (every request is the anonymous user).
     */
    const authenticate = (
      request: HttpServerRequest.HttpServerRequest,
      userRequired: boolean
    ): HttpServerResponse.HttpServerResponse | undefined => {
      if (token !== undefined && tokenOf(request) === token) return undefined
      if (request.method !== "GET" && request.method !== "HEAD" && request.method !== "OPTIONS") {
        const search = new URLSearchParams(splitUrl(request.url)[1])
        const xsrf = search.get("_xsrf") || request.headers["x-xsrftoken"] || request.headers["x-csrftoken"]
        if (xsrf === undefined || xsrf === "") return error(403, "'_xsrf' argument missing from POST")
        if (xsrf !== request.cookies["_xsrf"]) return error(403, "XSRF cookie does not match POST argument")
      }
      if (!userRequired || token === undefined) return undefined
      return loggedInByCookie(request) ? undefined : forbidden
    }

    /** The HTML 404 page for this request (with the token when the request is logged in). */
    const pageFor = (request: HttpServerRequest.HttpServerRequest) => {
      const loggedIn = token !== undefined && (tokenOf(request) === token || loggedInByCookie(request))
      return notFoundPage(basePath, loggedIn ? token : undefined)
    }

    /** A route handler behind authentication. */
    const guarded = (
      handler: (
        request: HttpServerRequest.HttpServerRequest
      ) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, BodyText>
    ) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const refused = authenticate(request, true)
        return refused === undefined ? handler(request) : Effect.succeed(refused)
      })

    /** A method the route does not implement: XSRF is still checked first, as tornado does. */
    const notAllowed = Effect.map(
      HttpServerRequest.HttpServerRequest,
      (request) => authenticate(request, false) ?? methodNotAllowed
    )

    // -- model ----------------------------------------------------------------

    const sessionWire = (s: SessionRecord): SessionWire => {
      const kernel = s.kernelDied ? undefined : kernels.get(s.kernelId)
      const wire: SessionWire = {
        id: s.id,
        path: s.path,
        name: s.name,
        type: s.type,
        kernel: kernel === undefined ? null : kernelWire(kernel)
      }
      return s.type === "notebook" ? { ...wire, notebook: { path: s.path, name: s.name } } : wire
    }

    /**
     * A session's JSON, kept until something it shows changes (its fields are
     * replaced in place by PATCH, its kernel by a new record): listing many
     * sessions over and over then costs the emulator little of the machine
     * it shares with the client being measured.
     */
    const wireJson = new WeakMap<SessionRecord, {
      readonly path: unknown
      readonly name: unknown
      readonly type: unknown
      readonly kernel: KernelRecord | undefined
      readonly json: string
    }>()
    const sessionJson = (s: SessionRecord): string => {
      const kernel = s.kernelDied ? undefined : kernels.get(s.kernelId)
      const cached = wireJson.get(s)
      if (
        cached !== undefined && cached.path === s.path && cached.name === s.name && cached.type === s.type &&
        cached.kernel === kernel
      ) return cached.json
      const json = JSON.stringify(sessionWire(s))
      wireJson.set(s, { path: s.path, name: s.name, type: s.type, kernel, json })
      return json
    }

    /** A session whose kernel was shut down behind its back is removed on access, as the real server does. */
    const culled = (s: SessionRecord): boolean => !s.kernelDied && !kernels.has(s.kernelId)

    const culledMessage = (s: SessionRecord) =>
      `Session not found: "Kernel ${pyRepr(s.kernelId)} appears to have been culled or died unexpectedly, ` +
      `invalidating session ${pyRepr(s.id)}. The session has been removed."`

    /** The session of an id, or the 404 the real server answers. */
    const lookup = (id: string): SessionRecord | HttpServerResponse.HttpServerResponse => {
      const s = sessions.get(id)
      if (s === undefined) return error(404, `Session not found: session_id=${pyRepr(id)}`)
      if (culled(s)) {
        sessions.delete(s.id)
        return error(404, culledMessage(s))
      }
      return s
    }

    const liveSessions = (): Array<SessionRecord> => {
      const out: Array<SessionRecord> = []
      for (const s of Array.from(sessions.values())) {
        if (culled(s)) sessions.delete(s.id)
        else out.push(s)
      }
      return out
    }

    /**
     * Starts a kernel of a kernelspec (`null`: the default one), under `wantedId`
     * or a fresh id; `undefined` when there is no such kernelspec.
     */
    const startKernel = (name: unknown, wantedId?: string): Effect.Effect<KernelRecord | undefined> => {
      const spec = name === null ? kernelspecs[0] : kernelspecs.find((k) => k === name)
      if (spec === undefined) return Effect.succeed(undefined)
      const id = wantedId === undefined ? randomUuid : Effect.succeed(wantedId)
      return Effect.zipWith(id, Clock.currentTimeMillis, (id, now) => {
        const kernel: KernelRecord = { id, name: spec, startedAt: now }
        kernels.set(id, kernel)
        return kernel
      })
    }

    // -- handlers -------------------------------------------------------------

    const serverInfo = Effect.succeed(
      json(200, { version: serverVersions[version] } satisfies typeof Schemas.ServerInfo.Encoded)
    )

    const listSessions = guarded(() => Effect.sync(() => jsonText(200, `[${liveSessions().map(sessionJson).join(",")}]`)))

    const createSession = guarded((request) =>
      Effect.flatMap(readJson, (body) => {
        if (body._tag === "None") return Effect.succeed(noJson)
        if (body._tag === "Invalid") return Effect.succeed(invalidJson)
        if (!isRecord(body.value)) {
          return Effect.succeed(
            unhandled("post", "path = model[\"path\"]", "TypeError: list indices must be integers or slices, not str")
          )
        }
        const model: Record<string, unknown> = { ...body.value }
        const notebook = model["notebook"]
        if (version === "2" && isRecord(notebook)) {
          // 2.x: a `notebook` field of whatever shape makes it a notebook; its `name` wins over its `path`
          model["type"] = "notebook"
          if ("name" in notebook) model["path"] = notebook["name"]
          else if ("path" in notebook) model["path"] = notebook["path"]
        } else if (isRecord(notebook) && "path" in notebook) {
          model["path"] = notebook["path"]
          model["type"] = "notebook"
        }
        if (!("path" in model)) return Effect.succeed(error(400, "Missing field in JSON data: path"))
        if (!("type" in model)) return Effect.succeed(error(400, "Missing field in JSON data: type"))
        const path = model["path"]
        const kernel = "kernel" in model ? model["kernel"] : {}
        if (!isRecord(kernel)) {
          return Effect.succeed(
            unhandled(
              "post",
              "kernel_name = kernel.get(\"name\", None)",
              `AttributeError: '${pythonType(kernel)}' object has no attribute 'get'`
            )
          )
        }
        const kernelId = kernel["id"] ?? null
        const kernelName = !kernelId && !kernel["name"] ? null : kernel["name"] ?? null
        const existing = liveSessions().find((s) => pathKey(s.path) === pathKey(path))
        const created: Effect.Effect<SessionRecord | HttpServerResponse.HttpServerResponse> = existing !== undefined
          ? Effect.succeed(existing)
          : Effect.gen(function*() {
            let kernelRecord = typeof kernelId === "string" ? kernels.get(kernelId) : undefined
            if (kernelRecord === undefined) {
              // 2.x starts the new kernel under the id the client asked for; 1.23 under a fresh one
              kernelRecord = yield* startKernel(
                kernelName,
                version === "2" && typeof kernelId === "string" && kernelId !== "" ? kernelId : undefined
              )
            }
            if (kernelRecord === undefined) {
              const name = pyStr(kernelName)
              return json(501, {
                message: `The '${name}' kernel is not available. Please pick another suitable kernel instead, or install that kernel.`,
                short_message: `${name} not found`
              })
            }
            const session: SessionRecord = {
              id: yield* randomUuid,
              path,
              name: "name" in model ? model["name"] : null,
              type: model["type"],
              kernelId: kernelRecord.id,
              kernelDied: false
            }
            sessions.set(session.id, session)
            return session
          })
        return Effect.map(created, (session) =>
          HttpServerResponse.isServerResponse(session)
            ? session
            : json(201, sessionWire(session), { location: `${basePath}api/sessions/${session.id}` }))
      })
    )

    /** Routes under `/api/sessions/{id}`: the HTML 404 page for ids that are not UUID-shaped. */
    const withSessionId = (
      handler: (
        request: HttpServerRequest.HttpServerRequest,
        id: string
      ) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, BodyText>
    ) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const raw = lastSegment(request.url)
        if (!idShape.test(raw)) return Effect.succeed(pageFor(request))
        const refused = authenticate(request, true)
        return refused === undefined ? handler(request, decodeSegment(raw)) : Effect.succeed(refused)
      })

    const notAllowedById = Effect.flatMap(
      HttpServerRequest.HttpServerRequest,
      (request) => (idShape.test(lastSegment(request.url)) ? notAllowed : Effect.succeed(pageFor(request)))
    )

    const getSession = withSessionId((_, id) =>
      Effect.sync(() => {
        const s = lookup(id)
        return HttpServerResponse.isServerResponse(s) ? s : jsonText(200, sessionJson(s))
      })
    )

    const updateSession = withSessionId((request, id) =>
      Effect.flatMap(readJson, (body) => {
        if (body._tag === "None") return Effect.succeed(noJson)
        if (body._tag === "Invalid") return Effect.succeed(invalidJson)
        const before = lookup(id)
        if (HttpServerResponse.isServerResponse(before)) return Effect.succeed(before)
        const model: Record<string, unknown> = isRecord(body.value) ? { ...body.value } : {}
        const notebook = model["notebook"]
        if (isRecord(notebook) && "path" in notebook) {
          model["path"] = notebook["path"]
          model["type"] = "notebook"
        }
        return Effect.gen(function*() {
          let kernelId: string | undefined
          if ("kernel" in model) {
            const kernel = model["kernel"]
            if (!isRecord(kernel)) {
              return unhandled(
                "patch",
                "if model[\"kernel\"].get(\"id\") is not None:",
                `AttributeError: '${pythonType(kernel)}' object has no attribute 'get'`
              )
            }
            const wantedId = kernel["id"] ?? null
            const wantedName = kernel["name"] ?? null
            if (wantedId !== null) {
              if (typeof wantedId !== "string" || !kernels.has(wantedId)) {
                return error(400, `No such kernel: ${pyStr(wantedId)}`)
              }
              kernelId = wantedId
            } else if (wantedName !== null) {
              const started = yield* startKernel(wantedName)
              if (started === undefined && version === "2") {
                return json(501, {
                  message: `The '${pyStr(wantedName)}' kernel could not be started: ${
                    pyRepr(`No such kernel named ${pyStr(wantedName)}`)
                  }`,
                  short_message: `Error starting kernel ${pyStr(wantedName)}`
                })
              }
              if (started === undefined) {
                return unhandled(
                  "patch",
                  "kernel_id = await sm.start_kernel_for_session(",
                  `jupyter_client.kernelspec.NoSuchKernel: No such kernel named ${pyStr(wantedName)}`
                )
              }
              kernelId = started.id
            }
          }
          if ("path" in model) before.path = model["path"]
          if ("name" in model) before.name = model["name"]
          if ("type" in model) before.type = model["type"]
          if (kernelId !== undefined && (kernelId !== before.kernelId || before.kernelDied)) {
            // The real server shuts the previous kernel down once the session has its new one.
            if (!before.kernelDied && kernelId !== before.kernelId) kernels.delete(before.kernelId)
            before.kernelId = kernelId
            before.kernelDied = false
          }
          return json(200, sessionWire(before))
        })
      })
    )

    const deleteSession = withSessionId((_, id) =>
      Effect.sync(() => {
        const s = lookup(id)
        if (HttpServerResponse.isServerResponse(s)) return s
        if (s.kernelDied) return error(410, "Kernel deleted before session")
        kernels.delete(s.kernelId)
        sessions.delete(s.id)
        return HttpServerResponse.empty({ status: 204 })
      })
    )

    const listKernels = guarded(() => Effect.sync(() => json(200, Array.from(kernels.values(), kernelWire))))

    /** Routes under `/api/kernels/{id}`. */
    const withKernel = (handler: (kernel: KernelRecord) => HttpServerResponse.HttpServerResponse) =>
      withSessionId((_, id) =>
        Effect.sync(() => {
          const kernel = kernels.get(id)
          return kernel === undefined ? error(404, `Kernel does not exist: ${id}`) : handler(kernel)
        })
      )

    const getKernel = withKernel((kernel) => json(200, kernelWire(kernel)))
    const shutdownKernel = withKernel((kernel) => {
      kernels.delete(kernel.id)
      return HttpServerResponse.empty({ status: 204 })
    })

    // -- routing ----------------------------------------------------------------

    const routes = HttpRouter.empty.pipe(
      HttpRouter.get("/api", serverInfo),
      HttpRouter.get("/api/sessions", listSessions),
      HttpRouter.post("/api/sessions", createSession),
      HttpRouter.put("/api/sessions", notAllowed),
      HttpRouter.patch("/api/sessions", notAllowed),
      HttpRouter.del("/api/sessions", notAllowed),
      HttpRouter.get("/api/sessions/:session_id", getSession),
      HttpRouter.patch("/api/sessions/:session_id", updateSession),
      HttpRouter.del("/api/sessions/:session_id", deleteSession),
      HttpRouter.post("/api/sessions/:session_id", notAllowedById),
      HttpRouter.put("/api/sessions/:session_id", notAllowedById),
      HttpRouter.get("/api/kernels", listKernels),
      HttpRouter.get("/api/kernels/:kernel_id", getKernel),
      HttpRouter.del("/api/kernels/:kernel_id", shutdownKernel)
    )
    const prefix = basePath.slice(0, -1)
    const router = prefix === "" ? routes : HttpRouter.prefixAll(routes, `/${prefix.slice(1)}`)
    const routed: HttpApp.Default<never, BodyText> = Effect.catchTag(
      router,
      "RouteNotFound",
      (e) => Effect.succeed(pageFor(e.request))
    )

    // -- instrumentation ------------------------------------------------------

    const routeKey = (method: string, url: string): string => {
      const path = splitUrl(url)[0]
      if (!path.startsWith(basePath)) return "OTHER"
      const rest = path.slice(basePath.length)
      if (rest === "api" || rest === "api/sessions" || rest === "api/kernels") return `${method} /${rest}`
      if (/^api\/sessions\/[^/]+$/.test(rest)) return `${method} /api/sessions/{id}`
      if (/^api\/kernels\/[^/]+$/.test(rest)) return `${method} /api/kernels/{id}`
      return "OTHER"
    }

    const withFaults = faults.middleware(routed)

    const app: HttpApp.Default<never, never> = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
      counters.requests++
      const key = routeKey(request.method, request.url)
      byRoute[key] = (byRoute[key] ?? 0) + 1
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

    // -- the handle -----------------------------------------------------------

    const killKernel = (sessionId: string): Effect.Effect<void, Cause.NoSuchElementException> =>
      Effect.suspend(() => {
        const s = sessions.get(sessionId)
        if (s === undefined) return Effect.fail(new Cause.NoSuchElementException(`no session ${sessionId}`))
        kernels.delete(s.kernelId)
        s.kernelDied = true
        return Effect.void
      })

    const login = Effect.zipWith(randomHex(32), randomHex(32), (cookie, xsrf): Login => {
      logins.add(cookie)
      return { xsrf: `2|${xsrf.slice(0, 8)}|${xsrf}|0`, cookies: { [loginCookieName]: cookie } }
    })

    const stats = Effect.sync((): Stats => ({ requests: counters.requests, byRoute: { ...byRoute } }))
    const recent = Effect.sync((): ReadonlyArray<RecordedRequest> => ring.slice())

    return { app, faults, basePath, killKernel, login, stats, recent } satisfies Emulator
  })

/**
 * A fresh emulator as the `JupyterEmulator` service, and an in-memory
 * `HttpClient` that talks to it.
 *
 * @since 0.1.0
 */
export const layerInMemory = (options: Options = {}): Layer.Layer<HttpClient.HttpClient | JupyterEmulator> =>
  Layer.unwrapEffect(
    Effect.map(make(options), (emulator) =>
      Layer.merge(Layer.succeed(JupyterEmulator, emulator), InMemory.layerAt(baseUrl, emulator.app)))
  )
