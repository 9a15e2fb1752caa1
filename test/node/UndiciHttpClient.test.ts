import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import { Agent } from "undici"
import * as ApiClient from "../../src/core/ApiClient.js"
import * as Credentials from "../../src/core/Credentials.js"
import type * as Transport from "../../src/core/Transport.js"
import { Deepset, Policy } from "../../src/index.js"
import { UndiciHttpClient } from "../../src/node/index.js"
import { DeepsetEmulator, Faults } from "../../src/testing/index.js"
import { Loopback } from "../../src/testing/node.js"

const apiKey = "undici-test-key"
const ws = "w"

/** The deepset emulator on loopback and the client over our undici transport. */
const onLoopback = <A, E>(
  body: (
    emulator: DeepsetEmulator.Emulator,
    url: string
  ) => Effect.Effect<A, E, Deepset.UploadSessions | HttpClient.HttpClient>,
  policy: Policy.PolicyInput = {}
) =>
  Effect.gen(function*() {
    const emulator = yield* DeepsetEmulator.make({ apiKey })
    const served = yield* Loopback.serve(emulator.app)
    return yield* body(emulator, served.url).pipe(
      Effect.provide(
        Deepset.layer({ apiKey: Redacted.make(apiKey), baseUrl: served.url, policy }).pipe(
          Layer.provideMerge(UndiciHttpClient.layer)
        )
      )
    )
  }).pipe(Effect.scoped)

const waitFor = (check: Effect.Effect<boolean>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && !(yield* check); i++) yield* Effect.sleep("10 millis")
  })

describe("UndiciHttpClient (fast path) on loopback", () => {
  it.live("runs every deepset operation and streams in order", () =>
    onLoopback((emulator) =>
      Effect.gen(function*() {
        const deepset = yield* Deepset.UploadSessions
        // Under Effect's built-in tracer a call makes no span of its own and propagates the caller's.
        const [created, caller] = yield* Effect.all([deepset.create(ws, { write_mode: "FAIL" }), Effect.currentSpan]).pipe(
          Effect.withSpan("caller")
        )
        yield* emulator.addFiles(created.session_id, 250)
        yield* deepset.close(ws, created.session_id)
        const status = yield* deepset.getStatus(ws, created.session_id)
        expect(status.ingestion_status.finished_files + status.ingestion_status.failed_files).toBe(250)
        const names = yield* Stream.runCollect(
          Stream.map(deepset.streamFiles(ws, created.session_id, { pageSize: 40, prefetch: 3 }), (f) => f.name)
        )
        expect(Chunk.toReadonlyArray(names)).toEqual(
          Array.from({ length: 250 }, (_, i) => `file-${String(i).padStart(7, "0")}.txt`)
        )
        const missing = yield* Effect.flip(deepset.getStatus(ws, "00000000-0000-4000-8000-000000000000"))
        expect(missing._tag).toBe("NotFound")
        expect(missing.requestId).toBeDefined()
        const post = (yield* emulator.recent).find((r) => r.method === "POST")!
        expect(JSON.parse(post.body)).toEqual({ write_mode: "FAIL" })
        expect(post.headers["content-type"]).toBe("application/json")
        expect(post.headers.traceparent).toBe(`00-${caller.traceId}-${caller.spanId}-01`)
        const get = (yield* emulator.recent).find((r) => r.method === "GET")!
        expect(get.headers.traceparent).toBeUndefined()
      })
    ))

  it.live("the attempt timeout uses a real timer and aborts the request", () =>
    onLoopback(
      (emulator) =>
        Effect.gen(function*() {
          const deepset = yield* Deepset.UploadSessions
          yield* emulator.faults.set({ latency: "5 seconds" })
          const started = Date.now()
          const error = yield* Effect.flip(deepset.list(ws))
          expect(error._tag).toBe("Timeout")
          if (error._tag === "Timeout") expect(error.kind).toBe("attempt")
          expect(Date.now() - started).toBeLessThan(3000)
          yield* waitFor(Effect.map(emulator.stats, (s) => s.inFlight === 0))
          expect((yield* emulator.stats).interrupted).toBe(1)
        }),
      { attemptTimeout: "200 millis", maxRetries: 0 }
    ))

  it.live("interrupting a call aborts its request on the server", () =>
    onLoopback((emulator) =>
      Effect.gen(function*() {
        const deepset = yield* Deepset.UploadSessions
        yield* emulator.faults.set({ latency: "10 seconds" })
        const fiber = yield* Effect.fork(deepset.list(ws))
        yield* waitFor(Effect.map(emulator.stats, (s) => s.inFlight === 1))
        yield* Fiber.interrupt(fiber)
        yield* waitFor(Effect.map(emulator.stats, (s) => s.interrupted === 1))
        expect((yield* emulator.stats).interrupted).toBe(1)
      })
    ))

  it.live("a dropped connection is a Transport error, retried for a GET only", () =>
    onLoopback((emulator) =>
      Effect.gen(function*() {
        const deepset = yield* Deepset.UploadSessions
        yield* emulator.faults.set({ sequence: [Faults.drop] })
        const page = yield* deepset.list(ws).pipe(Policy.withPolicy({ baseDelay: "1 millis" }))
        expect(page.total).toBe(0)
        yield* emulator.faults.set({ sequence: [Faults.drop] })
        const error = yield* Effect.flip(deepset.create(ws))
        expect(error._tag).toBe("Transport")
        expect((yield* emulator.stats).byRoute["POST /upload_sessions"]).toBe(1)
      })
    ))

  it.live("a refused connection is a Transport error marked notSent", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const error = yield* Effect.flip(deepset.create(ws))
      expect(error._tag).toBe("Transport")
      if (error._tag === "Transport") expect(error.notSent).toBe(true)
    }).pipe(
      Effect.provide(
        Deepset.layer({ apiKey: Redacted.make(apiKey), baseUrl: "http://127.0.0.1:9", policy: { maxRetries: 1, baseDelay: "1 millis" } })
          .pipe(Layer.provide(UndiciHttpClient.layer))
      )
    ))

  it.live("without tracing no span headers are sent; a transformed client takes the generic path", () =>
    onLoopback((emulator, url) =>
      Effect.gen(function*() {
        const deepset = yield* Deepset.UploadSessions
        yield* deepset.list(ws).pipe(Effect.withTracerEnabled(false))
        expect((yield* emulator.recent).at(-1)!.headers.traceparent).toBeUndefined()
        const http = yield* HttpClient.HttpClient
        const tagged = HttpClient.mapRequest(http, HttpClientRequest.setHeader("x-extra", "yes"))
        const generic = yield* Deepset.make({ apiKey: Redacted.make(apiKey), baseUrl: url }).pipe(
          Effect.provideService(HttpClient.HttpClient, tagged)
        )
        const page = yield* generic.list(ws)
        expect(page.total).toBe(0)
        expect((yield* emulator.recent).at(-1)!.headers["x-extra"]).toBe("yes")
      })
    ))

  it.live("a decoder that throws is a defect of that call (it runs in the transport's callback); the client goes on", () =>
    onLoopback((_, url) =>
      Effect.gen(function*() {
        const client = yield* ApiClient.make({
          api: "deepset",
          baseUrl: url,
          credentials: Credentials.bearer(Redacted.make(apiKey)),
          policy: Policy.make({ maxRetries: 0 })
        })
        const list = <A>(response: ApiClient.Decoder<A>) =>
          client.run({
            operation: "list",
            method: "GET",
            path: Either.right(`/api/v1/workspaces/${ws}/upload_sessions`),
            idempotent: true,
            response
          })
        const exit = yield* Effect.exit(list(() => {
          throw new Error("decoder bug")
        }))
        expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
        if (Exit.isFailure(exit)) expect(String(Cause.squash(exit.cause))).toContain("decoder bug")
        const page = yield* list((json) => Either.right(json as { readonly total: number }))
        expect(page.total).toBe(0)
      })
    ))

  it.live("a call in an uninterruptible region is not aborted: interrupting its fiber waits for the answer", () =>
    onLoopback((emulator) =>
      Effect.gen(function*() {
        const deepset = yield* Deepset.UploadSessions
        yield* emulator.faults.set({ latency: "300 millis" })
        const answered: Array<number> = []
        const fiber = yield* Effect.fork(
          Effect.uninterruptible(Effect.tap(deepset.list(ws), (page) => Effect.sync(() => answered.push(page.total))))
        )
        yield* waitFor(Effect.map(emulator.stats, (s) => s.inFlight === 1))
        yield* Fiber.interrupt(fiber)
        expect(answered).toEqual([0])
        const stats = yield* emulator.stats
        expect(stats.interrupted).toBe(0)
        expect(stats.inFlight).toBe(0)
      })
    ))

  it.live("start: a cancelled exchange reports nothing and is aborted on the server; one that ends reports once", () =>
    onLoopback((emulator, url) =>
      Effect.gen(function*() {
        const agent = new Agent()
        yield* Effect.addFinalizer(() => Effect.promise(() => agent.destroy()))
        const fast = UndiciHttpClient.makeFastPath(agent)
        const reports: Array<string> = []
        const receiver: Transport.Receiver = {
          done: (answer, failure) => reports.push(failure?._tag ?? `answer ${answer?.status}`)
        }
        const request: Transport.Outgoing = {
          method: "GET",
          origin: url,
          path: `/api/v1/workspaces/${ws}/upload_sessions`,
          headers: { authorization: `Bearer ${apiKey}` },
          body: undefined
        }
        yield* emulator.faults.set({ latency: "10 seconds" })
        const started = fast.start(request, 30_000, receiver)
        yield* waitFor(Effect.map(emulator.stats, (s) => s.inFlight === 1))
        started.cancel()
        yield* waitFor(Effect.map(emulator.stats, (s) => s.interrupted === 1))
        expect((yield* emulator.stats).interrupted).toBe(1)
        yield* Effect.sleep("50 millis")
        expect(reports).toEqual([])
        yield* emulator.faults.set({})
        fast.start(request, 30_000, receiver)
        yield* waitFor(Effect.sync(() => reports.length > 0))
        yield* Effect.sleep("50 millis")
        expect(reports).toEqual(["answer 200"])
        yield* emulator.faults.set({ latency: "2 seconds" })
        fast.start(request, 0, receiver) // a zero budget: the timer fires first
        yield* waitFor(Effect.sync(() => reports.length > 1))
        expect(reports).toEqual(["answer 200", "Timeout"])
      }).pipe(Effect.scoped)
    ))

  it.live("the fast path returns a many-chunk body whole, once: reading it lets go of the bytes", () =>
    Effect.gen(function*() {
      const body = JSON.stringify({ text: "é€𝄞".repeat(60_000) }) // ~540 KB of multi-byte UTF-8, many socket chunks
      const server = Http.createServer((_, res) => {
        res.writeHead(200, { "content-type": "application/json", "x-once": "a", "x-twice": ["b", "c"] })
        res.end(body)
      })
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      )
      const port = (server.address() as { port: number }).port
      const agent = new Agent()
      yield* Effect.addFinalizer(() => Effect.promise(() => agent.destroy()))
      const fast = UndiciHttpClient.makeFastPath(agent)
      const answer = yield* fast.exchange(
        { method: "GET", origin: `http://127.0.0.1:${port}`, path: "/", headers: {}, body: undefined },
        5_000
      )
      expect(answer.status).toBe(200)
      expect(answer.readText()).toBe(body)
      expect(answer.readText()).toBe("")
      // Made when first read (after the body here), the same object after that; a header sent twice is an array.
      expect(answer.headers["x-once"]).toBe("a")
      expect(answer.headers["x-twice"]).toEqual(["b", "c"])
      expect(answer.headers).toBe(answer.headers)
    }).pipe(Effect.scoped))
})
