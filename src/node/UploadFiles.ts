/**
 * deepset upload files from disk (Node): `fromPath` streams the file from
 * disk in 128 KiB chunks with backpressure (`fs.createReadStream`, opened anew
 * for each attempt), so a 1 GB file is never held in memory. (Not
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
    source: Effect.tryPromise({
      try: async () => {
        const stat = await Fs.promises.stat(path)
        if (!stat.isFile()) throw new Error("not a regular file")
        return stat.size
      },
      catch: (cause) => readError(name, path, cause)
    }).pipe(Effect.map((size): UploadFile.Content => {
      // Chunks of at most 128 KiB (fewer bytes in flight and awaiting collection), and no larger than the file.
      const chunkSize = Math.max(16 * 1024, Math.min(128 * 1024, size + 1))
      return {
        size,
        readAll: () =>
          Effect.tryPromise({
            try: () => Fs.promises.readFile(path),
            catch: (cause) => readError(name, path, cause)
          }),
        open: () =>
          Stream.fromAsyncIterable(
            Fs.createReadStream(path, { highWaterMark: chunkSize }) as AsyncIterable<Uint8Array>,
            (cause) => readError(name, path, cause)
          ),
        native: () => readChunks(name, path, chunkSize)
      }
    }))
  })
}

/** The file's chunks from `fs.createReadStream`, a read failure thrown as the `UploadFileError` the `Stream` fails with. */
async function* readChunks(name: string, path: string, chunkSize: number): AsyncGenerator<Uint8Array> {
  try {
    yield* Fs.createReadStream(path, { highWaterMark: chunkSize }) as AsyncIterable<Uint8Array>
  } catch (cause) {
    throw readError(name, path, cause)
  }
}
