/**
 * Wire models of Jupyter Server's sessions API (`/api/sessions`), both
 * directions. Field names are the wire names; `last_activity` decodes to
 * `DateTime.Utc`.
 *
 * Decoding is tolerant of what real servers send beyond the spec: `kernel:
 * null`, `name: null` (also inside the deprecated `notebook` field), extra
 * fields, and execution states or session types this client does not know.
 * It is strict about `id`, `path` and `type`, which every Jupyter Server sends
 * and without which a session cannot be addressed.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { OpenEnum, OptionalNullable } from "../core/Tolerant.js"

/** A kernel's execution state (open: a server may report others). @since 0.1.0 */
export const ExecutionState = OpenEnum(
  "starting",
  "idle",
  "busy",
  "restarting",
  "autorestarting",
  "terminating",
  "dead",
  "unknown"
)
/** @since 0.1.0 */
export type ExecutionState = typeof ExecutionState.Type

/** What a session is attached to (open: frontends invent their own types). @since 0.1.0 */
export const SessionType = OpenEnum("notebook", "console", "file")
/** @since 0.1.0 */
export type SessionType = typeof SessionType.Type

/**
 * A running kernel as a session reports it. A kernel stays `"starting"` until
 * a websocket client connects; REST calls alone never see it go idle.
 *
 * @since 0.1.0
 */
export const Kernel = Schema.Struct({
  id: Schema.String,
  /** The kernelspec name, e.g. "python3". */
  name: Schema.String,
  last_activity: OptionalNullable(Schema.DateTimeUtc),
  execution_state: OptionalNullable(ExecutionState),
  connections: OptionalNullable(Schema.JsonNumber)
})
/** @since 0.1.0 */
export interface Kernel extends Schema.Schema.Type<typeof Kernel> {}

/** The deprecated `notebook` field of `type: "notebook"` sessions. @since 0.1.0 */
export const Notebook = Schema.Struct({
  path: OptionalNullable(Schema.String),
  name: OptionalNullable(Schema.String)
})
/** @since 0.1.0 */
export interface Notebook extends Schema.Schema.Type<typeof Notebook> {}

/**
 * A session: a path (a notebook, console or file) bound to a kernel.
 * `name` is absent when the session was created without one (the server sends
 * `null`); `kernel` is absent when the server reports none (`null`).
 *
 * @since 0.1.0
 */
export const Session = Schema.Struct({
  id: Schema.String,
  path: Schema.String,
  name: OptionalNullable(Schema.String),
  type: SessionType,
  kernel: OptionalNullable(Kernel),
  /** Deprecated by the server; kept for old consumers. Prefer `path` and `name`. */
  notebook: OptionalNullable(Notebook)
})
/** @since 0.1.0 */
export interface Session extends Schema.Schema.Type<typeof Session> {}

/** The answer of `GET /api/sessions`. @since 0.1.0 */
export const SessionList = Schema.Array(Session)

/**
 * Which kernel a session gets: a kernelspec `name` starts a new kernel, an
 * `id` binds a running one. When both are given the server prefers `id`.
 * In every request body an `undefined` field is not sent.
 *
 * @since 0.1.0
 */
export const KernelRequest = Schema.Struct({
  name: Schema.optional(Schema.String),
  id: Schema.optional(Schema.String)
})
/** @since 0.1.0 */
export interface KernelRequest extends Schema.Schema.Type<typeof KernelRequest> {}

/**
 * Body of `POST /api/sessions`. `path` and `type` are required by the server
 * (the spec marks them optional; it answers 400 without them). Without
 * `kernel` the server starts its default kernel.
 *
 * @since 0.1.0
 */
export const CreateSession = Schema.Struct({
  path: Schema.String,
  type: SessionType,
  name: Schema.optional(Schema.String),
  kernel: Schema.optional(KernelRequest)
})
/** @since 0.1.0 */
export interface CreateSession extends Schema.Schema.Type<typeof CreateSession> {}

/**
 * Body of `PATCH /api/sessions/{id}`: a subset of the fields. `path` moves, `name`
 * renames, `kernel.name` starts a new kernel (the old one is shut down),
 * `kernel.id` binds a running kernel.
 *
 * @since 0.1.0
 */
export const UpdateSession = Schema.Struct({
  path: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  type: Schema.optional(SessionType),
  kernel: Schema.optional(KernelRequest)
})
/** @since 0.1.0 */
export interface UpdateSession extends Schema.Schema.Type<typeof UpdateSession> {}

/**
 * Jupyter's error bodies: `{message, reason}`; 501 on create sends
 * `{message, short_message}`; unhandled errors add a `traceback`.
 *
 * @since 0.1.0
 */
export const ErrorBody = Schema.Struct({
  message: Schema.String,
  reason: Schema.optional(Schema.NullOr(Schema.String)),
  short_message: Schema.optional(Schema.String),
  traceback: Schema.optional(Schema.String)
})
/** @since 0.1.0 */
export interface ErrorBody extends Schema.Schema.Type<typeof ErrorBody> {}

/** The answer of `GET /api` (no auth needed): the server's version. @since 0.1.0 */
export const ServerInfo = Schema.Struct({ version: Schema.String })
/** @since 0.1.0 */
export interface ServerInfo extends Schema.Schema.Type<typeof ServerInfo> {}
