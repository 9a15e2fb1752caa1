/**
 * Node transport: an `HttpClient` on undici with effect-sessions' fast path.
 *
 * @since 0.1.0
 */
export * as UndiciHttpClient from "./UndiciHttpClient.js"
