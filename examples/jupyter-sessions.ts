/**
 * The Jupyter sessions tour (`npx tsx examples/jupyter-sessions.ts`).
 *
 * With `JUPYTER_SERVER_URL` (and `JUPYTER_TOKEN`) set it tours that server;
 * otherwise it serves the Jupyter emulator on a loopback port and tours it.
 *
 * @since 0.1.0
 */
import { UndiciHttpClient } from "../src/node/index.js"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpServerError from "@effect/platform/HttpServerError"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Jupyter from "../src/jupyter/index.js"
import * as JupyterEmulator from "../src/testing/JupyterEmulator.js"
import * as Loopback from "../src/testing/Loopback.js"
import { jupyterTour } from "./jupyter-tour.js"

const emulatorToken = "emulator-tour-token"

/** The emulator on 127.0.0.1, for as long as the tour runs. */
const emulated = Layer.unwrapScoped(
  Effect.gen(function*() {
    // the emulation of Jupyter Server 2.x, the line current JupyterLab and Notebook run on
    const emulator = yield* JupyterEmulator.make({ token: emulatorToken, version: "2" })
    const served = yield* Loopback.serve(emulator.app)
    yield* Console.log(`JUPYTER_SERVER_URL is not set: touring the Jupyter emulator served on ${served.url}`)
    return Jupyter.layer({ baseUrl: served.url, token: Redacted.make(emulatorToken) })
  })
)

/** The server of `JUPYTER_SERVER_URL` / `JUPYTER_TOKEN`. */
const configured = (url: string) =>
  Layer.provideMerge(Jupyter.layerConfig(), Layer.effectDiscard(Console.log(`touring the Jupyter Server at ${url}`)))

type SessionsLayer = Layer.Layer<
  Jupyter.Sessions,
  ConfigError.ConfigError | HttpServerError.ServeError,
  HttpClient.HttpClient
>

const sessions: SessionsLayer = Layer.unwrapEffect(
  Effect.map(
    Config.option(Config.string("JUPYTER_SERVER_URL")),
    (url): SessionsLayer => (Option.isSome(url) ? configured(url.value) : emulated)
  )
)

jupyterTour().pipe(
  Effect.provide(sessions),
  Effect.provide(UndiciHttpClient.layer),
  NodeRuntime.runMain
)
