/**
 * `npm run demo`: the main job of effect-sessions, end to end.
 *
 * Without configuration it starts the deepset emulator on 127.0.0.1 (a free
 * port), seeds an upload session of 200 000 files, walks the session
 * lifecycle (create, status, list, close) and streams every file through the
 * client with a live progress line on stderr, then prints a summary; then it
 * runs a short Jupyter sessions tour on the Jupyter emulator.
 * With `DEEPSET_CLOUD_API_KEY` set (and optionally `DEEPSET_CLOUD_API_URL`,
 * `DEEPSET_WORKSPACE`) it talks to the real service instead, read-only: it
 * streams the workspace's sessions and the files of the newest one.
 *
 * Options (environment): `DEMO_FILES` (default 200000), `DEMO_PAGE_SIZE`
 * (default 1000), `DEMO_PREFETCH` (default 4).
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
import { progress } from "./progress.js"

const numberFromEnv = (name: string, fallback: number): number => {
  const raw = process.env[name]
  const n = raw === undefined ? fallback : Number(raw)
  return Number.isInteger(n) && n > 0 ? n : fallback
}

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

const summary = (label: string, r: { count: number; failed: number; seconds: number }) =>
  Console.log(
    `${label}: ${r.count.toLocaleString("en")} files in ${r.seconds.toFixed(2)} s = ${
      Math.round(r.count / r.seconds).toLocaleString("en")
    } items/s (${r.failed} failed ingestion); peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`
  )

const onEmulator = Effect.gen(function*() {
  const workspace = "demo"
  const apiKey = "demo-api-key"
  const emulator = yield* DeepsetEmulator.make({ apiKey })
  const served = yield* Loopback.serve(emulator.app)
  yield* Console.log(`deepset emulator on ${served.url} (workspace "${workspace}")`)
  const big = yield* emulator.seedSession({ workspace, fileCount: files, status: "CLOSED" })

  yield* Effect.gen(function*() {
    const deepset = yield* Deepset.UploadSessions
    const created = yield* deepset.create(workspace, { write_mode: "KEEP" })
    yield* Console.log(`created session ${created.session_id}, expires ${created.expires_at.toString()}`)
    yield* Console.log(`  upload to ${created.aws_prefixed_request_config.url} with ${
      Object.keys(created.aws_prefixed_request_config.fields).length
    } form fields`)
    yield* emulator.addFiles(created.session_id, 500)
    yield* deepset.close(workspace, created.session_id)
    const status = yield* deepset.getStatus(workspace, created.session_id)
    yield* Console.log(`closed it: ${status.ingestion_status.finished_files} finished, ${status.ingestion_status.failed_files} failed`)
    const page = yield* deepset.list(workspace, { limit: 10 })
    yield* Console.log(`workspace has ${page.total} sessions`)
    const missing = yield* Effect.flip(deepset.getStatus(workspace, "00000000-0000-4000-8000-000000000000"))
    yield* Console.log(`an unknown session is a typed error: ${missing._tag} (${missing.status})`)
    yield* Console.log(`streaming ${files.toLocaleString("en")} files (page size ${pageSize}, prefetch ${prefetch})…`)
    yield* summary("deepset streamFiles", yield* streamAll(workspace, big))
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

const job: Effect.Effect<void, unknown, HttpClient.HttpClient> = process.env.DEEPSET_CLOUD_API_KEY
  ? onRealService
  : Effect.scoped(Effect.zipRight(onEmulator, jupyterOnEmulator))

const main = job.pipe(
  Effect.provide(UndiciHttpClient.layer),
  Effect.tapErrorCause(Effect.logError)
)

NodeRuntime.runMain(main, { disableErrorReporting: true })

