/**
 * `npm run demo`: the main job of effect-sessions, end to end.
 *
 * Without configuration it starts the deepset emulator on 127.0.0.1 (a free
 * port), uploads a few hundred generated files with `deepset.upload` and a
 * live progress line (files, bytes/s, failures), waits for their ingestion,
 * streams them back; then it streams a realistic large workspace (a few
 * hundred sessions within the real limits, 200 000 files in all) as
 * `streamSessions` composed with `streamFiles` in constant memory; then it
 * runs a short Jupyter sessions tour on the Jupyter emulator.
 * With `DEEPSET_CLOUD_API_KEY` set (and optionally `DEEPSET_CLOUD_API_URL`,
 * `DEEPSET_WORKSPACE`) it talks to the real service instead, read-only: it
 * streams the workspace's sessions and the files of the newest one.
 *
 * Options (environment): `DEMO_UPLOADS` (default 300), `DEMO_FILES` (default
 * 200000, the large listing), `DEMO_PAGE_SIZE` (default 1000), `DEMO_PREFETCH`
 * (default 4).
 */
import { UndiciHttpClient } from "../src/node/index.js"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { Deepset, Jupyter } from "../src/index.js"
import { DeepsetEmulator, JupyterEmulator } from "../src/testing/index.js"
import { Loopback } from "../src/testing/node.js"
import { jupyterTour } from "./jupyter-tour.js"
import { emulatedSession, lookerTour } from "./looker-session.js"
import { progress } from "./progress.js"
import { emulatedSessions, guestUpload } from "./whylabs-guest-upload.js"

const numberFromEnv = (name: string, fallback: number): number => {
  const raw = process.env[name]
  const n = raw === undefined ? fallback : Number(raw)
  return Number.isInteger(n) && n > 0 ? n : fallback
}

const uploads = numberFromEnv("DEMO_UPLOADS", 300)
const files = numberFromEnv("DEMO_FILES", 200_000)
const pageSize = numberFromEnv("DEMO_PAGE_SIZE", 1000)
const prefetch = numberFromEnv("DEMO_PREFETCH", 4)

/** Streams every file of a session with a progress line; returns the count. */
const streamAll = (workspace: string, sessionId: string) =>
  Effect.gen(function*() {
    const deepset = yield* Deepset.UploadSessions
    const meter = yield* progress("files")
    const started = performance.now()
    const failed = yield* deepset.streamFiles(workspace, sessionId, { pageSize, prefetch }).pipe(
      Stream.tap(() => meter.add(1)),
      Stream.runFold(0, (n, file) => (file.ingestion_status === "FAILED" ? n + 1 : n)),
      Effect.ensuring(meter.stop)
    )
    const seconds = (performance.now() - started) / 1000
    const count = yield* meter.count
    return { count, failed, seconds }
  })

/** Every file of every session of a workspace: `streamSessions` × `streamFiles`, a few sessions at a time. */
const streamWorkspace = (workspace: string) =>
  Effect.gen(function*() {
    const deepset = yield* Deepset.UploadSessions
    const meter = yield* progress("files")
    const started = performance.now()
    const failed = yield* deepset.streamSessions(workspace, { pageSize: 100 }).pipe(
      Stream.flatMap((session) => deepset.streamFiles(workspace, session.session_id, { pageSize, prefetch }), {
        concurrency: 4
      }),
      Stream.tap(() => meter.add(1)),
      Stream.runFold(0, (n, file) => (file.ingestion_status === "FAILED" ? n + 1 : n)),
      Effect.ensuring(meter.stop)
    )
    const seconds = (performance.now() - started) / 1000
    const count = yield* meter.count
    return { count, failed, seconds }
  })

const summary = (label: string, r: { count: number; failed: number; seconds: number }) =>
  Console.log(
    `${label}: ${r.count.toLocaleString("en")} files in ${r.seconds.toFixed(2)} s = ${
      Math.round(r.count / r.seconds).toLocaleString("en")
    } items/s (${r.failed} failed ingestion); peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`
  )

/** The upload's live line on stderr: files, bytes/s, failures, then the ingestion counts. */
const uploadLine = (p: Deepset.Upload.UploadProgress): Effect.Effect<void> =>
  Effect.sync(() => {
    const tty = process.stderr.isTTY === true
    // Off a terminal (CI logs), a line per 100 files and per phase change only.
    if (!tty && p.phase === "uploading" && (p.uploaded + p.failed) % 100 !== 0) return
    const ingestion = p.ingestion === undefined
      ? ""
      : `  ingestion: ${p.ingestion.finished} finished, ${p.ingestion.failed} failed, ${p.ingestion.pending} pending`
    const line = `  ${p.phase}: ${p.uploaded} files, ${(p.bytesPerSecond / 1e6).toFixed(1)} MB/s, ${p.failed} failures${ingestion}`
    process.stderr.write(tty ? `\r${line}\x1b[K${p.phase === "done" ? "\n" : ""}` : `${line}\n`)
  })

/** A generated text document of a few kilobytes. */
const documentText = (i: number): string =>
  `Document ${i}\n` + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(20 + (i * 37) % 300)

const onEmulator = Effect.gen(function*() {
  const workspace = "demo"
  const apiKey = "demo-api-key"
  const emulator = yield* DeepsetEmulator.make({
    apiKey,
    ingestionTime: "1500 millis",
    failIngestion: (name) => name.includes("-broken")
  })
  const served = yield* Loopback.serve(emulator.app)
  yield* Console.log(`deepset emulator on ${served.url} (workspace "${workspace}")`)

  yield* Effect.gen(function*() {
    const deepset = yield* Deepset.UploadSessions
    yield* Console.log(`uploading ${uploads} generated files (concurrency 16), then waiting for ingestion…`)
    const documents = Stream.range(0, uploads - 1).pipe(
      Stream.map((i) => {
        const file = Deepset.UploadFile.text(`doc-${String(i).padStart(4, "0")}${i % 50 === 7 ? "-broken" : ""}.txt`, documentText(i))
        return i % 10 === 0 ? file.withMeta({ source: "demo", index: i }) : file
      })
    )
    const report = yield* deepset.upload(workspace, documents, {
      waitForIngestion: { interval: "250 millis", timeout: "30 seconds" },
      onProgress: uploadLine
    })
    const status = yield* deepset.getStatus(workspace, report.sessionId)
    yield* Console.log(`created session ${report.sessionId}, expires ${status.expires_at.toString()}`)
    yield* Console.log(
      `  ${report.uploaded} uploaded (${(report.bytes / 1e6).toFixed(1)} MB), ${report.failedUploads.length} failed; ingestion ${
        report.ingestion?.finished
      } finished, ${report.ingestion?.failed} failed`
    )
    yield* summary("  its files, streamed back", yield* streamAll(workspace, report.sessionId))

    const missing = yield* Effect.flip(deepset.getStatus(workspace, "00000000-0000-4000-8000-000000000000"))
    yield* Console.log(`an unknown session is a typed error: ${missing._tag} (${missing.status})`)

    // A large workspace within the real limits (≤ 10 000 files a session): a few hundred sessions.
    const large = "demo-large"
    const perSession = 800
    const sessionCount = Math.ceil(files / perSession)
    for (let i = 0; i < sessionCount; i++) {
      yield* emulator.seedSession({ workspace: large, fileCount: Math.min(perSession, files - i * perSession), status: "CLOSED" })
    }
    yield* Console.log(
      `streaming workspace "${large}": ${sessionCount} sessions, ${files.toLocaleString("en")} files (streamSessions × streamFiles, 4 sessions at a time, page size ${pageSize}, prefetch ${prefetch})…`
    )
    yield* summary("deepset streamFiles", yield* streamWorkspace(large))
  }).pipe(Effect.provide(Deepset.layer({ apiKey: Redacted.make(apiKey), baseUrl: served.url })))
})

/** A short Jupyter sessions tour on the Jupyter emulator (served on loopback). */
const jupyterOnEmulator = Effect.gen(function*() {
  const token = "demo-jupyter-token"
  const emulator = yield* JupyterEmulator.make({ token })
  const served = yield* Loopback.serve(emulator.app)
  yield* Console.log(`\njupyter emulator on ${served.url}`)
  yield* jupyterTour().pipe(Effect.provide(Jupyter.layer({ baseUrl: served.url, token: Redacted.make(token) })))
})

const onRealService = Effect.gen(function*() {
  const workspace = process.env.DEEPSET_WORKSPACE ?? "default"
  const deepset = yield* Deepset.UploadSessions
  yield* Console.log(`deepset Cloud, workspace "${workspace}" (read-only)`)
  const sessions = yield* Stream.runCollect(deepset.streamSessions(workspace, { pageSize: 100 }))
  yield* Console.log(`${sessions.length} upload sessions`)
  const newest = Array.from(sessions).at(-1)
  if (newest === undefined) return
  yield* summary(`files of ${newest.session_id}`, yield* streamAll(workspace, newest.session_id))
}).pipe(Effect.provide(Deepset.layerConfig()))

/** The Looker and WhyLabs tours, each on its emulator on loopback. */
const lookerAndWhyLabsOnEmulators = Effect.gen(function*() {
  yield* Console.log("\nlooker:")
  yield* lookerTour.pipe(Effect.provide(emulatedSession))
  yield* Console.log("\nwhylabs:")
  yield* guestUpload.pipe(Effect.provide(emulatedSessions))
})

const job: Effect.Effect<void, unknown, HttpClient.HttpClient> = process.env.DEEPSET_CLOUD_API_KEY
  ? onRealService
  : Effect.scoped(Effect.zipRight(Effect.zipRight(onEmulator, jupyterOnEmulator), lookerAndWhyLabsOnEmulators))

const main = job.pipe(
  Effect.provide(UndiciHttpClient.layer),
  Effect.tapErrorCause(Effect.logError)
)

NodeRuntime.runMain(main, { disableErrorReporting: true })

