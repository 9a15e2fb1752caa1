/**
 * A file to upload to deepset Cloud: a name, a content source (its size and
 * a stream of its bytes, opened anew for each attempt), the part's content
 * type, and optional meta that goes as deepset's `<name>.meta.json`
 * companion, as the official SDK sends it.
 *
 * ```ts
 * const files = Stream.make(
 *   UploadFile.text("notes.txt", "Hello").withMeta({ source: "demo" }),
 *   UploadFile.bytes("report.pdf", pdfBytes)
 * )
 * ```
 *
 * Files on disk (Node) come from `UploadFiles.fromPath` in `effect-sessions/node`,
 * streamed from disk and never read whole.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"

/** A file could not be read, or its name is unusable. @since 0.1.0 */
export class UploadFileError extends Schema.TaggedError<UploadFileError>("effect-sessions/UploadFileError")(
  "UploadFileError",
  {
    /** The file's name as given. */
    name: Schema.String,
    /** Where it was read from, when it is a file on disk. */
    path: Schema.optional(Schema.String),
    reason: Schema.String,
    cause: Schema.optional(Schema.Defect)
  }
) {
  /** @since 0.1.0 */
  override get message(): string {
    return `Cannot upload ${JSON.stringify(this.name)}${this.path === undefined ? "" : ` (${this.path})`}: ${this.reason}`
  }
}

/** deepset's meta for a file, a JSON object. @since 0.1.0 */
export type Meta = Readonly<Record<string, unknown>>

/** The meta companion's suffix: `<name>.meta.json`. @since 0.1.0 */
export const metaSuffix = ".meta.json"

/** The part content type the official SDK sends for every file. @since 0.1.0 */
export const defaultContentType = "text/plain"

/** A file's content: its size in bytes, and its bytes as a stream (opened for each attempt). @since 0.1.0 */
export interface Content {
  readonly size: number
  readonly open: () => Stream.Stream<Uint8Array, UploadFileError>
  /** The whole content in one read, where the source has a cheaper way than the stream (a small file on disk). */
  readonly readAll?: (() => Effect.Effect<Uint8Array, UploadFileError>) | undefined
  /**
   * The whole content read at once into `buffer` from `offset` (at most
   * `room` bytes), synchronously, returning the count read; where the source
   * can (a small file on disk), so that the body is built without a copy.
   * It may throw an `UploadFileError`.
   */
  readonly readInto?: ((buffer: Uint8Array, offset: number, room: number) => number) | undefined
  /**
   * The same bytes as a plain `AsyncIterable`, opened anew for each attempt,
   * where the source has one (a file on disk: its `fs.ReadStream`); it throws
   * an `UploadFileError`. A transport that takes an async iterable body
   * (undici's fast path) sends it as it is, without pulling each chunk
   * through the `Stream`; every other transport reads `open`.
   */
  readonly native?: (() => AsyncIterable<Uint8Array>) | undefined
}

/** Marks an {@link UploadFile}. @since 0.1.0 */
export const TypeId: unique symbol = Symbol.for("effect-sessions/Deepset/UploadFile")

/** One file to upload. @since 0.1.0 */
export interface UploadFile {
  readonly [TypeId]: typeof TypeId
  /** The file name deepset shows (made S3-safe when sent, as the SDK does). */
  readonly name: string
  /** The content type of the `file` part (default "text/plain", as the SDK sends). */
  readonly contentType: string
  /** Finds the content (its size); run once per file, its `open` for each attempt. */
  readonly source: Effect.Effect<Content, UploadFileError>
  /** The meta sent as `<name>.meta.json`, if any. */
  readonly meta: Meta | undefined
  /** The same file with this meta (deepset's `<name>.meta.json` companion). */
  readonly withMeta: (meta: Meta) => UploadFile
  /** The same file with another part content type. */
  readonly withContentType: (contentType: string) => UploadFile
}

class UploadFileImpl implements UploadFile {
  readonly [TypeId]: typeof TypeId = TypeId
  constructor(
    readonly name: string,
    readonly contentType: string,
    readonly source: Effect.Effect<Content, UploadFileError>,
    readonly meta: Meta | undefined
  ) {}
  withMeta(meta: Meta): UploadFile {
    return new UploadFileImpl(this.name, this.contentType, this.source, meta)
  }
  withContentType(contentType: string): UploadFile {
    return new UploadFileImpl(this.name, contentType, this.source, this.meta)
  }
}

/** Whether a value is an {@link UploadFile}. @since 0.1.0 */
export const isUploadFile = (u: unknown): u is UploadFile => typeof u === "object" && u !== null && TypeId in u

/**
 * A file from any content source (the building block of `text`, `bytes`,
 * `blob` and Node's `UploadFiles.fromPath`).
 *
 * @since 0.1.0
 */
export const make = (options: {
  readonly name: string
  readonly source: Effect.Effect<Content, UploadFileError>
  readonly contentType?: string | undefined
  readonly meta?: Meta | undefined
}): UploadFile => new UploadFileImpl(options.name, options.contentType ?? defaultContentType, options.source, options.meta)

/** Content held in memory. @since 0.1.0 */
export const inMemory = (bytes: Uint8Array): Content => ({
  size: bytes.length,
  open: () => Stream.succeed(bytes),
  readAll: () => Effect.succeed(bytes)
})

/** A text file (UTF-8). @since 0.1.0 */
export const text = (name: string, text: string): UploadFile =>
  make({ name, source: Effect.sync(() => inMemory(new TextEncoder().encode(text))) })

/** A file of bytes held in memory (not copied). @since 0.1.0 */
export const bytes = (name: string, bytes: Uint8Array): UploadFile => make({ name, source: Effect.succeed(inMemory(bytes)) })

/** A `Blob` (or a browser `File`), streamed when sent. @since 0.1.0 */
export const blob = (name: string, blob: Blob): UploadFile =>
  make({
    name,
    source: Effect.succeed({
      size: blob.size,
      open: () =>
        Stream.fromReadableStream({
          evaluate: () => blob.stream(),
          onError: (cause) => new UploadFileError({ name, reason: "the Blob could not be read", cause })
        })
    })
  })

/** `file` with `meta` (data-last form of `file.withMeta(meta)`). @since 0.1.0 */
export const withMeta = (meta: Meta) => (file: UploadFile): UploadFile => file.withMeta(meta)

// ---------------------------------------------------------------------------
// what the official SDK sends

/**
 * The name S3 gets, as the official SDK makes it (`make_safe_file_name`):
 * `\ # % " ' | < > { } ` ^ [ ] ~` and control characters become `_`.
 *
 * @since 0.1.0
 */
export const safeName = (name: string): string =>
  // eslint-disable-next-line no-control-regex
  name.replace(/[\\#%"'|<>{}`^[\]~\x00-\x1F]/g, "_")

const escapeNonAscii = (json: string): string =>
  json.replace(/[\u007f-\uffff]/g, (c) => (c === "\u007f" ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`))

/**
 * JSON as Python's `json.dumps` writes it (the SDK's `meta_as_string`):
 * `", "` and `": "` separators, non-ASCII escaped as `\uXXXX`, keys in
 * insertion order. `undefined` members are left out, as `JSON.stringify` does.
 *
 * @since 0.1.0
 */
export const pythonJson = (value: unknown): string => {
  if (value === null || value === undefined) return "null"
  if (typeof value === "string") return escapeNonAscii(JSON.stringify(value))
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : value > 0 ? "Infinity" : value < 0 ? "-Infinity" : "NaN"
  if (typeof value === "boolean") return value ? "true" : "false"
  if (typeof value === "bigint") return value.toString()
  if (Array.isArray(value)) return `[${value.map((v) => pythonJson(v === undefined ? null : v)).join(", ")}]`
  if (typeof value === "object") {
    const withJson = value as { toJSON?: () => unknown }
    if (typeof withJson.toJSON === "function") return pythonJson(withJson.toJSON())
    const parts: Array<string> = []
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined || typeof v === "function") continue
      parts.push(`${escapeNonAscii(JSON.stringify(k))}: ${pythonJson(v)}`)
    }
    return `{${parts.join(", ")}}`
  }
  return "null"
}

/** The body of `<name>.meta.json`, exactly as the SDK sends it. @since 0.1.0 */
export const metaJson = (meta: Meta): string => pythonJson(meta)
