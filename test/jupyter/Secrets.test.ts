/**
 * Jupyter cookie values are secrets one by one (issue "core invariants",
 * defect 6): a server that echoes one cookie's value, in JSON or HTML, in a
 * 2xx or an error, never gets it into an error, a span or a log.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Jupyter from "../../src/jupyter/index.js"
import * as RawServer from "../support/RawServer.js"
import * as RecordingTracer from "../support/RecordingTracer.js"

const xsrfValue = "xsrf-2c5d9b0e7a"
const loginCookie = "login-cookie-value-91f2e"
const hubCookie = "hub-cookie-value-55aa01"

describe("Jupyter cookie values never leak", () => {
  it.live("not into errors, spans or logs, whichever cookie a server echoes", () => {
    const recorder = RecordingTracer.make()
    const logs: Array<string> = []
    const logger = Logger.make(({ message }) => void logs.push(JSON.stringify(message)))
    return Effect.gen(function*() {
      const server = yield* RawServer.serve((req, res, i) => {
        const echoed = [xsrfValue, loginCookie, hubCookie][i % 3]!
        if (req.method === "GET" && req.url?.startsWith("/api/sessions/")) {
          res.writeHead(404, { "content-type": "text/html" })
          res.end(`<html><body><h1>404</h1><p>cookie ${echoed}</p></body></html>`)
        } else if (req.method === "GET") {
          RawServer.json(res, 200, [{ id: 7, echoed }])
        } else {
          RawServer.json(res, 400, { message: `bad cookie ${echoed}`, reason: echoed })
        }
      })
      const layer = Jupyter.layer({
        baseUrl: server.url,
        xsrf: {
          token: Redacted.make(xsrfValue),
          cookies: { "username-127-0-0-1": Redacted.make(loginCookie), "jupyterhub-user-alice": Redacted.make(hubCookie) }
        },
        policy: { maxRetries: 0 }
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const errors = yield* Effect.gen(function*() {
        const jupyter = yield* Jupyter.Sessions
        return yield* Effect.all([
          Effect.flip(jupyter.listSessions()),
          Effect.flip(jupyter.getSession("3fa85f64-5717-4562-b3fc-2c963f66afa6")),
          Effect.flip(jupyter.createSession({ path: "a.ipynb", type: "notebook" })),
          Effect.flip(jupyter.createSession({ path: "b.ipynb", type: "notebook" })),
          Effect.flip(jupyter.createSession({ path: "c.ipynb", type: "notebook" }))
        ])
      }).pipe(Effect.provide(layer), Effect.tapErrorCause(Effect.logError))
      for (const error of errors) yield* Effect.logError(error)
      expect(server.seen.length).toBe(5)
      expect(server.seen[0]!.headers.cookie).toContain(loginCookie) // the cookies were sent
      const everything = [
        ...errors.map((e) => `${e.message} ${e.body ?? ""} ${JSON.stringify(e)} ${String(e)}`),
        recorder.everything(),
        ...logs
      ].join("\n")
      for (const value of [xsrfValue, loginCookie, hubCookie]) expect(everything).not.toContain(value)
    }).pipe(Effect.scoped, Effect.withTracer(recorder.tracer), Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })
})
