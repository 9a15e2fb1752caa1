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
  /**
   * The whole body in one buffer whose file part is filled in place by
   * `fill(buffer, offset, room)` (it writes at most `room` bytes, the file's
   * size + 1, and says how many it wrote): no copy of the file. The count
   * alone (no body) when it is not the file's size.
   */
  readonly wholeInPlace: (
    fill: (buffer: Uint8Array, offset: number, room: number) => number
  ) => { readonly read: number; readonly body?: Uint8Array | undefined }
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

/** One file's part of a presigned POST: its name, type, size and bytes. @since 0.1.0 */
export interface FilePartOptions<E> {
  readonly fileName: string
  readonly contentType: string
  readonly size: number
  readonly open: () => Stream.Stream<Uint8Array, E>
  /** The file's bytes as a plain async iterable too, when its source has one (see `UploadFile.Content.native`). */
  readonly native?: (() => AsyncIterable<Uint8Array>) | undefined
}

/** The encoder's bytes of `parts` in order, split at the file: before it, and after it (nothing when there is none). */
const framing = (parts: Parts, boundary: string) => {
  // `Parts` holds a `File`-like part, which the encoder accepts (it checks the shape, not the class).
  const encoder = new FormDataEncoder(parts as unknown as FormDataLike, boundary)
  const head: Array<Uint8Array> = []
  const tail: Array<Uint8Array> = []
  let afterFile = false
  for (const part of encoder.values()) {
    if (part instanceof Uint8Array) (afterFile ? tail : head).push(part)
    else afterFile = true
  }
  return { encoder, head, tail }
}

/** Stands for the file's name in a header template (never sent). */
const placeholder = "effect-sessions-file-name-placeholder"
/** What form-data-encoder escapes in a name. */
const needsEscape = /[\r\n"]/
const textEncoder = new TextEncoder()
const textDecoder = new TextDecoder()

/**
 * The bodies of one presigned POST target: `fields` in order, then a file,
 * under `boundary` (a token of letters, digits and `-`). The fields' bytes
 * are encoded once, here; each file adds its own part. The encoder writes a
 * body as each part's bytes in turn, then the closing boundary, so the
 * fields' bytes (the parts without the closing boundary) followed by the
 * file's one-part encoding are exactly the encoding of all the parts.
 *
 * @since 0.1.0
 */
export const encoder = (boundary: string, fields: Readonly<Record<string, string>>) => {
  const { head: fieldParts } = framing(new Parts(Object.entries(fields)), boundary)
  // Everything but the closing boundary, which the file's own encoding ends with.
  const fieldBytes = Bytes.concat(fieldParts.slice(0, -1))
  // The file part's header as the encoder writes it for each content type, around a placeholder name: a name the
  // encoder leaves as it is (no CR, LF or `"`, which it escapes) takes the placeholder's place, as the encoder
  // would put it there (~25 µs of the encoder's work per file saved); any other name goes through the encoder.
  const templates = new Map<string, { readonly before: string; readonly after: string; readonly tail: Uint8Array; readonly contentType: string }>()
  const templateOf = (type: string) => {
    let template = templates.get(type)
    if (template === undefined) {
      const { encoder, head, tail } = framing(new Parts([["file", new FilePart(placeholder, type, 0)]]), boundary)
      const [before = "", after = ""] = textDecoder.decode(Bytes.concat(head)).split(placeholder)
      template = { before, after, tail: Bytes.concat(tail), contentType: encoder.contentType }
      templates.set(type, template)
    }
    return template
  }
  const partOf = (fileName: string, type: string, size: number) => {
    if (!needsEscape.test(fileName) && !type.includes(placeholder)) {
      const template = templateOf(type)
      const head = textEncoder.encode(`${template.before}${fileName}${template.after}`)
      return { contentType: template.contentType, head: [head], tail: [template.tail], length: head.length + size + template.tail.length }
    }
    const { encoder, head, tail } = framing(new Parts([["file", new FilePart(fileName, type, size)]]), boundary)
    return { contentType: encoder.contentType, head, tail, length: Number(encoder.contentLength) }
  }
  return <E>(file: FilePartOptions<E>): Body<E> => {
    const { contentType, head, length, tail } = partOf(file.fileName, file.contentType.replace(/[\r\n]/g, ""), file.size)
    const headBytes = Bytes.concat([fieldBytes, ...head])
    const tailBytes = Bytes.concat(tail)
    return {
      contentType,
      contentLength: fieldBytes.length + length,
      // The file's own stream between the two, so its failures keep their type.
      open: () => {
        const body = Stream.concat(Stream.succeed(headBytes), Stream.concat(file.open(), Stream.succeed(tailBytes)))
        const native = file.native
        return native === undefined ? body : withNative(body, () => framed(headBytes, native(), tailBytes))
      },
      whole: (bytes) => Bytes.concat([headBytes, bytes, tailBytes]),
      wholeInPlace: (fill) => {
        // The tail is at least the closing boundary, so the one byte more a grown file may write fits before it.
        const buffer = new Uint8Array(headBytes.length + file.size + tailBytes.length)
        buffer.set(headBytes, 0)
        const read = fill(buffer, headBytes.length, file.size + 1)
        if (read !== file.size) return { read }
        buffer.set(tailBytes, headBytes.length + file.size)
        return { read, body: buffer }
      }
    }
  }
}

/**
 * `fields` in order, then `file` (named `fileName`, of `contentType`, `size`
 * bytes long) under `boundary` (a token of letters, digits and `-`).
 *
 * @since 0.1.0
 */
export const encode = <E>(options: FilePartOptions<E> & {
  readonly boundary: string
  readonly fields: Readonly<Record<string, string>>
}): Body<E> => encoder(options.boundary, options.fields)(options)

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
