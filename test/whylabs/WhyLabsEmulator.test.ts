/**
 * The WhyLabs emulator on its own (raw requests, in memory): auth of the two
 * keyed routes, error bodies, expiry, and what the upload target accepts.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as InMemory from "../../src/testing/InMemory.js"
import * as WhyLabsEmulator from "../../src/testing/WhyLabsEmulator.js"

const apiKey = "wl-emulator-key-1"

const setup = Effect.gen(function*() {
  const emulator = yield* WhyLabsEmulator.make({ apiKey, orgId: "org-e", uploadUrlExpiresIn: "10 seconds" })
  const client = InMemory.makeClient(emulator.app)
  const send = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.scoped(Effect.flatMap(client.execute(request), (r) =>
      Effect.map(r.text, (text) => ({ status: r.status, text, json: () => JSON.parse(text) as Record<string, unknown> }))))
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    send(HttpClientRequest.post(`${WhyLabsEmulator.baseUrl}${path}`).pipe(
      HttpClientRequest.setHeaders(headers),
      HttpClientRequest.bodyText(typeof body === "string" ? body : JSON.stringify(body), "application/json")
    ))
  const created = yield* post("/v0/sessions", { userId: "u" })
  const id = created.json()["id"] as string
  return { emulator, send, post, id }
})

describe("WhyLabsEmulator", () => {
  it.effect("getSession and claim need X-API-Key: none is 401, a wrong one 403, with {message, requestId, type}", () =>
    Effect.gen(function*() {
      const { id, post, send } = yield* setup
      const none = yield* send(HttpClientRequest.get(`${WhyLabsEmulator.baseUrl}/v0/sessions/${id}`))
      expect(none.status).toBe(401)
      expect(Object.keys(none.json()).sort()).toEqual(["message", "requestId", "type"])
      const wrong = yield* post(`/v0/sessions/${id}/claim?org_id=org-e`, "", { "x-api-key": "nope" })
      expect(wrong.status).toBe(403)
      const right = yield* send(
        HttpClientRequest.get(`${WhyLabsEmulator.baseUrl}/v0/sessions/${id}`).pipe(HttpClientRequest.setHeader("x-api-key", apiKey))
      )
      expect(right.status).toBe(200)
      const noOrg = yield* post(`/v0/sessions/${id}/claim`, "", { "x-api-key": apiKey })
      expect(noOrg.status).toBe(400)
      expect(noOrg.json()["parameter"]).toBe("org_id")
    }))

  it.effect("bad bodies are 400 ArgumentValue naming the parameter; unknown routes and sessions 404; an expired session 410", () =>
    Effect.gen(function*() {
      const { emulator, id, post } = yield* setup
      expect((yield* post("/v0/sessions", "{not json")).status).toBe(400)
      const noUser = yield* post("/v0/sessions", {})
      expect(noUser.json()).toMatchObject({ type: "ArgumentValue", parameter: "userId" })
      const badTs = yield* post(`/v0/sessions/${id}/upload`, { datasetTimestamp: "yesterday" })
      expect(badTs.json()).toMatchObject({ type: "ArgumentValue", parameter: "datasetTimestamp" })
      const four = yield* post(`/v0/sessions/observatory-link/${id}`, { batchProfileTimestamps: [1, 2, 3, 4] })
      expect(four.status).toBe(400)
      expect(four.json()["message"]).toBe("A max of 3 profiles can be viewed at a time")
      expect((yield* post("/v0/nothing", {})).status).toBe(404)
      expect((yield* post("/v0/sessions/session-none/upload", {})).json()["type"]).toBe("ResourceNotFound")
      yield* emulator.expire(id)
      expect((yield* post(`/v0/sessions/${id}/upload`, {})).status).toBe(410)
    }))

  it.effect("the upload URL takes one PUT of the bytes until it expires; a tampered signature is refused", () =>
    Effect.gen(function*() {
      const { emulator, id, post, send } = yield* setup
      const upload = (yield* post(`/v0/sessions/${id}/upload`, {})).json()
      const url = upload["uploadUrl"] as string
      const put = (target: string) =>
        send(HttpClientRequest.put(target).pipe(HttpClientRequest.bodyUint8Array(new Uint8Array([1, 2, 3]))))
      const tampered = yield* put(
        url.replace(/X-Amz-Signature=(\w)/, (_, first: string) => `X-Amz-Signature=${first === "0" ? "1" : "0"}`)
      )
      expect(tampered.status).toBe(403)
      expect(tampered.text).toContain("<Code>SignatureDoesNotMatch</Code>")
      expect((yield* put(url)).status).toBe(200)
      const stored = yield* emulator.uploaded(upload["id"] as string)
      expect(stored._tag === "Some" && stored.value.size).toBe(3)
      yield* TestClock.adjust("11 seconds")
      const late = yield* put(url)
      expect(late.status).toBe(403)
      expect(late.text).toContain("Request has expired")
    }))
})
