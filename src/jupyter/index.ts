/**
 * Jupyter Server sessions (`/api/sessions`): the client, its layers and its
 * wire models.
 *
 * ```ts
 * import { Jupyter } from "effect-sessions"
 *
 * const program = Effect.gen(function*() {
 *   const jupyter = yield* Jupyter.Sessions
 *   const session = yield* jupyter.createSession({ path: "notes.ipynb", type: "notebook" })
 *   yield* Console.log(session.id, session.kernel?.name)
 * })
 * program.pipe(
 *   Effect.provide(Jupyter.layer({ baseUrl: "http://127.0.0.1:8888", token: Redacted.make("…") })),
 *   Effect.provide(UndiciHttpClient.layer)   // from "effect-sessions/node"; in browsers FetchHttpClient.layer
 * )
 * ```
 *
 * @since 0.1.0
 */
export * from "./Sessions.js"
export * as Schemas from "./Schemas.js"

/** The wire models callers meet most, also at the top of the namespace. @since 0.1.0 */
export type { CreateSession, Kernel, KernelRequest, Session, UpdateSession } from "./Schemas.js"
