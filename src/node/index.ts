/**
 * Node transport: an `HttpClient` on undici with effect-sessions' fast path.
 *
 * @since 0.1.0
 */
export * as UndiciHttpClient from "./UndiciHttpClient.js"

/** deepset upload files from disk, streamed (`fromPath`). @since 0.1.0 */
export * as UploadFiles from "./UploadFiles.js"

/** The Looker client's TLS settings (verify off, a custom CA) for its own connections only. @since 0.1.0 */
export * as LookerTls from "./LookerTls.js"

/** The fast-path capability `UndiciHttpClient` attaches to its `HttpClient` (for custom transports). @since 0.1.0 */
export * as Transport from "../core/Transport.js"
