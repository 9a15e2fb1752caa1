/**
 * An `HttpClient` on undici for Node: the platform's own undici client for
 * every generic use, plus the {@link Transport.FastPath} that effect-sessions'
 * clients use for their calls: one undici `dispatch` per attempt with a
 * handler that collects the body (no stream objects), an attempt timer
 * ({@link AttemptTimers}: one native timer shared by the exchanges of one
 * budget; used only under the live `Clock`), and an abort on interruption.
 *
 * ```ts
 * program.pipe(Effect.provide(Deepset.layerConfig()), Effect.provide(UndiciHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Agent, type Dispatcher } from "undici"
import * as Transport from "../core/Transport.js"
import * as AttemptTimers from "../core/AttemptTimers.js"

const timedOut: Transport.Failure = { _tag: "Timeout" }

/** Why an exchange was aborted by this side. */
class Aborted extends Error {}

/** Raw header pairs (`[name, value, name, value, …]`) as an object of lower-case names. */
const headerObject = (raw: ReadonlyArray<Buffer | string>): Record<string, string | Array<string>> => {
  const out: Record<string, string | Array<string>> = {}
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString("latin1").toLowerCase()
    const value = raw[i + 1]!.toString("latin1")
    const previous = out[name]
    out[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value]
  }
  return out
}

/** No raw headers (before an answer's headers came, and once they are read). */
const noRawHeaders: ReadonlyArray<Buffer | string> = []

/**
 * A whole answer whose body stays in undici's buffers (outside the JS heap)
 * until it is read, and is let go of when it is read.
 *
 * Why both: the answer of a page fetched ahead waits for its consumer, and
 * Effect's fiber machinery can keep objects of a finished call reachable from
 * the old generation for a while (the young-generation collector then
 * promotes whatever they hold, where only a full collection frees it). A
 * body kept as one large string would be promoted with them; bytes read and
 * dropped leave nothing large behind.
 *
 * The header object is made when first asked for: a 2xx answer that decodes
 * is judged without its headers, and building them is a string per name and
 * value. Until then the raw pairs are held, as long as the body chunks (views
 * of the same socket reads) are.
 */
class Answer implements Transport.Exchange {
  #chunks: Array<Buffer> | undefined
  #raw: ReadonlyArray<Buffer | string>
  #headers: Record<string, string | Array<string>> | undefined = undefined
  constructor(readonly status: number, raw: ReadonlyArray<Buffer | string>, chunks: Array<Buffer>) {
    this.#raw = raw
    this.#chunks = chunks
  }
  get headers(): Record<string, string | Array<string>> {
    if (this.#headers === undefined) {
      this.#headers = headerObject(this.#raw)
      this.#raw = noRawHeaders
    }
    return this.#headers
  }
  readText(): string {
    const chunks = this.#chunks
    this.#chunks = undefined
    if (chunks === undefined || chunks.length === 0) return ""
    return chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")
  }
}

/**
 * One exchange: undici's callback handler (`onConnect`/`onHeaders`/`onData`/
 * `onComplete`/`onError`; on large pages it costs measurably less per byte
 * than the newer controller handler, which undici adapts to this one) with
 * the attempt timer. Its state lives in fields rather than closures so that
 * it can drop everything it holds the moment it reports.
 */
class Call implements Dispatcher.DispatchHandler, Transport.Started, AttemptTimers.Entry {
  #receiver: Transport.Receiver | undefined
  timerList: AttemptTimers.TimerList | undefined = undefined
  timerPrev: AttemptTimers.Entry | undefined = undefined
  timerNext: AttemptTimers.Entry | undefined = undefined
  expiresAt = 0
  #abortRequest: ((reason: Error) => void) | undefined = undefined
  #abortReason: Aborted | undefined = undefined
  #status = 0
  #rawHeaders: ReadonlyArray<Buffer | string> = noRawHeaders
  #responded = false
  #chunks: Array<Buffer> = []

  constructor(receiver: Transport.Receiver, timeoutMillis: number) {
    this.#receiver = receiver
    // A budget a native timer cannot hold (Infinity, or over ~24.8 days, which Node would turn into 1 ms) sets none.
    if (AttemptTimers.fits(timeoutMillis)) AttemptTimers.start(this, Math.max(0, timeoutMillis))
  }

  /** The attempt timer fired: a timeout, and the request is aborted. */
  expire(): void {
    this.#finish(undefined, timedOut)
    this.#abort(new Aborted("attempt timeout"))
  }

  /** Interruption: no callback, and the request is aborted. */
  cancel(): void {
    this.#receiver = undefined
    this.#release()
    this.#abort(new Aborted("interrupted"))
  }

  #release(): void {
    AttemptTimers.stop(this)
    this.#rawHeaders = noRawHeaders
    this.#chunks = []
  }

  #finish(answer: Transport.Exchange | undefined, failure: Transport.Failure | undefined): void {
    const receiver = this.#receiver
    if (receiver === undefined) return
    this.#receiver = undefined
    this.#release()
    receiver.done(answer, failure)
  }

  #abort(reason: Aborted): void {
    this.#abortReason = reason
    if (this.#abortRequest !== undefined) this.#abortRequest(reason)
  }

  onConnect(abortWith: (reason: Error) => void): void {
    this.#abortRequest = abortWith
    if (this.#abortReason !== undefined) abortWith(this.#abortReason)
  }

  onHeaders(statusCode: number, headers: Array<Buffer>): boolean {
    if (statusCode < 200) return true // 1xx informational
    this.#status = statusCode
    this.#rawHeaders = headers
    this.#responded = true
    return true
  }

  onData(chunk: Buffer): boolean {
    this.#chunks.push(chunk)
    return true
  }

  onComplete(): void {
    if (this.#receiver === undefined) return
    this.#finish(new Answer(this.#status, this.#rawHeaders, this.#chunks), undefined)
  }

  onError(error: Error): void {
    this.#finish(undefined, { _tag: this.#responded ? "Body" : "Request", cause: error })
  }
}

/**
 * The fast path over one undici dispatcher: one `dispatch` per attempt.
 *
 * @since 0.1.0
 */
export const makeFastPath = (dispatcher: Dispatcher): Transport.FastPath => {
  const start = (request: Transport.Outgoing, timeoutMillis: number, receiver: Transport.Receiver): Transport.Started => {
    const call = new Call(receiver, timeoutMillis)
    dispatcher.dispatch(
      {
        origin: request.origin,
        path: request.path,
        method: request.method as Dispatcher.HttpMethod,
        headers: request.headers,
        // undici takes an async iterable body too (its types list only the other forms)
        body: (request.body ?? null) as Exclude<Dispatcher.DispatchOptions["body"], undefined>,
        headersTimeout: 0,
        bodyTimeout: 0
      },
      call
    )
    return call
  }
  return {
    start,
    exchange: (request, timeoutMillis) =>
      Effect.async<Transport.Exchange, Transport.Failure>((resume) => {
        const call = start(request, timeoutMillis, {
          done: (answer, failure) => resume(failure === undefined ? Effect.succeed(answer!) : Effect.fail(failure))
        })
        return Effect.sync(() => call.cancel())
      })
  }
}

/** A client over a dispatcher: the platform's undici client with the fast path attached. @since 0.1.0 */
export const make = (dispatcher: Dispatcher): HttpClient.HttpClient =>
  Transport.withFastPath(NodeHttpClient.makeUndici(dispatcher), makeFastPath(dispatcher))

/**
 * The client on its own undici `Agent` (closed with the layer). Options are
 * the Agent's (`connections`, `keepAliveTimeout`, `connect`, …).
 *
 * @since 0.1.0
 */
export const layerWith = (options: Agent.Options = {}): Layer.Layer<HttpClient.HttpClient> =>
  Layer.scoped(
    HttpClient.HttpClient,
    Effect.map(
      Effect.acquireRelease(Effect.sync(() => new Agent(options)), (agent) => Effect.promise(() => agent.destroy())),
      make
    )
  )

/** The client with a default undici `Agent`. @since 0.1.0 */
export const layer: Layer.Layer<HttpClient.HttpClient> = layerWith()
