/**
 * An `HttpClient` that runs `HttpApp`s in memory: no sockets, and the app
 * runs in the calling fiber, so interrupting a call interrupts the handler and
 * `TestClock` drives every `Effect.sleep` inside the app.
 *
 * Emulators compose: {@link layerAt} registers an app at an origin
 * (`https://api.cloud.deepset.ai`) and provides an `HttpClient` that routes
 * every request by its origin, so
 * `Layer.merge(DeepsetEmulator.layerInMemory(…), JupyterEmulator.layerInMemory(…))`
 * answers deepset calls with the deepset emulator and Jupyter calls with the
 * Jupyter one. The routing table lives in a `FiberRef` set for the scope the
 * layer is provided in (the way `Logger` layers work): every layer provided
 * to a program adds its origin, merged or nested, and nothing outlives the
 * scope, so tests never see each other's emulators. A URL no app answers is
 * a `RequestError` (reason "Transport") naming the origins that are known.
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Differ from "effect/Differ"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as GlobalValue from "effect/GlobalValue"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Faults from "./Faults.js"

const encodeError = (request: HttpClientRequest.HttpClientRequest, cause: unknown) =>
  new HttpClientError.RequestError({ request, reason: "Encode", cause })

const webRequest = (
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  body: BodyInit | undefined
): Effect.Effect<Request, HttpClientError.RequestError> =>
  Effect.try({
    try: () => {
      const headers = new globalThis.Headers()
      for (const name in request.headers) {
        if (name === "content-length") continue
        const value = request.headers[name]
        if (value !== undefined) headers.set(name, value)
      }
      const withBody = body !== undefined && request.method !== "GET" && request.method !== "HEAD"
      const init: RequestInit & { duplex?: "half" } = { method: request.method, headers }
      if (withBody) {
        init.body = body
        if (request.body._tag === "Stream") init.duplex = "half"
      }
      return new Request(url, init)
    },
    catch: (cause) => encodeError(request, cause)
  })

const toWebRequest = (
  request: HttpClientRequest.HttpClientRequest,
  url: URL
): Effect.Effect<Request, HttpClientError.RequestError> => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return webRequest(request, url, undefined)
    case "Uint8Array":
      return webRequest(request, url, body.body as Uint8Array<ArrayBuffer>)
    case "Raw": {
      const raw = body.body
      if (
        typeof raw === "string" || raw instanceof Uint8Array || raw instanceof ArrayBuffer ||
        raw instanceof Blob || raw instanceof ReadableStream || raw instanceof URLSearchParams
      ) {
        return webRequest(request, url, raw as BodyInit)
      }
      return Effect.fail(encodeError(request, new TypeError("InMemory: unsupported raw request body")))
    }
    case "FormData":
      return webRequest(request, url, body.formData)
    case "Stream":
      return Effect.flatMap(
        Effect.mapError(Stream.toReadableStreamEffect(body.stream), (cause) => encodeError(request, cause)),
        (stream) => webRequest(request, url, stream)
      )
  }
}

/** An app the in-memory client can run. @since 0.1.0 */
export type App = HttpApp.Default<unknown, never>

/** The origin key of the app that answers every origin no other app is registered at. @since 0.1.0 */
export const anyOrigin = "*"

/** The error that a body cut off by a fault raises while the client reads it. */
class BodyCut extends Error {
  readonly code: string | undefined
  constructor(partial: Faults.PartialResponse) {
    const reset = partial.ending === "reset"
    super(
      `${reset ? "read ECONNRESET" : "terminated"}: in-memory connection ${reset ? "reset" : "closed"} after ${partial.sent} of ${partial.body.length} body bytes`
    )
    this.name = reset ? "Error" : "TypeError"
    this.code = reset ? "ECONNRESET" : "UND_ERR_SOCKET"
  }
}

/** A web response that sends `partial`'s head and first bytes, then fails its body stream. */
const partialResponse = (partial: Faults.PartialResponse, head: boolean): Response => {
  const headers = new globalThis.Headers()
  for (const [name, value] of partial.headers) headers.append(name, value)
  headers.set("content-length", String(partial.body.length))
  let pulls = 0
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ === 0 && partial.sent > 0) controller.enqueue(partial.body.slice(0, partial.sent))
      else controller.error(new BodyCut(partial))
    }
  })
  return new Response(head ? null : body, { status: partial.status, headers })
}

/**
 * An `HttpClient` that answers every request by running `app`; the request's
 * host is ignored. An app failure or defect that is a
 * `Faults.ConnectionDropped` becomes a `RequestError` with reason "Transport"
 * (or, when it carries a partial response, a response whose body stream fails
 * after the part was read); any other failure or defect becomes the response
 * `HttpServerError.causeResponse` gives (500 unless the error is respondable).
 *
 * @since 0.1.0
 */
export const makeClient = <E>(app: HttpApp.Default<E, never>): HttpClient.HttpClient =>
  HttpClient.make((request, url) => run(app, request, url))

const run = <E>(
  app: HttpApp.Default<E, never>,
  request: HttpClientRequest.HttpClientRequest,
  url: URL
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> =>
  Effect.flatMap(toWebRequest(request, url), (web) =>
    app.pipe(
      Effect.provideService(HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(web)),
      Effect.map((response) =>
        HttpServerResponse.toWeb(response, { withoutBody: request.method === "HEAD" })
      ),
      Effect.catchAllCause((cause): Effect.Effect<Response, HttpClientError.RequestError> => {
        const dropped = Faults.findConnectionDropped(cause)
        if (dropped._tag === "Some") {
          const partial = dropped.value.partial
          if (partial !== undefined) return Effect.succeed(partialResponse(partial, request.method === "HEAD"))
          return Effect.fail(
            new HttpClientError.RequestError({
              request,
              reason: "Transport",
              cause: dropped.value,
              description: "connection dropped"
            })
          )
        }
        if (Cause.isInterruptedOnly(cause)) return Effect.interrupt
        return Effect.map(
          HttpServerError.causeResponse(cause),
          ([response]) => HttpServerResponse.toWeb(response, { withoutBody: request.method === "HEAD" })
        )
      }),
      Effect.map((response) => HttpClientResponse.fromWeb(request, response))
    ))

/**
 * No in-memory app is registered at the request's origin. `origins` lists the
 * ones that are.
 *
 * @since 0.1.0
 */
export class NoRoute extends Data.TaggedError("NoRoute")<{
  readonly origin: string
  readonly origins: ReadonlyArray<string>
}> {
  /** @since 0.1.0 */
  override get message(): string {
    const known = this.origins.length === 0 ? "none (no in-memory emulator is provided)" : this.origins.join(", ")
    return `no in-memory emulator answers at ${this.origin}; known origins: ${known}`
  }
}

/**
 * An app registered at an origin by {@link route}. `closed` turns true when
 * the scope that registered it closes; the routed client then ignores it.
 *
 * @since 0.1.0
 */
export interface Registration {
  readonly app: App
  readonly closed: boolean
}

/** The registrations at one origin, the innermost first. @since 0.1.0 */
export type Stack = ReadonlyArray<Registration>

const routesDiffer = Differ.hashMap<string, Stack, (r: Stack) => Stack>(Differ.update<Stack>())

/**
 * The routing table of the in-memory clients in the current fiber: origin →
 * registrations, the innermost first. Set by {@link route} for the scope a layer is provided in;
 * forked fibers inherit it, and layers built side by side (`Layer.merge`) add
 * up.
 *
 * @since 0.1.0
 */
export const currentRoutes: FiberRef.FiberRef<HashMap.HashMap<string, Stack>> = GlobalValue.globalValue(
  Symbol.for("effect-sessions/testing/InMemory/currentRoutes"),
  () =>
    FiberRef.unsafeMakePatch(HashMap.empty<string, Stack>(), {
      differ: routesDiffer,
      fork: routesDiffer.empty
    })
)

/** The origins with a live registration, sorted. @since 0.1.0 */
export const knownOrigins = (routes: HashMap.HashMap<string, Stack>): ReadonlyArray<string> =>
  Array.from(HashMap.keys(HashMap.filter(routes, (stack) => stack.some((r) => !r.closed)))).sort()

/** The live app at `origin`, if any. */
const appAt = (routes: HashMap.HashMap<string, Stack>, origin: string): App | undefined => {
  const stack = HashMap.get(routes, origin)
  if (stack._tag === "None") return undefined
  for (const registration of stack.value) if (!registration.closed) return registration.app
  return undefined
}

/** The origin of a base URL (`https://host:port`), or `*` for {@link anyOrigin}. */
const originOf = (baseUrl: string): string => (baseUrl === anyOrigin ? anyOrigin : new URL(baseUrl).origin)

/**
 * Registers `app` at the origin of `baseUrl` (path and query ignored) for as
 * long as the layer's scope lasts; the routed client ({@link routedClient})
 * sends it every request to that origin. {@link anyOrigin} registers the app
 * for every origin no other app is registered at. One app per origin: a
 * registration in a nested scope shadows the outer one at the same origin.
 *
 * @since 0.1.0
 */
export const route = <E>(baseUrl: string, app: HttpApp.Default<E, never>): Layer.Layer<never> =>
  Layer.scopedDiscard(
    Effect.suspend(() => {
      const origin = originOf(baseUrl)
      const registration = { app: app as App, closed: false }
      return Effect.acquireRelease(
        Effect.flatMap(FiberRef.get(currentRoutes), (before) =>
          Effect.as(
            FiberRef.set(
              currentRoutes,
              HashMap.set(before, origin, [registration, ...Option.getOrElse(HashMap.get(before, origin), () => [])])
            ),
            before
          )),
        (before) =>
          Effect.suspend(() => {
            // Which fiber runs a finalizer depends on how the layer was built (Layer.merge builds side by side),
            // so the registration is marked closed as well as taken out of this fiber's table.
            registration.closed = true
            return FiberRef.set(currentRoutes, before)
          })
      )
    })
  )

/**
 * The in-memory client that routes each request by its origin through
 * {@link currentRoutes}, read when the request is made. A URL no app is
 * registered at fails with a `RequestError` (reason "Transport", cause
 * {@link NoRoute}) whose description lists the known origins.
 *
 * @since 0.1.0
 */
export const routedClient: HttpClient.HttpClient = HttpClient.make((request, url) =>
  Effect.flatMap(FiberRef.get(currentRoutes), (routes) => {
    const app = appAt(routes, url.origin) ?? appAt(routes, anyOrigin)
    if (app !== undefined) return run(app, request, url)
    const error = new NoRoute({ origin: url.origin, origins: knownOrigins(routes) })
    return Effect.fail(
      new HttpClientError.RequestError({ request, reason: "Transport", cause: error, description: error.message })
    )
  })
)

/** The {@link routedClient} as the `HttpClient` layer. @since 0.1.0 */
export const layerRouted: Layer.Layer<HttpClient.HttpClient> = Layer.succeed(HttpClient.HttpClient, routedClient)

/**
 * `app` registered at the origin of `baseUrl`, and the routed `HttpClient`:
 * what each emulator's `layerInMemory` provides. Merge as many as you like;
 * each answers only at its own origin.
 *
 * @since 0.1.0
 */
export const layerAt = <E>(baseUrl: string, app: HttpApp.Default<E, never>): Layer.Layer<HttpClient.HttpClient> =>
  Layer.merge(layerRouted, route(baseUrl, app))

/**
 * `app` as the answer to every origin no other app is registered at, and the
 * routed `HttpClient` (`layerAt(anyOrigin, app)`). Prefer {@link layerAt},
 * which makes a wrong base URL an error instead of a silent answer.
 *
 * @since 0.1.0
 */
export const layer = <E>(app: HttpApp.Default<E, never>): Layer.Layer<HttpClient.HttpClient> => layerAt(anyOrigin, app)
