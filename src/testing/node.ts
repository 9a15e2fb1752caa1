/**
 * The Node-only part of the test kit: {@link Loopback} serves any emulator
 * on a real socket with `@effect/platform-node`. Kept apart from
 * `effect-sessions/testing` so the in-memory emulators need no Node package.
 *
 * @since 0.1.0
 */

/** Serve an `HttpApp` on 127.0.0.1. @since 0.1.0 */
export * as Loopback from "./Loopback.js"
