/**
 * A child process for the 50 MB streamed-upload test: one guest-session
 * upload flow against the WhyLabs emulator at `baseUrl` (served by the test
 * on loopback), the body a `Stream` generated chunk by chunk. Prints one JSON
 * line: the baseline peak RSS after a warm-up upload, the peak RSS after the
 * big one, and what the client returned.
 *
 * `node --expose-gc --import tsx test/whylabs/upload-rss.ts '{"baseUrl": "http://127.0.0.1:PORT", "size": 52428800}'`
 *
 * With `--expose-gc` the body stream runs a garbage collection every 4 MB it
 * yields, so that chunks already sent (garbage V8 would collect only after
 * 64 MB of external memory accumulated) do not count as memory the client
 * holds: the peak then shows what the upload retains, which is the property
 * under test (a body held whole would survive every collection).
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { UndiciHttpClient } from "../../src/node/index.js"
import * as WhyLabs from "../../src/whylabs/index.js"
import * as ProfileBytes from "./ProfileBytes.js"

interface Params {
  readonly baseUrl: string
  readonly size: number
  readonly seed?: number
  /** "ours" (effect-sessions' UndiciHttpClient, default) or "platform" (NodeHttpClient.layerUndici, the generic path). */
  readonly transport?: "ours" | "platform"
}

const params = JSON.parse(process.argv[2] ?? "{}") as Params
const peakKB = () => process.resourceUsage().maxRSS
const gc = (globalThis as { gc?: () => void }).gc

/** The body, collecting garbage every 4 MB yielded when `gc` is exposed. */
const body = (size: number, seed?: number) =>
  gc === undefined ? ProfileBytes.stream(size, seed) : ProfileBytes.stream(size, seed).pipe(
    Stream.mapAccum(0, (sent, chunk) => {
      const next = sent + chunk.length
      if (Math.floor(next / (4 << 20)) !== Math.floor(sent / (4 << 20))) gc()
      return [next, chunk]
    })
  )

const program = Effect.gen(function*() {
  const whylabs = yield* WhyLabs.Sessions
  const { id } = yield* whylabs.createSession({ userId: "rss-child" })
  // Warm-up: every module and code path of the upload is loaded before the baseline is taken.
  yield* whylabs.uploadProfile(id, ProfileBytes.stream(1024 * 1024, 1), { size: 1024 * 1024 })
  const baselineKB = peakKB()
  const uploaded = yield* whylabs.uploadProfile(id, body(params.size, params.seed), {
    size: params.size,
    datasetTimestamp: new Date(Date.UTC(2024, 0, 1))
  })
  return { sessionId: id, uploaded, baselineKB, peakKB: peakKB(), gc: gc !== undefined }
})

const result = await Effect.runPromise(
  program.pipe(
    Effect.provide(WhyLabs.layer({ baseUrl: params.baseUrl })),
    Effect.provide(params.transport === "platform" ? NodeHttpClient.layerUndici : UndiciHttpClient.layer)
  )
)
process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0))
