/**
 * Wire models of deepset Cloud's upload-sessions API, both directions.
 * Field names are the wire names (snake_case); date-times decode to
 * `DateTime.Utc`; enums the server may extend are open.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { OpenEnum } from "../core/Tolerant.js"

/** What happens when an uploaded file name already exists. @since 0.1.0 */
export const WriteMode = Schema.Literal("KEEP", "OVERWRITE", "FAIL")
/** @since 0.1.0 */
export type WriteMode = typeof WriteMode.Type

/** A session's status as the server reports it (open: new values are kept as strings). @since 0.1.0 */
export const SessionStatus = OpenEnum("OPEN", "CLOSED", "EXPIRED")
/** @since 0.1.0 */
export type SessionStatus = typeof SessionStatus.Type

/** Ingestion state of one file (the filter a caller sends is strict). @since 0.1.0 */
export const FileIngestionStatus = Schema.Literal("PENDING", "FAILED", "FINISHED")
/** @since 0.1.0 */
export type FileIngestionStatus = typeof FileIngestionStatus.Type

/** Why a file failed to ingest. @since 0.1.0 */
export const FileIngestionStatusReason = OpenEnum(
  "EMPTY_FILE",
  "FILE_NOT_FOUND",
  "FAILED_TO_PARSE_META",
  "FILE_ALREADY_EXISTS",
  "UNKNOWN_ERROR"
)
/** @since 0.1.0 */
export type FileIngestionStatusReason = typeof FileIngestionStatusReason.Type

/** Body of `POST …/upload_sessions`. @since 0.1.0 */
export const CreateSession = Schema.Struct({
  write_mode: Schema.optionalWith(WriteMode, { exact: true })
})
/** @since 0.1.0 */
export interface CreateSession extends Schema.Schema.Type<typeof CreateSession> {}

/** Body of `PUT …/upload_sessions/{id}`: the official client sends "CLOSED". @since 0.1.0 */
export const CloseSession = Schema.Struct({ status: Schema.Literal("CLOSED") })

/** Where and how to upload files: a multipart POST with every field, then `file`. @since 0.1.0 */
export const AwsPrefixedRequestConfig = Schema.Struct({
  url: Schema.String,
  fields: Schema.Record({ key: Schema.String, value: Schema.String })
})
/** @since 0.1.0 */
export interface AwsPrefixedRequestConfig extends Schema.Schema.Type<typeof AwsPrefixedRequestConfig> {}

/** A new upload session (201 from create). @since 0.1.0 */
export const UploadSession = Schema.Struct({
  session_id: Schema.UUID,
  documentation_url: Schema.optionalWith(Schema.String, { exact: true }),
  expires_at: Schema.DateTimeUtc,
  aws_prefixed_request_config: AwsPrefixedRequestConfig
})
/** @since 0.1.0 */
export interface UploadSession extends Schema.Schema.Type<typeof UploadSession> {}

/** Files that finished or failed ingestion. @since 0.1.0 */
export const IngestionStatusCounts = Schema.Struct({
  failed_files: Schema.optionalWith(Schema.Int, { default: () => 0 }),
  finished_files: Schema.optionalWith(Schema.Int, { default: () => 0 })
})
/** @since 0.1.0 */
export interface IngestionStatusCounts extends Schema.Schema.Type<typeof IngestionStatusCounts> {}

/** One session's status (`GET …/{session_id}`). @since 0.1.0 */
export const SessionDetail = Schema.Struct({
  session_id: Schema.UUID,
  documentation_url: Schema.optionalWith(Schema.String, { exact: true }),
  expires_at: Schema.DateTimeUtc,
  ingestion_status: IngestionStatusCounts
})
/** @since 0.1.0 */
export interface SessionDetail extends Schema.Schema.Type<typeof SessionDetail> {}

/** Who created a session. @since 0.1.0 */
export const SessionCreatedByUser = Schema.Struct({
  user_id: Schema.String,
  given_name: Schema.String,
  family_name: Schema.String
})
/** @since 0.1.0 */
export interface SessionCreatedByUser extends Schema.Schema.Type<typeof SessionCreatedByUser> {}

/** One entry of the session listing. @since 0.1.0 */
export const Session = Schema.Struct({
  session_id: Schema.UUID,
  created_by: SessionCreatedByUser,
  created_at: Schema.DateTimeUtc,
  expires_at: Schema.optionalWith(Schema.DateTimeUtc, { exact: true }),
  write_mode: Schema.optionalWith(OpenEnum("KEEP", "OVERWRITE", "FAIL"), { exact: true }),
  status: Schema.optionalWith(SessionStatus, { exact: true })
})
/** @since 0.1.0 */
export interface Session extends Schema.Schema.Type<typeof Session> {}

/** One file registered to a session. @since 0.1.0 */
export const SessionFile = Schema.Struct({
  file_ingestion_id: Schema.optionalWith(Schema.String, { exact: true }),
  name: Schema.String,
  ingestion_status: OpenEnum("PENDING", "FAILED", "FINISHED"),
  ingestion_status_reason: Schema.optionalWith(FileIngestionStatusReason, { exact: true })
})
/** @since 0.1.0 */
export interface SessionFile extends Schema.Schema.Type<typeof SessionFile> {}

/** A page of a page-numbered listing: `data`, `has_more`, `total`. @since 0.1.0 */
export const Paginated = <A, I>(item: Schema.Schema<A, I>) =>
  Schema.Struct({
    data: Schema.Array(item),
    has_more: Schema.Boolean,
    total: Schema.Int
  })

/** A page of sessions. @since 0.1.0 */
export const PaginatedSession = Paginated(Session)
/** @since 0.1.0 */
export interface PaginatedSession extends Schema.Schema.Type<typeof PaginatedSession> {}

/** A page of session files. @since 0.1.0 */
export const PaginatedSessionFile = Paginated(SessionFile)
/** @since 0.1.0 */
export interface PaginatedSessionFile extends Schema.Schema.Type<typeof PaginatedSessionFile> {}

/** One FastAPI validation problem. @since 0.1.0 */
export const ValidationProblem = Schema.Struct({
  loc: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  msg: Schema.String,
  type: Schema.String
})
/** @since 0.1.0 */
export interface ValidationProblem extends Schema.Schema.Type<typeof ValidationProblem> {}

/** deepset's error bodies: FastAPI's `{detail: [...]}` (422) or `{detail: "..."}`. @since 0.1.0 */
export const ErrorBody = Schema.Struct({
  detail: Schema.optional(Schema.Union(Schema.String, Schema.Array(ValidationProblem)))
})
