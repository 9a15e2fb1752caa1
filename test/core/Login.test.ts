/**
 * The single-flight login token source under TestClock: one login for many
 * callers, one error for every waiter, refresh before expiry, `reject` once,
 * sane handling of lifetimes that cannot be trusted, logout on scope close.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as ApiError from "../../src/core/ApiError.js"
import * as Login from "../../src/core/Login.js"

const failure = (message: string) =>
  new ApiError.Transport({ api: "test", operation: "login", method: "POST", url: "http://x/login", notSent: true, message })

/** A fake server: counts logins and logouts; each login takes `latency` of Clock time. */
const fakeServer = (options: {
  readonly expiresIn?: unknown
  readonly latency?: Duration.DurationInput
  readonly fail?: () => boolean
  readonly logoutFails?: boolean
} = {}) => {
  const counts = { logins: 0, logouts: [] as Array<string> }
  const login = Effect.suspend(() => {
    counts.logins++
    const n = counts.logins
    const answer = options.fail?.() === true
      ? Effect.fail(failure(`down (${n})`))
      : Effect.succeed<Login.Grant>({ token: Redacted.make(`token-${n}`), expiresIn: options.expiresIn ?? 3600 })
    return options.latency === undefined ? answer : Effect.zipRight(Effect.sleep(options.latency), answer)
  })
  const logout = (token: Redacted.Redacted<string>) =>
    options.logoutFails === true
      ? Effect.fail(failure("logout refused"))
      : Effect.sync(() => {
        counts.logouts.push(Redacted.value(token))
      })
  return { counts, login, logout }
}

const value = (effect: Effect.Effect<Redacted.Redacted<string>, ApiError.ApiError>) => Effect.map(effect, Redacted.value)

describe("Login.make", () => {
  it.scoped("100 concurrent cold callers share one login", () =>
    Effect.gen(function*() {
      const server = fakeServer({ latency: "1 second" })
      const source = yield* Login.make(server)
      const fiber = yield* Effect.fork(Effect.all(Array.from({ length: 100 }, () => value(source.get)), { concurrency: "unbounded" }))
      yield* TestClock.adjust("1 second")
      const tokens = yield* Fiber.join(fiber)
      expect(new Set(tokens)).toEqual(new Set(["token-1"]))
      expect(server.counts.logins).toBe(1)
      expect(yield* value(source.get)).toBe("token-1")
      expect(server.counts.logins).toBe(1)
    }))

  it.scoped("a failed login gives every waiter that one error, and the next get tries again", () =>
    Effect.gen(function*() {
      let down = true
      const server = fakeServer({ latency: "1 second", fail: () => down })
      const source = yield* Login.make(server)
      const fiber = yield* Effect.fork(
        Effect.all(Array.from({ length: 100 }, () => Effect.flip(source.get)), { concurrency: "unbounded" })
      )
      yield* TestClock.adjust("1 second")
      const errors = yield* Fiber.join(fiber)
      expect(server.counts.logins).toBe(1)
      expect(errors.every((e) => e === errors[0])).toBe(true)
      expect(errors[0]?.message).toBe("down (1)")
      down = false
      const next = yield* Effect.fork(value(source.get))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(next)).toBe("token-2")
    }))

  it.scoped("a waiter that is interrupted does not cancel the login for the others", () =>
    Effect.gen(function*() {
      const server = fakeServer({ latency: "1 second" })
      const source = yield* Login.make(server)
      const first = yield* Effect.fork(source.get)
      const second = yield* Effect.fork(value(source.get))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(first)
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(second)).toBe("token-1")
      expect(server.counts.logins).toBe(1)
    }))

  it.scoped("refreshes once, lag before expiry, timed by Clock", () =>
    Effect.gen(function*() {
      const server = fakeServer({ expiresIn: 3600 })
      const source = yield* Login.make(server)
      expect(yield* value(source.get)).toBe("token-1")
      yield* TestClock.adjust("3539 seconds")
      expect(yield* value(source.get)).toBe("token-1")
      yield* TestClock.adjust("1 second")
      const tokens = yield* Effect.all(Array.from({ length: 20 }, () => value(source.get)), { concurrency: "unbounded" })
      expect(new Set(tokens)).toEqual(new Set(["token-2"]))
      expect(server.counts.logins).toBe(2)
      expect(server.counts.logouts).toEqual([])
    }))

  it.scoped("the refresh lag is configurable; a lifetime shorter than the lag refreshes at half of it", () =>
    Effect.gen(function*() {
      const lagged = fakeServer({ expiresIn: 100 })
      const source = yield* Login.make({ ...lagged, refreshLag: "10 seconds" })
      yield* source.get
      yield* TestClock.adjust("89 seconds")
      yield* source.get
      expect(lagged.counts.logins).toBe(1)
      yield* TestClock.adjust("1 second")
      yield* source.get
      expect(lagged.counts.logins).toBe(2)

      const short = fakeServer({ expiresIn: 30 })
      const shortSource = yield* Login.make(short)
      for (let i = 0; i < 10; i++) yield* shortSource.get
      expect(short.counts.logins).toBe(1)
      yield* TestClock.adjust("15 seconds")
      yield* shortSource.get
      expect(short.counts.logins).toBe(2)
    }))

  for (
    const [label, expiresIn] of [
      ["missing", undefined],
      ["zero", 0],
      ["negative (Prism's mock)", -9007199254740991],
      ["absurd", 1e300],
      ["infinite", Infinity],
      ["not a number", "3600"],
      ["NaN", Number.NaN]
    ] as const
  ) {
    it.scoped(`an expires_in that is ${label} means: use the token until it is refused`, () =>
      Effect.gen(function*() {
        const counts = { logins: 0 }
        const source = yield* Login.make({
          login: Effect.sync(() => ({ token: Redacted.make(`token-${++counts.logins}`), expiresIn }))
        })
        for (let i = 0; i < 50; i++) yield* source.get
        yield* TestClock.adjust("3650 days")
        expect(yield* value(source.get)).toBe("token-1")
        expect(counts.logins).toBe(1)
        yield* source.reject(yield* source.get)
        expect(yield* value(source.get)).toBe("token-2")
        expect(counts.logins).toBe(2)
      }))
  }

  it.scoped("reject(token) makes the next get log in once, however many reject it; a stale token changes nothing", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      const source = yield* Login.make(server)
      const old = yield* source.get
      yield* Effect.all(Array.from({ length: 10 }, () => source.reject(old)), { concurrency: "unbounded" })
      const fresh = yield* Effect.all(Array.from({ length: 10 }, () => value(source.get)), { concurrency: "unbounded" })
      expect(new Set(fresh)).toEqual(new Set(["token-2"]))
      yield* source.reject(old)
      expect(yield* value(source.get)).toBe("token-2")
      expect(server.counts.logins).toBe(2)
    }))

  it.effect("logs the current token out when the scope closes; nothing without a token", () =>
    Effect.gen(function*() {
      const server = fakeServer()
      const scope = yield* Scope.make()
      const source = yield* Scope.extend(Login.make(server), scope)
      yield* source.get
      yield* Scope.close(scope, Exit.void)
      expect(server.counts.logouts).toEqual(["token-1"])

      const idle = fakeServer()
      const idleScope = yield* Scope.make()
      yield* Scope.extend(Login.make(idle), idleScope)
      yield* Scope.close(idleScope, Exit.void)
      expect(idle.counts).toEqual({ logins: 0, logouts: [] })
    }))

  it.effect("does not log out a token that was refused or has expired", () =>
    Effect.gen(function*() {
      const server = fakeServer({ expiresIn: 60 })
      const scope = yield* Scope.make()
      const source = yield* Scope.extend(Login.make(server), scope)
      yield* source.reject(yield* source.get)
      yield* Scope.close(scope, Exit.void)
      expect(server.counts.logouts).toEqual([])

      const expiring = fakeServer({ expiresIn: 60 })
      const scope2 = yield* Scope.make()
      const source2 = yield* Scope.extend(Login.make(expiring), scope2)
      yield* source2.get
      yield* TestClock.adjust("61 seconds")
      yield* Scope.close(scope2, Exit.void)
      expect(expiring.counts.logouts).toEqual([])
    }))

  it.effect("a logout failure on scope close is logged, not raised", () =>
    Effect.gen(function*() {
      const server = fakeServer({ logoutFails: true })
      const logs: Array<string> = []
      const logger = Logger.make(({ message }) => logs.push(String(message)))
      const scope = yield* Scope.make()
      // A finalizer runs with the fiber refs of its acquisition: the logger is the one in force at make.
      const source = yield* Scope.extend(Login.make(server), scope).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      yield* source.get
      const exit = yield* Effect.exit(Scope.close(scope, Exit.void))
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(logs.join("\n")).toContain("logout on scope close failed")
    }))

  it.effect("a login in flight when the scope closes is interrupted; nothing is logged out", () =>
    Effect.gen(function*() {
      const server = fakeServer({ latency: "10 seconds" })
      const scope = yield* Scope.make()
      const source = yield* Scope.extend(Login.make(server), scope)
      const waiter = yield* Effect.fork(source.get)
      yield* TestClock.adjust("1 second")
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(waiter)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(server.counts.logouts).toEqual([])
    }))

  it.scoped("logout ends the current token (after a login in flight) and the next get logs in", () =>
    Effect.gen(function*() {
      const server = fakeServer({ latency: "1 second" })
      const source = yield* Login.make(server)
      yield* source.logout
      expect(server.counts).toEqual({ logins: 0, logouts: [] })
      const pending = yield* Effect.fork(source.get)
      const loggingOut = yield* Effect.fork(source.logout)
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(pending)
      yield* Fiber.join(loggingOut)
      expect(server.counts.logouts).toEqual(["token-1"])
      const next = yield* Effect.fork(value(source.get))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(next)).toBe("token-2")
    }))

  it.scoped("current() gives the held token while it is fresh, nothing before a login or once it is due", () =>
    Effect.gen(function*() {
      const server = fakeServer({ expiresIn: 3600 })
      const source = yield* Login.make(server)
      expect(source.current?.()).toBeUndefined()
      yield* source.get
      expect(source.current?.()).toEqual(Redacted.make("token-1"))
      yield* TestClock.adjust("3540 seconds")
      expect(source.current?.()).toBeUndefined()
      expect(yield* value(source.get)).toBe("token-2")
      yield* source.reject(yield* source.get)
      expect(source.current?.()).toBeUndefined()
    }))

  it("lifetimeMillis accepts only sane positive numbers", () => {
    expect(Login.lifetimeMillis(3600)).toBe(3_600_000)
    expect(Login.lifetimeMillis(0.5)).toBe(500)
    for (const bad of [undefined, null, 0, -1, Infinity, Number.NaN, "60", Login.maxLifetimeSeconds + 1]) {
      expect(Login.lifetimeMillis(bad)).toBeUndefined()
    }
  })
})
