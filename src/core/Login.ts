/**
 * A {@link Credentials.TokenSource} built from a login: tokens are fetched
 * lazily, shared by every concurrent caller (one login in flight at a time),
 * refreshed a lag before they expire (timed with `Clock`), dropped when the
 * server refuses them, and logged out when the source's scope closes.
 * Nothing here knows an API: the client supplies the `login` and `logout`
 * effects.
 *
 * Rules:
 * - concurrent `get`s while no usable token is held share one login; if it
 *   fails, every waiter gets that one error (and the next `get` tries again);
 * - a token whose lifetime is `expiresIn` seconds is used until `expiresIn -
 *   refreshLag` after its login started (half its lifetime when that is
 *   shorter than the lag); a lifetime that is missing, zero, negative, not a
 *   number or absurd (over {@link maxLifetimeSeconds}) means "until the server
 *   refuses it": never a login per call;
 * - `reject(token)` (the core calls it after a 401) drops that token if it is
 *   still the current one, so the next `get` logs in again, once, however
 *   many callers reject it;
 * - `current()` gives the held token while it is fresh (the Clock of the
 *   scope that made the source), so calls skip `get` when no login is due;
 * - `logout` ends the current token explicitly (the next `get` logs in);
 * - when the scope closes, a login in flight is interrupted and the current
 *   token, unless it expired or was refused, is logged out; a logout failure
 *   is logged, not raised.
 *
 * A caller-owned token is not a login: pass it as plain credentials
 * (`Credentials.token`), which are never refreshed and never logged out.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type { ApiError } from "./ApiError.js"
import type * as Credentials from "./Credentials.js"

/** What a login returns: the token and its lifetime in seconds as the server said it (anything). @since 0.1.0 */
export interface Grant {
  readonly token: Redacted.Redacted<string>
  /** Seconds; `undefined` or a value that is not a sane positive number means "until refused". */
  readonly expiresIn?: unknown
}

/** @since 0.1.0 */
export interface Options {
  /** Fetches a new token (its own retries are the client's business). */
  readonly login: Effect.Effect<Grant, ApiError>
  /** Ends a token on the server; called on scope close and by {@link LoginSource.logout}. */
  readonly logout?: ((token: Redacted.Redacted<string>) => Effect.Effect<void, ApiError>) | undefined
  /** How long before expiry a token is replaced. Default 60 s. */
  readonly refreshLag?: Duration.DurationInput | undefined
}

/** A token source with an explicit logout. @since 0.1.0 */
export interface LoginSource extends Credentials.TokenSource {
  /**
   * Logs the current token out (waiting for a login in flight first); the
   * next `get` logs in again. Without a token it does nothing.
   */
  readonly logout: Effect.Effect<void, ApiError>
}

/** Lifetimes above this many seconds (10 years) are taken as "no expiry given". @since 0.1.0 */
export const maxLifetimeSeconds = 10 * 365 * 24 * 3600

/** The default refresh lag. @since 0.1.0 */
export const defaultRefreshLag: Duration.Duration = Duration.seconds(60)

/**
 * The lifetime in milliseconds a server's `expires_in` stands for, or
 * `undefined` when it gives none that can be trusted.
 *
 * @since 0.1.0
 */
export const lifetimeMillis = (expiresIn: unknown): number | undefined =>
  typeof expiresIn === "number" && Number.isFinite(expiresIn) && expiresIn > 0 && expiresIn <= maxLifetimeSeconds
    ? expiresIn * 1000
    : undefined

type State =
  | { readonly _tag: "Empty" }
  | { readonly _tag: "Pending"; readonly deferred: Deferred.Deferred<Redacted.Redacted<string>, ApiError> }
  | {
    readonly _tag: "Ready"
    readonly token: Redacted.Redacted<string>
    /** When to log in again (ms), if the lifetime is known. */
    readonly refreshAt: number | undefined
    /** When the server said it expires (ms), if known. */
    readonly expiresAt: number | undefined
  }

const empty: State = { _tag: "Empty" }

/**
 * A login source living as long as the current scope.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<LoginSource, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const clock = yield* Effect.clock
    const lagMillis = Duration.toMillis(Duration.decode(options.refreshLag ?? defaultRefreshLag))
    let state: State = empty
    let closed = false

    /** Runs one login in the source's scope (a caller that goes away does not cancel it for the others). */
    const startLogin = (deferred: Deferred.Deferred<Redacted.Redacted<string>, ApiError>) =>
      Effect.flatMap(Clock.currentTimeMillis, (startedAt) =>
        Effect.onExit(options.login, (exit) =>
          Effect.suspend(() => {
            const current = state
            if (current._tag === "Pending" && current.deferred === deferred) {
              if (Exit.isSuccess(exit)) {
                const life = lifetimeMillis(exit.value.expiresIn)
                state = {
                  _tag: "Ready",
                  token: exit.value.token,
                  refreshAt: life === undefined ? undefined : startedAt + Math.max(life - lagMillis, life / 2),
                  expiresAt: life === undefined ? undefined : startedAt + life
                }
              } else {
                state = empty
              }
            }
            return Deferred.done(deferred, Exit.map(exit, (grant) => grant.token))
          }))).pipe(Effect.forkIn(scope), Effect.asVoid)

    const get: Effect.Effect<Redacted.Redacted<string>, ApiError> = Effect.suspend(() => {
      const current = state
      if (current._tag === "Ready") {
        if (current.refreshAt === undefined) return Effect.succeed(current.token)
        const refreshAt = current.refreshAt
        return Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (now < refreshAt) return Effect.succeed(current.token)
          // Due: the first caller to see it drops it (once), and every caller joins the next login.
          if (state === current) state = empty
          return get
        })
      }
      if (current._tag === "Pending") return Deferred.await(current.deferred)
      if (closed) return Effect.interrupt
      return Effect.flatMap(Deferred.make<Redacted.Redacted<string>, ApiError>(), (deferred) => {
        if (state._tag !== "Empty") return get
        state = { _tag: "Pending", deferred }
        return Effect.zipRight(startLogin(deferred), Deferred.await(deferred))
      })
    })

    /** The held token while it is fresh, without waiting (the core then skips `get`). */
    const current = (): Redacted.Redacted<string> | undefined => {
      const held = state
      if (held._tag !== "Ready") return undefined
      return held.refreshAt === undefined || clock.unsafeCurrentTimeMillis() < held.refreshAt ? held.token : undefined
    }

    const reject = (token: Redacted.Redacted<string>): Effect.Effect<void> =>
      Effect.sync(() => {
        if (state._tag === "Ready" && state.token === token) state = empty
      })

    const logoutToken = options.logout ?? (() => Effect.void)

    const logout: Effect.Effect<void, ApiError> = Effect.suspend(() => {
      const current = state
      if (current._tag === "Pending") {
        return Effect.zipRight(Effect.exit(Deferred.await(current.deferred)), logout)
      }
      if (current._tag === "Empty") return Effect.void
      state = empty
      return logoutToken(current.token)
    })

    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closed = true
        const current = state
        state = empty
        if (current._tag !== "Ready") return Effect.void
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          current.expiresAt !== undefined && now >= current.expiresAt
            ? Effect.void
            : Effect.catchAllCause(
              logoutToken(current.token),
              (cause) => Effect.logWarning("logout on scope close failed; the token expires on its own", Cause.squash(cause))
            ))
      })
    )

    return { get, current, reject, logout } satisfies LoginSource
  })
