/**
 * The declarative description of one operation: what an API client hands
 * the core (operation, method, path, query, body, idempotency, response
 * decoder, and per-request options), and the body constructors.
 *
 * @since 0.1.0
 */
import type * as HttpMethod from "@effect/platform/HttpMethod"
import type * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as AST from "effect/SchemaAST"
import type * as Stream from "effect/Stream"
import * as FastDecode from "./FastDecode.js"
import type * as Path from "./Path.js"
import type * as Policy from "./Policy.js"

/**
 * A request body. `Json` and `Form` are encoded before sending; `Bytes` and
 * `Stream` go as they are (a `Stream` is made anew by `open` for each
 * attempt, so a retry re-reads its source). A multipart body is a `Stream`
 * with its `multipart/form-data` content type and exact length (S3's
 * presigned POST refuses chunked bodies).
 *
 * @since 0.1.0
 */
export type Body =
  | { readonly _tag: "Json"; readonly encode: () => Either.Either<unknown, ParseResult.ParseError> }
  | { readonly _tag: "Form"; readonly fields: Readonly<Record<string, string | Redacted.Redacted<string>>> }
  | { readonly _tag: "Bytes"; readonly contentType: string; readonly bytes: Uint8Array }
  | {
    readonly _tag: "Stream"
    readonly contentType: string
    readonly contentLength?: number | undefined
    readonly open: () => Stream.Stream<Uint8Array, unknown>
  }

/** Whether an AST has no transformation or declaration anywhere: then encoding a value is checking it against that one shape. */
const plain = (ast: AST.AST): boolean => {
  switch (ast._tag) {
    case "Transformation":
    case "Declaration":
    case "Suspend":
      return false
    case "Refinement":
      return plain(ast.from)
    case "TypeLiteral":
      return ast.propertySignatures.every((ps) => plain(ps.type)) &&
        ast.indexSignatures.every((is) => plain(is.parameter) && plain(is.type))
    case "Union":
      return ast.types.every(plain)
    case "TupleType":
      return ast.elements.every((e) => plain(e.type)) && ast.rest.every((r) => plain(r.type))
    default:
      return true
  }
}

type Encoder = (value: unknown) => Either.Either<unknown, ParseResult.ParseError>

/** Each schema's encoder, made once. */
const encoders = new WeakMap<object, Encoder>()

/**
 * The encoder of a schema: `Schema.encodeEither`, or for a schema without
 * transformations (whose encoding only checks the value and keeps its known
 * keys) the compiled checks of {@link FastDecode}, which give the same
 * result and the same error.
 */
const encoderOf = <A, I>(schema: Schema.Schema<A, I>): Encoder => {
  let encoder = encoders.get(schema)
  if (encoder === undefined) {
    encoder = plain(schema.ast)
      ? (FastDecode.decoder(schema as Schema.Schema<unknown, unknown>) as Encoder)
      : (Schema.encodeEither(schema) as Encoder)
    encoders.set(schema, encoder)
  }
  return encoder
}

/** A JSON body encoded with its schema (callers pass the `Type`). @since 0.1.0 */
export const jsonBody = <A, I>(schema: Schema.Schema<A, I>, value: A): Body => {
  const encoder = encoderOf(schema)
  return { _tag: "Json", encode: () => encoder(value) }
}

/** An `application/x-www-form-urlencoded` body; `Redacted` values are unwrapped only when sent. @since 0.1.0 */
export const formBody = (fields: Readonly<Record<string, string | Redacted.Redacted<string>>>): Body => ({
  _tag: "Form",
  fields
})

/** A body of bytes held in memory. @since 0.1.0 */
export const bytesBody = (contentType: string, bytes: Uint8Array): Body => ({ _tag: "Bytes", contentType, bytes })

/**
 * A streamed body: `open` is called for each attempt (a retry needs the bytes
 * again), and `contentLength`, when known, is sent as `content-length`.
 *
 * @since 0.1.0
 */
export const streamBody = (
  contentType: string,
  open: () => Stream.Stream<Uint8Array, unknown>,
  contentLength?: number
): Body => ({ _tag: "Stream", contentType, open, contentLength })

/** A query value; `undefined` is not sent. @since 0.1.0 */
export type QueryValue = string | number | boolean | undefined

/** One operation to run. @since 0.1.0 */
export interface Request<A> {
  /** The operation's name in errors ("getStatus"). */
  readonly operation: string
  readonly method: HttpMethod.HttpMethod
  /** The encoded path (from a {@link Path.template}), or the parameter that could not be encoded. */
  readonly path: Either.Either<string, Path.BadSegment>
  readonly query?: Readonly<Record<string, QueryValue>> | undefined
  readonly body?: Body | undefined
  /** Whether replaying it after it may have reached the server is safe (GET, PUT, DELETE, PATCH to a state). */
  readonly idempotent: boolean
  /** Decodes a 2xx body; `undefined` ignores the body (204). */
  readonly response: Decoder<A> | undefined
  /**
   * An absolute URL (a presigned upload target) instead of the base URL and
   * `path`. Such a request never carries the client's credentials or extra
   * headers, and no redirect is followed.
   */
  readonly url?: string | undefined
  /** Whether the client's credentials go with the request (default true). */
  readonly authenticated?: boolean | undefined
  /** Headers of this request only (not secrets). */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Laid over the client's policy for this request; a caller's `Policy.withPolicy` around the call still wins. */
  readonly policy?: Policy.PolicyInput | undefined
}

/** Decodes a parsed JSON body. @since 0.1.0 */
export type Decoder<A> = (json: unknown) => Either.Either<A, ParseResult.ParseError>

