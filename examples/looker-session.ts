/**
 * The Looker session tour (`npx tsx examples/looker-session.ts`): switches
 * the API session to the dev workspace and back, then logs out.
 *
 * With `LOOKERSDK_BASE_URL` (and `LOOKERSDK_CLIENT_ID`,
 * `LOOKERSDK_CLIENT_SECRET`, optionally `LOOKERSDK_API_VERSION`,
 * `LOOKERSDK_VERIFY_SSL`, `LOOKERSDK_TIMEOUT`) set it talks to that Looker;
 * otherwise it serves the Looker emulator on a loopback port.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Looker from "../src/looker/index.js"
import { LookerTls } from "../src/node/index.js"
import * as LookerEmulator from "../src/testing/LookerEmulator.js"
import { Loopback } from "../src/testing/node.js"

/** Dev and back: what a deploy script does before reading LookerML from a dev branch. */
export const lookerTour = Effect.gen(function*() {
  const looker = yield* Looker.Session
  const start = yield* looker.getSession()
  yield* Console.log(`workspace: ${start.workspace_id} (sudo user: ${start.sudo_user_id ?? "none"})`)
  const dev = yield* looker.updateSession({ workspace_id: "dev" })
  yield* Console.log(`switched to: ${dev.workspace_id}`)
  const back = yield* looker.updateSession({ workspace_id: "production" })
  yield* Console.log(`switched back to: ${back.workspace_id}`)
  yield* looker.logout()
  yield* Console.log("logged out")
})

type SessionLayer = Layer.Layer<Looker.Session, ConfigError.ConfigError | HttpServerError.ServeError>

/** The emulator on 127.0.0.1, for as long as the tour runs. */
const emulated: SessionLayer = Layer.unwrapScoped(
  Effect.gen(function*() {
    const emulator = yield* LookerEmulator.make()
    const served = yield* Loopback.serve(emulator.app)
    yield* Console.log(`LOOKERSDK_BASE_URL is not set: touring the Looker emulator served on ${served.url}`)
    return LookerTls.layer({
      baseUrl: served.url,
      clientId: LookerEmulator.defaultClientId,
      clientSecret: Redacted.make(LookerEmulator.defaultClientSecret)
    })
  })
)

/** The Looker of `LOOKERSDK_*` (TLS per `LOOKERSDK_VERIFY_SSL`, for this client only). */
const configured = (url: string): SessionLayer =>
  Layer.provideMerge(LookerTls.layerConfig(), Layer.effectDiscard(Console.log(`touring the Looker API at ${url}`)))

/** The Looker emulator on loopback with the client on it (the demo's). */
export const emulatedSession = emulated

const session: SessionLayer = Layer.unwrapEffect(
  Effect.map(
    Config.option(Config.string("LOOKERSDK_BASE_URL")),
    (url): SessionLayer => (Option.isSome(url) ? configured(url.value) : emulated)
  )
)

if (import.meta.url === `file://${process.argv[1]}`) {
  lookerTour.pipe(Effect.provide(session), NodeRuntime.runMain)
}
