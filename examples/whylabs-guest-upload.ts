/**
 * The WhyLabs guest-session upload, as whylogs runs it
 * (`npx tsx examples/whylabs-guest-upload.ts`): create a guest session, get
 * an upload URL, `PUT` the profile bytes there (streamed), and print the
 * observatory link.
 *
 * Without configuration it serves the WhyLabs emulator (API and upload
 * target) on a loopback port and uploads to it. With `WHYLABS_API_KEY` or
 * `WHYLABS_API_ENDPOINT` set it talks to that WhyLabs service instead (a
 * guest session needs no key; with one it also reads the session back).
 * `WHYLABS_PROFILE=path/to/profile.bin` uploads that whylogs profile file;
 * otherwise a small placeholder body is sent (fine for the emulator; the real
 * service accepts the upload but cannot show it).
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeStream from "@effect/platform-node/NodeStream"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import { UndiciHttpClient } from "../src/node/index.js"
import * as Loopback from "../src/testing/Loopback.js"
import * as WhyLabsEmulator from "../src/testing/WhyLabsEmulator.js"
import * as WhyLabs from "../src/whylabs/index.js"

/** The emulator on 127.0.0.1, for as long as the example runs. */
const emulated = Layer.unwrapScoped(
  Effect.gen(function*() {
    const emulator = yield* WhyLabsEmulator.make({ apiKey: "emulator-key", orgId: "org-emulator" })
    const served = yield* Loopback.serve(emulator.app)
    yield* Console.log(`WHYLABS_API_KEY is not set: guest upload to the WhyLabs emulator served on ${served.url}`)
    return WhyLabs.layer({ baseUrl: served.url })
  })
)

/** The service of `WHYLABS_API_ENDPOINT` / `WHYLABS_API_KEY` / `WHYLABS_DEFAULT_ORG_ID`. */
const configured = Layer.provideMerge(
  WhyLabs.layerConfig(),
  Layer.effectDiscard(Effect.flatMap(
    Config.string("WHYLABS_API_ENDPOINT").pipe(Config.withDefault(WhyLabs.defaultBaseUrl)),
    (url) => Console.log(`guest upload to WhyLabs at ${url}`)
  ))
)

type SessionsLayer = Layer.Layer<WhyLabs.Sessions, ConfigError.ConfigError | HttpServerError.ServeError, HttpClient.HttpClient>

const sessions: SessionsLayer = Layer.unwrapEffect(
  Effect.map(
    Config.all([Config.option(Config.string("WHYLABS_API_KEY")), Config.option(Config.string("WHYLABS_API_ENDPOINT"))]),
    ([key, endpoint]): SessionsLayer => (Option.isSome(key) || Option.isSome(endpoint) ? configured : emulated)
  )
)

/** The profile: the file of `WHYLABS_PROFILE`, streamed (opened anew for each attempt), or placeholder bytes. */
const profile = Effect.map(Config.option(Config.string("WHYLABS_PROFILE")), (path) =>
  Option.match(path, {
    onNone: () => {
      const bytes = new TextEncoder().encode("effect-sessions placeholder profile\n".repeat(1000))
      return { body: bytes as WhyLabs.UploadBody, size: bytes.length }
    },
    onSome: (file) => ({
      body: (() => NodeStream.fromReadable(() => Fs.createReadStream(file), (e) => e)) as WhyLabs.UploadBody,
      size: Fs.statSync(file).size
    })
  }))

/** The guest upload: a session, the profile PUT to its presigned URL, the link. */
export const guestUpload = Effect.gen(function*() {
  const whylabs = yield* WhyLabs.Sessions
  const { body, size } = yield* profile
  const session = yield* whylabs.createSession({ userId: "effect-sessions-example" })
  yield* Console.log(`whylabs: guest session ${session.id}`)
  const now = yield* DateTime.now
  const uploaded = yield* whylabs.uploadProfile(session.id, body, { size, datasetTimestamp: now })
  yield* Console.log(`whylabs: uploaded profile ${uploaded.id} (${size} bytes)`)
  const hasKey = Option.isSome(yield* Config.option(Config.string("WHYLABS_API_KEY")))
  if (hasKey) {
    const info = yield* whylabs.getSession(session.id)
    yield* Console.log(`whylabs: session ${info.session.sessionId} of org ${info.session.orgId}, model ${info.session.modelId}`)
  }
  yield* Console.log(`whylabs: observatory link: ${uploaded.observatoryUrl}`)
})

/** The WhyLabs emulator on loopback, for a program that provides an `HttpClient` (the demo). */
export const emulatedSessions = emulated

if (import.meta.url === `file://${process.argv[1]}`) {
  guestUpload.pipe(
    Effect.provide(sessions),
    Effect.provide(UndiciHttpClient.layer),
    NodeRuntime.runMain
  )
}
