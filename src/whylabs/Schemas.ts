/**
 * Wire models of the WhyLabs `SessionsApi` (`/v0/sessions`), both directions.
 * The wire is camelCase (`userId`, `datasetTimestamp`, `observatoryUrl`…),
 * whatever the generated Python client calls its attributes.
 *
 * Timestamps are epoch milliseconds on the wire. Callers give a
 * `DateTime` or a `Date` ({@link Instant}); answers decode to `DateTime.Utc`.
 *
 * Decoding follows the reconstructed spec, where every answer field but
 * `CreateSessionResponse.id` and `GetSessionResponse.session` is optional,
 * and tolerates `null` for them and unknown fields. (whylabs-client 0.6.16
 * requires more of them — see the `Sessions` module notes.)
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { OptionalNullable } from "../core/Tolerant.js"

/**
 * A point in time as callers give it, a `DateTime` (UTC or zoned) or a
 * valid `Date`.
 *
 * @since 0.1.0
 */
export const Instant = Schema.Union(Schema.DateTimeUtcFromSelf, Schema.DateTimeZonedFromSelf, Schema.ValidDateFromSelf)
/** @since 0.1.0 */
export type Instant = typeof Instant.Type

/**
 * An {@link Instant} on the wire: whole epoch milliseconds (int64). Decodes to
 * `DateTime.Utc`.
 *
 * @since 0.1.0
 */
export const EpochMillis: Schema.Schema<Instant, number> = Schema.transformOrFail(Schema.Int, Instant, {
  strict: true,
  decode: (millis, _, ast) => {
    const utc = DateTime.make(millis)
    return utc._tag === "Some"
      ? ParseResult.succeed(utc.value)
      : ParseResult.fail(new ParseResult.Type(ast, millis, "not a valid epoch-milliseconds time"))
  },
  encode: (instant) => ParseResult.succeed(instant instanceof Date ? instant.getTime() : DateTime.toEpochMillis(instant))
}).annotations({ identifier: "EpochMillis" })

/** Epoch milliseconds in an answer, as `DateTime.Utc`. @since 0.1.0 */
export const TimestampUtc = Schema.DateTimeUtcFromNumber

// ---------------------------------------------------------------------------
// requests

/** Body of `POST /v0/sessions`. @since 0.1.0 */
export const CreateSessionRequest = Schema.Struct({
  /** Who the guest session is for (whylogs sends a random user id). */
  userId: Schema.String
})
/** @since 0.1.0 */
export interface CreateSessionRequest extends Schema.Schema.Type<typeof CreateSessionRequest> {}

/**
 * A segment of a dataset profile (`{key, value}`). whylabs-client refuses
 * empty keys and values, and so does this client (before sending).
 *
 * @since 0.1.0
 */
export const SegmentTag = Schema.Struct({
  key: Schema.NonEmptyString,
  value: Schema.NonEmptyString
})
/** @since 0.1.0 */
export interface SegmentTag extends Schema.Schema.Type<typeof SegmentTag> {}

/**
 * Body of `POST /v0/sessions/{session_id}/upload` (`LogAsyncRequest`).
 * `region` is a field of whylabs-client 0.6.16 (not in the reconstructed
 * spec, which allows extra fields); it is sent only when set.
 *
 * @since 0.1.0
 */
export const LogAsyncRequest = Schema.Struct({
  /** The time the profile describes (the server uses the upload time when absent). */
  datasetTimestamp: Schema.optional(EpochMillis),
  segmentTags: Schema.optional(Schema.Array(SegmentTag)),
  region: Schema.optional(Schema.NullOr(Schema.String))
})
/** @since 0.1.0 */
export interface LogAsyncRequest extends Schema.Schema.Type<typeof LogAsyncRequest> {}

/**
 * Body of `POST /v0/sessions/{session_id}/reference` (`LogReferenceRequest`);
 * both fields are nullable on the wire.
 *
 * @since 0.1.0
 */
export const LogReferenceRequest = Schema.Struct({
  /** A name for the reference profile, shown in the observatory. */
  alias: Schema.optional(Schema.NullOr(Schema.String)),
  datasetTimestamp: Schema.optional(Schema.NullOr(EpochMillis)),
  region: Schema.optional(Schema.NullOr(Schema.String))
})
/** @since 0.1.0 */
export interface LogReferenceRequest extends Schema.Schema.Type<typeof LogReferenceRequest> {}

/** Body of `POST /v0/sessions/{session_id}/references`. @since 0.1.0 */
export const BatchLogReferenceRequest = Schema.Struct({
  references: Schema.optional(Schema.Array(LogReferenceRequest))
})
/** @since 0.1.0 */
export interface BatchLogReferenceRequest extends Schema.Schema.Type<typeof BatchLogReferenceRequest> {}

/**
 * Body of `POST /v0/sessions/observatory-link/{session_id}`: the profiles to
 * show, by dataset timestamp (batch profiles) and by reference id. At most 3
 * in all (the client refuses more before sending).
 *
 * @since 0.1.0
 */
export const GetProfileObservatoryLinkRequest = Schema.Struct({
  batchProfileTimestamps: Schema.optional(Schema.Array(EpochMillis)),
  referenceProfileIds: Schema.optional(Schema.Array(Schema.String))
})
/** @since 0.1.0 */
export interface GetProfileObservatoryLinkRequest extends Schema.Schema.Type<typeof GetProfileObservatoryLinkRequest> {}

// ---------------------------------------------------------------------------
// answers

/** The answer of `POST /v0/sessions`. @since 0.1.0 */
export const CreateSessionResponse = Schema.Struct({
  /** The session token, passed to every other session operation. */
  id: Schema.String
})
/** @since 0.1.0 */
export interface CreateSessionResponse extends Schema.Schema.Type<typeof CreateSessionResponse> {}

/** What the server knows of a session (what whylogs shows). @since 0.1.0 */
export const SessionMetadata = Schema.Struct({
  sessionId: OptionalNullable(Schema.String),
  orgId: OptionalNullable(Schema.String),
  /** The session's one model (dataset) id. */
  modelId: OptionalNullable(Schema.String),
  userId: OptionalNullable(Schema.String)
})
/** @since 0.1.0 */
export interface SessionMetadata extends Schema.Schema.Type<typeof SessionMetadata> {}

/** The answer of `GET /v0/sessions/{session_id}`. @since 0.1.0 */
export const GetSessionResponse = Schema.Struct({
  session: SessionMetadata
})
/** @since 0.1.0 */
export interface GetSessionResponse extends Schema.Schema.Type<typeof GetSessionResponse> {}

/** The answer of `POST …/upload`: where to `PUT` the profile, and its link. @since 0.1.0 */
export const CreateDatasetProfileUploadResponse = Schema.Struct({
  id: OptionalNullable(Schema.String),
  observatoryUrl: OptionalNullable(Schema.String),
  uploadTimestamp: OptionalNullable(TimestampUtc),
  /** A presigned URL: `PUT` the bytes there, with no credentials. */
  uploadUrl: OptionalNullable(Schema.String),
  datasetId: OptionalNullable(Schema.String)
})
/** @since 0.1.0 */
export interface CreateDatasetProfileUploadResponse
  extends Schema.Schema.Type<typeof CreateDatasetProfileUploadResponse>
{}

/** The answer of `POST …/reference` (`LogSessionReferenceResponse`). @since 0.1.0 */
export const LogSessionReferenceResponse = Schema.Struct({
  /** The reference profile id (for the observatory link's `referenceProfileIds`). */
  id: OptionalNullable(Schema.String),
  modelId: OptionalNullable(Schema.String),
  alias: OptionalNullable(Schema.String),
  observatoryUrl: OptionalNullable(Schema.String),
  uploadTimestamp: OptionalNullable(TimestampUtc),
  /** A presigned URL: `PUT` the bytes there, with no credentials. */
  uploadUrl: OptionalNullable(Schema.String)
})
/** @since 0.1.0 */
export interface LogSessionReferenceResponse extends Schema.Schema.Type<typeof LogSessionReferenceResponse> {}

/** The answer of `POST …/references`. @since 0.1.0 */
export const BatchLogSessionReferenceResponse = Schema.Struct({
  references: OptionalNullable(Schema.Array(LogSessionReferenceResponse)),
  observatoryUrl: OptionalNullable(Schema.String)
})
/** @since 0.1.0 */
export interface BatchLogSessionReferenceResponse
  extends Schema.Schema.Type<typeof BatchLogSessionReferenceResponse>
{}

/** The answer of `POST /v0/sessions/observatory-link/{session_id}`. @since 0.1.0 */
export const GetProfileObservatoryLinkResponse = Schema.Struct({
  /** One link showing every profile asked for. */
  observatoryUrl: OptionalNullable(Schema.String),
  /** One link per profile, in the order asked for. */
  individualObservatoryUrls: OptionalNullable(Schema.Array(Schema.String))
})
/** @since 0.1.0 */
export interface GetProfileObservatoryLinkResponse
  extends Schema.Schema.Type<typeof GetProfileObservatoryLinkResponse>
{}

/**
 * The error body of the WhyLabs API: `type` is the exception's short name
 * (`IllegalArgument`, `ResourceNotFound`, …); `parameter` names the argument
 * of an `ArgumentValue` error.
 *
 * @since 0.1.0
 */
export const ErrorBody = Schema.Struct({
  message: Schema.String,
  requestId: Schema.String,
  type: Schema.String,
  parameter: Schema.optional(Schema.String)
})
/** @since 0.1.0 */
export interface ErrorBody extends Schema.Schema.Type<typeof ErrorBody> {}
