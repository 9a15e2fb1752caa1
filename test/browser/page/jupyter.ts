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

/** What the page reports of calls to a server that never answers: each call's error tag and kind, and its time. */
export interface TimeoutResult {
  readonly calls: ReadonlyArray<{ readonly tag: string; readonly kind: string | undefined; readonly millis: number }>
}

/**
 * Calls to a server that never answers, one after another, under a 300 ms
 * attempt timeout: the first one (before the client has learned that the
 * platform takes its abort signal) and the later ones (on the attempt
 * timers, whose native timers in a browser are plain numbers).
 */
const timeouts = (count: number) =>
  Effect.gen(function*() {
    const jupyter = yield* Jupyter.Sessions
    const calls: Array<TimeoutResult["calls"][number]> = []
    for (let i = 0; i < count; i++) {
      const started = performance.now()
      const error = yield* Effect.flip(jupyter.listSessions())
      calls.push({
        tag: error._tag,
        kind: error._tag === "Timeout" ? error.kind : undefined,
        millis: performance.now() - started
      })
    }
    return { calls } satisfies TimeoutResult
  })

declare global {
  interface Window {
    /** `propagate: false` sends no trace headers (`traceparent`, `b3`). */
    jupyterScenario: (baseUrl: string, token: string, path: string, propagate: boolean) => Promise<ScenarioResult>
    /** `count` calls to `baseUrl`, a server that never answers (see {@link timeouts}). */
    timeoutScenario: (baseUrl: string, count: number) => Promise<TimeoutResult>
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

window.timeoutScenario = (baseUrl, count) =>
  Effect.runPromise(
    timeouts(count).pipe(
      Effect.provide(
        Jupyter.layer({
          baseUrl,
          token: Redacted.make("no-token"),
          policy: { attemptTimeout: "300 millis", maxRetries: 0 }
        }).pipe(Layer.provide(FetchHttpClient.layer))
      )
    )
  )
