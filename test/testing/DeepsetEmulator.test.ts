import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as Schemas from "../../src/deepset/Schemas.js"
import { DeepsetEmulator, Faults } from "../../src/testing/index.js"

const apiKey = "test-api-key"
const Live = DeepsetEmulator.layerInMemory({ apiKey })
/** Larger-than-real sessions (1M files) need the explicit stress option. */
const Stress = DeepsetEmulator.layerInMemory({ apiKey, unlimitedForBenchmarks: true })
const sessionsUrl = (workspace = "default") =>
  `${DeepsetEmulator.baseUrl}/api/v1/workspaces/${workspace}/upload_sessions`

const send = (request: HttpClientRequest.HttpClientRequest) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => client.execute(request))
const authed = HttpClientRequest.bearerToken(apiKey)
const get = (url: string) => send(HttpClientRequest.get(url).pipe(authed))
const post = (url: string, body: unknown) => send(HttpClientRequest.post(url).pipe(authed, HttpClientRequest.bodyUnsafeJson(body)))
const put = (url: string, body: unknown) => send(HttpClientRequest.put(url).pipe(authed, HttpClientRequest.bodyUnsafeJson(body)))

const decode = <A, I>(schema: Schema.Schema<A, I>) => (response: HttpClientResponse.HttpClientResponse) =>
  Effect.flatMap(response.json, Schema.decodeUnknown(schema))

const Detail = Schema.Struct({ detail: Schema.String })
const Problems = Schema.Struct({ detail: Schema.Array(Schemas.ValidationProblem) })

const getJson = <A, I>(url: string, schema: Schema.Schema<A, I>) =>
  Effect.flatMap(get(url), (response) => {
    expect(response.status).toBe(200)
    return decode(schema)(response)
  })

const expect422 = (response: HttpClientResponse.HttpClientResponse, loc: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    expect(response.status).toBe(422)
    const body = yield* decode(Problems)(response)
    expect(body.detail.map((p) => p.loc)).toContainEqual(loc)
  })

const createSession = (workspace = "default", body: unknown = { write_mode: "KEEP" }) =>
  Effect.flatMap(post(sessionsUrl(workspace), body), (response) => {
    expect(response.status).toBe(201)
    return Effect.map(decode(Schemas.UploadSession)(response), (s) => s.session_id)
  })

const filesUrl = (id: string, query: string) => `${sessionsUrl()}/${id}/files?${query}`

/** Waits until some fiber sleeps on the TestClock. */
const awaitSleeper = Effect.gen(function*() {
  for (let i = 0; i < 1000; i++) {
    if (Chunk.size(yield* TestClock.sleeps()) > 0) return
    yield* Effect.yieldNow()
  }
  throw new Error("no fiber went to sleep")
})

const uuidV4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe("DeepsetEmulator", () => {
  describe("auth", () => {
    it.effect("401 without a token, 403 with a wrong one, 200 with the key; x-request-id on every answer", () =>
      Effect.gen(function*() {
        const missing = yield* send(HttpClientRequest.get(sessionsUrl()))
        expect(missing.status).toBe(401)
        expect(yield* decode(Detail)(missing)).toEqual({ detail: "Not authenticated" })

        const wrong = yield* send(HttpClientRequest.get(sessionsUrl()).pipe(HttpClientRequest.bearerToken("nope")))
        expect(wrong.status).toBe(403)
        expect(yield* decode(Detail)(wrong)).toEqual({ detail: "Invalid API key" })

        const notBearer = yield* send(HttpClientRequest.get(sessionsUrl()).pipe(HttpClientRequest.setHeader("authorization", apiKey)))
        expect(notBearer.status).toBe(401)

        const ok = yield* get(sessionsUrl())
        expect(ok.status).toBe(200)

        const ids = [missing, wrong, notBearer, ok].map((r) => r.headers["x-request-id"])
        for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/)
        expect(new Set(ids).size).toBe(4)
      }).pipe(Effect.provide(Live)))

    it.effect("unknown routes are 404 and wrong methods 405, FastAPI style", () =>
      Effect.gen(function*() {
        const unknown = yield* get(`${DeepsetEmulator.baseUrl}/api/v1/workspaces/default/nothing`)
        expect(unknown.status).toBe(404)
        expect(yield* decode(Detail)(unknown)).toEqual({ detail: "Not Found" })
        const wrongMethod = yield* send(HttpClientRequest.del(sessionsUrl()).pipe(authed))
        expect(wrongMethod.status).toBe(405)
        expect(wrongMethod.headers["x-request-id"]).toBeDefined()
      }).pipe(Effect.provide(Live)))
  })

  describe("create", () => {
    it.effect("201 UploadSession: expires_at is now + 24 h from Clock, presigned request config", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(DateTime.unsafeMake("2024-05-01T12:00:00Z"))
        const response = yield* post(sessionsUrl("ws-1"), { write_mode: "OVERWRITE" })
        expect(response.status).toBe(201)
        expect(response.headers["content-type"]).toBe("application/json")
        const session = yield* decode(Schemas.UploadSession)(response)
        expect(session.session_id).toMatch(uuidV4)
        expect(DateTime.formatIso(session.expires_at)).toBe("2024-05-02T12:00:00.000Z")
        expect(session.documentation_url).toBe("https://docs.cloud.deepset.ai/docs")
        expect(session.aws_prefixed_request_config.url).toBe(`${DeepsetEmulator.baseUrl}/storage`)
        expect(session.aws_prefixed_request_config.fields["key"]).toBe(`ws-1/${session.session_id}/\${filename}`)
        expect(session.aws_prefixed_request_config.fields["policy"]).toBeTypeOf("string")
        expect(session.aws_prefixed_request_config.fields["x-amz-signature"]).toBeTypeOf("string")

        const listed = yield* getJson(sessionsUrl("ws-1"), Schemas.PaginatedSession)
        expect(listed.total).toBe(1)
        expect(listed.data[0]?.write_mode).toBe("OVERWRITE")
        expect(listed.data[0]?.status).toBe("OPEN")
        expect(listed.data[0]?.created_by.given_name).toBeTypeOf("string")
        expect(DateTime.formatIso(listed.data[0]!.created_at)).toBe("2024-05-01T12:00:00.000Z")
      }).pipe(Effect.provide(Live)))

    it.effect("session ids come from Random: a seeded Random gives the same ids", () =>
      Effect.gen(function*() {
        const run = () => Effect.gen(function*() {
          const a = yield* createSession()
          const b = yield* createSession()
          return [a, b] as const
        }).pipe(Effect.provide(Live), Effect.withRandom(Random.make("seed")))
        const first = yield* run()
        const second = yield* run()
        expect(first).toEqual(second)
        expect(first[0]).not.toBe(first[1])
      }))

    it.effect("write_mode defaults to KEEP; an invalid one, a missing body and bad JSON are 422; text is 415", () =>
      Effect.gen(function*() {
        yield* createSession("default", {})
        const listed = yield* getJson(sessionsUrl(), Schemas.PaginatedSession)
        expect(listed.data[0]?.write_mode).toBe("KEEP")

        yield* expect422(yield* post(sessionsUrl(), { write_mode: "APPEND" }), ["body", "write_mode"])
        yield* expect422(yield* send(HttpClientRequest.post(sessionsUrl()).pipe(authed)), ["body"])
        const badJson = yield* send(
          HttpClientRequest.post(sessionsUrl()).pipe(authed, HttpClientRequest.bodyText("{", "application/json"))
        )
        expect(badJson.status).toBe(422)
        const text = yield* send(HttpClientRequest.post(sessionsUrl()).pipe(authed, HttpClientRequest.bodyText("hi")))
        expect(text.status).toBe(415)
        expect((yield* getJson(sessionsUrl(), Schemas.PaginatedSession)).total).toBe(1)
      }).pipe(Effect.provide(Live)))
  })

  describe("list", () => {
    it.effect("pages in creation order with has_more and total", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const ids: Array<string> = []
        for (let i = 0; i < 25; i++) ids.push(yield* emulator.seedSession({ workspace: "default", fileCount: i }))

        const defaultPage = yield* getJson(sessionsUrl(), Schemas.PaginatedSession)
        expect(defaultPage.data.length).toBe(10)
        expect(defaultPage.has_more).toBe(true)

        const seen: Array<string> = []
        const pages: Array<{ has_more: boolean; total: number; size: number }> = []
        for (let page = 1; page <= 3; page++) {
          const p = yield* getJson(`${sessionsUrl()}?limit=10&page_number=${page}`, Schemas.PaginatedSession)
          pages.push({ has_more: p.has_more, total: p.total, size: p.data.length })
          seen.push(...p.data.map((s) => s.session_id))
        }
        expect(pages).toEqual([
          { has_more: true, total: 25, size: 10 },
          { has_more: true, total: 25, size: 10 },
          { has_more: false, total: 25, size: 5 }
        ])
        expect(seen).toEqual(ids)
        const beyond = yield* getJson(`${sessionsUrl()}?limit=10&page_number=4`, Schemas.PaginatedSession)
        expect(beyond).toEqual({ data: [], has_more: false, total: 25 })
      }).pipe(Effect.provide(Live)))

    it.effect("after / before select the sessions created after / before a session id", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const ids: Array<string> = []
        for (let i = 0; i < 6; i++) ids.push(yield* emulator.seedSession({ workspace: "default", fileCount: 0 }))
        const after = yield* getJson(`${sessionsUrl()}?after=${ids[1]}`, Schemas.PaginatedSession)
        expect(after.data.map((s) => s.session_id)).toEqual(ids.slice(2))
        expect(after.total).toBe(4)
        const before = yield* getJson(`${sessionsUrl()}?before=${ids[3]}&limit=2&page_number=2`, Schemas.PaginatedSession)
        expect(before.data.map((s) => s.session_id)).toEqual([ids[2]])
        expect(before.total).toBe(3)
        const between = yield* getJson(`${sessionsUrl()}?after=${ids[0]}&before=${ids[4]}`, Schemas.PaginatedSession)
        expect(between.data.map((s) => s.session_id)).toEqual(ids.slice(1, 4))
      }).pipe(Effect.provide(Live)))

    it.effect("422 for a bad limit, page_number, uuid or boolean", () =>
      Effect.gen(function*() {
        yield* expect422(yield* get(`${sessionsUrl()}?limit=0`), ["query", "limit"])
        yield* expect422(yield* get(`${sessionsUrl()}?limit=1001`), ["query", "limit"])
        yield* expect422(yield* get(`${sessionsUrl()}?limit=ten`), ["query", "limit"])
        yield* expect422(yield* get(`${sessionsUrl()}?page_number=0`), ["query", "page_number"])
        yield* expect422(yield* get(`${sessionsUrl()}?after=not-a-uuid`), ["query", "after"])
        yield* expect422(yield* get(`${sessionsUrl()}?is_expired=maybe`), ["query", "is_expired"])
        const ok = yield* get(`${sessionsUrl()}?limit=1000&is_expired=false`)
        expect(ok.status).toBe(200)
      }).pipe(Effect.provide(Live)))

    it.effect("maxPageSize bounds limit", () =>
      Effect.gen(function*() {
        yield* expect422(yield* get(`${sessionsUrl()}?limit=51`), ["query", "limit"])
        expect((yield* get(`${sessionsUrl()}?limit=50`)).status).toBe(200)
      }).pipe(Effect.provide(DeepsetEmulator.layerInMemory({ apiKey, maxPageSize: 50 }))))

    it.effect("sessions are scoped per workspace", () =>
      Effect.gen(function*() {
        const id = yield* createSession("alpha")
        expect((yield* get(`${sessionsUrl("alpha")}/${id}`)).status).toBe(200)
        const other = yield* get(`${sessionsUrl("beta")}/${id}`)
        expect(other.status).toBe(404)
        expect((yield* get(`${sessionsUrl("beta")}/${id}/files`)).status).toBe(404)
        expect((yield* put(`${sessionsUrl("beta")}/${id}`, { status: "CLOSED" })).status).toBe(404)
        expect((yield* getJson(sessionsUrl("beta"), Schemas.PaginatedSession)).total).toBe(0)
        expect((yield* getJson(sessionsUrl("alpha"), Schemas.PaginatedSession)).total).toBe(1)
      }).pipe(Effect.provide(Live)))
  })

  describe("session status and close", () => {
    it.effect("GET: 422 for a non-UUID id, 404 for an unknown one, SessionDetail with no counts while open", () =>
      Effect.gen(function*() {
        yield* expect422(yield* get(`${sessionsUrl()}/123`), ["path", "session_id"])
        const unknown = yield* get(`${sessionsUrl()}/2f1c1a4e-0a5b-4c3d-8e9f-112233445566`)
        expect(unknown.status).toBe(404)
        expect(yield* decode(Detail)(unknown)).toEqual({ detail: "Not Found" })

        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* emulator.seedSession({ workspace: "default", fileCount: 1000 })
        const detail = yield* getJson(`${sessionsUrl()}/${id}`, Schemas.SessionDetail)
        expect(detail.session_id).toBe(id)
        expect(detail.ingestion_status).toEqual({ failed_files: 0, finished_files: 0 })
      }).pipe(Effect.provide(Live)))

    it.effect("PUT {status: CLOSED} → 204 without body; counts and status follow; closing again is 204", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* emulator.seedSession({ workspace: "default", fileCount: 1000 })
        const closed = yield* put(`${sessionsUrl()}/${id}`, { status: "CLOSED" })
        expect(closed.status).toBe(204)
        expect(yield* closed.text).toBe("")
        expect(closed.headers["x-request-id"]).toBeDefined()

        const detail = yield* getJson(`${sessionsUrl()}/${id}`, Schemas.SessionDetail)
        // 0, 97, …, 970 fail: 11 files
        expect(detail.ingestion_status).toEqual({ failed_files: 11, finished_files: 989 })
        const listed = yield* getJson(sessionsUrl(), Schemas.PaginatedSession)
        expect(listed.data[0]?.status).toBe("CLOSED")
        expect((yield* put(`${sessionsUrl()}/${id}`, { status: "CLOSED" })).status).toBe(204)
      }).pipe(Effect.provide(Live)))

    it.effect("PUT accepts lowercase 'closed'; any other body is 422", () =>
      Effect.gen(function*() {
        const a = yield* createSession()
        yield* expect422(yield* put(`${sessionsUrl()}/${a}`, { status: "OPEN" }), ["body", "status"])
        yield* expect422(yield* put(`${sessionsUrl()}/${a}`, {}), ["body", "status"])
        yield* expect422(yield* put(`${sessionsUrl()}/not-a-uuid`, { status: "CLOSED" }), ["path", "session_id"])
        const listed = yield* getJson(sessionsUrl(), Schemas.PaginatedSession)
        expect(listed.data[0]?.status).toBe("OPEN")
        expect((yield* put(`${sessionsUrl()}/${a}`, { status: "closed" })).status).toBe(204)
        expect((yield* getJson(sessionsUrl(), Schemas.PaginatedSession)).data[0]?.status).toBe("CLOSED")
      }).pipe(Effect.provide(Live)))

    it.effect("ingestionDelay keeps files PENDING for a while after close", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* emulator.seedSession({ workspace: "default", fileCount: 200 })
        expect((yield* put(`${sessionsUrl()}/${id}`, { status: "CLOSED" })).status).toBe(204)
        const pending = yield* getJson(filesUrl(id, "ingestion_status=PENDING"), Schemas.PaginatedSessionFile)
        expect(pending.total).toBe(200)
        yield* TestClock.adjust("30 seconds")
        const detail = yield* getJson(`${sessionsUrl()}/${id}`, Schemas.SessionDetail)
        expect(detail.ingestion_status).toEqual({ failed_files: 3, finished_files: 197 })
      }).pipe(Effect.provide(DeepsetEmulator.layerInMemory({ apiKey, ingestionDelay: "30 seconds" }))))
  })

  describe("files", () => {
    it.effect("1 000 000 files page far in with exact names, ids and totals", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* emulator.seedSession({ workspace: "default", fileCount: 1_000_000 })
        const page = yield* getJson(filesUrl(id, "limit=1000&page_number=700"), Schemas.PaginatedSessionFile)
        expect(page.total).toBe(1_000_000)
        expect(page.has_more).toBe(true)
        expect(page.data.length).toBe(1000)
        expect(page.data[0]?.name).toBe("file-0699000.txt")
        expect(page.data[999]?.name).toBe("file-0699999.txt")
        expect(page.data.every((f) => f.ingestion_status === "PENDING")).toBe(true)
        const fileIds = page.data.map((f) => f.file_ingestion_id)
        expect(new Set(fileIds).size).toBe(1000)
        for (const fid of fileIds) expect(fid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/)
        expect(fileIds).not.toContain(id)

        const last = yield* getJson(filesUrl(id, "limit=1000&page_number=1000"), Schemas.PaginatedSessionFile)
        expect(last.has_more).toBe(false)
        expect(last.data[999]?.name).toBe("file-0999999.txt")
        const beyond = yield* getJson(filesUrl(id, "limit=1000&page_number=1001"), Schemas.PaginatedSessionFile)
        expect(beyond).toEqual({ data: [], has_more: false, total: 1_000_000 })

        // same page twice: same ids (deterministic)
        const again = yield* getJson(filesUrl(id, "limit=1000&page_number=700"), Schemas.PaginatedSessionFile)
        expect(again.data.map((f) => f.file_ingestion_id)).toEqual(fileIds)

        expect((yield* getJson(filesUrl(id, "ingestion_status=PENDING&limit=1"), Schemas.PaginatedSessionFile)).total)
          .toBe(1_000_000)
        expect((yield* getJson(filesUrl(id, "ingestion_status=FAILED"), Schemas.PaginatedSessionFile)).total).toBe(0)
      }).pipe(Effect.provide(Stress)))

    it.effect("after close: FAILED for multiples of 97, FINISHED otherwise, filters computed arithmetically", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* emulator.seedSession({ workspace: "default", fileCount: 1_000_000, status: "CLOSED" })
        const detail = yield* getJson(`${sessionsUrl()}/${id}`, Schemas.SessionDetail)
        expect(detail.ingestion_status).toEqual({ failed_files: 10310, finished_files: 989690 })

        const failed = yield* getJson(filesUrl(id, "ingestion_status=FAILED&limit=100&page_number=2"), Schemas.PaginatedSessionFile)
        expect(failed.total).toBe(10310)
        expect(failed.data.map((f) => f.name)).toEqual(
          Array.from({ length: 100 }, (_, k) => `file-${String(97 * (100 + k)).padStart(7, "0")}.txt`)
        )
        expect(failed.data.every((f) => f.ingestion_status_reason === "FAILED_TO_PARSE_META")).toBe(true)
        const lastFailed = yield* getJson(filesUrl(id, "ingestion_status=FAILED&limit=1000&page_number=11"), Schemas.PaginatedSessionFile)
        expect(lastFailed.data.length).toBe(310)
        expect(lastFailed.has_more).toBe(false)
        expect(lastFailed.data[309]?.name).toBe(`file-${String(97 * 10309).padStart(7, "0")}.txt`)

        const finished = yield* getJson(filesUrl(id, "ingestion_status=FINISHED&limit=1000&page_number=3"), Schemas.PaginatedSessionFile)
        expect(finished.total).toBe(989690)
        const expected: Array<string> = []
        for (let i = 0, k = 0; expected.length < 1000; i++) {
          if (i % 97 === 0) continue
          if (k++ >= 2000) expected.push(`file-${String(i).padStart(7, "0")}.txt`)
        }
        expect(finished.data.map((f) => f.name)).toEqual(expected)
        expect(finished.data.every((f) => f.ingestion_status === "FINISHED" && f.ingestion_status_reason === undefined))
          .toBe(true)

        const all = yield* getJson(filesUrl(id, "limit=5&page_number=20"), Schemas.PaginatedSessionFile)
        expect(all.data.map((f) => [f.name, f.ingestion_status])).toEqual([
          ["file-0000095.txt", "FINISHED"],
          ["file-0000096.txt", "FINISHED"],
          ["file-0000097.txt", "FAILED"],
          ["file-0000098.txt", "FINISHED"],
          ["file-0000099.txt", "FINISHED"]
        ])
        expect((yield* getJson(filesUrl(id, "ingestion_status=PENDING"), Schemas.PaginatedSessionFile)).total).toBe(0)
      }).pipe(Effect.provide(Stress)))

    it.effect("after / before take a file_ingestion_id, alone and with a status filter", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* emulator.seedSession({ workspace: "default", fileCount: 1000, status: "CLOSED" })
        const page = yield* getJson(filesUrl(id, "limit=10&page_number=20"), Schemas.PaginatedSessionFile)
        const f194 = page.data[4]!
        expect(f194.name).toBe("file-0000194.txt")
        const fid = f194.file_ingestion_id!

        const after = yield* getJson(filesUrl(id, `after=${fid}&limit=3`), Schemas.PaginatedSessionFile)
        expect(after.total).toBe(805)
        expect(after.data.map((f) => f.name)).toEqual(["file-0000195.txt", "file-0000196.txt", "file-0000197.txt"])

        const before = yield* getJson(filesUrl(id, `before=${fid}&limit=100&page_number=2`), Schemas.PaginatedSessionFile)
        expect(before.total).toBe(194)
        expect(before.has_more).toBe(false)
        expect(before.data.at(-1)?.name).toBe("file-0000193.txt")

        const failedAfter = yield* getJson(filesUrl(id, `after=${fid}&ingestion_status=FAILED`), Schemas.PaginatedSessionFile)
        // multiples of 97 in 195..999: 291 … 970
        expect(failedAfter.total).toBe(8)
        expect(failedAfter.data[0]?.name).toBe("file-0000291.txt")
        const finishedBefore = yield* getJson(
          filesUrl(id, `before=${fid}&ingestion_status=FINISHED&limit=1000`),
          Schemas.PaginatedSessionFile
        )
        expect(finishedBefore.total).toBe(194 - 2)

        const other = yield* emulator.seedSession({ workspace: "default", fileCount: 1000 })
        const foreign = yield* getJson(filesUrl(other, `after=${fid}`), Schemas.PaginatedSessionFile)
        expect(foreign.total).toBe(0)
      }).pipe(Effect.provide(Live)))

    it.effect("422 for bad filters, 404 for an unknown session", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* emulator.seedSession({ workspace: "default", fileCount: 10 })
        yield* expect422(yield* get(filesUrl(id, "ingestion_status=DONE")), ["query", "ingestion_status"])
        yield* expect422(yield* get(filesUrl(id, "limit=0")), ["query", "limit"])
        yield* expect422(yield* get(filesUrl(id, "page_number=-1")), ["query", "page_number"])
        yield* expect422(yield* get(filesUrl(id, "after=file-1")), ["query", "after"])
        yield* expect422(yield* get(filesUrl("xyz", "")), ["path", "session_id"])
        const unknown = yield* get(filesUrl("2f1c1a4e-0a5b-4c3d-8e9f-112233445566", ""))
        expect(unknown.status).toBe(404)
        expect((yield* get(filesUrl(id, ""))).status).toBe(200)
      }).pipe(Effect.provide(Live)))

    it.effect("addFiles registers files in a created session", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* createSession()
        expect((yield* getJson(filesUrl(id, ""), Schemas.PaginatedSessionFile)).total).toBe(0)
        yield* emulator.addFiles(id, 42)
        expect((yield* getJson(filesUrl(id, ""), Schemas.PaginatedSessionFile)).total).toBe(42)
        const missing = yield* Effect.flip(emulator.addFiles("2f1c1a4e-0a5b-4c3d-8e9f-112233445566", 1))
        expect(missing._tag).toBe("NoSuchElementException")
      }).pipe(Effect.provide(Live)))
  })

  describe("expiry", () => {
    it.effect("a session not closed within 24 h is EXPIRED; is_expired filters on it", () =>
      Effect.gen(function*() {
        const open = yield* createSession()
        const closed = yield* createSession()
        expect((yield* put(`${sessionsUrl()}/${closed}`, { status: "CLOSED" })).status).toBe(204)

        yield* TestClock.adjust("23 hours")
        const before = yield* getJson(sessionsUrl(), Schemas.PaginatedSession)
        expect(before.data.map((s) => s.status)).toEqual(["OPEN", "CLOSED"])
        expect((yield* getJson(`${sessionsUrl()}?is_expired=true`, Schemas.PaginatedSession)).total).toBe(0)

        yield* TestClock.adjust("1 hour")
        const after = yield* getJson(sessionsUrl(), Schemas.PaginatedSession)
        expect(after.data.map((s) => s.status)).toEqual(["EXPIRED", "CLOSED"])
        const expired = yield* getJson(`${sessionsUrl()}?is_expired=true`, Schemas.PaginatedSession)
        expect(expired.data.map((s) => s.session_id)).toEqual([open])
        const live = yield* getJson(`${sessionsUrl()}?is_expired=false`, Schemas.PaginatedSession)
        expect(live.data.map((s) => s.session_id)).toEqual([closed])
      }).pipe(Effect.provide(Live)))

    it.effect("seedSession with an old createdAt is expired at once", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(DateTime.unsafeMake("2024-05-03T00:00:00Z"))
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        yield* emulator.seedSession({
          workspace: "default",
          fileCount: 1,
          createdAt: DateTime.unsafeMake("2024-05-01T00:00:00Z"),
          writeMode: "FAIL"
        })
        const listed = yield* getJson(sessionsUrl(), Schemas.PaginatedSession)
        expect(listed.data[0]?.status).toBe("EXPIRED")
        expect(listed.data[0]?.write_mode).toBe("FAIL")
        expect(DateTime.formatIso(listed.data[0]!.expires_at!)).toBe("2024-05-02T00:00:00.000Z")
      }).pipe(Effect.provide(Live)))
  })

  describe("faults", () => {
    it.effect("a sequence of 429 / 503 with Retry-After, then pass-through", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        yield* emulator.faults.set({
          sequence: [
            Faults.status(429, { retryAfter: 2 }),
            Faults.status(503, { retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT" })
          ]
        })
        const first = yield* get(sessionsUrl())
        expect(first.status).toBe(429)
        expect(first.headers["retry-after"]).toBe("2")
        expect(first.headers["x-request-id"]).toBeDefined()
        expect(yield* decode(Detail)(first)).toEqual({ detail: "Too Many Requests" })
        const second = yield* get(sessionsUrl())
        expect(second.status).toBe(503)
        expect(second.headers["retry-after"]).toBe("Wed, 21 Oct 2015 07:28:00 GMT")
        expect((yield* get(sessionsUrl())).status).toBe(200)
        expect(yield* emulator.faults.remaining).toBe(0)
        expect(yield* emulator.faults.injected).toBe(2)
      }).pipe(Effect.provide(Live)))

    it.effect("drop: a RequestError with reason Transport, and the request was not processed", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        yield* emulator.faults.set({ sequence: [Faults.drop] })
        const error = yield* Effect.flip(post(sessionsUrl(), {}))
        expect(error._tag).toBe("RequestError")
        expect((error as HttpClientError.RequestError).reason).toBe("Transport")
        expect((yield* getJson(sessionsUrl(), Schemas.PaginatedSession)).total).toBe(0)

        yield* emulator.faults.set({ sequence: [Faults.dropAfterHandler] })
        const afterHandler = yield* Effect.flip(post(sessionsUrl(), {}))
        expect(afterHandler._tag).toBe("RequestError")
        expect((yield* getJson(sessionsUrl(), Schemas.PaginatedSession)).total).toBe(1)
      }).pipe(Effect.provide(Live)))

    it.effect("malformed: 200 with a body that does not parse as JSON", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        yield* emulator.faults.set({ sequence: [Faults.malformed] })
        const response = yield* get(sessionsUrl())
        expect(response.status).toBe(200)
        const error = yield* Effect.flip(response.json)
        expect(error._tag).toBe("ResponseError")
        expect(error.reason).toBe("Decode")
      }).pipe(Effect.provide(Live)))

    it.effect("shortBody: the real body cut in half, content-length matching", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* emulator.seedSession({ workspace: "default", fileCount: 100 })
        const full = yield* Effect.flatMap(get(filesUrl(id, "limit=50")), (r) => r.text)
        yield* emulator.faults.set({ sequence: [Faults.shortBody] })
        const response = yield* get(filesUrl(id, "limit=50"))
        expect(response.status).toBe(200)
        const half = Math.floor(full.length / 2)
        expect(response.headers["content-length"]).toBe(String(half))
        const text = yield* response.text
        expect(text).toBe(full.slice(0, half))
        expect(() => JSON.parse(text)).toThrow()
      }).pipe(Effect.provide(Live)))

    it.effect("latency is slept on the Clock (TestClock drives it)", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        yield* emulator.faults.set({ latency: "5 seconds" })
        const fiber = yield* Effect.fork(get(sessionsUrl()))
        yield* awaitSleeper
        yield* TestClock.adjust("4999 millis")
        expect((yield* Fiber.poll(fiber))._tag).toBe("None")
        yield* TestClock.adjust("1 millis")
        expect((yield* Fiber.join(fiber)).status).toBe(200)

        yield* emulator.faults.set({ latency: { min: "1 second", max: "3 seconds" } })
        const ranged = yield* Effect.fork(get(sessionsUrl()))
        yield* awaitSleeper
        yield* TestClock.adjust("999 millis")
        expect((yield* Fiber.poll(ranged))._tag).toBe("None")
        yield* TestClock.adjust("2 seconds")
        expect((yield* Fiber.join(ranged)).status).toBe(200)
      }).pipe(Effect.provide(Live)))

    it.effect("rate and match: a fault for every matching request with that probability", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        yield* emulator.faults.set({
          rate: { probability: 1, fault: Faults.status(503) },
          match: (method) => method === "POST"
        })
        expect((yield* get(sessionsUrl())).status).toBe(200)
        expect((yield* post(sessionsUrl(), {})).status).toBe(503)
        expect((yield* post(sessionsUrl(), {})).status).toBe(503)
        yield* emulator.faults.clear
        expect((yield* post(sessionsUrl(), {})).status).toBe(201)
      }).pipe(Effect.provide(Live)))

    it.effect("interrupting an in-flight request counts as interrupted", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        yield* emulator.faults.set({ latency: "10 seconds" })
        const fiber = yield* Effect.fork(get(sessionsUrl()))
        yield* awaitSleeper
        expect((yield* emulator.stats).inFlight).toBe(1)
        yield* Fiber.interrupt(fiber)
        const stats = yield* emulator.stats
        expect(stats).toMatchObject({ requests: 1, inFlight: 0, interrupted: 1 })
      }).pipe(Effect.provide(Live)))
  })

  describe("stats and recent", () => {
    it.effect("counts requests by route", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* createSession()
        yield* get(sessionsUrl())
        yield* get(`${sessionsUrl()}/${id}`)
        yield* get(`${sessionsUrl()}/${id}/files`)
        yield* get(`${sessionsUrl()}/${id}/files?page_number=2`)
        yield* put(`${sessionsUrl()}/${id}`, { status: "CLOSED" })
        yield* get(`${DeepsetEmulator.baseUrl}/health`)
        const stats = yield* emulator.stats
        expect(stats).toEqual({
          requests: 7,
          inFlight: 0,
          interrupted: 0,
          uploadedFiles: 0,
          ignoredUploads: 0,
          byRoute: {
            "POST /upload_sessions": 1,
            "GET /upload_sessions": 1,
            "GET /upload_sessions/{id}": 1,
            "GET /upload_sessions/{id}/files": 2,
            "PUT /upload_sessions/{id}": 1,
            "OTHER": 1
          }
        })
      }).pipe(Effect.provide(Live)))

    it.effect("recent keeps the last 100 requests with headers and bodies", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        for (let i = 0; i < 120; i++) yield* get(`${sessionsUrl()}?page_number=${i + 1}`)
        yield* post(sessionsUrl(), { write_mode: "FAIL" })
        const recent = yield* emulator.recent
        expect(recent.length).toBe(100)
        expect(recent[0]?.url).toBe("/api/v1/workspaces/default/upload_sessions?page_number=22")
        const last = recent[99]!
        expect(last.method).toBe("POST")
        expect(last.body).toBe(JSON.stringify({ write_mode: "FAIL" }))
        expect(last.headers["authorization"]).toBe(`Bearer ${apiKey}`)
        expect(last.headers["content-type"]).toBe("application/json")
      }).pipe(Effect.provide(Live)))
  })

  describe("uploads", () => {
    const createFull = (workspace = "default", body: unknown = { write_mode: "KEEP" }) =>
      Effect.flatMap(post(sessionsUrl(workspace), body), (response) => {
        expect(response.status).toBe(201)
        return decode(Schemas.UploadSession)(response)
      })

    const upload = (session: Schemas.UploadSession, name: string, content: string) => {
      const form = new FormData()
      for (const [k, v] of Object.entries(session.aws_prefixed_request_config.fields)) form.append(k, v)
      form.append("file", new Blob([content], { type: "text/plain" }), name)
      return send(HttpClientRequest.post(session.aws_prefixed_request_config.url).pipe(HttpClientRequest.bodyFormData(form)))
    }

    const close = (id: string) => put(`${sessionsUrl()}/${id}`, { status: "CLOSED" })
    const files = (id: string, query = "limit=100") => getJson(filesUrl(id, query), Schemas.PaginatedSessionFile)
    const counts = (id: string) =>
      Effect.map(getJson(`${sessionsUrl()}/${id}`, Schemas.SessionDetail), (d) => d.ingestion_status)

    it.effect("the presigned POST reaches the store on the same app; the file is registered in its session", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const session = yield* createFull()
        const fields = session.aws_prefixed_request_config.fields
        expect(Object.keys(fields).sort()).toEqual(
          ["key", "policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"]
        )
        const policy = JSON.parse(atob(fields["policy"]!)) as { expiration: string }
        expect(policy.expiration).toBe(DateTime.formatIso(session.expires_at))
        expect((yield* upload(session, "a.txt", "alpha")).status).toBe(204)
        expect((yield* upload(session, "b.txt", "beta")).status).toBe(204)
        const stored = yield* emulator.storage.get(`default/${session.session_id}/a.txt`)
        expect(stored._tag === "Some" && new TextDecoder().decode(stored.value.bytes)).toBe("alpha")
        const page = yield* files(session.session_id)
        expect(page.data.map((f) => [f.name, f.ingestion_status])).toEqual([["a.txt", "PENDING"], ["b.txt", "PENDING"]])
        expect(page.total).toBe(2)
        const stats = yield* emulator.stats
        expect(stats.uploadedFiles).toBe(2)
        expect(stats.byRoute["POST /storage"]).toBe(2)
      }).pipe(Effect.provide(Live)))

    it.effect("after close files move PENDING → FINISHED over ingestionTime (TestClock); injected names and empty files fail", () =>
      Effect.gen(function*() {
        const session = yield* createFull()
        const id = session.session_id
        for (let i = 0; i < 10; i++) {
          const name = i === 3 ? "bad-3.txt" : `f-${i}.txt`
          expect((yield* upload(session, name, i === 7 ? "" : `content ${i}`)).status).toBe(204)
        }
        expect(yield* counts(id)).toEqual({ failed_files: 0, finished_files: 0 })
        expect((yield* close(id)).status).toBe(204)
        expect(yield* counts(id)).toEqual({ failed_files: 0, finished_files: 0 })
        yield* TestClock.adjust("1 second") // the delay
        yield* TestClock.adjust("5 seconds") // half of ingestionTime
        expect(yield* counts(id)).toEqual({ failed_files: 1, finished_files: 4 })
        expect((yield* files(id, "ingestion_status=PENDING")).total).toBe(5)
        yield* TestClock.adjust("5 seconds")
        expect(yield* counts(id)).toEqual({ failed_files: 2, finished_files: 8 })
        const failed = yield* files(id, "ingestion_status=FAILED")
        expect(failed.data.map((f) => [f.name, f.ingestion_status_reason])).toEqual([
          ["bad-3.txt", "UNKNOWN_ERROR"],
          ["f-7.txt", "EMPTY_FILE"]
        ])
        expect((yield* files(id, "ingestion_status=FINISHED&limit=3&page_number=2")).data.map((f) => f.name))
          .toEqual(["f-4.txt", "f-5.txt", "f-6.txt"])
      }).pipe(Effect.provide(DeepsetEmulator.layerInMemory({
        apiKey,
        ingestionDelay: "1 second",
        ingestionTime: "10 seconds",
        failIngestion: (name) => name.startsWith("bad-")
      }))))

    it.effect("<name>.meta.json is the file's meta, not a file; meta that does not parse fails the file", () =>
      Effect.gen(function*() {
        const session = yield* createFull()
        yield* upload(session, "doc.txt", "text")
        yield* upload(session, "doc.txt.meta.json", JSON.stringify({ lang: "en" }))
        yield* upload(session, "broken.txt", "text")
        yield* upload(session, "broken.txt.meta.json", "{not json")
        // a retried POST of the same key is one file
        yield* upload(session, "doc.txt", "text")
        yield* close(session.session_id)
        const page = yield* files(session.session_id)
        expect(page.data.map((f) => [f.name, f.ingestion_status, f.ingestion_status_reason])).toEqual([
          ["doc.txt", "FINISHED", undefined],
          ["broken.txt", "FAILED", "FAILED_TO_PARSE_META"]
        ])
      }).pipe(Effect.provide(Live)))

    it.effect("write_mode FAIL: a name ingested before in the workspace fails with FILE_ALREADY_EXISTS", () =>
      Effect.gen(function*() {
        const first = yield* createFull()
        yield* upload(first, "same.txt", "1")
        yield* close(first.session_id)
        const second = yield* createFull("default", { write_mode: "FAIL" })
        yield* upload(second, "same.txt", "2")
        yield* upload(second, "new.txt", "3")
        yield* close(second.session_id)
        const page = yield* files(second.session_id)
        expect(page.data.map((f) => f.ingestion_status_reason)).toEqual(["FILE_ALREADY_EXISTS", undefined])
      }).pipe(Effect.provide(Live)))

    it.effect("an upload to a closed session is stored by S3 and not ingested; after 24 h the policy has expired", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const session = yield* createFull()
        yield* close(session.session_id)
        expect((yield* upload(session, "late.txt", "x")).status).toBe(204)
        expect((yield* files(session.session_id)).total).toBe(0)
        expect((yield* emulator.stats).ignoredUploads).toBe(1)

        const open = yield* createFull()
        yield* TestClock.adjust("24 hours")
        yield* TestClock.adjust("1 second")
        const expired = yield* upload(open, "x.txt", "x")
        expect(expired.status).toBe(403)
        expect(yield* expired.text).toContain("<Message>Invalid according to Policy: Policy expired.</Message>")
        const listed = yield* getJson(sessionsUrl(), Schemas.PaginatedSession)
        expect(listed.data.map((s) => s.status)).toEqual(["CLOSED", "EXPIRED"])
      }).pipe(Effect.provide(Live)))

    it.effect("real limits: a session holds 10 000 files (more fail ingestion); seeding more needs unlimitedForBenchmarks", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const died = yield* Effect.exit(emulator.seedSession({ workspace: "default", fileCount: 10_001 }))
        expect(died._tag === "Failure" && String(died.cause)).toContain("unlimitedForBenchmarks")
        const session = yield* createFull()
        yield* emulator.addFiles(session.session_id, 9_999)
        yield* upload(session, "last.txt", "x")
        yield* upload(session, "beyond.txt", "x")
        yield* close(session.session_id)
        const tail = yield* files(session.session_id, "limit=3&page_number=3334")
        expect(tail.data.map((f) => [f.name, f.ingestion_status, f.ingestion_status_reason])).toEqual([
          ["last.txt", "FINISHED", undefined],
          ["beyond.txt", "FAILED", "UNKNOWN_ERROR"]
        ])
        expect(tail.total).toBe(10_001)
        const died2 = yield* Effect.exit(emulator.addFiles(session.session_id, 1))
        expect(died2._tag).toBe("Failure")
      }).pipe(Effect.provide(Live)))

    it.effect("the default page size is 10", () =>
      Effect.gen(function*() {
        const emulator = yield* DeepsetEmulator.DeepsetEmulator
        const id = yield* emulator.seedSession({ workspace: "default", fileCount: 25 })
        const page = yield* getJson(`${sessionsUrl()}/${id}/files`, Schemas.PaginatedSessionFile)
        expect(page.data.length).toBe(10)
        expect(page.has_more).toBe(true)
      }).pipe(Effect.provide(Live)))
  })
})
