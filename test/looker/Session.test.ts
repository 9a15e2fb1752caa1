/**
 * The Looker client on the emulator in memory, under TestClock: what it
 * sends, login counts (cold start, expiry, revocation), logout, the error
 * mapping, layerToken and layerConfig.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpBody from "@effect/platform/HttpBody"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as Looker from "../../src/looker/index.js"
import * as Faults from "../../src/testing/Faults.js"
import * as InMemory from "../../src/testing/InMemory.js"
import * as LookerEmulator from "../../src/testing/LookerEmulator.js"

const secret = LookerEmulator.defaultClientSecret
const wrongSecret = "wrong-secret-7c1e2a9b"

const InMemoryLayer = (emulator: LookerEmulator.Emulator) => InMemory.layer(emulator.app)

/** A token issued by the emulator to someone else (the caller of layerToken). */
const issueToken = (emulator: LookerEmulator.Emulator) =>
  Effect.gen(function*() {
    const client = InMemory.makeClient(emulator.app)
    const response = yield* client.post(`${LookerEmulator.baseUrl}/api/4.0/login`, {
      body: HttpBody.urlParams(UrlParams.fromInput({ client_id: LookerEmulator.defaultClientId, client_secret: secret }))
    })
    const body = (yield* response.json) as { access_token: string }
    return body.access_token
  }).pipe(Effect.orDie)

const lookerOptions = (options: Partial<Looker.Options> = {}): Looker.Options => ({
  baseUrl: LookerEmulator.baseUrl,
  clientId: LookerEmulator.defaultClientId,
  clientSecret: Redacted.make(secret),
  ...options
})

/** A client and its emulator, both in the test's context. */
const emulated = (options: Partial<Looker.Options> = {}, emulator: LookerEmulator.Options = {}) =>
  Looker.layer(lookerOptions(options)).pipe(Layer.provideMerge(LookerEmulator.layerInMemory(emulator)))

/** Advances the TestClock in steps until the fiber is done. */
const settle = <A, E>(fiber: Fiber.Fiber<A, E>, step: Duration.DurationInput = "100 millis", max = 10_000) =>
  Effect.gen(function*() {
    for (let i = 0; i < max && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust(step)
    return yield* Fiber.join(fiber)
  })

const all100 = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.all(Array.from({ length: 100 }, () => effect), { concurrency: "unbounded" })

describe("Looker.Session requests", () => {
  it.effect("logs in with a form body (never query parameters) under /api/4.0, then sends `Authorization: token`", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      const session = yield* looker.getSession()
      expect(session).toEqual({ can: { view: true, update: true }, workspace_id: "production", sudo_user_id: null })
      const [login, get] = yield* emulator.recent
      expect(login?.method).toBe("POST")
      expect(login?.url).toBe("/api/4.0/login")
      expect(login?.headers["content-type"]).toBe("application/x-www-form-urlencoded")
      expect(new URLSearchParams(login?.body)).toEqual(
        new URLSearchParams({ client_id: LookerEmulator.defaultClientId, client_secret: secret })
      )
      const [token] = yield* emulator.tokens
      expect(get?.url).toBe("/api/4.0/session")
      expect(get?.headers["authorization"]).toBe(`token ${token}`)
      expect((yield* emulator.stats).queryLogins).toBe(0)
    }).pipe(Effect.provide(emulated())))

  it.effect("updateSession switches the workspace of this token's session and back", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      expect((yield* looker.updateSession({ workspace_id: "dev" })).workspace_id).toBe("dev")
      expect((yield* looker.getSession()).workspace_id).toBe("dev")
      const [token] = yield* emulator.tokens
      expect(yield* emulator.workspaceOf(token!)).toBe("dev")
      const patch = (yield* emulator.recent).find((r) => r.method === "PATCH")
      expect(JSON.parse(patch!.body)).toEqual({ workspace_id: "dev" })
      expect((yield* looker.updateSession({ workspace_id: "production" })).workspace_id).toBe("production")
    }).pipe(Effect.provide(emulated())))

  for (const [apiVersion, shape] of [["4.0", "a string"], ["3.1", "an integer"]] as const) {
    it.effect(`sudo_user_id decodes to a string when ${apiVersion} sends ${shape}`, () =>
      Effect.gen(function*() {
        const looker = yield* Looker.Session
        const emulator = yield* LookerEmulator.LookerEmulator
        expect((yield* looker.getSession()).sudo_user_id).toBe("42")
        expect((yield* emulator.recent).every((r) => r.url.startsWith(`/api/${apiVersion}/`))).toBe(true)
      }).pipe(Effect.provide(emulated({ apiVersion }, { sudoUserId: 42 }))))
  }

  it("the ApiSession schema takes both sudo_user_id shapes, null and a missing can", () => {
    const decode = Schema.decodeUnknownSync(Looker.Schemas.ApiSession)
    expect(decode({ can: {}, workspace_id: "dev", sudo_user_id: 7 }).sudo_user_id).toBe("7")
    expect(decode({ can: {}, workspace_id: "dev", sudo_user_id: "7" }).sudo_user_id).toBe("7")
    expect(decode({ can: null, workspace_id: null, sudo_user_id: null })).toEqual({ can: {}, workspace_id: null, sudo_user_id: null })
    expect(decode({})).toEqual({ can: {}, workspace_id: null, sudo_user_id: null })
    expect(decode({ workspace_id: "qa" }).workspace_id).toBe("qa")
    expect(() => decode({ sudo_user_id: true })).toThrow(/sudo_user_id/)
  })
})

describe("Looker login counts", () => {
  it.effect("100 concurrent cold calls → exactly 1 login", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      yield* emulator.faults.set({ latency: "200 millis", match: (_, path) => path.endsWith("/login") })
      const sessions = yield* settle(yield* Effect.fork(all100(looker.getSession())))
      expect(sessions).toHaveLength(100)
      const stats = yield* emulator.stats
      expect(stats.logins).toBe(1)
      expect(stats.loginRequests).toBe(1)
      expect(stats.byRoute["GET /session"]).toBe(100)
    }).pipe(Effect.provide(emulated())))

  it.effect("token expiry under TestClock → exactly 1 re-login, before any 401", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      yield* looker.getSession()
      yield* TestClock.adjust("3539 seconds")
      yield* all100(looker.getSession())
      expect((yield* emulator.stats).logins).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* all100(looker.getSession())
      yield* TestClock.adjust("61 seconds") // past the first token's expiry
      yield* all100(looker.getSession())
      const stats = yield* emulator.stats
      expect(stats.logins).toBe(2)
      expect(stats.unauthorized).toBe(0)
      const [first, second] = yield* emulator.tokens
      expect(stats.requestsByToken[first!]).toBe(101)
      expect(stats.requestsByToken[second!]).toBe(200)
    }).pipe(Effect.provide(emulated())))

  it.effect("a revoked token → 1 re-login and 1 replay per call; 100 callers on it still make 1 login", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      yield* looker.getSession()
      yield* emulator.revoke()
      const session = yield* looker.getSession()
      expect(session.workspace_id).toBe("production")
      let stats = yield* emulator.stats
      expect(stats.logins).toBe(2)
      expect(stats.unauthorized).toBe(1)
      expect(stats.byRoute["GET /session"]).toBe(3)
      yield* emulator.revoke()
      yield* all100(looker.getSession())
      stats = yield* emulator.stats
      expect(stats.logins).toBe(3)
      expect(stats.unauthorized).toBe(101)
      expect(stats.byRoute["GET /session"]).toBe(203)
    }).pipe(Effect.provide(emulated())))

  it.effect("a second 401 on the replay fails with Unauthorized instead of looping", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      yield* looker.getSession()
      yield* emulator.faults.set({
        sequence: [Faults.status(401), Faults.status(401)],
        match: (method, path) => method === "GET" && path.endsWith("/session")
      })
      const error = yield* Effect.flip(looker.getSession())
      expect(error._tag).toBe("Unauthorized")
      expect(error.message).toContain("logged in again once")
      const stats = yield* emulator.stats
      expect(stats.logins).toBe(2)
      expect(stats.byRoute["GET /session"]).toBe(3)
      expect(yield* emulator.faults.remaining).toBe(0)
    }).pipe(Effect.provide(emulated())))

  it.effect("the server down: 100 waiters get the one error; the login is retried by the policy, not 100 times", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      yield* emulator.faults.set({ rate: { probability: 1, fault: Faults.drop } })
      const errors = yield* settle(yield* Effect.fork(all100(Effect.flip(looker.getSession()))))
      expect(errors.every((e) => e === errors[0])).toBe(true)
      expect(errors[0]?._tag).toBe("Transport")
      const stats = yield* emulator.stats
      expect(stats.loginRequests).toBe(3) // one login, retried twice by the policy
      expect(stats.byRoute["GET /session"] ?? 0).toBe(0)
      yield* emulator.faults.clear
      yield* looker.getSession()
      expect((yield* emulator.stats).logins).toBe(1)
    }).pipe(Effect.provide(emulated({ policy: { maxRetries: 2 } }))))

  it.effect("a login answered 503 is retried by the policy", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      yield* emulator.faults.set({ sequence: [Faults.status(503), Faults.dropAfterHandler] })
      yield* settle(yield* Effect.fork(looker.getSession()))
      const stats = yield* emulator.stats
      expect(stats.loginRequests).toBe(3)
      expect(stats.logins).toBe(2) // the dropped answer's token was issued, never received
    }).pipe(Effect.provide(emulated())))

  for (
    const [label, expiresIn] of [
      ["missing", undefined],
      ["zero", 0],
      ["negative", -9007199254740991],
      ["absurd", 1e300]
    ] as const
  ) {
    it.effect(`an expires_in that is ${label}: one login, the token used until a 401`, () =>
      Effect.gen(function*() {
        const looker = yield* Looker.Session
        const emulator = yield* LookerEmulator.LookerEmulator
        for (let i = 0; i < 20; i++) yield* looker.getSession()
        yield* TestClock.adjust("30 days")
        yield* looker.getSession()
        expect((yield* emulator.stats).logins).toBe(1)
        yield* emulator.revoke()
        yield* looker.getSession()
        const stats = yield* emulator.stats
        expect(stats.logins).toBe(2)
        expect(stats.unauthorized).toBe(1)
      }).pipe(Effect.provide(emulated({}, { expiresIn }))))
  }

  it.effect("a new login starts in production again (the server's rule); the client does not hide it", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      yield* looker.updateSession({ workspace_id: "dev" })
      yield* emulator.revoke()
      expect((yield* looker.getSession()).workspace_id).toBe("production")
    }).pipe(Effect.provide(emulated())))
})

describe("Looker logout", () => {
  it.effect("DELETE /logout when the layer's scope closes", () =>
    Effect.gen(function*() {
      const emulator = yield* LookerEmulator.make()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Looker.layer(lookerOptions()).pipe(Layer.provide(InMemoryLayer(emulator))),
        scope
      )
      const looker = Context.get(context, Looker.Session)
      yield* looker.getSession()
      yield* Scope.close(scope, Exit.void)
      const stats = yield* emulator.stats
      expect(stats.logouts).toBe(1)
      const [token] = yield* emulator.tokens
      const logout = (yield* emulator.recent).at(-1)
      expect(logout?.method).toBe("DELETE")
      expect(logout?.url).toBe("/api/4.0/logout")
      expect(logout?.headers["authorization"]).toBe(`token ${token}`)
    }))

  it.effect("a logout failure on scope close is logged, not raised", () =>
    Effect.gen(function*() {
      const emulator = yield* LookerEmulator.make()
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Looker.layer(lookerOptions({ policy: { maxRetries: 0 } })).pipe(Layer.provide(InMemoryLayer(emulator))),
        scope
      )
      yield* Context.get(context, Looker.Session).getSession()
      yield* emulator.faults.set({ rate: { probability: 1, fault: Faults.status(500) } })
      const exit = yield* Effect.exit(Scope.close(scope, Exit.void))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect((yield* emulator.stats).byRoute["DELETE /logout"]).toBe(1)
    }))

  it.effect("logout() then a call → a new login", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      yield* looker.getSession()
      yield* looker.logout()
      let stats = yield* emulator.stats
      expect(stats.logouts).toBe(1)
      yield* looker.getSession()
      stats = yield* emulator.stats
      expect(stats.logins).toBe(2)
      expect(stats.unauthorized).toBe(0)
      yield* looker.logout()
      yield* looker.logout() // nothing to log out: nothing sent
      expect((yield* emulator.stats).byRoute["DELETE /logout"]).toBe(2)
    }).pipe(Effect.provide(emulated())))
})

describe("Looker errors", () => {
  it.effect("400 and 404 keep their tags and Looker's documentation URL", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      yield* looker.getSession()
      yield* emulator.faults.set({
        sequence: [
          Faults.status(400, { body: { message: "Bad thing", documentation_url: "https://docs.example/400" } }),
          Faults.status(404, { body: { message: "Not found", documentation_url: "https://docs.example/404" } })
        ]
      })
      const bad = yield* Effect.flip(looker.getSession())
      expect(bad._tag).toBe("InvalidRequest")
      expect(bad.message).toContain("Bad thing")
      expect(bad.message).toContain("https://docs.example/400")
      expect(bad.documentationUrl).toBe("https://docs.example/400")
      const missing = yield* Effect.flip(looker.getSession())
      expect(missing._tag).toBe("NotFound")
      expect(missing.message).toContain("https://docs.example/404")
      expect(missing.documentationUrl).toBe("https://docs.example/404")
      expect(missing.status).toBe(404)
    }).pipe(Effect.provide(emulated())))

  it.effect("422 ValidationError → InvalidRequest with each {field, code, message} in problems", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const error = yield* Effect.flip(looker.updateSession({ workspace_id: "staging" }))
      expect(error._tag).toBe("InvalidRequest")
      if (error._tag !== "InvalidRequest") return
      expect(error.status).toBe(422)
      expect(error.problems).toEqual([{
        field: "workspace_id",
        code: "invalid",
        message: "Unknown workspace \"staging\": must be one of production, dev"
      }])
      expect(error.message).toContain(LookerEmulator.sessionDocumentationUrl)
    }).pipe(Effect.provide(emulated())))

  it.effect("429 → retried after Retry-After (TestClock), RateLimited when retries run out", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      yield* looker.getSession()
      yield* emulator.faults.set({ sequence: [Faults.status(429, { retryAfter: 3 })] })
      const fiber = yield* Effect.fork(looker.getSession())
      yield* TestClock.adjust("2999 millis")
      expect((yield* Fiber.poll(fiber))._tag).toBe("None")
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(fiber)
      expect((yield* emulator.stats).byRoute["GET /session"]).toBe(3)

      yield* emulator.faults.set({ rate: { probability: 1, fault: Faults.status(429, { retryAfter: 3 }) } })
      const error = yield* settle(yield* Effect.fork(Effect.flip(looker.getSession())), "1 second")
      expect(error._tag).toBe("RateLimited")
      if (error._tag === "RateLimited") expect(error.retryAfter).toBeDefined()
      yield* emulator.faults.clear // the logout on scope close would wait out Retry-After on a clock nobody moves
    }).pipe(Effect.provide(emulated({ policy: { maxRetries: 1 } }))))

  it.effect("refused logins are Unauthorized naming the settings; the secret is in no error", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      const wrong = yield* Effect.flip(looker.getSession())
      expect(wrong._tag).toBe("Unauthorized")
      expect(wrong.status).toBe(404)
      for (const name of ["LOOKERSDK_CLIENT_ID", "LOOKERSDK_CLIENT_SECRET", "LOOKERSDK_BASE_URL"]) {
        expect(wrong.message).toContain(name)
      }
      expect(wrong.message).toContain(LookerEmulator.authDocumentationUrl)
      expect(wrong.documentationUrl).toBe(LookerEmulator.authDocumentationUrl)
      // A server that echoes the secret: it is cut out of every error text.
      const errors = [wrong]
      for (const status of [400, 401, 403, 500]) {
        yield* emulator.faults.set({
          sequence: [Faults.status(status, { body: { message: `bad client_secret ${wrongSecret}` } })]
        })
        errors.push(yield* Effect.flip(looker.getSession()))
      }
      expect(errors.map((e) => e._tag)).toEqual(["Unauthorized", "Unauthorized", "Unauthorized", "Unauthorized", "ServerError"])
      for (const e of errors) {
        expect(JSON.stringify(e)).not.toContain(wrongSecret)
        expect(e.message).not.toContain(wrongSecret)
        expect(String(e)).not.toContain(wrongSecret)
      }
      expect(errors[1]?.body).toContain("<redacted>")
    }).pipe(Effect.provide(emulated({ clientSecret: Redacted.make(wrongSecret), policy: { maxRetries: 0 } }))))

  it.effect("bad input is refused locally (nothing sent)", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      const error = yield* Effect.flip(looker.updateSession({ workspace_id: 42 as unknown as string }))
      expect(error._tag).toBe("InvalidRequest")
      expect(error.message).toContain("workspace_id")
      expect((yield* emulator.stats).byRoute["PATCH /session"] ?? 0).toBe(0)
    }).pipe(Effect.provide(emulated())))
})

describe("Looker.layerToken", () => {
  it.effect("uses the caller's token as is: never a login, never refreshed, a 401 says so, never logged out", () =>
    Effect.gen(function*() {
      const emulator = yield* LookerEmulator.make({ expiresIn: 60 })
      const token = yield* issueToken(emulator)
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Looker.layerToken({ baseUrl: LookerEmulator.baseUrl, accessToken: Redacted.make(token) }).pipe(
          Layer.provide(InMemoryLayer(emulator))
        ),
        scope
      )
      const looker = Context.get(context, Looker.Session)
      expect((yield* looker.getSession()).workspace_id).toBe("production")
      yield* TestClock.adjust("61 seconds")
      const error = yield* Effect.flip(looker.getSession())
      expect(error._tag).toBe("Unauthorized")
      expect(error.message).toContain("layerToken")
      expect(error.message).not.toContain(token)
      const refused = yield* Effect.flip(looker.logout())
      expect(refused._tag).toBe("InvalidRequest")
      yield* Scope.close(scope, Exit.void)
      const stats = yield* emulator.stats
      expect(stats.logins).toBe(1) // the one issueToken made
      expect(stats.byRoute["GET /session"]).toBe(2) // no replay of the 401
      expect(stats.byRoute["DELETE /logout"] ?? 0).toBe(0)
    }))
})

describe("Looker.layerConfig", () => {
  const env = (vars: Record<string, string>) => Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars))))
  const good = {
    LOOKERSDK_BASE_URL: LookerEmulator.baseUrl,
    LOOKERSDK_CLIENT_ID: LookerEmulator.defaultClientId,
    LOOKERSDK_CLIENT_SECRET: secret
  }
  const configured = (vars: Record<string, string>, options?: Looker.ConfigOptions) =>
    Looker.layerConfig(options).pipe(Layer.provideMerge(LookerEmulator.layerInMemory()), Layer.provide(env(vars)))

  it.effect("reads LOOKERSDK_* (API version included)", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      const emulator = yield* LookerEmulator.LookerEmulator
      expect((yield* looker.getSession()).workspace_id).toBe("production")
      expect((yield* emulator.recent).map((r) => r.url)).toEqual(["/api/3.1/login", "/api/3.1/session"])
    }).pipe(Effect.provide(configured({ ...good, LOOKERSDK_API_VERSION: "3.1", LOOKERSDK_TIMEOUT: "30" }))))

  it.effect("every option can be a Config", () =>
    Effect.gen(function*() {
      const looker = yield* Looker.Session
      yield* looker.getSession()
    }).pipe(Effect.provide(configured({ MY_URL: LookerEmulator.baseUrl, MY_ID: LookerEmulator.defaultClientId, MY_SECRET: secret }, {
      baseUrl: Config.string("MY_URL"),
      clientId: Config.string("MY_ID"),
      clientSecret: Config.redacted("MY_SECRET")
    }))))

  for (
    const [label, vars, names] of [
      ["a bad URL", { ...good, LOOKERSDK_BASE_URL: "acme.looker.com" }, ["LOOKERSDK_BASE_URL"]],
      ["an empty secret", { ...good, LOOKERSDK_CLIENT_SECRET: "  " }, ["LOOKERSDK_CLIENT_SECRET"]],
      ["an empty id", { ...good, LOOKERSDK_CLIENT_ID: "" }, ["LOOKERSDK_CLIENT_ID"]],
      ["an unknown API version", { ...good, LOOKERSDK_API_VERSION: "3.0" }, ["LOOKERSDK_API_VERSION"]],
      ["a bad timeout", { ...good, LOOKERSDK_TIMEOUT: "-5" }, ["LOOKERSDK_TIMEOUT"]],
      ["a missing secret", { LOOKERSDK_BASE_URL: good.LOOKERSDK_BASE_URL, LOOKERSDK_CLIENT_ID: "id" }, ["LOOKERSDK_CLIENT_SECRET"]]
    ] as const
  ) {
    it.effect(`${label} fails the layer with a ConfigError naming it`, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Layer.build(configured(vars)).pipe(Effect.scoped))
        expect(Exit.isFailure(exit)).toBe(true)
        const text = String(Exit.isFailure(exit) ? exit.cause : "")
        for (const name of names) expect(text).toContain(name)
        expect(text).not.toContain(secret)
      }))
  }
})
