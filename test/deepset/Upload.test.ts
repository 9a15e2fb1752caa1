import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpClient from "@effect/platform/HttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { Deepset } from "../../src/index.js"
import type { Policy } from "../../src/index.js"
import * as UndiciHttpClient from "../../src/node/UndiciHttpClient.js"
import * as UploadFiles from "../../src/node/UploadFiles.js"
import * as DeepsetEmulator from "../../src/testing/DeepsetEmulator.js"
import * as Faults from "../../src/testing/Faults.js"
import * as InMemory from "../../src/testing/InMemory.js"
import * as Loopback from "../../src/testing/Loopback.js"

const { UploadFile } = Deepset
const apiKey = "dc-upload-secret-0123456789"
const ws = "default"
const fast: Policy.PolicyInput = { baseDelay: "1 millis", maxDelay: "5 millis" }

/** The emulator, and the client on an in-memory HttpClient that counts the S3 POSTs in flight. */
const setup = (options: Partial<DeepsetEmulator.Options> = {}, policy: Policy.PolicyInput = fast) =>
  Effect.gen(function*() {
    const emulator = yield* DeepsetEmulator.make({ apiKey, ...options })
    const inFlight = { now: 0, peak: 0 }
    const counted: HttpApp.Default<never, never> = Effect.acquireUseRelease(
      Effect.sync(() => {
        inFlight.now++
        inFlight.peak = Math.max(inFlight.peak, inFlight.now)
      }),
      () => emulator.app,
      () => Effect.sync(() => void inFlight.now--)
    )
    const deepset = yield* Deepset.make({ apiKey: Redacted.make(apiKey), baseUrl: DeepsetEmulator.baseUrl, policy }).pipe(
      Effect.provideService(HttpClient.HttpClient, InMemory.makeClient(counted))
    )
    return { emulator, deepset, inFlight }
  })

/** Advances the TestClock in steps until the fiber is done. */
const settle = <A, E>(fiber: Fiber.Fiber<A, E>, step: Duration.DurationInput = "100 millis", max = 100_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < max && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

const contentOf = (i: number, size: number) => {
  const bytes = new Uint8Array(size)
  for (let j = 0; j < size; j++) bytes[j] = (i * 31 + j * 7) % 251
  return bytes
}
/** Mixed sizes: mostly small, some tens of KB, every 100th a megabyte and a half; one empty-ish (1 byte). */
const sizeOf = (i: number) => (i % 100 === 99 ? 1_500_000 : i % 10 === 3 ? 40_000 + i : i === 0 ? 1 : 200 + ((i * 997) % 9_000))

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array) =>
  a !== undefined && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0

const sessionStatus = (deepset: Deepset.Service, id: string) =>
  Effect.map(
    Stream.runCollect(deepset.streamSessions(ws)),
    (all) => Chunk.toReadonlyArray(all).find((s) => s.session_id === id)?.status
  )

describe("Deepset.upload", () => {
  it.live("1 000 files of mixed sizes with concurrency 16: every byte stored, the session closed once, the key never sent", () =>
    Effect.gen(function*() {
      const { deepset, emulator, inFlight } = yield* setup()
      const n = 1000
      const files = Stream.range(0, n - 1).pipe(Stream.map((i) => UploadFile.bytes(`doc-${i}.txt`, contentOf(i, sizeOf(i)))))
      const report = yield* deepset.upload(ws, files, { concurrency: 16 })
      expect(report.uploaded).toBe(n)
      expect(report.failedUploads).toEqual([])
      let total = 0
      for (let i = 0; i < n; i++) total += sizeOf(i)
      expect(report.bytes).toBe(total)
      expect(inFlight.peak).toBeLessThanOrEqual(16 + 1) // 16 POSTs, and at most one API call beside them
      expect(inFlight.peak).toBeGreaterThan(1)

      const objects = yield* emulator.storage.list
      expect(objects.length).toBe(n)
      for (let i = 0; i < n; i++) {
        const stored = Option.getOrThrow(yield* emulator.storage.get(`${ws}/${report.sessionId}/doc-${i}.txt`))
        expect(stored.size).toBe(sizeOf(i))
        expect(sameBytes(stored.bytes, contentOf(i, sizeOf(i)))).toBe(true)
        expect(stored.contentType).toBe("text/plain")
      }
      const stats = yield* emulator.stats
      expect(stats.byRoute["PUT /upload_sessions/{id}"]).toBe(1)
      expect(stats.byRoute["POST /storage"]).toBe(n)
      expect(yield* sessionStatus(deepset, report.sessionId)).toBe("CLOSED")
      // The store rejects any request with Authorization / X-API-Key (none was rejected), and none carried one.
      expect(yield* emulator.storage.errors).toEqual({})
      for (const request of yield* emulator.storage.recent) {
        expect(request.headers["authorization"]).toBeUndefined()
        expect(request.headers["x-api-key"]).toBeUndefined()
        expect(JSON.stringify(request.headers)).not.toContain(apiKey)
      }
      const listed = yield* Stream.runCollect(deepset.streamFiles(ws, report.sessionId))
      expect(Chunk.size(listed)).toBe(n)
    }), 240_000) // 1 000 multipart bodies parsed by the emulator: a few seconds, much longer on a loaded machine

  it.effect("withMeta sends <name>.meta.json as the SDK does (Python json.dumps); names are made S3-safe", () =>
    Effect.gen(function*() {
      const { deepset, emulator } = yield* setup()
      const files = Stream.make(
        UploadFile.text("notes #1.txt", "héllo").withMeta({ lang: "fr", tags: ["a", "ü"], n: 1, ok: true }),
        UploadFile.text("plain.md", "# title").withContentType("text/markdown")
      )
      const report = yield* deepset.upload(ws, files)
      expect(report.uploaded).toBe(2)
      const prefix = `${ws}/${report.sessionId}/`
      const text = (key: string) =>
        Effect.map(emulator.storage.get(prefix + key), (o) => new TextDecoder().decode(Option.getOrThrow(o).bytes))
      expect(yield* text("notes _1.txt")).toBe("héllo")
      expect(yield* text("notes _1.txt.meta.json")).toBe('{"lang": "fr", "tags": ["a", "\\u00fc"], "n": 1, "ok": true}')
      expect(Option.getOrThrow(yield* emulator.storage.get(prefix + "plain.md")).contentType).toBe("text/markdown")
      const listed = yield* Stream.runCollect(deepset.streamFiles(ws, report.sessionId))
      expect(Chunk.toReadonlyArray(listed).map((f) => f.name)).toEqual(["notes _1.txt", "plain.md"])
    }))

  it.effect("interrupted mid-upload: the session is closed once and nothing is uploaded after the interrupt", () =>
    Effect.gen(function*() {
      const { deepset, emulator } = yield* setup()
      yield* emulator.storage.faults.set({ latency: "1 second" })
      const files = Stream.range(0, 99).pipe(Stream.map((i) => UploadFile.text(`f-${i}.txt`, `content ${i}`)))
      const fiber = yield* Effect.fork(deepset.upload(ws, files, { concurrency: 4 }))
      for (let i = 0; i < 3; i++) yield* TestClock.adjust("1 second")
      yield* Effect.yieldNow()
      const before = (yield* emulator.storage.list).length
      expect(before).toBeGreaterThanOrEqual(4)
      expect(before).toBeLessThan(100)
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 minute")
      expect((yield* emulator.storage.list).length).toBe(before)
      const stats = yield* emulator.stats
      expect(stats.byRoute["PUT /upload_sessions/{id}"]).toBe(1)
      const sessions = yield* deepset.list(ws)
      expect(sessions.data.map((s) => s.status)).toEqual(["CLOSED"])
    }))

  it.live("S3 403 (AccessDenied) fails that file at once; 503 SlowDown, 500 and a dropped connection are retried", () =>
    Effect.gen(function*() {
      const { deepset, emulator } = yield* setup()
      yield* emulator.storage.faults.set({
        sequence: [Faults.status(403), Faults.status(503), Faults.status(500), Faults.drop, Faults.dropAfterHandler]
      })
      const files = Stream.make(
        UploadFile.text("denied.txt", "a"),
        UploadFile.text("retried.txt", "b"),
        UploadFile.text("dropped.txt", "c")
      )
      const report = yield* deepset.upload(ws, files, { concurrency: 1 })
      expect(report.uploaded).toBe(2)
      expect(report.failedUploads.map((f) => f.name)).toEqual(["denied.txt"])
      const error = report.failedUploads[0]!.error
      expect(error._tag).toBe("StorageError")
      if (error._tag === "StorageError") {
        expect(error.code).toBe("AccessDenied")
        expect(error.status).toBe(403)
        expect(error.url).not.toContain("X-Amz-Signature")
      }
      expect(yield* emulator.storage.faults.remaining).toBe(0)
      expect((yield* emulator.stats).byRoute["POST /storage"]).toBe(7)
      const keys = (yield* emulator.storage.list).map((o) => o.key.split("/")[2])
      expect(keys).toEqual(["retried.txt", "dropped.txt"])
      const listed = yield* Stream.runCollect(deepset.streamFiles(ws, report.sessionId))
      expect(Chunk.toReadonlyArray(listed).map((f) => f.name)).toEqual(["retried.txt", "dropped.txt"])
    }))

  it.live("a 503 SlowDown that lasts beyond the retries fails the file with the S3 code", () =>
    Effect.gen(function*() {
      const { deepset, emulator } = yield* setup({}, { ...fast, maxRetries: 2 })
      yield* emulator.storage.faults.set({ rate: { probability: 1, fault: Faults.status(503) } })
      const report = yield* deepset.upload(ws, Stream.make(UploadFile.text("slow.txt", "x")))
      expect(report.uploaded).toBe(0)
      const error = report.failedUploads[0]?.error
      expect(error?._tag === "StorageError" && [error.code, error.status]).toEqual(["SlowDown", 503])
      expect((yield* emulator.stats).byRoute["POST /storage"]).toBe(3)
    }))

  it.effect("an expired presigned policy: 403 AccessDenied 'Policy expired', not retried; the session still closes", () =>
    Effect.gen(function*() {
      const { deepset, emulator } = yield* setup()
      const files = Stream.fromEffect(Effect.as(Effect.sleep("25 hours"), UploadFile.text("late.txt", "x")))
      const fiber = yield* Effect.fork(deepset.upload(ws, files))
      const report = yield* settle(fiber, "1 hour")
      expect(report.uploaded).toBe(0)
      const error = report.failedUploads[0]?.error
      expect(error?._tag).toBe("StorageError")
      if (error?._tag === "StorageError") {
        expect(error.code).toBe("AccessDenied")
        expect(error.storageMessage).toBe("Invalid according to Policy: Policy expired.")
      }
      expect((yield* emulator.stats).byRoute["POST /storage"]).toBe(1)
      expect((yield* emulator.stats).byRoute["PUT /upload_sessions/{id}"]).toBe(1)
    }))

  it.effect("waitForIngestion polls getStatus on a Schedule until every file is FINISHED or FAILED (TestClock)", () =>
    Effect.gen(function*() {
      const { deepset, emulator } = yield* setup({
        ingestionDelay: "2 seconds",
        ingestionTime: "20 seconds",
        failIngestion: (name) => name.startsWith("bad")
      })
      const events: Array<Deepset.Upload.UploadProgress> = []
      const files = Stream.range(0, 49).pipe(
        Stream.map((i) => UploadFile.text(i % 10 === 0 ? `bad-${i}.txt` : `good-${i}.txt`, `text ${i}`))
      )
      const fiber = yield* Effect.fork(deepset.upload(ws, files, {
        waitForIngestion: { interval: "1 second", timeout: "1 minute" },
        onProgress: (p) => Effect.sync(() => void events.push(p))
      }))
      const report = yield* settle(fiber, "250 millis")
      expect(report.ingestion).toEqual({ finished: 45, failed: 5, pending: 0, timedOut: false })
      const polls = events.filter((e) => e.phase === "ingesting")
      expect(polls.length).toBeGreaterThanOrEqual(15)
      expect(polls.length).toBeLessThanOrEqual(30)
      const done = polls.map((e) => e.ingestion!.finished + e.ingestion!.failed)
      expect(done).toEqual([...done].sort((a, b) => a - b))
      expect(done[0]).toBe(0)
      expect(events.filter((e) => e.phase === "uploading").length).toBe(50)
      expect(events.at(-1)?.phase).toBe("done")
      const getStatusCalls = (yield* emulator.stats).byRoute["GET /upload_sessions/{id}"]
      expect(getStatusCalls).toBe(polls.length)
      const failed = yield* Stream.runCollect(deepset.streamFiles(ws, report.sessionId, { ingestion_status: "FAILED" }))
      expect(Chunk.toReadonlyArray(failed).map((f) => f.name)).toEqual(
        ["bad-0.txt", "bad-10.txt", "bad-20.txt", "bad-30.txt", "bad-40.txt"]
      )
    }))

  it.effect("waitForIngestion gives up at the timeout and says how many are pending", () =>
    Effect.gen(function*() {
      const { deepset } = yield* setup({ ingestionDelay: "10 minutes" })
      const files = Stream.range(0, 9).pipe(Stream.map((i) => UploadFile.text(`f-${i}.txt`, "x")))
      const fiber = yield* Effect.fork(deepset.upload(ws, files, { waitForIngestion: { timeout: "1 minute", interval: "10 seconds" } }))
      const report = yield* settle(fiber, "1 second")
      expect(report.ingestion?.timedOut).toBe(true)
      expect(report.ingestion?.finished).toBe(0)
      expect(report.ingestion?.pending).toBe(10)
    }))

  it.effect("a failing files stream fails the upload after the session is closed; a bad concurrency sends nothing", () =>
    Effect.gen(function*() {
      const { deepset, emulator } = yield* setup()
      const files = Stream.concat(Stream.make(UploadFile.text("a.txt", "a")), Stream.fail("listing failed" as const))
      const error = yield* Effect.flip(deepset.upload(ws, files))
      expect(error).toBe("listing failed")
      expect((yield* emulator.stats).byRoute["PUT /upload_sessions/{id}"]).toBe(1)
      const bad = yield* Effect.flip(deepset.upload(ws, Stream.empty, { concurrency: 0 }))
      expect(bad._tag).toBe("InvalidRequest")
      expect((yield* emulator.stats).byRoute["POST /upload_sessions"]).toBe(1)
    }))

  it.effect("onProgress: files, bytes and bytes/s as the files go", () =>
    Effect.gen(function*() {
      const { deepset, emulator } = yield* setup()
      yield* emulator.storage.faults.set({ latency: "100 millis" })
      const events: Array<Deepset.Upload.UploadProgress> = []
      const files = Stream.range(0, 9).pipe(Stream.map((i) => UploadFile.bytes(`f-${i}.bin`, new Uint8Array(1000))))
      const fiber = yield* Effect.fork(deepset.upload(ws, files, {
        concurrency: 2,
        onProgress: (p) => Effect.sync(() => void events.push(p))
      }))
      yield* settle(fiber, "50 millis")
      const uploading = events.filter((e) => e.phase === "uploading")
      expect(uploading.map((e) => e.uploaded)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      const last = events.at(-1)!
      expect(last.phase).toBe("done")
      expect(last.bytes).toBe(10_000)
      expect(last.bytesPerSecond).toBeGreaterThan(10_000) // 10 kB in about 0.5 s of TestClock
      expect(last.bytesPerSecond).toBeLessThan(40_000)
    }))
})

describe("UploadFiles.fromPath (Node)", () => {
  it.live("streams files from disk; a missing file fails alone with an UploadFileError", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "es-upload-"))
      try {
        const bytes = contentOf(7, 300_000)
        Fs.writeFileSync(NodePath.join(dir, "on-disk.pdf"), bytes)
        // Read whole, synchronously (at most UploadFiles.syncReadUpTo), and just above that (read with callbacks).
        const small = contentOf(8, 5_000)
        const edge = contentOf(9, UploadFiles.syncReadUpTo + 1)
        Fs.writeFileSync(NodePath.join(dir, "small.txt"), small)
        Fs.writeFileSync(NodePath.join(dir, "edge.bin"), edge)
        const { deepset, emulator } = yield* setup()
        // A file that grows between its stat and its read is not sent with a wrong length.
        const grownPath = NodePath.join(dir, "grown.txt")
        Fs.writeFileSync(grownPath, "12345")
        const fromDisk = UploadFiles.fromPath(grownPath)
        const grown = UploadFile.make({
          name: "grown.txt",
          source: Effect.map(fromDisk.source, (content) => {
            Fs.appendFileSync(grownPath, "678")
            return content
          })
        })
        const files = Stream.make(
          grown,
          UploadFiles.fromPath(NodePath.join(dir, "small.txt")),
          UploadFiles.fromPath(NodePath.join(dir, "edge.bin")),
          UploadFiles.fromPath(NodePath.join(dir, "on-disk.pdf")),
          UploadFiles.fromPath(NodePath.join(dir, "missing.txt")),
          UploadFiles.fromPath(dir)
        )
        const report = yield* deepset.upload(ws, files)
        expect(report.uploaded).toBe(3)
        for (const [name, content] of [["small.txt", small], ["edge.bin", edge]] as const) {
          expect(sameBytes(Option.getOrThrow(yield* emulator.storage.get(`${ws}/${report.sessionId}/${name}`)).bytes, content)).toBe(true)
        }
        expect(report.failedUploads.find((f) => f.name === "grown.txt")?.error.message).toContain("changed while read: 5 bytes expected, 6 read")
        expect(report.failedUploads.map((f) => [f.name, f.error._tag]).sort()).toEqual([
          ["grown.txt", "UploadFileError"],
          ["missing.txt", "UploadFileError"],
          [NodePath.basename(dir), "UploadFileError"]
        ].sort())
        const stored = Option.getOrThrow(yield* emulator.storage.get(`${ws}/${report.sessionId}/on-disk.pdf`))
        expect(sameBytes(stored.bytes, bytes)).toBe(true)
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    }))
})

describe("Deepset.upload on loopback (undici)", () => {
  it.live("a real socket: 40 files and a 20 MB one, a connection dropped mid-body retried", () =>
    Effect.scoped(Effect.gen(function*() {
      const emulator = yield* DeepsetEmulator.make({ apiKey, storage: { storeBytesUpTo: 1024 * 1024 } })
      const served = yield* Loopback.serve(emulator.app)
      const deepset = yield* Deepset.make({ apiKey: Redacted.make(apiKey), baseUrl: served.url, policy: fast })
      yield* emulator.storage.faults.set({ sequence: [Faults.none, Faults.drop, Faults.none, Faults.dropAfterHandler] })
      const big = contentOf(3, 20 * 1024 * 1024)
      const files = Stream.concat(
        Stream.make(UploadFile.bytes("big.bin", big)),
        Stream.range(0, 39).pipe(Stream.map((i) => UploadFile.text(`small-${i}.txt`, `small ${i}`)))
      )
      const report = yield* deepset.upload(ws, files, { concurrency: 8 })
      expect(report.failedUploads).toEqual([])
      expect(report.uploaded).toBe(41)
      const stored = Option.getOrThrow(yield* emulator.storage.get(`${ws}/${report.sessionId}/big.bin`))
      expect(stored.size).toBe(big.length)
      const { createHash } = yield* Effect.promise(() => import("node:crypto"))
      expect(stored.sha256).toBe(createHash("sha256").update(big).digest("hex"))
      expect((yield* emulator.storage.list).length).toBe(41)
      for (const request of yield* emulator.storage.recent) expect(request.headers["authorization"]).toBeUndefined()
    }).pipe(Effect.provide(UndiciHttpClient.layer))))

  it.live("a file with a native source goes from it on undici's fast path (opened again for a retry), from its Stream elsewhere", () =>
    Effect.scoped(Effect.gen(function*() {
      const bytes = contentOf(5, 3 * 1024 * 1024)
      const chunks = Array.from({ length: 24 }, (_, i) => bytes.subarray(i * 131072, (i + 1) * 131072))
      const counts = { native: 0, streamChunks: 0 }
      const file = UploadFile.make({
        name: "native.bin",
        source: Effect.succeed({
          size: bytes.length,
          open: () => Stream.fromIterable(chunks).pipe(Stream.tap(() => Effect.sync(() => void counts.streamChunks++))),
          native: () => {
            counts.native++
            return (async function*() {
              for (const chunk of chunks) yield chunk
            })()
          }
        })
      })
      const sha = (yield* Effect.promise(() => import("node:crypto"))).createHash("sha256").update(bytes).digest("hex")
      const emulator = yield* DeepsetEmulator.make({ apiKey, storage: { storeBytesUpTo: 0 } })
      const served = yield* Loopback.serve(emulator.app)
      // The first POST's connection is dropped while its body is sent: the retry opens the source again.
      yield* emulator.storage.faults.set({ sequence: [Faults.drop, Faults.none] })
      const uploadOn = (layer: Layer.Layer<HttpClient.HttpClient>) =>
        Effect.flatMap(
          Deepset.make({ apiKey: Redacted.make(apiKey), baseUrl: served.url, policy: fast }),
          (deepset) => deepset.upload(ws, Stream.make(file))
        ).pipe(Effect.provide(layer))
      const report = yield* uploadOn(UndiciHttpClient.layer)
      expect(report.failedUploads).toEqual([])
      expect(Option.getOrThrow(yield* emulator.storage.get(`${ws}/${report.sessionId}/native.bin`)).sha256).toBe(sha)
      expect(counts).toEqual({ native: 2, streamChunks: 0 })

      const again = yield* uploadOn(NodeHttpClient.layerUndici)
      expect(again.failedUploads).toEqual([])
      expect(Option.getOrThrow(yield* emulator.storage.get(`${ws}/${again.sessionId}/native.bin`)).sha256).toBe(sha)
      expect(counts).toEqual({ native: 2, streamChunks: chunks.length })
    })))
})

describe("Deepset.layerConfig with Config values", () => {
  const build = (layer: Layer.Layer<Deepset.UploadSessions, unknown, never>, env: ReadonlyArray<[string, string]>) =>
    Layer.build(layer).pipe(Effect.scoped, Effect.withConfigProvider(ConfigProvider.fromMap(new Map(env))))
  const withEmulator = (options?: Deepset.ConfigOptions) =>
    Deepset.layerConfig(options).pipe(Layer.provide(DeepsetEmulator.layerInMemory({ apiKey })))

  it.effect("every option is a Config: own variable names, a policy from config", () =>
    Effect.gen(function*() {
      const layer = Deepset.layerConfig({
        apiKey: Config.redacted("PROD_KEY"),
        baseUrl: Config.string("PROD_URL"),
        policy: Config.map(Config.integer("RETRIES"), (maxRetries) => ({ maxRetries }))
      }).pipe(Layer.provideMerge(DeepsetEmulator.layerInMemory({ apiKey })))
      const program = Effect.gen(function*() {
        const deepset = yield* Deepset.UploadSessions
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        yield* deepset.create(ws)
        expect((yield* emulator.recent)[0]?.headers["authorization"]).toBe(`Bearer ${apiKey}`)
      })
      yield* program.pipe(
        Effect.provide(layer),
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map([
          ["PROD_KEY", apiKey],
          ["PROD_URL", DeepsetEmulator.baseUrl],
          ["RETRIES", "2"]
        ])))
      )
    }))

  it.effect("a bad URL or an empty key fails the layer with a ConfigError naming the setting", () =>
    Effect.gen(function*() {
      const badUrl = yield* Effect.flip(build(withEmulator(), [["API_KEY", apiKey], ["API_URL", "ftp://example.com"]]))
      expect(String(badUrl)).toContain("DEEPSET_CLOUD_API_URL (baseUrl)")
      const notUrl = yield* Effect.flip(build(withEmulator(), [["API_KEY", apiKey], ["DEEPSET_CLOUD_API_URL", "not a url"]]))
      expect(String(notUrl)).toContain("must be an http(s) URL")
      const empty = yield* Effect.flip(build(withEmulator(), [["DEEPSET_CLOUD_API_KEY", "  "]]))
      expect(String(empty)).toContain("DEEPSET_CLOUD_API_KEY (apiKey) must not be empty")
      expect(String(empty)).not.toContain(apiKey)
      const own = yield* Effect.flip(build(withEmulator({ apiKey: Config.redacted("MY_KEY") }), [["MY_KEY", ""]]))
      expect(String(own)).toContain("the deepset API key (apiKey) must not be empty")
    }))
})
