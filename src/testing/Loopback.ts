/**
 * Serve an `HttpApp` on a real socket (127.0.0.1, a free port by default)
 * with `@effect/platform-node`, for integration tests, demos and benchmarks.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import type { ServeError } from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import * as Faults from "./Faults.js"

/** Options of {@link serve}. @since 0.1.0 */
export interface ServeOptions {
  /** Interface to listen on (default "127.0.0.1"). */
  readonly host?: string
  /** Port (default 0: a free one). */
  readonly port?: number
  /** Open a server span per request (default false: lower overhead). */
  readonly tracing?: boolean
}

/** Where a served app listens. @since 0.1.0 */
export interface Served {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string
  readonly port: number
}

// After the socket is destroyed nothing reaches the client; this only ends the handler.
const droppedResponse = HttpServerResponse.empty({ status: 499 })

/**
 * Sends the head of `partial` with the whole body's `content-length`, then its
 * first `sent` bytes; once they are flushed the socket is ended (FIN) or reset
 * (RST). The platform then finds the response ended and writes nothing more.
 */
const sendPartial = (request: HttpServerRequest.HttpServerRequest, partial: Faults.PartialResponse) =>
  Effect.async<void>((resume) => {
    const response = NodeHttpServerRequest.toServerResponse(request)
    const socket = NodeHttpServerRequest.toIncomingMessage(request).socket
    const headers: Array<[string, string]> = partial.headers.map(([name, value]) => [name, value])
    headers.push(["content-length", String(partial.body.length)])
    response.writeHead(partial.status, headers.flat())
    response.end(partial.body.subarray(0, partial.sent), () => {
      if (partial.ending === "reset") socket.resetAndDestroy()
      else socket.end()
      resume(Effect.void)
    })
  })

/**
 * Serve `app` until the scope closes; closing cuts open connections at once.
 * Handlers are interruptible (a client that goes away interrupts its handler). A `Faults.ConnectionDropped` failure or
 * defect destroys the request's socket, so the client sees a transport error; one with a partial response sends that
 * part (status, headers, the whole body's `content-length`, part of the body) and then closes or resets the socket.
 *
 * @since 0.1.0
 */
export const serve = <E>(
  app: HttpApp.Default<E, never>,
  options?: ServeOptions
): Effect.Effect<Served, ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options?.host ?? "127.0.0.1"
    const nodeServer = Http.createServer({ keepAliveTimeout: 30_000 })
    const server = yield* NodeHttpServer.make(() => nodeServer, { host, port: options?.port ?? 0 })
    // Runs before the server's own close: cut every connection, so closing never waits for a slow handler.
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    const handled = Effect.catchAllCause(Effect.interruptible(app), (cause) => {
      const dropped = Faults.findConnectionDropped(cause)
      if (dropped._tag === "Some") {
        const partial = dropped.value.partial
        return Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          if (partial !== undefined) return Effect.as(sendPartial(request, partial), droppedResponse)
          NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
          return Effect.succeed(droppedResponse)
        })
      }
      return Effect.failCause(cause)
    })
    const start = server.serve(handled)
    yield* options?.tracing === true
      ? start
      : start.pipe(HttpMiddleware.withTracerDisabledWhenEffect(() => true), Effect.withTracerEnabled(false))
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    const urlHost = host.includes(":") ? `[${host}]` : host
    return { url: `http://${urlHost}:${port}`, port }
  })
