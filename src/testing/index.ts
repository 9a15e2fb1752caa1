/**
 * Emulators of the sessions APIs as `HttpApp`s, fault injection, and the
 * in-memory `HttpClient` that runs them (routed by origin, so emulators
 * compose). Nothing here needs Node: serving an emulator on a loopback socket
 * is `Loopback`, in `effect-sessions/testing/node`.
 *
 * @since 0.1.0
 */

/** The deepset Cloud upload-sessions emulator. @since 0.1.0 */
export * as DeepsetEmulator from "./DeepsetEmulator.js"

/** Fault plans and the middleware that applies them. @since 0.1.0 */
export * as Faults from "./Faults.js"

/** Run an `HttpApp` as an in-memory `HttpClient`. @since 0.1.0 */
export * as InMemory from "./InMemory.js"

/** An S3-style object store (presigned PUT and POST) shared by the emulators. @since 0.1.0 */
export * as ObjectStore from "./ObjectStore.js"

/** The Jupyter Server sessions emulator. @since 0.1.0 */
export * as JupyterEmulator from "./JupyterEmulator.js"

/** The Looker API login and session emulator. @since 0.1.0 */
export * as LookerEmulator from "./LookerEmulator.js"

/** The WhyLabs sessions emulator (the upload target on the same origin). @since 0.1.0 */
export * as WhyLabsEmulator from "./WhyLabsEmulator.js"

/** What the emulators record of each request they receive. @since 0.1.0 */
export * as Recorded from "./Recorded.js"
