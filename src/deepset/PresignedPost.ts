/**
 * The body of an S3 presigned POST: every policy field, then the `file` part,
 * as `multipart/form-data` with an exact `content-length` (S3 refuses chunked
 * POSTs). The framing is `form-data-encoder`'s (the web platform's rules:
 * names escaped, UTF-8, the length computed); the file's bytes stream between
 * its head and tail from any source. A real
 * `FormData` takes only `Blob`s, and Node 20 reads a disk-backed `Blob`
 * (`fs.openAsBlob`) whole into memory when it is sent (measured: 571 MB of
 * RSS for a 500 MB file), which is what streaming the file avoids.
 *
 * @since 0.1.0
 */
import * as Stream from "effect/Stream"
import { FormDataEncoder, type FormDataLike } from "form-data-encoder"
import * as Bytes from "../core/Bytes.js"

/** A body: its content type (with the boundary), length, and bytes. @since 0.1.0 */
export interface Body<E> {
  readonly contentType: string
  readonly contentLength: number
  readonly open: () => Stream.Stream<Uint8Array, E>
  /** The whole body in one buffer, given the file's bytes (for small files: one write, no stream). */
  readonly whole: (file: Uint8Array) => Uint8Array
}

/**
 * The file part as `form-data-encoder` reads a `File`: name, type and size.
 * Its bytes are never read through it (the encoder is used for the framing).
 */
class FilePart {
  readonly [Symbol.toStringTag] = "File"
  readonly lastModified = 0
  constructor(readonly name: string, readonly type: string, readonly size: number) {}
  stream(): AsyncIterable<Uint8Array> {
    throw new TypeError("PresignedPost streams the file itself")
  }
}

type Entry = readonly [string, string | FilePart]

/** The parts in order, as the `FormData` interface `form-data-encoder` reads (it only iterates them). */
class Parts {
  readonly [Symbol.toStringTag] = "FormData"
  constructor(readonly list: ReadonlyArray<Entry>) {}
  append(): void {
    throw new TypeError("PresignedPost parts are fixed")
  }
  getAll(name: string): Array<string | FilePart> {
    return this.list.filter(([n]) => n === name).map(([, v]) => v)
  }
  entries(): IterableIterator<Entry> {
    return this.list[Symbol.iterator]()
  }
  [Symbol.iterator](): IterableIterator<Entry> {
    return this.entries()
  }
}

/**
 * `fields` in order, then `file` (named `fileName`, of `contentType`, `size`
 * bytes long) under `boundary` (a token of letters, digits and `-`).
 *
 * @since 0.1.0
 */
export const encode = <E>(options: {
  readonly boundary: string
  readonly fields: Readonly<Record<string, string>>
  readonly fileName: string
  readonly contentType: string
  readonly size: number
  readonly open: () => Stream.Stream<Uint8Array, E>
  /** The file's bytes as a plain async iterable too, when its source has one (see `UploadFile.Content.native`). */
  readonly native?: (() => AsyncIterable<Uint8Array>) | undefined
}): Body<E> => {
  const parts = new Parts([
    ...Object.entries(options.fields),
    ["file", new FilePart(options.fileName, options.contentType.replace(/[\r\n]/g, ""), options.size)]
  ])
  // `Parts` holds a `File`-like part, which the encoder accepts (it checks the shape, not the class).
  const encoder = new FormDataEncoder(parts as unknown as FormDataLike, options.boundary)
  // The encoder's parts in order: the bytes before the file (fields, the file's header), the file, the rest.
  const head: Array<Uint8Array> = []
  const tail: Array<Uint8Array> = []
  let afterFile = false
  for (const part of encoder.values()) {
    if (part instanceof Uint8Array) (afterFile ? tail : head).push(part)
    else afterFile = true
  }
  const headBytes = Bytes.concat(head)
  const tailBytes = Bytes.concat(tail)
  return {
    contentType: encoder.contentType,
    contentLength: Number(encoder.contentLength),
    // The file's own stream between the two, so its failures keep their type.
    open: () => {
      const body = Stream.concat(Stream.succeed(headBytes), Stream.concat(options.open(), Stream.succeed(tailBytes)))
      const native = options.native
      return native === undefined ? body : withNative(body, () => framed(headBytes, native(), tailBytes))
    },
    whole: (file) => Bytes.concat([headBytes, file, tailBytes])
  }
}

/** The head, the file's chunks, the tail. */
async function* framed(head: Uint8Array, file: AsyncIterable<Uint8Array>, tail: Uint8Array): AsyncGenerator<Uint8Array> {
  yield head
  yield* file
  yield tail
}

/**
 * `stream`, made an `AsyncIterable` of the same bytes too: a transport that
 * takes an async iterable body (the core's fast path, undici) sends
 * `native()` as it is, without pulling every chunk through the `Stream`
 * (about 100 µs of CPU per chunk; a 200 MB file is 1 600 chunks of 128 KiB).
 * Any other transport runs the `Stream`.
 *
 * @since 0.1.0
 */
export const withNative = <A, E>(stream: Stream.Stream<A, E>, native: () => AsyncIterable<A>): Stream.Stream<A, E> =>
  Object.assign(stream, { [Symbol.asyncIterator]: () => native()[Symbol.asyncIterator]() })
