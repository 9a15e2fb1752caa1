/**
 * The WhyLabs client over real sockets: the emulator (API and upload target
 * on one origin) served on loopback, and the client on each transport
 * (effect-sessions' UndiciHttpClient with its fast path, and the generic
 * path: the platform's undici client and fetch). The guest upload flow with a
 * 50 MB streamed body runs in a child process that reports its peak RSS; a
 * server that redirects to another origin never gets a credential through.
 */
import { describe, expect, it } from "@effect/vitest"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Http from "node:http"
import * as NodePath from "node:path"
import { UndiciHttpClient } from "../../src/node/index.js"
import * as Loopback from "../../src/testing/Loopback.js"
import * as WhyLabsEmulator from "../../src/testing/WhyLabsEmulator.js"
import * as WhyLabs from "../../src/whylabs/index.js"
import * as ProfileBytes from "./ProfileBytes.js"

const apiKey = "wl-loopback-key-51c0ffee"
const orgId = "org-loopback"
const root = NodePath.resolve(import.meta.dirname, "../..")

const transports: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["UndiciHttpClient (fast path)", UndiciHttpClient.layer],
  ["NodeHttpClient.layerUndici (generic path)", NodeHttpClient.layerUndici],
  ["FetchHttpClient (generic path)", FetchHttpClient.layer]
]

const serveEmulator = (options: WhyLabsEmulator.Options = { apiKey, orgId }) =>
  Effect.gen(function*() {
    const emulator = yield* WhyLabsEmulator.make(options)
    const served = yield* Loopback.serve(emulator.app)
    return { emulator, url: served.url }
  })

/** A bare server recording what it received, answering with `handler`. */
const rawServer = (
  handler: (request: Http.IncomingMessage, response: Http.ServerResponse) => void
): Effect.Effect<
  { readonly url: string; readonly seen: Array<{ method: string; url: string; headers: Http.IncomingHttpHeaders }> },
  never,
  Scope.Scope
> =>
  Effect.acquireRelease(
    Effect.async<{ server: Http.Server; url: string; seen: Array<{ method: string; url: string; headers: Http.IncomingHttpHeaders }> }>((resume) => {
      const seen: Array<{ method: string; url: string; headers: Http.IncomingHttpHeaders }> = []
      const server = Http.createServer((req, res) => {
        seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers })
        req.resume()
        req.on("end", () => handler(req, res))
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({ server, url: `http://127.0.0.1:${port}`, seen }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const runChild = (params: unknown): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", NodePath.join(root, "test/whylabs/upload-rss.ts"), JSON.stringify(params)],
      { cwd: root, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")))
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

describe("WhyLabs.Sessions on loopback", () => {
  for (const [name, transport] of transports) {
    it.live(`${name}: the seven operations and both uploads; Content-Length on the PUT, the key only where required`, () =>
      Effect.gen(function*() {
        const { emulator, url } = yield* serveEmulator()
        const program = Effect.gen(function*() {
          const whylabs = yield* WhyLabs.Sessions
          const { id } = yield* whylabs.createSession({ userId: "loopback" })
          const got = yield* whylabs.getSession(id)
          expect(got.session.sessionId).toBe(id)
          const upload = yield* whylabs.createDatasetProfileUpload(id, { datasetTimestamp: new Date(1000) })
          expect(upload.uploadUrl?.startsWith(`${url}${WhyLabsEmulator.uploadPathPrefix}/`)).toBe(true)
          const ref = yield* whylabs.createReferenceProfileUpload(id, { alias: "r" })
          yield* whylabs.batchCreateReferenceProfileUpload(id, { references: [{ alias: "a" }] })
          yield* whylabs.getSessionProfileObservatoryLink(id, { batchProfileTimestamps: [new Date(1000)], referenceProfileIds: [ref.id!] })
          const bytes = ProfileBytes.bytes(300_000, 5)
          const fromBytes = yield* whylabs.uploadProfile(id, bytes)
          const fromStream = yield* whylabs.uploadReferenceProfile(id, ProfileBytes.stream(2_000_000, 6), {
            alias: "streamed",
            size: 2_000_000
          })
          yield* whylabs.claimGuestSession(id)
          return { fromBytes, fromStream }
        })
        const { fromBytes, fromStream } = yield* program.pipe(
          Effect.provide(WhyLabs.layer({ baseUrl: url, apiKey: Redacted.make(apiKey), orgId })),
          Effect.provide(transport)
        )
        expect(Option.getOrThrow(yield* emulator.uploaded(fromBytes.id)).sha256).toBe(ProfileBytes.sha256(300_000, 5))
        const streamed = Option.getOrThrow(yield* emulator.uploaded(fromStream.id))
        expect(streamed.size).toBe(2_000_000)
        expect(streamed.sha256).toBe(ProfileBytes.sha256(2_000_000, 6))
        const recent = yield* emulator.recent
        const puts = recent.filter((r) => r.method === "PUT")
        if (name.startsWith("FetchHttpClient")) {
          // fetch never sends a Content-Length of its own for a stream body (it is a forbidden header): chunked.
          expect(puts.map((r) => r.headers["content-length"] ?? r.headers["transfer-encoding"])).toEqual(["300000", "chunked"])
        } else {
          expect(puts.map((r) => r.headers["content-length"])).toEqual(["300000", "2000000"])
        }
        for (const r of recent) {
          const needsKey = r.method === "GET" || r.url.includes("/claim?")
          expect([r.method, r.url.split("?")[0], r.headers["x-api-key"]]).toEqual([
            r.method,
            r.url.split("?")[0],
            needsKey ? apiKey : undefined
          ])
          expect(r.headers["authorization"]).toBeUndefined()
        }
        expect(recent.filter((r) => r.headers["x-api-key"] !== undefined)).toHaveLength(2)
        expect(yield* emulator.store.errors).toEqual({})
      }).pipe(Effect.scoped))
  }

  for (const [name, transport] of transports.slice(0, 2)) {
    it.live(`${name}: a stream that yields fewer or more bytes than its size fails the upload; nothing is stored`, () =>
      Effect.gen(function*() {
        const { emulator, url } = yield* serveEmulator()
        const program = Effect.gen(function*() {
          const whylabs = yield* WhyLabs.Sessions
          const { id } = yield* whylabs.createSession({ userId: "short" })
          const short = yield* Effect.flip(whylabs.uploadProfile(id, ProfileBytes.stream(500), { size: 1000 }))
          const long = yield* Effect.flip(whylabs.uploadProfile(id, ProfileBytes.stream(1500), { size: 1000 }))
          return [short, long] as const
        })
        const errors = yield* program.pipe(
          Effect.provide(WhyLabs.layer({ baseUrl: url, policy: { maxRetries: 1 } })),
          Effect.provide(transport)
        )
        expect(errors.map((e) => e._tag)).toEqual(["Transport", "Transport"])
        expect(yield* emulator.store.list).toEqual([])
      }).pipe(Effect.scoped))
  }

  it.live("the guest upload flow with a 50 MB streamed body stays under 1.5× the body size above the baseline RSS", () =>
    Effect.gen(function*() {
      const size = 50 * 1024 * 1024
      const { emulator, url } = yield* serveEmulator({ storeBytesUpTo: 0 })
      const expected = ProfileBytes.sha256(size, 77)
      for (const transport of ["ours", "platform"] as const) {
        const run = yield* Effect.promise(() => runChild({ baseUrl: url, size, seed: 77, transport }))
        expect(run.stderr).toBe("")
        expect(run.code).toBe(0)
        const out = JSON.parse(run.stdout.trim()) as {
          sessionId: string
          uploaded: WhyLabs.Uploaded
          baselineKB: number
          peakKB: number
          gc: boolean
        }
        const stored = Option.getOrThrow(yield* emulator.uploaded(out.uploaded.id))
        expect(stored.size).toBe(size)
        expect(stored.sha256).toBe(expected)
        expect(out.uploaded.observatoryUrl).toContain(`sessionToken=${out.sessionId}`)
        expect(out.gc).toBe(true)
        const grownMB = (out.peakKB - out.baselineKB) / 1024
        // Generous and load-proof: a body held whole (once) would already be 50 MB; twice, 100 MB.
        expect(grownMB, `${transport}: peak RSS grew ${grownMB.toFixed(1)} MB over a ${(out.baselineKB / 1024).toFixed(0)} MB baseline`)
          .toBeLessThan(1.5 * size / (1024 * 1024))
      }
    }).pipe(Effect.scoped), 240_000)

  for (const [name, transport] of transports) {
    it.live(`${name}: a 307 to another origin is not followed, so neither the key nor the profile goes there`, () =>
      Effect.gen(function*() {
        const elsewhere = yield* rawServer((_, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify({ session: {}, id: "x" }))
        })
        const redirecting = yield* rawServer((req, res) => {
          if (req.method === "POST" && req.url === "/v0/sessions/s-1/upload") {
            res.writeHead(200, { "content-type": "application/json" })
            res.end(JSON.stringify({
              id: "upload-1",
              observatoryUrl: "https://hub.example/x",
              // A presigned URL on this same server, which then redirects elsewhere.
              uploadUrl: `http://127.0.0.1:${req.socket.localPort}/put/upload-1?X-Amz-Signature=abc`
            }))
            return
          }
          res.writeHead(307, { location: `${elsewhere.url}${req.url ?? "/"}` })
          res.end()
        })
        const program = Effect.gen(function*() {
          const whylabs = yield* WhyLabs.Sessions
          const get = yield* Effect.flip(whylabs.getSession("s-1"))
          const claim = yield* Effect.flip(whylabs.claimGuestSession("s-1"))
          const upload = yield* Effect.flip(whylabs.uploadProfile("s-1", ProfileBytes.bytes(1000)))
          return [get, claim, upload] as const
        })
        const errors = yield* program.pipe(
          Effect.provide(WhyLabs.layer({ baseUrl: redirecting.url, apiKey: Redacted.make(apiKey), orgId })),
          Effect.provide(transport)
        )
        for (const error of errors) {
          expect(error.status).toBe(307)
          expect(error.message).toContain("redirects are not followed")
        }
        expect(elsewhere.seen).toEqual([])
        expect(redirecting.seen.map((r) => `${r.method} ${r.url.split("?")[0]} ${r.headers["x-api-key"] ?? "-"}`)).toEqual([
          `GET /v0/sessions/s-1 ${apiKey}`,
          `POST /v0/sessions/s-1/claim ${apiKey}`,
          "POST /v0/sessions/s-1/upload -",
          "PUT /put/upload-1 -"
        ])
      }).pipe(Effect.scoped))
  }
})
