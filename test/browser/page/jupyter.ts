/**
 * The page the browser test loads: `Jupyter.Sessions` over the platform's
 * `FetchHttpClient`, as a browser app (JupyterLab's place) would use it. The
 * test calls `window.jupyterScenario(baseUrl, token, path, propagate)` and
 * gets what happened (a failure rejects with the error's tag and message).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { Jupyter } from "../../../src/index.js"

/** What the page reports back. */
export interface ScenarioResult {
  readonly before: ReadonlyArray<string>
  readonly created: { readonly id: string; readonly path: string; readonly kernel: string | undefined }
  readonly during: ReadonlyArray<string>
  readonly after: ReadonlyArray<string>
  readonly missing: string
  readonly userAgent: string
}

const scenario = (path: string) =>
  Effect.gen(function*() {
    const jupyter = yield* Jupyter.Sessions
    const paths = Effect.map(jupyter.listSessions(), (sessions) => sessions.map((s) => s.path))
    const before = yield* paths
    const session = yield* jupyter.createSession({ path, type: "notebook", kernel: { name: "python3" } })
    const during = yield* paths
    yield* jupyter.deleteSession(session.id)
    const after = yield* paths
    const gone = yield* Effect.either(jupyter.getSession(session.id))
    return {
      before,
      created: { id: session.id, path: session.path, kernel: session.kernel?.name },
      during,
      after,
      missing: gone._tag === "Left" ? gone.left._tag : "still there",
      userAgent: navigator.userAgent
    } satisfies ScenarioResult
  })

declare global {
  interface Window {
    /** `propagate: false` sends no trace headers (`traceparent`, `b3`). */
    jupyterScenario: (baseUrl: string, token: string, path: string, propagate: boolean) => Promise<ScenarioResult>
  }
}

window.jupyterScenario = (baseUrl, token, path, propagate) =>
  Effect.runPromise(
    scenario(path).pipe(
      Effect.locally(HttpClient.currentTracerPropagation, propagate),
      Effect.provide(
        Jupyter.layer({ baseUrl, token: Redacted.make(token) }).pipe(Layer.provide(FetchHttpClient.layer))
      ),
      Effect.catchAll((error) => Effect.die(new Error(`${error._tag}: ${error.message}`)))
    )
  )
