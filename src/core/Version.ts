/**
 * The library's version, sent in the `User-Agent` (`effect-sessions/<version>`).
 * A test keeps it equal to package.json's.
 *
 * @since 0.1.0
 */
export const version = "0.1.0"

/** The `User-Agent` every client sends. @since 0.1.0 */
export const userAgent = `effect-sessions/${version}`
