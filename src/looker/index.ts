/**
 * The Looker API session (`/login`, `/session`, `/logout`): the client, its
 * layers and its wire models.
 *
 * ```ts
 * import { Looker } from "effect-sessions"
 *
 * const program = Effect.gen(function*() {
 *   const looker = yield* Looker.Session
 *   yield* looker.updateSession({ workspace_id: "dev" })
 *   yield* Console.log((yield* looker.getSession()).workspace_id)
 * })
 * program.pipe(Effect.provide(Looker.layerConfig()), Effect.provide(UndiciHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 */
export * from "./Session.js"
export * as Schemas from "./Schemas.js"

/** The wire models callers meet most, also at the top of the namespace. @since 0.1.0 */
export type { ApiSession, Workspace, WriteApiSession } from "./Schemas.js"
