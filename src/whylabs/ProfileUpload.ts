/**
 * The guest upload of a profile, as whylogs does it: the create call's
 * answer names a presigned URL, the profile's bytes go there in a `PUT`
 * (no credentials, its own policy, retried since a presigned `PUT` is
 * idempotent), and the link to the profile comes back.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as ApiClient from "../core/ApiClient.js"
import * as ApiError from "../core/ApiError.js"
import type * as Path from "../core/Path.js"
import type * as Policy from "../core/Policy.js"

/** The content type of the profile bytes (as whylogs sends them). @since 0.1.0 */
export const profileContentType = "application/octet-stream"

/**
 * The policy of the upload `PUT` (laid over the layer's policy): an attempt
 * may take 15 minutes (a 200 MB profile on a slow uplink), the whole upload
 * an hour; retries as the layer's (503 `SlowDown` among them).
 *
 * @since 0.1.0
 */
export const defaultUploadPolicy: Policy.PolicyInput = { attemptTimeout: "15 minutes", deadline: "1 hour" }

/**
 * Profile bytes to upload: bytes, a `Stream` (re-run for each attempt), or a
 * function that opens a fresh stream for each attempt (for sources that can
 * be read once only).
 *
 * @since 0.1.0
 */
export type UploadBody =
  | Uint8Array
  | Stream.Stream<Uint8Array, unknown>
  | (() => Stream.Stream<Uint8Array, unknown>)

/** How the bytes go up. @since 0.1.0 */
export interface BodyOptions {
  /** The byte count of a stream body, sent as `Content-Length` (ignored for bytes, whose length is known). */
  readonly size?: number | undefined
}

/** What an upload made: the profile's id and where to see it. @since 0.1.0 */
export interface Uploaded {
  readonly id: string
  readonly observatoryUrl: string
}

const isStream = (u: unknown): u is Stream.Stream<Uint8Array, unknown> => Stream.StreamTypeId in Object(u)


/** What the upload flow needs of the client. @internal */
export interface Dependencies {
  readonly client: ApiClient.ApiClient
  readonly uploadPolicy: Policy.PolicyInput
  /** The redacted URL of a path, for errors. */
  readonly urlOf: (path: Either.Either<string, Path.BadSegment>) => string
  /** A request refused locally. */
  readonly refuse: (
    operation: string,
    method: string,
    path: Either.Either<string, Path.BadSegment>,
    problems: ReadonlyArray<ApiError.FieldProblem>
  ) => ApiError.InvalidRequest
}

/**
 * `upload(operation, path, created, body, size)`: runs `created` (the create
 * call), then `PUT`s the body to the URL it names.
 *
 * @internal
 */
export const make = ({ client, refuse, uploadPolicy, urlOf }: Dependencies) => {
  /** The `PUT` of the bytes to a presigned URL: no credentials, its own policy, retried (idempotent). */
  const put = (operation: string, uploadUrl: string, body: UploadBody, size: number | undefined) =>
    client.run({
      operation,
      method: "PUT",
      path: Either.right(""),
      url: uploadUrl,
      body: body instanceof Uint8Array
        ? ApiClient.bytesBody(profileContentType, body)
        : ApiClient.streamBody(profileContentType, isStream(body) ? () => body : body, size),
      idempotent: true,
      policy: uploadPolicy,
      response: undefined
    })

  /** The fields an upload needs from a create answer, or the `DecodeError` naming the one missing (nothing sent). */
  const target = (
    operation: string,
    created: {
      readonly id?: string | undefined
      readonly observatoryUrl?: string | undefined
      readonly uploadUrl?: string | undefined
    },
    path: Either.Either<string, Path.BadSegment>
  ): Either.Either<{ readonly uploaded: Uploaded; readonly uploadUrl: string }, ApiError.DecodeError> => {
    const { id, observatoryUrl, uploadUrl } = created
    const missing = uploadUrl === undefined ? "uploadUrl" : id === undefined ? "id" : observatoryUrl === undefined
      ? "observatoryUrl"
      : undefined
    if (missing !== undefined || id === undefined || observatoryUrl === undefined || uploadUrl === undefined) {
      return Either.left(
        new ApiError.DecodeError({
          api: "whylabs",
          operation,
          method: "POST",
          url: urlOf(path),
          path: missing ?? "(root)",
          issue: "is missing",
          message:
            `whylabs ${operation}: the server's answer has no ${missing}, which the upload needs; no bytes were sent`
        })
      )
    }
    return Either.right({ uploaded: { id, observatoryUrl }, uploadUrl })
  }

  const upload = (
    operation: string,
    path: Either.Either<string, Path.BadSegment>,
    created: Effect.Effect<
      {
        readonly id?: string | undefined
        readonly observatoryUrl?: string | undefined
        readonly uploadUrl?: string | undefined
      },
      ApiError.ApiError
    >,
    body: UploadBody,
    size: number | undefined
  ): Effect.Effect<Uploaded, ApiError.ApiError> => {
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
      return refuse(operation, "PUT", path, [{ field: "size", message: "must be a whole number of bytes ≥ 0" }])
    }
    return Effect.flatMap(created, (answer) =>
      Either.match(target(operation, answer, path), {
        onLeft: Effect.fail,
        onRight: ({ uploadUrl, uploaded }) => Effect.as(put(operation, uploadUrl, body, size), uploaded)
      }))
  }

  return upload
}
