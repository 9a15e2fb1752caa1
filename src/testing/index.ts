/**
 * Emulators of the sessions APIs as `HttpApp`s, fault injection, and two ways
 * to run them: in memory as an `HttpClient`, or on a loopback socket.
 *
 * @since 0.1.0
 */

/** The deepset Cloud upload-sessions emulator. @since 0.1.0 */
export * as DeepsetEmulator from "./DeepsetEmulator.js"

/** Fault plans and the middleware that applies them. @since 0.1.0 */
export * as Faults from "./Faults.js"

/** Run an `HttpApp` as an in-memory `HttpClient`. @since 0.1.0 */
export * as InMemory from "./InMemory.js"

/** Serve an `HttpApp` on 127.0.0.1. @since 0.1.0 */
export * as Loopback from "./Loopback.js"

/** The Jupyter Server sessions emulator. @since 0.1.0 */
export * as JupyterEmulator from "./JupyterEmulator.js"
