/**
 * deepset's upload flow, as the official SDK's `upload` does it: create a
 * session, POST every file to its presigned S3 target with bounded
 * concurrency (every field first, then `file`; a `<name>.meta.json`
 * companion for a file with meta), close the session exactly once, and
 * optionally wait for ingestion by polling the session's status on a
 * `Schedule`.
 *
 * The S3 POSTs go through the shared core: typed errors (`StorageError` for
 * S3's XML answers), the client's retry policy (a presigned POST of the same
 * key is idempotent: `503 SlowDown`, `500` and a dropped connection are
 * retried, `403` is not), spans, and never the API key.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as ApiClient from "../core/ApiClient.js"
import * as ApiError from "../core/ApiError.js"
import * as Bytes from "../core/Bytes.js"
import * as PresignedPost from "./PresignedPost.js"
import type * as Schemas from "./Schemas.js"
import * as UploadFile from "./UploadFile.js"

/** How long `waitForIngestion` waits unless told (10 minutes). @since 0.1.0 */
export const defaultIngestionTimeout: Duration.Duration = Duration.minutes(10)

/** How often `waitForIngestion` asks for the status unless told (2 s, as the SDK does). @since 0.1.0 */
export const defaultIngestionInterval: Duration.Duration = Duration.seconds(2)

/** Parallel S3 POSTs unless `concurrency` is given. @since 0.1.0 */
export const defaultConcurrency = 16

/** Options of `upload`. @since 0.1.0 */
export interface UploadOptions {
  /** What deepset does with names that exist already (default KEEP). */
  readonly writeMode?: Schemas.WriteMode | undefined
  /** Parallel S3 POSTs (default 16). */
  readonly concurrency?: number | undefined
  /**
   * After close, poll the session's status until every uploaded file is
   * FINISHED or FAILED, or until `timeout` (default 10 minutes; then the
   * report says how many are still pending). `interval` between polls
   * (default 2 s).
   */
  readonly waitForIngestion?:
    | boolean
    | { readonly timeout?: Duration.DurationInput | undefined; readonly interval?: Duration.DurationInput | undefined }
    | undefined
  /** Called after each file, at close, and on each status poll. */
  readonly onProgress?: ((progress: UploadProgress) => Effect.Effect<void>) | undefined
}

/** Where an upload stands (every event carries the totals so far). @since 0.1.0 */
export interface UploadProgress {
  readonly phase: "uploading" | "closed" | "ingesting" | "done"
  readonly sessionId: string
  /** Files uploaded to S3 (meta companions not counted). */
  readonly uploaded: number
  /** Files that failed for good. */
  readonly failed: number
  /** Bytes of the files uploaded (meta included). */
  readonly bytes: number
  /** Since the session was created. */
  readonly elapsed: Duration.Duration
  /** `bytes` over `elapsed`. */
  readonly bytesPerSecond: number
  /** The file this event is about, in the "uploading" phase. */
  readonly file?: string | undefined
  /** Ingestion counts, from the "closed" phase on when waiting. */
  readonly ingestion?: IngestionCounts | undefined
}

/** Ingestion counts of the uploaded files. @since 0.1.0 */
export interface IngestionCounts {
  readonly finished: number
  readonly failed: number
  /** Uploaded files neither finished nor failed yet. */
  readonly pending: number
}

/** One file that could not be uploaded (after the policy's retries). @since 0.1.0 */
export interface FailedUpload {
  /** The name as given (`<name>.meta.json` when only its meta failed). */
  readonly name: string
  readonly error: ApiError.ApiError | UploadFile.UploadFileError
}

/** What an upload did. @since 0.1.0 */
export interface UploadReport {
  readonly sessionId: string
  /** Files uploaded (meta companions not counted). */
  readonly uploaded: number
  readonly failedUploads: ReadonlyArray<FailedUpload>
  /** Bytes sent in file contents (meta included). */
  readonly bytes: number
  /** With `waitForIngestion`: the last counts seen, and whether the wait timed out. */
  readonly ingestion?: (IngestionCounts & { readonly timedOut: boolean }) | undefined
}

/** What the upload flow needs of the client. @internal */
export interface Dependencies {
  readonly client: ApiClient.ApiClient
  readonly create: (
    workspace: string,
    options?: Schemas.CreateSession
  ) => Effect.Effect<Schemas.UploadSession, ApiError.ApiError>
  readonly close: (workspace: string, sessionId: string) => Effect.Effect<void, ApiError.ApiError>
  readonly getStatus: (workspace: string, sessionId: string) => Effect.Effect<Schemas.SessionDetail, ApiError.ApiError>
}

/** The `upload` method. @since 0.1.0 */
export type Upload = <E, R>(
  workspace: string,
  files: Stream.Stream<UploadFile.UploadFile, E, R>,
  options?: UploadOptions
) => Effect.Effect<UploadReport, ApiError.ApiError | E, R>

const encoder = new TextEncoder()

/** Files up to this size are sent from one buffer; larger ones stream. @since 0.1.0 */
export const wholeBodyUpTo = 1024 * 1024

interface Tally {
  uploaded: number
  bytes: number
  readonly failed: Array<FailedUpload>
  /** S3-safe names of the uploaded files (one object per key: a name twice is one file). */
  readonly names: Set<string>
}

const badOption = (field: string, message: string) =>
  Effect.fail(
    new ApiError.InvalidRequest({
      api: "deepset",
      operation: "upload",
      method: "POST",
      url: "(not sent)",
      problems: [{ field, message }],
      message: `deepset upload: ${field} ${message}; nothing was sent`
    })
  )

/**
 * The upload flow on a client's operations (`UploadSessions` wires it).
 *
 * @internal
 */
export const make = (deps: Dependencies): Upload => (workspace, files, options) =>
  Effect.suspend(() => {
    const concurrency = options?.concurrency ?? defaultConcurrency
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      return badOption("concurrency", `must be a whole number ≥ 1 (got ${concurrency})`)
    }
    const wait = options?.waitForIngestion
    const waitOptions = wait === undefined || wait === false ? undefined : wait === true ? {} : wait
    const onProgress = options?.onProgress

    const postOne = (
      target: Schemas.AwsPrefixedRequestConfig,
      encode: ReturnType<typeof PresignedPost.encoder>,
      name: string,
      contentType: string,
      content: UploadFile.Content
    ): Effect.Effect<void, ApiError.ApiError | UploadFile.UploadFileError> => {
      const body = encode({
        fileName: name,
        contentType,
        size: content.size,
        open: content.open,
        native: content.native
      })
      const send = (requestBody: ApiClient.Body) =>
        deps.client.run({
          operation: "uploadFile",
          method: "POST",
          path: Either.right(""),
          url: target.url,
          body: requestBody,
          idempotent: true,
          response: undefined
        })
      // A small file is read once into one buffer (at most `concurrency` × 1 MiB held): one write, no stream per attempt.
      if (content.size > wholeBodyUpTo) return send(ApiClient.streamBody(body.contentType, body.open, body.contentLength))
      const changed = (read: string) =>
        new UploadFile.UploadFileError({ name, reason: `changed while read: ${content.size} bytes expected, ${read} read` })
      const readInto = content.readInto
      if (readInto !== undefined) {
        // The file read straight into its place in the body: one buffer, no copy.
        return Effect.flatMap(
          Effect.try({
            try: () => body.wholeInPlace(readInto),
            catch: (cause) => cause instanceof UploadFile.UploadFileError ? cause : new UploadFile.UploadFileError({ name, reason: String(cause), cause })
          }),
          ({ body: whole, read }): Effect.Effect<void, ApiError.ApiError | UploadFile.UploadFileError> =>
            whole === undefined ? Effect.fail(changed(String(read))) : send(ApiClient.bytesBody(body.contentType, whole))
        )
      }
      const whole = content.readAll?.() ??
        Effect.map(Stream.runCollect(content.open()), (chunks) => Bytes.concat(Chunk.toReadonlyArray(chunks)))
      return Effect.flatMap(whole, (file): Effect.Effect<void, ApiError.ApiError | UploadFile.UploadFileError> => {
        if (file.length !== content.size) return Effect.fail(changed(String(file.length)))
        return send(ApiClient.bytesBody(body.contentType, body.whole(file)))
      })
    }

    return Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        const session = yield* deps.create(workspace, options?.writeMode === undefined ? {} : { write_mode: options.writeMode })
        const sessionId = session.session_id
        const target = session.aws_prefixed_request_config
        const startedAt = yield* Clock.currentTimeMillis
        const boundary = `----effect-sessions-${(yield* Random.nextIntBetween(0, 2 ** 30)).toString(36)}${
          (yield* Random.nextIntBetween(0, 2 ** 30)).toString(36)
        }`
        const tally: Tally = { uploaded: 0, bytes: 0, failed: [], names: new Set() }
        // The fields' part of every body, encoded once for the session.
        const encode = PresignedPost.encoder(boundary, target.fields)

        const progress = (
          phase: UploadProgress["phase"],
          extra?: { readonly file?: string; readonly ingestion?: IngestionCounts }
        ): Effect.Effect<void> =>
          onProgress === undefined ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (now) => {
            const elapsedMillis = Math.max(0, now - startedAt)
            return onProgress({
              phase,
              sessionId,
              uploaded: tally.uploaded,
              failed: tally.failed.length,
              bytes: tally.bytes,
              elapsed: Duration.millis(elapsedMillis),
              bytesPerSecond: elapsedMillis === 0 ? 0 : (tally.bytes * 1000) / elapsedMillis,
              file: extra?.file,
              ingestion: extra?.ingestion
            })
          })

        const uploadOne = (file: UploadFile.UploadFile): Effect.Effect<void> => {
          const name = UploadFile.safeName(file.name)
          const fail = (failedName: string, error: FailedUpload["error"]) =>
            Effect.zipRight(Effect.sync(() => void tally.failed.push({ name: failedName, error })), progress("uploading", { file: file.name }))
          if (file.name === "" || file.name.endsWith("/")) {
            return fail(file.name, new UploadFile.UploadFileError({ name: file.name, reason: "the name must not be empty" }))
          }
          return Effect.flatMap(Effect.either(file.source), (opened) => {
            if (Either.isLeft(opened)) return fail(file.name, opened.left)
            const content = opened.right
            return Effect.flatMap(Effect.either(postOne(target, encode, name, file.contentType, content)), (sent) => {
              if (Either.isLeft(sent)) return fail(file.name, sent.left)
              const meta = file.meta
              const metaContent = meta === undefined ? undefined : UploadFile.inMemory(encoder.encode(UploadFile.metaJson(meta)))
              const afterMeta = metaContent === undefined
                ? Effect.succeed(Option.none<FailedUpload>())
                : Effect.map(
                  Effect.either(
                    postOne(
                      target,
                      encode,
                      UploadFile.safeName(`${file.name}${UploadFile.metaSuffix}`),
                      UploadFile.defaultContentType,
                      metaContent
                    )
                  ),
                  (r) => Either.isLeft(r) ? Option.some({ name: `${file.name}${UploadFile.metaSuffix}`, error: r.left }) : Option.none()
                )
              return Effect.flatMap(afterMeta, (metaFailure) =>
                Effect.zipRight(
                  Effect.sync(() => {
                    tally.uploaded++
                    tally.bytes += content.size + (metaContent?.size ?? 0)
                    tally.names.add(name)
                    if (Option.isSome(metaFailure)) tally.failed.push(metaFailure.value)
                  }),
                  progress("uploading", { file: file.name })
                ))
            })
          })
        }

        // At most `concurrency` uploads in flight: a permit per upload, each in a fiber of the uploads' scope
        // (one fiber and two permit steps per file; a concurrent `Stream.mapEffect` costs several times that).
        const permits = yield* Effect.makeSemaphore(concurrency)
        const inFlight = yield* Scope.make()
        const started = yield* Effect.exit(restore(Stream.runForEach(files, (file) =>
          Effect.zipRight(
            permits.take(1),
            Effect.forkIn(Effect.ensuring(uploadOne(file), permits.release(1)), inFlight)
          ))))
        // The files that started finish (also after the input stream failed), unless the caller interrupts.
        const finished = yield* Effect.exit(restore(permits.withPermits(concurrency)(Effect.void)))
        yield* Scope.close(inFlight, Exit.void)
        const uploaded = Exit.isFailure(started) ? started : finished
        // Every upload fiber has ended (done, failed for good, or interrupted): close exactly once.
        const closed = yield* Effect.exit(deps.close(workspace, sessionId))
        if (Exit.isFailure(uploaded)) return yield* Effect.failCause(uploaded.cause)
        if (Exit.isFailure(closed)) return yield* Effect.failCause(closed.cause)

        const total = tally.names.size
        let ingestion: UploadReport["ingestion"] = undefined
        if (waitOptions !== undefined) {
          yield* progress("closed", { ingestion: { finished: 0, failed: 0, pending: total } })
          ingestion = yield* restore(waitForIngestion(deps, workspace, sessionId, total, waitOptions, (counts) => progress("ingesting", { ingestion: counts })))
        } else {
          yield* progress("closed")
        }
        yield* progress("done", ingestion === undefined ? undefined : { ingestion })
        const report: UploadReport = {
          sessionId,
          uploaded: tally.uploaded,
          failedUploads: tally.failed,
          bytes: tally.bytes,
          ...(ingestion === undefined ? {} : { ingestion })
        }
        return report
      })
    )
  })

const countsOf = (detail: Schemas.SessionDetail, total: number): IngestionCounts => {
  const finished = detail.ingestion_status.finished_files
  const failed = detail.ingestion_status.failed_files
  return { finished, failed, pending: Math.max(0, total - finished - failed) }
}

/**
 * Poll the session's status every `interval` until `finished + failed ≥ total`
 * or `timeout`; the last counts seen, and whether the wait timed out.
 *
 * @since 0.1.0
 */
export const waitForIngestion = (
  deps: Pick<Dependencies, "getStatus">,
  workspace: string,
  sessionId: string,
  total: number,
  options: { readonly timeout?: Duration.DurationInput | undefined; readonly interval?: Duration.DurationInput | undefined },
  onPoll: (counts: IngestionCounts) => Effect.Effect<void> = () => Effect.void
): Effect.Effect<IngestionCounts & { readonly timedOut: boolean }, ApiError.ApiError> =>
  Effect.gen(function*() {
    const last = yield* Ref.make<IngestionCounts>({ finished: 0, failed: 0, pending: total })
    if (total === 0) return { finished: 0, failed: 0, pending: 0, timedOut: false }
    const poll = Effect.flatMap(deps.getStatus(workspace, sessionId), (detail) => {
      const counts = countsOf(detail, total)
      return Effect.as(Effect.zipRight(Ref.set(last, counts), onPoll(counts)), counts)
    })
    const done = (counts: IngestionCounts) => counts.finished + counts.failed >= total
    const interval = Duration.decode(options.interval ?? defaultIngestionInterval)
    const polled = yield* Effect.repeat(poll, {
      schedule: Schedule.spaced(interval),
      until: done
    }).pipe(Effect.timeoutOption(options.timeout ?? defaultIngestionTimeout))
    const counts = yield* Ref.get(last)
    return { finished: counts.finished, failed: counts.failed, pending: counts.pending, timedOut: Option.isNone(polled) }
  })
