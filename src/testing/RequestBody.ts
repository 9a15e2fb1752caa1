/**
 * Reads a request body for the emulators' upload targets: every chunk goes,
 * in order and synchronously, to a callback, which may stop the read with an
 * error of its own. On Node (`HttpServerRequest.source` is the
 * `IncomingMessage`) the chunks come from its `data` events directly: the
 * platform's `request.stream` (a `Stream` over the `Readable`) costs several
 * hundred µs of CPU per request more, which on a benchmark machine the server
 * shares with the client being measured is most of what a small upload costs.
 * Elsewhere (the in-memory emulators) the chunks come from `request.stream`.
 *
 * Browser-safe: Node's stream is recognised by its shape, nothing is imported
 * from Node.
 *
 * @since 0.1.0
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

/** The body ended before it was complete (the connection was dropped or reset mid-body). @since 0.1.0 */
export class BodyCut extends Data.TaggedError("BodyCut")<{ readonly cause?: unknown }> {}

type Listener = (...args: ReadonlyArray<unknown>) => void

/** The part of a Node `Readable` (an `IncomingMessage`) this reads. */
interface EventSource {
  readonly on: (event: string, listener: Listener) => unknown
  readonly off: (event: string, listener: Listener) => unknown
  readonly readableEnded?: unknown
  readonly destroyed?: unknown
}

const eventSourceOf = (source: unknown): EventSource | undefined => {
  if (typeof source !== "object" || source === null) return undefined
  const s = source as Partial<EventSource>
  return typeof s.on === "function" && typeof s.off === "function" && typeof s.readableEnded === "boolean"
    ? (s as EventSource)
    : undefined
}

const fromEvents = <E>(
  source: EventSource,
  onChunk: (chunk: Uint8Array) => E | undefined
): Effect.Effect<void, E | BodyCut> =>
  Effect.async<void, E | BodyCut>((resume) => {
    let settled = false
    const cleanup = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError)
      source.off("close", onClose)
    }
    const settle = (result: Effect.Effect<void, E | BodyCut>) => {
      if (settled) return
      settled = true
      cleanup()
      resume(result)
    }
    const onData: Listener = (chunk) => {
      const stop = onChunk(chunk as Uint8Array)
      if (stop !== undefined) settle(Effect.fail(stop))
    }
    const onEnd: Listener = () => settle(Effect.void)
    const onError: Listener = (cause) => settle(Effect.fail(new BodyCut({ cause })))
    // A close without an end: the connection went away mid-body.
    const onClose: Listener = () => settle(Effect.fail(new BodyCut({})))
    if (source.readableEnded === true) {
      settle(Effect.void)
      return
    }
    if (source.destroyed === true) {
      settle(Effect.fail(new BodyCut({})))
      return
    }
    source.on("data", onData)
    source.on("end", onEnd)
    source.on("error", onError)
    source.on("close", onClose)
    return Effect.sync(cleanup)
  })

/**
 * Feeds the body of `request` to `onChunk`, chunk by chunk, until its end
 * (then succeeds), until `onChunk` returns an error (then fails with it; the
 * rest of the body is not read), or until the body is cut off (`BodyCut`).
 * `onChunk` must not keep a chunk without copying it (a transport may reuse
 * its buffers).
 *
 * @since 0.1.0
 */
export const forEachChunk = <E>(
  request: HttpServerRequest.HttpServerRequest,
  onChunk: (chunk: Uint8Array) => E | undefined
): Effect.Effect<void, E | BodyCut> => {
  const source = eventSourceOf(request.source)
  if (source !== undefined) return fromEvents(source, onChunk)
  return Stream.runForEachChunk(Stream.mapError(request.stream, (cause) => new BodyCut({ cause })), (chunks) =>
    Effect.suspend((): Effect.Effect<void, E> => {
      for (const chunk of chunks) {
        const stop = onChunk(chunk)
        if (stop !== undefined) return Effect.fail(stop)
      }
      return Effect.void
    }))
}
