/**
 * The body of an S3 presigned POST as a stream: every policy field, then the
 * `file` part, as `multipart/form-data` with an exact `content-length` (S3
 * wants one; it refuses chunked POSTs). Encoded the way the web platform's
 * `FormData` serializer encodes (names and file names with `"`, CR and LF
 * percent-escaped, UTF-8), but streaming the file from any source: a
 * `FormData` takes only `Blob`s, and Node 20 reads a disk-backed `Blob`
 * (`fs.openAsBlob`) whole into memory when it is sent (measured: 571 MB of
 * RSS for a 500 MB file), which is what this module exists to avoid.
 *
 * @since 0.1.0
 */
import * as Stream from "effect/Stream"

const encoder = new TextEncoder()

const escapeName = (name: string): string => name.replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/"/g, "%22")

/** A body: its content type (with the boundary), length, and bytes. @since 0.1.0 */
export interface Body<E> {
  readonly contentType: string
  readonly contentLength: number
  readonly open: () => Stream.Stream<Uint8Array, E>
  /** The whole body in one buffer, given the file's bytes (for small files: one write, no stream). */
  readonly whole: (file: Uint8Array) => Uint8Array
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
}): Body<E> => {
  let head = ""
  for (const name in options.fields) {
    head += `--${options.boundary}\r\nContent-Disposition: form-data; name="${escapeName(name)}"\r\n\r\n${
      options.fields[name] ?? ""
    }\r\n`
  }
  head += `--${options.boundary}\r\nContent-Disposition: form-data; name="file"; filename="${
    escapeName(options.fileName)
  }"\r\nContent-Type: ${options.contentType.replace(/[\r\n]/g, "")}\r\n\r\n`
  const headBytes = encoder.encode(head)
  const tailBytes = encoder.encode(`\r\n--${options.boundary}--\r\n`)
  return {
    contentType: `multipart/form-data; boundary=${options.boundary}`,
    contentLength: headBytes.length + options.size + tailBytes.length,
    open: () => Stream.concat(Stream.succeed(headBytes), Stream.concat(options.open(), Stream.succeed(tailBytes))),
    whole: (file) => {
      const out = new Uint8Array(headBytes.length + file.length + tailBytes.length)
      out.set(headBytes, 0)
      out.set(file, headBytes.length)
      out.set(tailBytes, headBytes.length + file.length)
      return out
    }
  }
}
