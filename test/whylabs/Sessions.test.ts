/**
 * The WhyLabs client in memory, on the emulator: the seven operations and
 * what goes on the wire (camelCase, epoch milliseconds, the key only where
 * required), local refusals, error bodies, the policy (TestClock), the upload
 * flow with bytes and streams (retries re-run the stream), S3-style failures
 * of the PUT, and the layer's configuration.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { createHash } from "node:crypto"
import type * as ApiError from "../../src/core/ApiError.js"
import * as WhyLabs from "../../src/whylabs/index.js"
import * as Faults from "../../src/testing/Faults.js"
import * as InMemory from "../../src/testing/InMemory.js"
import * as WhyLabsEmulator from "../../src/testing/WhyLabsEmulator.js"

const apiKey = "wl-test-key-7f3a9c21.org-emulator"
const orgId = "org-emulator"

const emulatorLayer = (
  options: Partial<WhyLabs.Options> = {},
  emulator: WhyLabsEmulator.Options = { apiKey, orgId }
) =>
  WhyLabs.layer({ baseUrl: WhyLabsEmulator.baseUrl, apiKey: Redacted.make(apiKey), orgId, ...options }).pipe(
    Layer.provideMerge(WhyLabsEmulator.layerInMemory(emulator))
  )

/** Advances the TestClock in steps until the fiber is done. */
const settle = <A, E>(fiber: Fiber.Fiber<A, E>, step: Duration.DurationInput = "100 millis", max = 10_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < max && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** Deterministic bytes (not all equal, so a shifted or repeated chunk changes the hash). */
const bytesOf = (size: number, seed = 1): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

const chunked = (bytes: Uint8Array, size: number): Stream.Stream<Uint8Array> =>
  Stream.fromIterable(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)))

const lastBody = (recent: ReadonlyArray<WhyLabsEmulator.RecordedRequest>, method: string, suffix: string) =>
  JSON.parse(recent.filter((r) => r.method === method && r.url.split("?")[0]!.endsWith(suffix)).at(-1)!.body!) as unknown

describe("WhyLabs.Sessions: the seven operations", () => {
  it.effect("createSession and getSession: camelCase on the wire, the session as whylogs sees it", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const created = yield* whylabs.createSession({ userId: "user-42" })
      expect(created.id).toMatch(/^session-\w+$/)
      expect(lastBody(yield* emulator.recent, "POST", "/v0/sessions")).toEqual({ userId: "user-42" })
      const got = yield* whylabs.getSession(created.id)
      const stored = Option.getOrThrow(yield* emulator.session(created.id))
      expect(got.session).toEqual({
        sessionId: created.id,
        orgId: stored.orgId,
        modelId: WhyLabsEmulator.guestModelId,
        userId: "user-42"
      })
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("createDatasetProfileUpload: datasetTimestamp from a DateTime or a Date is epoch ms; segment tags", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      yield* TestClock.setTime(1_700_000_123_456)
      const fromDateTime = yield* whylabs.createDatasetProfileUpload(id, {
        datasetTimestamp: DateTime.unsafeMake("2024-05-01T00:00:00.250Z"),
        segmentTags: [{ key: "region", value: "eu" }]
      })
      expect(lastBody(yield* emulator.recent, "POST", "/upload")).toEqual({
        datasetTimestamp: Date.UTC(2024, 4, 1, 0, 0, 0, 250),
        segmentTags: [{ key: "region", value: "eu" }]
      })
      expect(fromDateTime.uploadUrl).toContain(WhyLabsEmulator.uploadPathPrefix)
      expect(fromDateTime.datasetId).toBe(WhyLabsEmulator.guestModelId)
      expect(fromDateTime.observatoryUrl).toContain(`sessionToken=${id}`)
      expect(fromDateTime.uploadTimestamp && DateTime.toEpochMillis(fromDateTime.uploadTimestamp)).toBe(1_700_000_123_456)
      const zoned = DateTime.unsafeMakeZoned(Date.UTC(2024, 0, 2), { timeZone: "Europe/Berlin" })
      yield* whylabs.createDatasetProfileUpload(id, { datasetTimestamp: zoned })
      expect(lastBody(yield* emulator.recent, "POST", "/upload")).toEqual({ datasetTimestamp: Date.UTC(2024, 0, 2) })
      yield* whylabs.createDatasetProfileUpload(id, { datasetTimestamp: new Date(Date.UTC(2023, 6, 4, 12)) })
      expect(lastBody(yield* emulator.recent, "POST", "/upload")).toEqual({ datasetTimestamp: Date.UTC(2023, 6, 4, 12) })
      yield* whylabs.createDatasetProfileUpload(id)
      expect(lastBody(yield* emulator.recent, "POST", "/upload")).toEqual({})
      const uploads = Option.getOrThrow(yield* emulator.session(id)).uploads
      expect(uploads.map((u) => u.datasetTimestamp)).toEqual([
        Date.UTC(2024, 4, 1, 0, 0, 0, 250),
        Date.UTC(2024, 0, 2),
        Date.UTC(2023, 6, 4, 12),
        1_700_000_123_456 // the server's time when none is given
      ])
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("createReferenceProfileUpload and batchCreateReferenceProfileUpload", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      const one = yield* whylabs.createReferenceProfileUpload(id, { alias: "training", datasetTimestamp: new Date(5000) })
      expect(lastBody(yield* emulator.recent, "POST", "/reference")).toEqual({ alias: "training", datasetTimestamp: 5000 })
      expect(one.alias).toBe("training")
      expect(one.modelId).toBe(WhyLabsEmulator.guestModelId)
      expect(one.id).toMatch(/^ref-/)
      expect(one.uploadUrl).toContain(WhyLabsEmulator.uploadPathPrefix)
      const batch = yield* whylabs.batchCreateReferenceProfileUpload(id, {
        references: [{ alias: "a" }, { alias: "b", datasetTimestamp: DateTime.unsafeMake(7000) }, {}]
      })
      expect(lastBody(yield* emulator.recent, "POST", "/references")).toEqual({
        references: [{ alias: "a" }, { alias: "b", datasetTimestamp: 7000 }, {}]
      })
      expect(batch.references?.map((r) => r.alias?.length ? r.alias.slice(0, 1) : "")).toEqual(["a", "b", "r"])
      expect(new Set(batch.references?.map((r) => r.id)).size).toBe(3)
      expect(batch.observatoryUrl).toContain(`sessionToken=${id}`)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("getSessionProfileObservatoryLink: up to 3 profiles; a 4th is refused locally and nothing is sent", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      const ref = yield* whylabs.createReferenceProfileUpload(id, { alias: "r" })
      const links = yield* whylabs.getSessionProfileObservatoryLink(id, {
        batchProfileTimestamps: [new Date(1000), DateTime.unsafeMake(2000)],
        referenceProfileIds: [ref.id!]
      })
      expect(lastBody(yield* emulator.recent, "POST", `/observatory-link/${id}`)).toEqual({
        batchProfileTimestamps: [1000, 2000],
        referenceProfileIds: [ref.id]
      })
      expect(links.individualObservatoryUrls).toHaveLength(3)
      expect(links.observatoryUrl).toContain("profile=1000")
      const before = (yield* emulator.stats).requests
      const tooMany = yield* Effect.flip(whylabs.getSessionProfileObservatoryLink(id, {
        batchProfileTimestamps: [new Date(1), new Date(2)],
        referenceProfileIds: ["x", "y"]
      }))
      expect(tooMany._tag).toBe("InvalidRequest")
      expect(tooMany.message).toContain("at most 3 profiles")
      if (tooMany._tag === "InvalidRequest") expect(tooMany.problems[0]?.field).toBe("profiles")
      expect((yield* emulator.stats).requests).toBe(before)
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("claimGuestSession: org_id from the layer or the call; the session is gone afterwards (410 → Gone)", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      yield* whylabs.claimGuestSession(id)
      const claim = (yield* emulator.recent).at(-1)!
      expect(claim.method).toBe("POST")
      expect(claim.url).toBe(`/v0/sessions/${id}/claim?org_id=${orgId}`)
      expect(Option.getOrThrow(yield* emulator.session(id)).claimedInto).toBe(orgId)
      const gone = yield* Effect.flip(whylabs.createDatasetProfileUpload(id))
      expect(gone._tag).toBe("Gone")
      expect(gone.message).toContain("claimed")
      const other = yield* whylabs.createSession({ userId: "u" })
      const wrongOrg = yield* Effect.flip(whylabs.claimGuestSession(other.id, "org-someone-else"))
      expect(wrongOrg._tag).toBe("Unauthorized")
      expect((yield* emulator.recent).at(-1)!.url).toContain("org_id=org-someone-else")
    }).pipe(Effect.provide(emulatorLayer())))
})

describe("WhyLabs.Sessions: credentials", () => {
  it.effect("X-API-Key goes only to getSession and claimGuestSession, never to the upload URL", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      yield* whylabs.getSession(id)
      yield* whylabs.createDatasetProfileUpload(id)
      const ref = yield* whylabs.createReferenceProfileUpload(id, { alias: "r" })
      yield* whylabs.batchCreateReferenceProfileUpload(id, { references: [{ alias: "b" }] })
      yield* whylabs.getSessionProfileObservatoryLink(id, { referenceProfileIds: [ref.id!] })
      yield* whylabs.uploadProfile(id, bytesOf(1000))
      yield* whylabs.uploadReferenceProfile(id, chunked(bytesOf(3000), 256), { alias: "ref", size: 3000 })
      yield* whylabs.claimGuestSession(id)
      const seen = (yield* emulator.recent).map((r) => ({
        route: `${r.method} ${r.url.split("?")[0]!.replace(id, "{id}").replace(/\/whylabs-uploads\/.*/, "/whylabs-uploads/…")}`,
        key: r.headers["x-api-key"],
        authorization: r.headers["authorization"]
      }))
      expect(seen).toEqual([
        { route: "POST /v0/sessions", key: undefined, authorization: undefined },
        { route: "GET /v0/sessions/{id}", key: apiKey, authorization: undefined },
        { route: "POST /v0/sessions/{id}/upload", key: undefined, authorization: undefined },
        { route: "POST /v0/sessions/{id}/reference", key: undefined, authorization: undefined },
        { route: "POST /v0/sessions/{id}/references", key: undefined, authorization: undefined },
        { route: "POST /v0/sessions/observatory-link/{id}", key: undefined, authorization: undefined },
        { route: "POST /v0/sessions/{id}/upload", key: undefined, authorization: undefined },
        { route: "PUT /whylabs-uploads/…", key: undefined, authorization: undefined },
        { route: "POST /v0/sessions/{id}/reference", key: undefined, authorization: undefined },
        { route: "PUT /whylabs-uploads/…", key: undefined, authorization: undefined },
        { route: "POST /v0/sessions/{id}/claim", key: apiKey, authorization: undefined }
      ])
      // The store saw the same: no request of its carried a credential.
      for (const r of yield* emulator.store.recent) {
        expect(r.headers["x-api-key"]).toBeUndefined()
        expect(r.headers["authorization"]).toBeUndefined()
      }
      expect((yield* emulator.store.errors)).toEqual({})
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("without a key, getSession and claimGuestSession fail locally naming WHYLABS_API_KEY; nothing is sent", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" }) // anonymous: works without a key
      const before = (yield* emulator.stats).requests
      const get = yield* Effect.flip(whylabs.getSession(id))
      const claim = yield* Effect.flip(whylabs.claimGuestSession(id, orgId))
      for (const error of [get, claim]) {
        expect(error._tag).toBe("Unauthorized")
        expect(error.message).toContain("WHYLABS_API_KEY")
        expect(error.message).toContain("nothing was sent")
        expect(error.status).toBeUndefined()
      }
      expect(get.url).toBe(`${WhyLabsEmulator.baseUrl}/v0/sessions/${id}`)
      expect((yield* emulator.stats).requests).toBe(before)
    }).pipe(Effect.provide(emulatorLayer({ apiKey: undefined }))))

  it.effect("a claim without an org id anywhere is refused locally naming WHYLABS_DEFAULT_ORG_ID", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      const before = (yield* emulator.stats).requests
      const error = yield* Effect.flip(whylabs.claimGuestSession(id))
      expect(error._tag).toBe("InvalidRequest")
      expect(error.message).toContain("WHYLABS_DEFAULT_ORG_ID")
      expect((yield* emulator.stats).requests).toBe(before)
    }).pipe(Effect.provide(emulatorLayer({ orgId: undefined }))))

  it.effect("a wrong key is Unauthorized (403) and no error text shows it", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const { id } = yield* whylabs.createSession({ userId: "u" })
      const error = yield* Effect.flip(whylabs.getSession(id))
      expect(error._tag).toBe("Unauthorized")
      expect(error.status).toBe(403)
      expect(error.message).toContain("WHYLABS_API_KEY")
      for (const text of [error.message, String(error), JSON.stringify(error)]) expect(text).not.toContain("wrong-key-")
    }).pipe(Effect.provide(emulatorLayer({ apiKey: Redacted.make("wrong-key-0000aaaa") }))))
})

describe("WhyLabs.Sessions: inputs and errors", () => {
  it.effect("the server's {message, requestId, type} body fills message and requestId", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const missing = yield* Effect.flip(whylabs.createDatasetProfileUpload("session-doesnotexist"))
      expect(missing._tag).toBe("NotFound")
      expect(missing.status).toBe(404)
      expect(missing.message).toContain("Session session-doesnotexist not found")
      const body = JSON.parse(missing.body!) as { requestId: string; type: string }
      expect(body.type).toBe("ResourceNotFound")
      expect(missing.requestId).toBe(body.requestId)
      expect(missing.requestId).toMatch(/^req-/)
      // A 400 from the server (bypassing the client's own checks with an empty user id).
      const bad = yield* Effect.flip(whylabs.createSession({ userId: "" }))
      expect(bad._tag).toBe("InvalidRequest")
      expect(bad.message).toContain("userId is required")
      expect(bad.requestId).toMatch(/^req-/)
      yield* emulator.faults.set({
        sequence: [Faults.status(409, { body: { message: "Session is busy", requestId: "req-fixed-1", type: "ResourceAlreadyExists" } })]
      })
      const conflict = yield* Effect.flip(whylabs.createSession({ userId: "u" }))
      expect(conflict._tag).toBe("Conflict")
      expect(conflict.message).toContain("Session is busy")
      expect(conflict.requestId).toBe("req-fixed-1")
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("bad input is an InvalidRequest naming the field, and nothing is sent", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      const before = (yield* emulator.stats).requests
      const emptyTag = yield* Effect.flip(whylabs.createDatasetProfileUpload(id, { segmentTags: [{ key: "", value: "x" }] }))
      expect(emptyTag._tag).toBe("InvalidRequest")
      if (emptyTag._tag === "InvalidRequest") expect(emptyTag.problems[0]?.field).toBe("segmentTags[0].key")
      const badDate = yield* Effect.flip(whylabs.createDatasetProfileUpload(id, { datasetTimestamp: new Date(Number.NaN) }))
      expect(badDate._tag).toBe("InvalidRequest")
      if (badDate._tag === "InvalidRequest") expect(badDate.problems[0]?.field).toBe("datasetTimestamp")
      const badId = yield* Effect.flip(whylabs.getSession(""))
      expect(badId._tag).toBe("InvalidRequest")
      const badSize = yield* Effect.flip(whylabs.uploadProfile(id, Stream.empty, { size: -1 }))
      expect(badSize._tag).toBe("InvalidRequest")
      const escaped = yield* Effect.flip(whylabs.createReferenceProfileUpload("../../v0/sessions"))
      expect(escaped._tag).toBe("NotFound") // stayed in its segment
      expect((yield* emulator.stats).requests).toBe(before + 1)
    }).pipe(Effect.provide(emulatorLayer())))
})

describe("WhyLabs.Sessions: policy", () => {
  it.effect("the creates are not replayed once the server answered; getSession and the link are retried", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      const creates: ReadonlyArray<Effect.Effect<unknown, ApiError.ApiError>> = [
        whylabs.createSession({ userId: "u" }),
        whylabs.createDatasetProfileUpload(id),
        whylabs.createReferenceProfileUpload(id),
        whylabs.batchCreateReferenceProfileUpload(id, { references: [{}] }),
        whylabs.claimGuestSession(id)
      ]
      for (const create of creates) {
        yield* emulator.faults.set({ sequence: [Faults.status(503), Faults.status(503)] })
        const error = yield* Effect.flip(create)
        expect(error._tag).toBe("ServerError")
        expect(yield* emulator.faults.remaining).toBe(1) // one attempt only
      }
      const dropped = yield* emulator.faults.set({ sequence: [Faults.dropAfterHandler] }).pipe(
        Effect.zipRight(Effect.flip(whylabs.createSession({ userId: "dropped" })))
      )
      expect(dropped._tag).toBe("Transport")
      expect((yield* emulator.sessions).filter((s) => s.userId === "dropped")).toHaveLength(1) // created once
      yield* emulator.faults.set({ sequence: [Faults.status(503), Faults.status(502)] })
      const got = yield* settle(yield* Effect.fork(whylabs.getSession(id)))
      expect(got.session.sessionId).toBe(id)
      yield* emulator.faults.set({ sequence: [Faults.status(503)] })
      const link = yield* settle(yield* Effect.fork(whylabs.getSessionProfileObservatoryLink(id)))
      expect(link.individualObservatoryUrls).toEqual([])
    }).pipe(Effect.provide(emulatorLayer())))
})

describe("WhyLabs.Sessions: the upload flow", () => {
  it.effect("uploadProfile with bytes: create, PUT, the id and link; the store holds the same bytes", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      const bytes = bytesOf(100_000)
      const uploaded = yield* whylabs.uploadProfile(id, bytes, {
        datasetTimestamp: new Date(Date.UTC(2024, 1, 1)),
        segmentTags: [{ key: "k", value: "v" }]
      })
      expect(uploaded.id).toMatch(/^upload-/)
      expect(uploaded.observatoryUrl).toContain(`profile=${Date.UTC(2024, 1, 1)}`)
      const stored = Option.getOrThrow(yield* emulator.uploaded(uploaded.id))
      expect(stored.size).toBe(bytes.length)
      expect(stored.sha256).toBe(sha256(bytes))
      expect(stored.contentType).toBe(WhyLabs.profileContentType)
      const put = (yield* emulator.recent).at(-1)!
      expect(put.method).toBe("PUT")
      expect(put.headers["content-type"]).toBe(WhyLabs.profileContentType)
      const upload = Option.getOrThrow(yield* emulator.session(id)).uploads[0]!
      expect(upload.segmentTags).toEqual([{ key: "k", value: "v" }])
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("uploadReferenceProfile with a stream (and its size) and with a function opening a stream", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      const bytes = bytesOf(250_000, 7)
      const viaStream = yield* whylabs.uploadReferenceProfile(id, chunked(bytes, 16_384), { alias: "s", size: bytes.length })
      expect(Option.getOrThrow(yield* emulator.uploaded(viaStream.id)).sha256).toBe(sha256(bytes))
      let opened = 0
      const viaOpen = yield* whylabs.uploadReferenceProfile(id, () => {
        opened++
        return chunked(bytes, 10_000)
      }, { alias: "f" })
      expect(opened).toBe(1)
      expect(Option.getOrThrow(yield* emulator.uploaded(viaOpen.id)).sha256).toBe(sha256(bytes))
      const refs = Option.getOrThrow(yield* emulator.session(id)).uploads.map((u) => [u.kind, u.alias])
      expect(refs).toEqual([["reference", "s"], ["reference", "f"]])
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("a 503 SlowDown of the PUT is retried, re-running the stream; the profile is stored whole", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      const bytes = bytesOf(200_000, 3)
      let runs = 0
      const body = Stream.suspend(() => {
        runs++
        return chunked(bytes, 32_768)
      })
      yield* emulator.uploadFaults.set({ sequence: [Faults.status(503), Faults.status(503)] })
      const uploaded = yield* settle(yield* Effect.fork(whylabs.uploadProfile(id, body, { size: bytes.length })))
      expect(runs).toBe(3)
      expect(yield* emulator.uploadFaults.remaining).toBe(0)
      expect((yield* emulator.store.errors)["SlowDown"]).toBe(2)
      expect(Option.getOrThrow(yield* emulator.uploaded(uploaded.id)).sha256).toBe(sha256(bytes))
      const puts = (yield* emulator.stats).byRoute["PUT upload"]
      expect(puts).toBe(3)
      expect((yield* emulator.stats).byRoute["POST /v0/sessions/{id}/upload"]).toBe(1) // one upload, not three
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("a SlowDown that lasts past the retries is a StorageError with the XML Code and Message", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      yield* emulator.uploadFaults.set({ rate: { probability: 1, fault: Faults.status(503) } })
      const error = yield* settle(yield* Effect.fork(Effect.flip(whylabs.uploadProfile(id, bytesOf(10)))))
      expect(error._tag).toBe("StorageError")
      if (error._tag === "StorageError") {
        expect(error.code).toBe("SlowDown")
        expect(error.storageMessage).toBe("Please reduce your request rate.")
      }
      expect(error.status).toBe(503)
      expect((yield* emulator.stats).byRoute["PUT upload"]).toBe(3) // maxRetries 2
    }).pipe(Effect.provide(emulatorLayer({ uploadPolicy: { maxRetries: 2 } }))))

  it.effect("an expired upload URL is a StorageError 403 AccessDenied, not retried", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      // The PUT reaches the store 2 s after the URL was made, which lives 1 s.
      yield* emulator.uploadFaults.set({ latency: "2 seconds" })
      const error = yield* settle(yield* Effect.fork(Effect.flip(whylabs.uploadProfile(id, bytesOf(1000)))))
      expect(error._tag).toBe("StorageError")
      expect(error.status).toBe(403)
      if (error._tag === "StorageError") {
        expect(error.code).toBe("AccessDenied")
        expect(error.storageMessage).toBe("Request has expired")
      }
      expect(error.url).toContain("X-Amz-Signature=REDACTED")
      expect((yield* emulator.stats).byRoute["PUT upload"]).toBe(1)
    }).pipe(
      Effect.provide(emulatorLayer({}, { apiKey, orgId, uploadUrlExpiresIn: "1 second" }))
    ))

  it.effect("a create answer without uploadUrl is a DecodeError naming it, and no bytes are sent", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      yield* emulator.faults.set({ sequence: [Faults.status(200, { body: { id: "upload-x", observatoryUrl: "https://o" } })] })
      const error = yield* Effect.flip(whylabs.uploadProfile(id, bytesOf(10)))
      expect(error._tag).toBe("DecodeError")
      if (error._tag === "DecodeError") expect(error.path).toBe("uploadUrl")
      expect((yield* emulator.stats).byRoute["PUT upload"]).toBeUndefined()
    }).pipe(Effect.provide(emulatorLayer())))

  it.effect("the upload target refuses a request carrying X-API-Key (emulator side)", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      const { uploadUrl } = yield* whylabs.createDatasetProfileUpload(id)
      const response = yield* Effect.scoped(Effect.gen(function*() {
        const res = yield* InMemory.makeClient(emulator.app).execute(
          HttpClientRequest.put(uploadUrl!).pipe(
            HttpClientRequest.setHeader("x-api-key", apiKey),
            HttpClientRequest.bodyUint8Array(bytesOf(10))
          )
        )
        return { status: res.status, text: yield* res.text }
      }))
      expect(response.status).toBe(400)
      expect(response.text).toContain("<Code>InvalidArgument</Code>")
      expect(yield* emulator.store.list).toEqual([])
    }).pipe(Effect.provide(emulatorLayer())))
})

describe("WhyLabs.layerConfig", () => {
  const withEnv = (env: Record<string, string>) =>
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

  const build = (env: Record<string, string>, options?: WhyLabs.ConfigOptions) =>
    Effect.scoped(Layer.build(WhyLabs.layerConfig(options).pipe(Layer.provide(WhyLabsEmulator.layerInMemory())))).pipe(
      withEnv(env),
      Effect.exit
    )

  it.effect("reads WHYLABS_API_ENDPOINT, WHYLABS_API_KEY and WHYLABS_DEFAULT_ORG_ID", () =>
    Effect.gen(function*() {
      const whylabs = yield* WhyLabs.Sessions
      const emulator = yield* WhyLabsEmulator.WhyLabsEmulator
      const { id } = yield* whylabs.createSession({ userId: "u" })
      yield* whylabs.getSession(id)
      yield* whylabs.claimGuestSession(id)
      const recent = yield* emulator.recent
      expect(recent[1]!.headers["x-api-key"]).toBe(apiKey)
      expect(recent[2]!.url).toContain(`org_id=${orgId}`)
    }).pipe(
      Effect.provide(WhyLabs.layerConfig().pipe(Layer.provideMerge(WhyLabsEmulator.layerInMemory({ apiKey, orgId })))),
      withEnv({ WHYLABS_API_ENDPOINT: "https://api.whylabsapp.com/", WHYLABS_API_KEY: apiKey, WHYLABS_DEFAULT_ORG_ID: orgId })
    ))

  it.effect("without a key the layer builds (guest sessions); a bad URL or an empty key or org fails it, naming the setting", () =>
    Effect.gen(function*() {
      expect(Exit.isSuccess(yield* build({}))).toBe(true)
      const badUrl = yield* build({ WHYLABS_API_ENDPOINT: "ftp://api.whylabsapp.com" })
      expect(Exit.isFailure(badUrl) && String(badUrl.cause)).toContain("WHYLABS_API_ENDPOINT (baseUrl)")
      const notUrl = yield* build({ WHYLABS_API_ENDPOINT: "api.whylabsapp.com" })
      expect(Exit.isFailure(notUrl) && String(notUrl.cause)).toContain("WHYLABS_API_ENDPOINT (baseUrl)")
      const emptyKey = yield* build({ WHYLABS_API_KEY: "  " })
      expect(Exit.isFailure(emptyKey) && String(emptyKey.cause)).toContain("WHYLABS_API_KEY (apiKey) must not be empty")
      const emptyOrg = yield* build({ WHYLABS_DEFAULT_ORG_ID: "" })
      expect(Exit.isFailure(emptyOrg) && String(emptyOrg.cause)).toContain("WHYLABS_DEFAULT_ORG_ID (orgId) must not be empty")
    }))

  it.effect("every setting can be given as a Config of its own", () =>
    Effect.gen(function*() {
      const ok = yield* build({ MY_URL: "http://127.0.0.1:1", MY_KEY: "k-1234", MY_ORG: "org-1" }, {
        baseUrl: Config.string("MY_URL"),
        apiKey: Config.redacted("MY_KEY"),
        orgId: Config.string("MY_ORG")
      })
      expect(Exit.isSuccess(ok)).toBe(true)
      const bad = yield* build({ MY_KEY: "" }, { apiKey: Config.redacted("MY_KEY") })
      expect(Exit.isFailure(bad) && String(bad.cause)).toContain("must not be empty")
    }))
})
