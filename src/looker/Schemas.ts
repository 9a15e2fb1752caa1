/**
 * Looker API wire models (`/login`, `/session`), as the 4.0 and 3.1 specs
 * spell them, tolerant where servers drift.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as Tolerant from "../core/Tolerant.js"

/** A session workspace: "production" or "dev" (a value Looker adds later decodes as a string). @since 0.1.0 */
export const Workspace = Tolerant.OpenEnum("production", "dev")
/** @since 0.1.0 */
export type Workspace = typeof Workspace.Type

/**
 * A user id that 4.0 sends as a string and 3.x as an integer: decoded to a
 * string either way (`42` → `"42"`), encoded as a string.
 *
 * @since 0.1.0
 */
export const UserId: Schema.Schema<string, string | number> = Schema.Union(
  Schema.String,
  Schema.transform(Schema.Number, Schema.String, {
    strict: true,
    decode: (n) => String(n),
    encode: (s) => Number(s)
  })
)

/**
 * `POST /login` → AccessToken. `expires_in` is kept as sent (any JSON
 * value): the token source decides what a lifetime it cannot trust means.
 *
 * @since 0.1.0
 */
export const AccessToken = Schema.Struct({
  access_token: Schema.String.pipe(Schema.minLength(1)),
  token_type: Schema.optional(Schema.NullOr(Schema.String)),
  expires_in: Schema.optional(Schema.Unknown),
  refresh_token: Schema.optional(Schema.NullOr(Schema.String))
})
/** @since 0.1.0 */
export interface AccessToken extends Schema.Schema.Type<typeof AccessToken> {}

/**
 * `GET`/`PATCH /session` → ApiSession. `can` is `{}` when the server sends
 * none or `null`; `workspace_id` and `sudo_user_id` are `null` when absent.
 *
 * @since 0.1.0
 */
export const ApiSession = Schema.Struct({
  can: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Boolean }), {
    nullable: true,
    default: () => ({})
  }),
  workspace_id: Schema.optionalWith(Schema.NullOr(Workspace), { default: () => null }),
  sudo_user_id: Schema.optionalWith(Schema.NullOr(UserId), { default: () => null })
})
/** @since 0.1.0 */
export interface ApiSession extends Schema.Schema.Type<typeof ApiSession> {}

/** `PATCH /session` body: the workspace to switch to. @since 0.1.0 */
export const WriteApiSession = Schema.Struct({
  workspace_id: Workspace
})
/** @since 0.1.0 */
export interface WriteApiSession extends Schema.Schema.Type<typeof WriteApiSession> {}

/** Looker's error body (400, 404, 429, …). @since 0.1.0 */
export const ErrorBody = Schema.Struct({
  message: Schema.optional(Schema.NullOr(Schema.String)),
  documentation_url: Schema.optional(Schema.NullOr(Schema.String))
})

/** One field problem of a 422. @since 0.1.0 */
export const ValidationErrorDetail = Schema.Struct({
  field: Schema.optional(Schema.NullOr(Schema.String)),
  code: Schema.optional(Schema.NullOr(Schema.String)),
  message: Schema.optional(Schema.NullOr(Schema.String)),
  documentation_url: Schema.optional(Schema.NullOr(Schema.String))
})

/** Looker's 422 body. @since 0.1.0 */
export const ValidationError = Schema.Struct({
  message: Schema.optional(Schema.NullOr(Schema.String)),
  errors: Schema.optional(Schema.NullOr(Schema.Array(ValidationErrorDetail))),
  documentation_url: Schema.optional(Schema.NullOr(Schema.String))
})
