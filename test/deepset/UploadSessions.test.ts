import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { Deepset, Policy } from "../../src/index.js"
import { DeepsetEmulator, Faults } from "../../src/testing/index.js"

const apiKey = "dc-test-secret-0123456789"
const ws = "default"

const emulatorLayer = (policy: Policy.PolicyInput = {}, key = apiKey) =>
  Deepset.layer({ apiKey: Redacted.make(key), baseUrl: DeepsetEmulator.baseUrl, policy }).pipe(
    Layer.provideMerge(DeepsetEmulator.layerInMemory({ apiKey, unlimitedForBenchmarks: true }))
  )

/** Advances the TestClock in steps until the fiber is done. */
const settle = <A, E>(fiber: Fiber.Fiber<A, E>, step: Duration.DurationInput = "10 millis", max = 100_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < max && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

const fileName = (i: number) => `file-${String(i).padStart(7, "0")}.txt`

describe("Deepset.UploadSessions on the emulator", () => {
  it.effect("create → getStatus → close → getStatus, with the wire names and types", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      const created = yield* deepset.create(ws, { write_mode: "OVERWRITE" })
      expect(created.session_id).toMatch(/^[0-9a-f-]{36}$/)
      expect(DateTime.toEpochMillis(created.expires_at)).toBe(24 * 3600 * 1000) // TestClock starts at 0
      expect(created.aws_prefixed_request_config.url.length).toBeGreaterThan(0)
      expect(Object.keys(created.aws_prefixed_request_config.fields).length).toBeGreaterThan(0)
      const post = (yield* emulator.recent).find((r) => r.method === "POST")!
      expect(JSON.parse(post.body)).toEqual({ write_mode: "OVERWRITE" })
      expect(post.headers.authorization).toBe(`Bearer ${apiKey}`)
      expect(post.headers["user-agent"]).toMatch(/^effect-sessions\//)

      yield* emulator.addFiles(created.session_id, 194)
      const open = yield* deepset.getStatus(ws, created.session_id)
      expect(open.ingestion_status).toEqual({ failed_files: 0, finished_files: 0 })
      yield* deepset.close(ws, created.session_id)
      const put = (yield* emulator.recent).find((r) => r.method === "PUT")!
      expect(JSON.parse(put.body)).toEqual({ status: "CLOSED" })
      const closed = yield* deepset.getStatus(ws, created.session_id)
      expect(closed.ingestion_status).toEqual({ failed_files: 2, finished_files: 192 })
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("list and getFiles return one page with has_more and total", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      for (let i = 0; i < 3; i++) yield* deepset.create(ws)
      const page = yield* deepset.list(ws, { limit: 2, page_number: 1 })
      expect(page.data).toHaveLength(2)
      expect(page.has_more).toBe(true)
      expect(page.total).toBe(3)
      expect(page.data[0]?.status).toBe("OPEN")
      expect(page.data[0]?.created_by.given_name.length).toBeGreaterThan(0)
      const id = yield* emulator.seedSession({ workspace: ws, fileCount: 1_000_000 })
      const files = yield* deepset.getFiles(ws, id, { limit: 3, page_number: 100_000 })
      expect(files.data.map((f) => f.name)).toEqual([fileName(299_997), fileName(299_998), fileName(299_999)])
      expect(files.total).toBe(1_000_000)
      const url = (yield* emulator.recent).at(-1)!.url
      expect(url).not.toContain("ingestion_status")
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("ingestion_status is sent only when set, and filters", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      const id = yield* emulator.seedSession({ workspace: ws, fileCount: 1000, status: "CLOSED" })
      const failed = yield* deepset.getFiles(ws, id, { ingestion_status: "FAILED", limit: 100 })
      expect((yield* emulator.recent).at(-1)!.url).toContain("ingestion_status=FAILED")
      expect(failed.total).toBe(11) // multiples of 97 below 1000
      expect(failed.data.every((f) => f.ingestion_status === "FAILED" && f.ingestion_status_reason !== undefined)).toBe(true)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("unknown ids are NotFound, malformed ids InvalidRequest naming the field, a wrong key Unauthorized", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const missing = yield* Effect.flip(deepset.getStatus(ws, "00000000-0000-4000-8000-000000000000"))
      expect(missing._tag).toBe("NotFound")
      expect(missing.status).toBe(404)
      expect(missing.requestId).toBeDefined()
      const bad = yield* Effect.flip(deepset.close(ws, "not-a-uuid"))
      expect(bad._tag).toBe("InvalidRequest")
      if (bad._tag === "InvalidRequest") expect(bad.problems.map((p) => p.field)).toContain("path.session_id")
      const escaped = yield* Effect.flip(deepset.getStatus(ws, "../../upload_sessions"))
      expect(escaped._tag).toBe("InvalidRequest") // stayed in its segment: the server saw a bad uuid
      const empty = yield* Effect.flip(deepset.getStatus(ws, ""))
      expect(empty._tag).toBe("InvalidRequest")
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("a wrong key is Unauthorized and its message never shows the key", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const logs: Array<string> = []
      const error = yield* Effect.flip(deepset.list(ws))
      yield* Effect.logError(error).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
      )
      expect(error._tag).toBe("Unauthorized")
      expect(error.status).toBe(403)
      expect(error.message).toContain("DEEPSET_CLOUD_API_KEY")
      for (const text of [error.message, String(error), JSON.stringify(error), ...logs]) {
        expect(text).not.toContain("wrong-key-")
      }
    }).pipe(Effect.provide(emulatorLayer({}, "wrong-key-abcdef"))))

  it.effect("retries 429/503 honouring Retry-After in seconds and as an HTTP-date", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      const id = yield* emulator.seedSession({ workspace: ws, fileCount: 10 })
      yield* emulator.faults.set({
        sequence: [
          Faults.status(503, { retryAfter: 3 }),
          Faults.status(429, { retryAfter: "Thu, 01 Jan 1970 00:00:10 GMT" })
        ]
      })
      const fiber = yield* Effect.fork(deepset.getStatus(ws, id))
      yield* TestClock.adjust("2999 millis")
      expect((yield* emulator.stats).requests).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect((yield* emulator.stats).requests).toBe(2)
      yield* TestClock.adjust("6999 millis")
      expect((yield* emulator.stats).requests).toBe(2)
      yield* TestClock.adjust("1 millis")
      const detail = yield* Fiber.join(fiber)
      expect(detail.session_id).toBe(id)
      expect((yield* emulator.stats).requests).toBe(3)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("create is not replayed after a 503 answer, nor after an ambiguous drop", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      yield* emulator.faults.set({ sequence: [Faults.status(503, { retryAfter: 1 })] })
      const fiber = yield* Effect.fork(deepset.create(ws))
      const error = yield* Effect.flip(settle(fiber, "1 second"))
      expect(error._tag).toBe("ServerError")
      expect((yield* emulator.stats).byRoute["POST /upload_sessions"]).toBe(1)
      yield* emulator.faults.set({ sequence: [Faults.dropAfterHandler] })
      const dropped = yield* Effect.flip(settle(yield* Effect.fork(deepset.create(ws)), "1 second"))
      expect(dropped._tag).toBe("Transport")
      expect((yield* emulator.stats).byRoute["POST /upload_sessions"]).toBe(2)
      // a GET after a drop is retried
      yield* emulator.faults.set({ sequence: [Faults.drop] })
      const page = yield* settle(yield* Effect.fork(deepset.list(ws)), "1 second")
      expect(page.total).toBe(1)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("per-attempt timeout and total deadline, from the emulator's latency", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      yield* emulator.faults.set({ latency: "10 seconds" })
      const attempt = yield* Effect.flip(
        settle(yield* Effect.fork(deepset.list(ws).pipe(Policy.withPolicy({ attemptTimeout: "2 seconds", maxRetries: 0 }))), "500 millis")
      )
      expect(attempt._tag).toBe("Timeout")
      if (attempt._tag === "Timeout") expect(attempt.kind).toBe("attempt")
      const deadline = yield* Effect.flip(
        settle(yield* Effect.fork(deepset.list(ws).pipe(Policy.withPolicy({ attemptTimeout: "3 seconds", deadline: "7 seconds" }))), "500 millis")
      )
      expect(deadline._tag).toBe("Timeout")
      if (deadline._tag === "Timeout") expect(deadline.kind).toBe("deadline")
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("streamFiles over many pages equals the expected files in order", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      const id = yield* emulator.seedSession({ workspace: ws, fileCount: 25_037 })
      const files = yield* Stream.runCollect(deepset.streamFiles(ws, id, { pageSize: 500, prefetch: 4 }))
      expect(Chunk.size(files)).toBe(25_037)
      Chunk.forEach(files, (f, i) => {
        if (f.name !== fileName(i)) throw new Error(`file ${i} is ${f.name}`)
      })
      expect((yield* emulator.stats).byRoute["GET /upload_sessions/{id}/files"]).toBe(51)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("streamFiles keeps order with random per-page latency and prefetch 8", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      const id = yield* emulator.seedSession({ workspace: ws, fileCount: 3_000 })
      yield* emulator.faults.set({ latency: { min: "1 millis", max: "80 millis" } })
      let maxInFlight = 0
      const fiber = yield* Effect.fork(
        deepset.streamFiles(ws, id, { pageSize: 50, prefetch: 8 }).pipe(
          Stream.tap(() => Effect.map(emulator.stats, (s) => void (maxInFlight = Math.max(maxInFlight, s.inFlight)))),
          Stream.map((f) => f.name),
          Stream.runCollect
        )
      )
      const names = yield* settle(fiber, "5 millis")
      expect(Chunk.toReadonlyArray(names)).toEqual(Array.from({ length: 3_000 }, (_, i) => fileName(i)))
      expect(maxInFlight).toBeGreaterThan(1)
      expect(maxInFlight).toBeLessThanOrEqual(8)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("streamSessions lists every session across pages, and is_expired filters after 24 h", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      for (let i = 0; i < 23; i++) yield* deepset.create(ws)
      const all = yield* Stream.runCollect(deepset.streamSessions(ws, { pageSize: 5, prefetch: 3 }))
      expect(Chunk.size(all)).toBe(23)
      expect(new Set(Chunk.toReadonlyArray(all).map((s) => s.session_id)).size).toBe(23)
      yield* TestClock.adjust("25 hours")
      const expired = yield* Stream.runCollect(deepset.streamSessions(ws, { is_expired: true, pageSize: 10 }))
      expect(Chunk.size(expired)).toBe(23)
      expect(Chunk.unsafeGet(expired, 0).status).toBe("EXPIRED")
      const live = yield* deepset.list(ws, { is_expired: false })
      expect(live.total).toBe(0)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("interrupting a stream cancels its requests in flight", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      const id = yield* emulator.seedSession({ workspace: ws, fileCount: 100_000 })
      const first = yield* deepset.getFiles(ws, id, { limit: 100 })
      expect(first.has_more).toBe(true)
      yield* emulator.faults.set({ latency: "1 hour" })
      const fiber = yield* Effect.fork(
        Stream.runDrain(deepset.streamFiles(ws, id, { pageSize: 100, prefetch: 4 })).pipe(
          Policy.withPolicy({ attemptTimeout: "2 hours", deadline: "3 hours" })
        )
      )
      // page 1 waits its hour, then pages 2..5 start and hang
      yield* TestClock.adjust("1 hour")
      for (let i = 0; i < 100 && (yield* emulator.stats).inFlight < 4; i++) yield* Effect.yieldNow()
      expect((yield* emulator.stats).inFlight).toBe(4)
      yield* Fiber.interrupt(fiber)
      const stats = yield* emulator.stats
      expect(stats.inFlight).toBe(0)
      expect(stats.interrupted).toBe(4)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("an unknown enum value is tolerated in a listing", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      yield* emulator.faults.set({
        sequence: [Faults.status(200, {
          body: {
            data: [{ name: "a.txt", ingestion_status: "QUARANTINED", ingestion_status_reason: "VIRUS_FOUND", extra: 1 }],
            has_more: false,
            total: 1
          }
        })]
      })
      const files = yield* Stream.runCollect(deepset.streamFiles(ws, "00000000-0000-4000-8000-000000000000"))
      expect(Chunk.toReadonlyArray(files)).toEqual([{ name: "a.txt", ingestion_status: "QUARANTINED", ingestion_status_reason: "VIRUS_FOUND" }])
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("a body that does not match is a DecodeError naming the field; malformed and truncated bodies too", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      yield* deepset.create(ws)
      yield* emulator.faults.set({
        sequence: [Faults.status(200, {
          body: { data: [{ session_id: "00000000-0000-4000-8000-000000000000", created_by: { user_id: "u", given_name: "A", family_name: "B" }, created_at: 12 }], has_more: false, total: 1 }
        })]
      })
      const wrong = yield* Effect.flip(deepset.list(ws))
      expect(wrong._tag).toBe("DecodeError")
      if (wrong._tag === "DecodeError") expect(wrong.path).toBe("data[0].created_at")
      expect(wrong.message).toContain("data[0].created_at")
      for (const fault of [Faults.malformed, Faults.shortBody]) {
        yield* emulator.faults.set({ sequence: [fault] })
        const error = yield* Effect.flip(deepset.list(ws))
        expect(error._tag).toBe("DecodeError")
      }
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("stream options are checked before anything is sent", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      const error = yield* Effect.flip(Stream.runDrain(deepset.streamSessions(ws, { pageSize: 0 })))
      expect(error._tag).toBe("InvalidRequest")
      const error2 = yield* Effect.flip(Stream.runDrain(deepset.streamSessions(ws, { prefetch: 1.5 })))
      expect(error2._tag).toBe("InvalidRequest")
      expect((yield* emulator.stats).requests).toBe(0)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("a stream page failing after retries fails the stream, never skipping the page", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      const id = yield* emulator.seedSession({ workspace: ws, fileCount: 1_000 })
      yield* emulator.faults.set({
        match: (_, path) => path.endsWith("/files"),
        sequence: [Faults.none, Faults.none, ...Array.from({ length: 10 }, () => Faults.status(500))]
      })
      const seen: Array<string> = []
      const fiber = yield* Effect.fork(
        deepset.streamFiles(ws, id, { pageSize: 100, prefetch: 1 }).pipe(
          Stream.runForEach((f) => Effect.sync(() => void seen.push(f.name)))
        ).pipe(Policy.withPolicy({ maxRetries: 2 }))
      )
      const error = yield* Effect.flip(settle(fiber, "1 second"))
      expect(error._tag).toBe("ServerError")
      expect(seen).toHaveLength(200)
    }).pipe(Effect.provide(emulatorLayer())))
})

describe("Deepset.layerConfig", () => {
  it.effect("reads DEEPSET_CLOUD_API_KEY / API_URL (with the SDK's /api/v1 suffix)", () =>
    Effect.gen(function*() {
      const deepset = yield* Deepset.UploadSessions
      const emulator = yield* DeepsetEmulator.DeepsetEmulator
      yield* deepset.create(ws)
      const req = (yield* emulator.recent)[0]!
      expect(req.url).toBe("/api/v1/workspaces/default/upload_sessions") // no doubled /api/v1
      expect(req.headers.authorization).toBe(`Bearer ${apiKey}`)
    }).pipe(
      Effect.provide(
        Deepset.layerConfig().pipe(
          Layer.provideMerge(DeepsetEmulator.layerInMemory({ apiKey })),
          Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
            ["API_KEY", apiKey],
            ["API_URL", "https://api.cloud.deepset.ai/api/v1/"]
          ]))))
        )
      )
    ))

  it.effect("a missing key is a ConfigError naming the variable", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        Layer.build(Deepset.layerConfig().pipe(Layer.provide(DeepsetEmulator.layerInMemory({ apiKey })))).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))
        )
      )
      expect(String(error)).toContain("DEEPSET_CLOUD_API_KEY")
    }))
})

