/**
 * How a secret is attached to a request. Secrets stay `Redacted` from config
 * to header; custom secret header names are registered as redacted so spans
 * and logs never show them.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import type { ApiError } from "./ApiError.js"

/**
 * A source of short-lived tokens (e.g. Looker's login): `get` yields the
 * current token (logging in if needed); `reject` is told that the server
 * refused a token so the next `get` fetches a fresh one.
 *
 * @since 0.1.0
 */
export interface TokenSource {
  readonly get: Effect.Effect<Redacted.Redacted<string>, ApiError>
  readonly reject: (token: Redacted.Redacted<string>) => Effect.Effect<void>
  /**
   * The current token when one is held and fresh, without waiting (optional).
   * A call that finds one skips `get`, so that waiting for a login (bounded
   * by the call's deadline) costs only when a login is due.
   */
  readonly current?: (() => Redacted.Redacted<string> | undefined) | undefined
}

/** The `Authorization` scheme word a token is sent with. @since 0.1.0 */
export type Scheme = "Bearer" | "token"

/**
 * How requests are authenticated.
 *
 * @since 0.1.0
 */
export type Credentials =
  | { readonly _tag: "None" }
  | { readonly _tag: "Header"; readonly name: string; readonly value: Redacted.Redacted<string> }
  | { readonly _tag: "Authorization"; readonly scheme: Scheme; readonly token: Redacted.Redacted<string> }
  | { readonly _tag: "Dynamic"; readonly scheme: Scheme; readonly source: TokenSource }

/** No credentials (anonymous calls, or a server without auth). @since 0.1.0 */
export const none: Credentials = { _tag: "None" }

/** A secret header, e.g. WhyLabs' `X-API-Key`. @since 0.1.0 */
export const header = (name: string, value: Redacted.Redacted<string>): Credentials => ({
  _tag: "Header",
  name: name.toLowerCase(),
  value
})

/** `Authorization: Bearer <token>` (deepset). @since 0.1.0 */
export const bearer = (token: Redacted.Redacted<string>): Credentials => ({
  _tag: "Authorization",
  scheme: "Bearer",
  token
})

/** `Authorization: token <token>` (Jupyter, Looker). @since 0.1.0 */
export const token = (value: Redacted.Redacted<string>): Credentials => ({
  _tag: "Authorization",
  scheme: "token",
  token: value
})

/** A token fetched (and refreshed) per request from a {@link TokenSource}. @since 0.1.0 */
export const dynamic = (scheme: Scheme, source: TokenSource): Credentials => ({ _tag: "Dynamic", scheme, source })

/** The header names these credentials put secrets in (to register as redacted). @since 0.1.0 */
export const secretHeaderNames = (credentials: Credentials): ReadonlyArray<string> =>
  credentials._tag === "Header" ? [credentials.name] : credentials._tag === "None" ? [] : ["authorization"]

/** The `Authorization` header value for a scheme and token. @since 0.1.0 */
export const authorization = (scheme: Scheme, secret: Redacted.Redacted<string>): string =>
  `${scheme} ${Redacted.value(secret)}`
