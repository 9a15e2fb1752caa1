/**
 * An `HttpApp` served over HTTPS on 127.0.0.1 with a self-signed certificate
 * made at test time (`openssl req -x509 …` into a temp dir, removed with the
 * scope), for TLS tests.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Os from "node:os"
import * as NodePath from "node:path"

/** A self-signed certificate for 127.0.0.1 / localhost (PEM). */
export interface Certificate {
  readonly key: string
  readonly cert: string
}

/** Makes a self-signed certificate with openssl (a fresh key each time). */
export const selfSigned = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "https-test-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
).pipe(
  Effect.flatMap((dir) =>
    Effect.try(() => {
      const key = NodePath.join(dir, "key.pem")
      const cert = NodePath.join(dir, "cert.pem")
      ChildProcess.execFileSync("openssl", [
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=127.0.0.1",
        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        "-keyout", key, "-out", cert
      ], { stdio: "ignore" })
      return { key: Fs.readFileSync(key, "utf8"), cert: Fs.readFileSync(cert, "utf8") } satisfies Certificate
    })
  ),
  Effect.orDie
)

/** Serves `app` over HTTPS until the scope closes; resolves with its `https://127.0.0.1:<port>` URL and certificate. */
export const serve = <E>(app: HttpApp.Default<E, never>) =>
  Effect.gen(function*() {
    const certificate = yield* selfSigned
    const nodeServer = Https.createServer({ key: certificate.key, cert: certificate.cert })
    const server = yield* NodeHttpServer.make(() => nodeServer, { host: "127.0.0.1", port: 0 })
    yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))
    yield* server.serve(app).pipe(HttpMiddleware.withTracerDisabledWhenEffect(() => true), Effect.withTracerEnabled(false))
    const port = server.address._tag === "TcpAddress" ? server.address.port : 0
    return { url: `https://127.0.0.1:${port}`, port, certificate }
  })
