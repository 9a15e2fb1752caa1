/**
 * The one error family every client fails with. Each error says which API and
 * operation failed, the HTTP method and URL (never a secret), the status and
 * the server's request id when there is one, a bounded excerpt of the body,
 * and a `message` a person can act on. Catch them by tag:
 *
 * ```ts
 * client.getStatus(ws, id).pipe(Effect.catchTag("NotFound", () => Effect.succeed(undefined)))
 * ```
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * What every error carries.
 *
 * @since 0.1.0
 */
export const ErrorContext = {
  /** The API: "deepset", "jupyter", "looker", "whylabs". */
  api: Schema.String,
  /** The client operation, e.g. "getStatus". */
  operation: Schema.String,
  /** HTTP method of the request. */
  method: Schema.String,
  /** URL of the request, with credentials and secret query parameters removed. */
  url: Schema.String,
  /** HTTP status, when the server answered. */
  status: Schema.optional(Schema.Number),
  /** The server's request id (`x-request-id` or the body's `requestId`), for support tickets. */
  requestId: Schema.optional(Schema.String),
  /** The start of the response body (at most 1 KiB; never an HTML page, never a secret). */
  body: Schema.optional(Schema.String),
  /** Where the server's documentation explains this error (Looker's `documentation_url`), when it said. */
  documentationUrl: Schema.optional(Schema.String),
  /** What happened and what to try. */
  message: Schema.String
}

/** One field-level problem reported by the server (or found locally). @since 0.1.0 */
export const FieldProblem = Schema.Struct({
  field: Schema.String,
  message: Schema.String,
  code: Schema.optional(Schema.String)
})
/** @since 0.1.0 */
export interface FieldProblem extends Schema.Schema.Type<typeof FieldProblem> {}

/** 404: the resource does not exist (or is not visible with these credentials). @since 0.1.0 */
export class NotFound extends Schema.TaggedError<NotFound>("effect-sessions/NotFound")("NotFound", ErrorContext) {}

/** 401/403: the credentials are missing, wrong, expired, or lack permission. @since 0.1.0 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>("effect-sessions/Unauthorized")(
  "Unauthorized",
  ErrorContext
) {}

/** 400/422, or a request the client refused to send: `problems` names the fields. @since 0.1.0 */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>("effect-sessions/InvalidRequest")(
  "InvalidRequest",
  { ...ErrorContext, problems: Schema.Array(FieldProblem) }
) {}

/** 409: the request conflicts with the resource's current state. @since 0.1.0 */
export class Conflict extends Schema.TaggedError<Conflict>("effect-sessions/Conflict")("Conflict", ErrorContext) {}

/** 410: the resource existed but is gone. @since 0.1.0 */
export class Gone extends Schema.TaggedError<Gone>("effect-sessions/Gone")("Gone", ErrorContext) {}

/** 429 after the policy's retries: `retryAfter` is what the server asked for, if it said. @since 0.1.0 */
export class RateLimited extends Schema.TaggedError<RateLimited>("effect-sessions/RateLimited")("RateLimited", {
  ...ErrorContext,
  retryAfter: Schema.optional(Schema.DurationFromSelf)
}) {}

/** 5xx (and unexpected statuses) after the policy's retries. @since 0.1.0 */
export class ServerError extends Schema.TaggedError<ServerError>("effect-sessions/ServerError")("ServerError", {
  ...ErrorContext,
  /** The server's own explanation (`message`, `short_message`, `detail`), when it gave one. */
  serverMessage: Schema.optional(Schema.String)
}) {}

/** The per-attempt timeout or the total deadline of the policy ran out. @since 0.1.0 */
export class Timeout extends Schema.TaggedError<Timeout>("effect-sessions/Timeout")("Timeout", {
  ...ErrorContext,
  kind: Schema.Literal("attempt", "deadline"),
  after: Schema.DurationFromSelf
}) {}

/** The request could not be sent or the response could not be read (connection refused, reset, DNS…). @since 0.1.0 */
export class Transport extends Schema.TaggedError<Transport>("effect-sessions/Transport")("Transport", {
  ...ErrorContext,
  /** Whether the request is known not to have reached the server (safe to replay). */
  notSent: Schema.Boolean
}) {}

/**
 * A storage service (S3 or one like it, behind a presigned upload URL)
 * refused the request with its XML error: `code` is its `<Code>`
 * (`AccessDenied`, `SignatureDoesNotMatch`, `SlowDown`, …), `storageMessage`
 * its `<Message>`. 403s are not retried (a new presigned URL is needed);
 * 500 and 503 (`SlowDown`) are retried under the policy.
 *
 * @since 0.1.0
 */
export class StorageError extends Schema.TaggedError<StorageError>("effect-sessions/StorageError")("StorageError", {
  ...ErrorContext,
  code: Schema.String,
  storageMessage: Schema.optional(Schema.String),
  retryAfter: Schema.optional(Schema.DurationFromSelf)
}) {}

/** The response did not match the schema: `path` names the field (e.g. `data[3].created_at`). @since 0.1.0 */
export class DecodeError extends Schema.TaggedError<DecodeError>("effect-sessions/DecodeError")("DecodeError", {
  ...ErrorContext,
  path: Schema.String,
  issue: Schema.String
}) {}

/**
 * Any error of the family.
 *
 * @since 0.1.0
 */
export type ApiError =
  | NotFound
  | Unauthorized
  | InvalidRequest
  | Conflict
  | Gone
  | RateLimited
  | ServerError
  | Timeout
  | Transport
  | DecodeError
  | StorageError

/** The tags of the family. @since 0.1.0 */
export type ApiErrorTag = ApiError["_tag"]

const tags: ReadonlySet<string> = new Set<ApiErrorTag>([
  "NotFound",
  "Unauthorized",
  "InvalidRequest",
  "Conflict",
  "Gone",
  "RateLimited",
  "ServerError",
  "Timeout",
  "Transport",
  "DecodeError",
  "StorageError"
])

/** Whether a value is an error of this family. @since 0.1.0 */
export const isApiError = (u: unknown): u is ApiError =>
  Predicate.isTagged(u, "_tag") && Predicate.hasProperty(u, "api") && tags.has((u as { _tag: string })._tag)

/** The body excerpt limit. @since 0.1.0 */
export const maxBodyExcerpt = 1024

/** Cuts a body to the excerpt limit. @since 0.1.0 */
export const excerpt = (body: string): string =>
  body.length <= maxBodyExcerpt ? body : `${body.slice(0, maxBodyExcerpt)}… (${body.length} chars)`
