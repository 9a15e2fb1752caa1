/**
 * An optional fast path an `HttpClient` may offer to this library's
 * {@link ApiClient}: one request in, status + headers + whole body out, with
 * the attempt timeout handled by the transport's own timer.
 *
 * The platform's `HttpClient` stays the contract: every client layer needs
 * only `HttpClient.HttpClient`, and any implementation works. A client that
 * also carries this capability (effect-sessions' own undici client) lets
 * `ApiClient` skip the generic machinery that costs most per call (a fiber
 * race per timeout, the response wrapper, body caching). A transformed client
 * (`HttpClient.mapRequest`, …) is a new object without the capability, so
 * user transformations always go through the generic path.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Effect from "effect/Effect"

/** @since 0.1.0 */
export const FastPathTypeId: unique symbol = Symbol.for("effect-sessions/Transport/FastPath")

/** A request, ready to send. @since 0.1.0 */
export interface Outgoing {
  readonly method: string
  /** `http://host:port` */
  readonly origin: string
  /** Path and query (`/api/x?y=1`). */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  /** The body, if any: whole (text or bytes), or streamed (read once, for this attempt only). */
  readonly body: string | Uint8Array | AsyncIterable<Uint8Array> | undefined
}

/** A whole answer. @since 0.1.0 */
export interface Exchange {
  readonly status: number
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  /**
   * Reads the body as text. Read it once: a transport may let go of the
   * body when it is read (a later read gives "").
   */
  readonly readText: () => string
}

/** Why a fast exchange failed. @since 0.1.0 */
export type Failure =
  | { readonly _tag: "Timeout" }
  | { readonly _tag: "Request"; readonly cause: unknown }
  | { readonly _tag: "Body"; readonly cause: unknown }

/**
 * What an exchange started by {@link FastPath.start} reports to: `done` is
 * called once, with the answer (`failure` undefined) or with the failure.
 *
 * @since 0.1.0
 */
export interface Receiver {
  readonly done: (answer: Exchange | undefined, failure: Failure | undefined) => void
}

/** An exchange in flight. @since 0.1.0 */
export interface Started {
  /** Aborts the exchange; the receiver is not called any more. */
  readonly cancel: () => void
}

/** The capability. @since 0.1.0 */
export interface FastPath {
  /**
   * Sends `request` and reads its body, failing with `Timeout` after
   * `timeoutMillis` of wall-clock time (only used under the live `Clock`).
   * Interruption aborts the request.
   */
  readonly exchange: (request: Outgoing, timeoutMillis: number) => Effect.Effect<Exchange, Failure>
  /**
   * The same exchange with a callback instead of an effect (what `ApiClient`
   * wraps in its own single `Effect.async`, judging the answer inside the
   * callback): the receiver's `done` is called once, unless the exchange is
   * cancelled first.
   */
  readonly start: (request: Outgoing, timeoutMillis: number, receiver: Receiver) => Started
}

/** The fast path of a client, if it has one. @since 0.1.0 */
export const fastPathOf = (client: HttpClient.HttpClient): FastPath | undefined =>
  (client as unknown as { readonly [FastPathTypeId]?: FastPath })[FastPathTypeId]

/** Attaches a fast path to a client (the result is still that client for everything else). @since 0.1.0 */
export const withFastPath = (client: HttpClient.HttpClient, fastPath: FastPath): HttpClient.HttpClient =>
  Object.assign(Object.create(client) as HttpClient.HttpClient, { [FastPathTypeId]: fastPath })

/** A header's first value. @since 0.1.0 */
export const header = (headers: Exchange["headers"], name: string): string | undefined => {
  const v = headers[name]
  return typeof v === "string" ? v : v?.[0]
}
