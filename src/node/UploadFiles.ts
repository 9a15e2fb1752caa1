/**
 * deepset upload files from disk (Node): `fromPath` streams the file from
 * disk with backpressure (`fs.createReadStream`, opened anew for each attempt:
 * 256 KiB chunks as a native source on undici's fast path, 128 KiB chunks as a
 * `Stream` elsewhere), so a 1 GB file is never held in memory; a small one
 * (up to 64 KiB) is read whole with one synchronous read. (Not
 * `fs.openAsBlob`: Node 20 reads such a `Blob` whole when it is sent.) Kept here, in
 * `effect-sessions/node`, so that `effect-sessions/deepset` needs no Node
 * module and runs in browsers too.
 *
 * ```ts
 * const files = Stream.fromIterable(paths).pipe(Stream.map((path) => UploadFiles.fromPath(path)))
 * yield* deepset.upload("default", files, { waitForIngestion: true })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as NodePath from "node:path"
import * as UploadFile from "../deepset/UploadFile.js"

const readError = (name: string, path: string, cause: unknown) =>
  new UploadFile.UploadFileError({ name, path, reason: cause instanceof Error ? cause.message : String(cause), cause })

/**
 * A file on disk, named after its base name (as the official SDK names it)
 * unless `name` is given. Nothing is read until the upload opens it; a file
 * that is missing or unreadable then fails that file alone with an
 * `UploadFileError` (in the report's `failedUploads`).
 *
 * @since 0.1.0
 */
export const fromPath = (
  path: string,
  options?: {
    readonly name?: string | undefined
    readonly contentType?: string | undefined
    readonly meta?: UploadFile.Meta | undefined
  }
): UploadFile.UploadFile => {
  const name = options?.name ?? NodePath.basename(path)
  return UploadFile.make({
    name,
    contentType: options?.contentType,
    meta: options?.meta,
    source: Effect.map(sizeOf(name, path), (size): UploadFile.Content => {
      // Chunks of at most 128 KiB through the Stream (fewer bytes in flight and awaiting collection), 256 KiB from
      // the native source (what a hand-written undici upload reads: fewer writes, and fewer, fuller reads for the
      // server), and no larger than the file.
      const chunkSize = Math.max(16 * 1024, Math.min(128 * 1024, size + 1))
      const nativeChunkSize = Math.max(16 * 1024, Math.min(256 * 1024, size + 1))
      return {
        size,
        readAll: () => size <= syncReadUpTo ? readWholeSync(name, path, size) : readWhole(name, path, size),
        readInto: size <= syncReadUpTo ? (buffer, offset, room) => readIntoSync(name, path, buffer, offset, room) : undefined,
        open: () =>
          Stream.fromAsyncIterable(
            Fs.createReadStream(path, { highWaterMark: chunkSize }) as AsyncIterable<Uint8Array>,
            (cause) => readError(name, path, cause)
          ),
        native: () => readChunks(name, path, nativeChunkSize)
      }
    })
  })
}

// The file system calls below use callbacks, not `fs.promises`: a file costs a `stat`, an `open`, one `read` and a
// `close` (each a trip to libuv's thread pool), not the promise API's `FileHandle` and its extra `fstat`.

/**
 * Files up to this size (64 KiB) are read with one synchronous `open`, `read`
 * and `close` once their `stat` is known: from the page cache that takes a
 * few µs, while each trip to libuv's thread pool cost ~100 µs of CPU on a busy
 * 2-core machine (the wake-up of a pool thread), most of what a small
 * upload's client spent. The event loop waits for at most that one small read.
 *
 * @since 0.1.0
 */
export const syncReadUpTo = 64 * 1024

/**
 * A small file read synchronously into `buffer` from `offset`, at most `room`
 * bytes, until a read comes back short (the end of a regular file) or the room
 * is full; the count read. Throws an `UploadFileError`.
 */
const readIntoSync = (name: string, path: string, buffer: Uint8Array, offset: number, room: number): number => {
  let fd: number
  try {
    fd = Fs.openSync(path, "r")
  } catch (cause) {
    throw readError(name, path, cause)
  }
  try {
    let filled = 0
    for (;;) {
      const wanted = room - filled
      const read = Fs.readSync(fd, buffer, offset + filled, wanted, filled)
      filled += read
      if (read < wanted || filled === room) return filled
    }
  } catch (cause) {
    throw readError(name, path, cause)
  } finally {
    Fs.closeSync(fd)
  }
}

/** The whole small file, read synchronously (see {@link syncReadUpTo}); its length tells whether it changed. */
const readWholeSync = (name: string, path: string, size: number): Effect.Effect<Uint8Array, UploadFile.UploadFileError> =>
  Effect.try({
    try: () => {
      const buffer = Buffer.allocUnsafe(size + 1)
      return buffer.subarray(0, readIntoSync(name, path, buffer, 0, size + 1))
    },
    catch: (cause) => cause instanceof UploadFile.UploadFileError ? cause : readError(name, path, cause)
  })

/** The size of a regular file. */
const sizeOf = (name: string, path: string): Effect.Effect<number, UploadFile.UploadFileError> =>
  Effect.async((resume) => {
    Fs.stat(path, (error, stat) => {
      if (error !== null) resume(Effect.fail(readError(name, path, error)))
      else if (!stat.isFile()) resume(Effect.fail(readError(name, path, new Error("not a regular file"))))
      else resume(Effect.succeed(stat.size))
    })
  })

/**
 * The whole file, read into one buffer of `size + 1` bytes until a read comes
 * back short (the end of a regular file) or the buffer is full: a file that
 * has grown or shrunk since its `stat` comes back with another length, which
 * the upload reports.
 */
const readWhole = (name: string, path: string, size: number): Effect.Effect<Uint8Array, UploadFile.UploadFileError> =>
  Effect.async((resume) => {
    Fs.open(path, "r", (openError, fd) => {
      if (openError !== null) return resume(Effect.fail(readError(name, path, openError)))
      const buffer = Buffer.allocUnsafe(size + 1)
      let filled = 0
      const done = (result: Effect.Effect<Uint8Array, UploadFile.UploadFileError>) => {
        Fs.close(fd, () => undefined)
        resume(result)
      }
      const readMore = (): void => {
        const wanted = buffer.length - filled
        Fs.read(fd, buffer, filled, wanted, filled, (readFailure, read) => {
          if (readFailure !== null) return done(Effect.fail(readError(name, path, readFailure)))
          filled += read
          if (read < wanted || filled === buffer.length) done(Effect.succeed(buffer.subarray(0, filled)))
          else readMore()
        })
      }
      readMore()
    })
  })

/** The file's chunks from `fs.createReadStream`, a read failure thrown as the `UploadFileError` the `Stream` fails with. */
async function* readChunks(name: string, path: string, chunkSize: number): AsyncGenerator<Uint8Array> {
  try {
    yield* Fs.createReadStream(path, { highWaterMark: chunkSize }) as AsyncIterable<Uint8Array>
  } catch (cause) {
    throw readError(name, path, cause)
  }
}
