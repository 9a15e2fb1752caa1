/**
 * An `HttpClient` that runs an `HttpApp` in memory: no sockets, and the app
 * runs in the calling fiber, so interrupting a call interrupts the handler and
 * `TestClock` drives every `Effect.sleep` inside the app.
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
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
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

/**
 * An `HttpClient` that answers every request by running `app` in memory.
 * The request's host is ignored. An app failure or defect that is a
 * `Faults.ConnectionDropped` becomes a `RequestError` with reason "Transport";
 * any other failure or defect becomes the response `HttpServerError.causeResponse`
 * gives (500 unless the error is respondable).
 *
 * @since 0.1.0
 */
export const makeClient = <E>(app: HttpApp.Default<E, never>): HttpClient.HttpClient =>
  HttpClient.make((request, url) =>
    Effect.flatMap(toWebRequest(request, url), (web) =>
      app.pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, HttpServerRequest.fromWeb(web)),
        Effect.catchAllCause((cause) => {
          const dropped = Faults.findConnectionDropped(cause)
          if (dropped._tag === "Some") {
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
          return Effect.map(HttpServerError.causeResponse(cause), ([response]) => response)
        }),
        Effect.map((response) =>
          HttpClientResponse.fromWeb(
            request,
            HttpServerResponse.toWeb(response, { withoutBody: request.method === "HEAD" })
          )
        )
      )))

/**
 * The in-memory client of {@link makeClient} as the `HttpClient` layer.
 *
 * @since 0.1.0
 */
export const layer = <E>(app: HttpApp.Default<E, never>): Layer.Layer<HttpClient.HttpClient> =>
  Layer.succeed(HttpClient.HttpClient, makeClient(app))
