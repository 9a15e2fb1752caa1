/**
 * What the emulators record of each request they receive, for tests to read
 * (`emulator.recent`).
 *
 * @since 0.1.0
 */

/** One recorded request, as received (headers with lower-case names, secrets included). @since 0.1.0 */
export interface RecordedRequest {
  readonly method: string
  /** Path and query. */
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}
