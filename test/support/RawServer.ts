/**
 * A bare `node:http` server on 127.0.0.1 and a free port, answering with a
 * function of each request and recording every request (method, URL,
 * headers, body). Closed with its scope.
 */
import * as Effect from "effect/Effect"
import * as Http from "node:http"

export interface SeenRequest {
  readonly method: string
  readonly url: string
  readonly headers: Http.IncomingHttpHeaders
  readonly body: Buffer
}

export type Handler = (request: SeenRequest, response: Http.ServerResponse, index: number) => void

export interface RawServer {
  readonly url: string
  readonly seen: Array<SeenRequest>
}

export const serve = (handler: Handler): Effect.Effect<RawServer, never, import("effect/Scope").Scope> =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; state: RawServer }>((resume) => {
      const seen: Array<SeenRequest> = []
      const server = Http.createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const request: SeenRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) }
          seen.push(request)
          handler(request, res, seen.length - 1)
        })
      })
      server.keepAliveTimeout = 1000
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, state: { url: `http://127.0.0.1:${port}`, seen } }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map(({ state }) => state))

/** Answers JSON. */
export const json = (res: Http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  const text = typeof body === "string" ? body : JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers })
  res.end(text)
}
