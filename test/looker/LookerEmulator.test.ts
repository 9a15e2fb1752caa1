/**
 * The Looker emulator on its own (raw HTTP in memory, TestClock): login
 * answers, token expiry and revocation, logout, per-token workspaces, the
 * two API versions, and its error bodies.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/TestClock"
import * as InMemory from "../../src/testing/InMemory.js"
import * as LookerEmulator from "../../src/testing/LookerEmulator.js"

const base = LookerEmulator.baseUrl
const form = (fields: Record<string, string>) => HttpBody.text(new URLSearchParams(fields).toString(), "application/x-www-form-urlencoded")
const credentials = { client_id: LookerEmulator.defaultClientId, client_secret: LookerEmulator.defaultClientSecret }

const setup = (options: LookerEmulator.Options = {}) =>
  Effect.gen(function*() {
    const emulator = yield* LookerEmulator.make(options)
    const client = InMemory.makeClient(emulator.app)
    const send = (request: HttpClientRequest.HttpClientRequest) =>
      Effect.flatMap(client.execute(request), (r) =>
        Effect.map(r.text, (text) => ({ status: r.status, json: text === "" ? undefined : JSON.parse(text) as unknown })))
    const login = (version = "4.0") =>
      Effect.map(send(HttpClientRequest.post(`${base}/api/${version}/login`, { body: form(credentials) })), (r) => r.json as {
        access_token: string
        expires_in?: unknown
      })
    const withToken = (request: HttpClientRequest.HttpClientRequest, token: string) =>
      send(HttpClientRequest.setHeader(request, "authorization", `token ${token}`))
    return { emulator, send, login, withToken }
  }).pipe(Effect.orDie)

describe("LookerEmulator", () => {
  it.effect("login issues Bearer tokens with the configured expires_in; bad or missing credentials are 404 / 400", () =>
    Effect.gen(function*() {
      const { emulator, login, send } = yield* setup({ expiresIn: 120 })
      const token = yield* login()
      expect(token).toMatchObject({ token_type: "Bearer", expires_in: 120, refresh_token: null })
      yield* emulator.setExpiresIn(undefined)
      expect("expires_in" in (yield* login())).toBe(false)
      const wrong = yield* send(HttpClientRequest.post(`${base}/api/4.0/login`, { body: form({ ...credentials, client_secret: "x" }) }))
      expect(wrong).toEqual({ status: 404, json: { message: "Not found", documentation_url: LookerEmulator.authDocumentationUrl } })
      expect((yield* send(HttpClientRequest.post(`${base}/api/4.0/login`))).status).toBe(400)
      const viaQuery = yield* send(HttpClientRequest.post(`${base}/api/4.0/login?${new URLSearchParams(credentials)}`))
      expect(viaQuery.status).toBe(200)
      const stats = yield* emulator.stats
      expect(stats).toMatchObject({ logins: 3, loginRequests: 5, queryLogins: 1 })
    }).pipe(Effect.scoped))

  it.effect("tokens expire on the Clock, can be revoked, end with logout (also unversioned); each has its workspace", () =>
    Effect.gen(function*() {
      const { emulator, login, withToken } = yield* setup({ expiresIn: 60 })
      const a = (yield* login()).access_token
      const b = (yield* login()).access_token
      const patch = (token: string, workspace_id: unknown) =>
        withToken(HttpClientRequest.patch(`${base}/api/4.0/session`, { body: HttpBody.unsafeJson({ workspace_id }) }), token)
      expect((yield* patch(a, "dev")).json).toMatchObject({ workspace_id: "dev" })
      expect((yield* withToken(HttpClientRequest.get(`${base}/api/4.0/session`), b)).json).toMatchObject({ workspace_id: "production" })
      const invalid = yield* patch(a, "staging")
      expect(invalid.status).toBe(422)
      expect(invalid.json).toMatchObject({ errors: [{ field: "workspace_id", code: "invalid" }] })
      expect((yield* withToken(HttpClientRequest.patch(`${base}/api/4.0/session`, { body: HttpBody.text("[") }), a)).status).toBe(400)
      yield* emulator.revoke(a)
      expect((yield* withToken(HttpClientRequest.get(`${base}/api/4.0/session`), a)).json).toEqual({
        message: "Requires authentication.",
        documentation_url: LookerEmulator.authDocumentationUrl
      })
      expect((yield* withToken(HttpClientRequest.del(`${base}/api/logout`), b)).status).toBe(204)
      expect((yield* withToken(HttpClientRequest.get(`${base}/api/4.0/session`), b)).status).toBe(401)
      const c = (yield* login()).access_token
      yield* TestClock.adjust("59 seconds")
      expect((yield* withToken(HttpClientRequest.get(`${base}/api/4.0/session`), c)).status).toBe(200)
      yield* TestClock.adjust("1 second")
      expect((yield* withToken(HttpClientRequest.get(`${base}/api/4.0/session`), c)).status).toBe(401)
      const stats = yield* emulator.stats
      expect(stats).toMatchObject({ logins: 3, logouts: 1, unauthorized: 3 })
      expect(stats.requestsByToken[c]).toBe(2)
    }).pipe(Effect.scoped))

  it.effect("sudo_user_id is a string in 4.0 and an integer in 3.1; unknown routes are 404", () =>
    Effect.gen(function*() {
      const { login, send, withToken } = yield* setup({ sudoUserId: 42 })
      const token = (yield* login("3.1")).access_token
      expect((yield* withToken(HttpClientRequest.get(`${base}/api/4.0/session`), token)).json).toMatchObject({ sudo_user_id: "42" })
      expect((yield* withToken(HttpClientRequest.get(`${base}/api/3.1/session`), token)).json).toMatchObject({ sudo_user_id: 42 })
      expect((yield* withToken(HttpClientRequest.get(`${base}/api/4.0/looks`), token)).status).toBe(404)
      expect((yield* withToken(HttpClientRequest.get(`${base}/api/session`), token)).status).toBe(404)
      expect((yield* send(HttpClientRequest.get(`${base}/api/4.0/looks`))).status).toBe(401)
    }).pipe(Effect.scoped))
})
