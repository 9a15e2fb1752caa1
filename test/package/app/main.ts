/**
 * A consumer's program: it imports every entry point of the packed effect-sessions, makes real calls against the
 * emulators (Jupyter, Looker and WhyLabs in memory, Looker and WhyLabs in one merged layer; deepset over a loopback
 * socket through the undici transport) and prints one JSON line that the consumer test checks.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { ApiError, Deepset as DeepsetFromRoot, Jupyter as JupyterFromRoot, Policy } from "effect-sessions"
import * as Deepset from "effect-sessions/deepset"
import * as Jupyter from "effect-sessions/jupyter"
import * as Looker from "effect-sessions/looker"
import { UndiciHttpClient } from "effect-sessions/node"
import {
  DeepsetEmulator,
  Faults,
  JupyterEmulator,
  LookerEmulator,
  WhyLabsEmulator
} from "effect-sessions/testing"
import { Loopback } from "effect-sessions/testing/node"
import * as WhyLabs from "effect-sessions/whylabs"

const apiKey = "consumer-key"
const jupyterToken = "consumer-token"

// The root entry's namespaces are the subpath entries' modules.
const sameModules = DeepsetFromRoot.UploadSessions === Deepset.UploadSessions && JupyterFromRoot.Sessions === Jupyter.Sessions

const jupyter = Effect.gen(function*() {
  const sessions = yield* Jupyter.Sessions
  const created = yield* sessions.createSession({ path: "consumer.ipynb", type: "notebook", kernel: { name: "python3" } })
  const listed = yield* sessions.listSessions()
  const missing = yield* sessions.getSession("no-such-session").pipe(
    Policy.withPolicy(Policy.noRetries),
    Effect.as("found"),
    Effect.catchTag("NotFound", (error) => Effect.succeed(error._tag))
  )
  yield* sessions.deleteSession(created.id)
  return { path: created.path, listed: listed.length, missing }
})

const deepset = Effect.scoped(Effect.gen(function*() {
  const emulator = yield* DeepsetEmulator.make({ apiKey })
  // The first status read answers 503; the policy retries it (a GET is idempotent).
  yield* emulator.faults.set({ sequence: [Faults.status(503)], match: (method) => method === "GET" })
  const served = yield* Loopback.serve(emulator.app)
  const layer = Deepset.layer({
    apiKey: Redacted.make(apiKey),
    baseUrl: served.url,
    policy: { maxRetries: 2, baseDelay: "10 millis" }
  }).pipe(Layer.provide(UndiciHttpClient.layer))
  const status = yield* Effect.gen(function*() {
    const uploads = yield* Deepset.UploadSessions
    const session = yield* uploads.create("default", { write_mode: "OVERWRITE" })
    yield* uploads.close("default", session.session_id)
    return yield* uploads.getStatus("default", session.session_id)
  }).pipe(Effect.provide(layer))
  const stats = yield* emulator.stats
  return { finished: status.ingestion_status.finished_files, requests: stats.requests }
}))

const lookerAndWhyLabs = Effect.gen(function*() {
  const looker = yield* Looker.Session
  const updated = yield* looker.updateSession({ workspace_id: "dev" })
  yield* looker.logout()
  const whylabs = yield* WhyLabs.Sessions
  const guest = yield* whylabs.createSession({ userId: "consumer" })
  const uploaded = yield* whylabs.uploadProfile(guest.id, new TextEncoder().encode("a whylogs profile"))
  return { lookerWorkspace: updated.workspace_id, whylabsUploaded: uploaded.id.length > 0 }
})

// Three clients on three in-memory emulators in one program: each emulator answers at its own origin.
const inMemory = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(
    Effect.provide(Layer.mergeAll(
      Jupyter.layer({ baseUrl: JupyterEmulator.baseUrl, token: Redacted.make(jupyterToken) }),
      Looker.layer({
        baseUrl: LookerEmulator.baseUrl,
        clientId: LookerEmulator.defaultClientId,
        clientSecret: Redacted.make(LookerEmulator.defaultClientSecret)
      }),
      WhyLabs.layer({ baseUrl: WhyLabsEmulator.baseUrl })
    )),
    Effect.provide(Layer.mergeAll(
      JupyterEmulator.layerInMemory({ token: jupyterToken }),
      LookerEmulator.layerInMemory(),
      WhyLabsEmulator.layerInMemory()
    ))
  )

const program = Effect.gen(function*() {
  const result = {
    sameModules,
    jupyter: yield* inMemory(jupyter),
    deepset: yield* deepset,
    ...(yield* inMemory(lookerAndWhyLabs))
  }
  console.log(`RESULT ${JSON.stringify(result)}`)
}).pipe(
  Effect.catchIf(ApiError.isApiError, (error) => Effect.die(error.message))
)

NodeRuntime.runMain(program)
