/**
 * A short tour of the Jupyter sessions client: create a session, list the
 * server's sessions, rename the session, delete it. It needs only
 * `Jupyter.Sessions`, so any demo can run it against any server.
 *
 * ```ts
 * jupyterTour().pipe(Effect.provide(Jupyter.layerConfig()), Effect.provide(UndiciHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Jupyter from "../src/jupyter/index.js"

/**
 * Runs the tour, printing each step with `Console.log`. The session it
 * creates is deleted even when a later step fails.
 *
 * @since 0.1.0
 */
export const jupyterTour = Effect.fn("jupyterTour")(function*() {
  const jupyter = yield* Jupyter.Sessions
  const path = `effect-sessions-tour-${yield* Random.nextIntBetween(100_000, 1_000_000)}.ipynb`

  yield* Console.log(`jupyter: creating a session for ${path} with the server's default kernel`)
  const session = yield* jupyter.createSession({ path, type: "notebook", name: "Tour" })
  yield* Console.log(
    `  created session ${session.id}: kernel ${session.kernel?.name ?? "(none)"} is ${
      session.kernel?.execution_state ?? "unknown"
    }`
  )

  yield* Effect.gen(function*() {
    const sessions = yield* jupyter.listSessions()
    yield* Console.log(`jupyter: the server runs ${sessions.length} session(s)`)
    for (const s of sessions) yield* Console.log(`  ${s.id}  ${s.type.padEnd(8)}  ${s.path}  ${s.name ?? "(no name)"}`)

    const renamed = yield* jupyter.updateSession(session.id, { name: "Tour (renamed)" })
    yield* Console.log(`jupyter: renamed the session to "${renamed.name}"`)

    yield* jupyter.deleteSession(session.id)
    const after = yield* jupyter.getSession(session.id).pipe(
      Effect.as("still there"),
      Effect.catchTag("NotFound", (e) => Effect.succeed(`NotFound (${e.status})`))
    )
    yield* Console.log(`jupyter: deleted the session and its kernel; reading it again gives ${after}`)
  }).pipe(Effect.onError(() => Effect.ignore(jupyter.deleteSession(session.id))))
})
