/**
 * WhyLabs sessions (`/v0/sessions`): the client, its layers and its wire
 * models, with the guest-session upload flow whylogs runs.
 *
 * ```ts
 * import { WhyLabs } from "effect-sessions"
 *
 * const program = Effect.gen(function*() {
 *   const whylabs = yield* WhyLabs.Sessions
 *   const session = yield* whylabs.createSession({ userId: "me" })
 *   const uploaded = yield* whylabs.uploadProfile(session.id, profileBytes)
 *   yield* Console.log(uploaded.observatoryUrl)
 * })
 * program.pipe(Effect.provide(WhyLabs.layerConfig()), Effect.provide(UndiciHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 */
export * from "./Sessions.js"
export * as Schemas from "./Schemas.js"

/** The wire models callers meet most, also at the top of the namespace. @since 0.1.0 */
export type {
  BatchLogSessionReferenceResponse,
  CreateDatasetProfileUploadResponse,
  CreateSessionResponse,
  GetProfileObservatoryLinkResponse,
  GetSessionResponse,
  Instant,
  LogSessionReferenceResponse,
  SegmentTag,
  SessionMetadata
} from "./Schemas.js"
