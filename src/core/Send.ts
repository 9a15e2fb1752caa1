/**
 * One attempt on the wire, bounded by a time budget: over the transport's
 * fast path when it has one (effect-sessions' undici client; a streamed body
 * goes to it as an async iterable, opened anew for each attempt), otherwise
 * over any `HttpClient` (the generic path).
 *
 * The generic path forks no fiber. Under the live `Clock` the budget is an
 * attempt timer ({@link AttemptTimers}, one native timer shared by the
 * attempts of one budget) that aborts the request through the `AbortSignal` the
 * platform's `HttpClient.make` hands its implementation (registered the way
 * `HttpClient.withScope` registers its own), so the exchange fails in the
 * calling fiber and is reported as a timeout. A client that never takes that
 * signal (a hand-made `HttpClient.makeWith`) is found on its first call and
 * from then on gets an `Effect.timeout` race; so does every call under
 * `TestClock`, whose time only a fiber can wait for. Redirects are not
 * followed: `FetchHttpClient` runs with `redirect: "manual"`, and the other
 * clients follow none by default.
 *
 * @since 0.1.0
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpMethod from "@effect/platform/HttpMethod"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { globalValue } from "effect/GlobalValue"
import * as Stream from "effect/Stream"
import * as AttemptTimers from "./AttemptTimers.js"
import * as Outgoing from "./Outgoing.js"
import * as Transport from "./Transport.js"

/** Why an attempt failed on the wire. @since 0.1.0 */
export type Failure =
  | Transport.Failure
  | { readonly _tag: "Platform"; readonly error: HttpClientError.HttpClientError }

/** The controllers `HttpClient.make` uses instead of its own, by request (the platform's `withScope` registry). */
const scopedRequests = globalValue(
  "@effect/platform/HttpClient/scopedRequests",
  () => new WeakMap<HttpClientRequest.HttpClientRequest, AbortController>()
)

const liveClockConstructor = Clock.make().constructor

/** Whether `clock` is the live one (wall-clock timers may stand in for it). @since 0.1.0 */
export const isLiveClock = (clock: Clock.Clock): boolean => clock.constructor === liveClockConstructor

/**
 * A request with no URL yet, by the headers and the method it has, for a
 * client's shared headers (`Outgoing.shared`: one object for all its calls),
 * so that such a call sets only its URL (no copy of the headers into the
 * platform's form). Headers made for one call (its own headers, a login's
 * token, trace context) are converted as they are, and not kept.
 */
const templates = new WeakMap<Readonly<Record<string, string>>, Map<string, HttpClientRequest.HttpClientRequest>>()

const templateOf = (method: string, headers: Readonly<Record<string, string>>): HttpClientRequest.HttpClientRequest => {
  let byMethod = templates.get(headers)
  if (byMethod === undefined) {
    byMethod = new Map()
    templates.set(headers, byMethod)
  }
  let template = byMethod.get(method)
  if (template === undefined) {
    template = HttpClientRequest.make(method as HttpMethod.HttpMethod)("", { headers })
    byMethod.set(method, template)
  }
  return template
}

const toPlatformRequest = (out: Outgoing.Prepared): HttpClientRequest.HttpClientRequest => {
  const request = Outgoing.isShared(out.headers)
    ? HttpClientRequest.setUrl(templateOf(out.method, out.headers), out.url)
    : HttpClientRequest.make(out.method as HttpMethod.HttpMethod)(out.url, { headers: out.headers })
  const body = out.body
  if (body === undefined) return request
  switch (body._tag) {
    case "Text":
      return HttpClientRequest.bodyText(request, body.text, body.contentType)
    case "Bytes":
      return HttpClientRequest.bodyUint8Array(request, body.bytes, body.contentType)
    case "Stream":
      return HttpClientRequest.bodyStream(request, body.open(), {
        contentType: body.contentType,
        ...(body.contentLength === undefined ? {} : { contentLength: body.contentLength })
      })
  }
}

/**
 * A platform response read whole. Its headers are converted (`response.headers` makes a new record on each read)
 * only when asked for, once: a 2xx answer whose body decodes never reads them.
 */
class PlatformAnswer implements Transport.Exchange {
  readonly status: number
  private converted: Transport.Exchange["headers"] | undefined = undefined
  constructor(private readonly response: HttpClientResponse.HttpClientResponse, private readonly text: string) {
    this.status = response.status
  }
  get headers(): Transport.Exchange["headers"] {
    return (this.converted ??= this.response.headers)
  }
  readText(): string {
    return this.text
  }
}

/**
 * The fetch options with `redirect: "manual"` (undefined when the caller's already refuse redirects).
 * `onRead` is called when the client reads `redirect`: only a fetch-based client does.
 */
const manualRedirects = (fiber: { readonly currentContext: Context.Context<never> }, onRead: (() => void) | undefined) => {
  const init = Context.getOption(fiber.currentContext as Context.Context<FetchHttpClient.RequestInit>, FetchHttpClient.RequestInit)
  if (init._tag === "Some" && (init.value.redirect === "manual" || init.value.redirect === "error")) return undefined
  if (onRead === undefined) return init._tag === "Some" ? manualOf(init.value) : manualOnly
  return {
    ...(init._tag === "Some" ? init.value : {}),
    get redirect(): "manual" {
      onRead()
      return "manual"
    }
  }
}

/** The fetch options of a client known to read them: made once per caller's options. */
const manualOnly: RequestInit = { redirect: "manual" }
const manualByInit = new WeakMap<RequestInit, RequestInit>()
const manualOf = (init: RequestInit): RequestInit => {
  let manual = manualByInit.get(init)
  if (manual === undefined) {
    manual = { ...init, redirect: "manual" }
    manualByInit.set(init, manual)
  }
  return manual
}

/** A context with the fetch options added, remembered for the last options it was asked with. */
const withOptions = new WeakMap<Context.Context<never>, { readonly init: RequestInit; readonly context: Context.Context<never> }>()
const withFetchOptions = (context: Context.Context<never>, init: RequestInit): Context.Context<never> => {
  const known = withOptions.get(context)
  if (known !== undefined && known.init === init) return known.context
  const added = Context.add(context, FetchHttpClient.RequestInit, init)
  withOptions.set(context, { init, context: added })
  return added
}

/**
 * The fast path's form of a request: a whole body as it is, a streamed one
 * opened for this attempt as an async iterable (with its length, when known).
 */
const fastOutgoing = (out: Outgoing.Prepared): Transport.Outgoing => {
  const body = out.body
  // Without a body the prepared request already has the fast path's shape.
  if (body === undefined) return out as Outgoing.Prepared & { readonly body: undefined }
  switch (body._tag) {
    case "Text":
      return { method: out.method, origin: out.origin, path: out.path, headers: out.headers, body: body.text }
    case "Bytes":
      return {
        method: out.method,
        origin: out.origin,
        path: out.path,
        headers: { ...out.headers, "content-length": String(body.bytes.byteLength) },
        body: body.bytes
      }
    case "Stream":
      return {
        method: out.method,
        origin: out.origin,
        path: out.path,
        headers: body.contentLength === undefined
          ? out.headers
          : { ...out.headers, "content-length": String(body.contentLength) },
        body: nativeOrIterable(body.open())
      }
  }
}

/** A stream that is an async iterable itself (a file's native source, `PresignedPost.withNative`) goes as that. */
const nativeOrIterable = (stream: Stream.Stream<Uint8Array, unknown>): AsyncIterable<Uint8Array> =>
  Symbol.asyncIterator in stream ? (stream as unknown as AsyncIterable<Uint8Array>) : Stream.toAsyncIterable(stream)

/** Sends attempts for one client. @since 0.1.0 */
export interface Sender {
  /** One attempt within `budgetMillis` of the clock in force. */
  readonly send: (out: Outgoing.Prepared, budgetMillis: number, clock: Clock.Clock) => Effect.Effect<Transport.Exchange, Failure>
  /**
   * One attempt whose outcome goes on to the handler, which gives the effect
   * the call continues with. On the fast path the handler is called from the
   * transport's callback: the attempt is one `Effect.async` resumed with what
   * it returns (a call that succeeds at once runs no other step for it);
   * elsewhere it is `send` matched on its outcome. A throw in the handler is
   * a defect of the call. `interruptible`: whether the calling region is
   * (only then can the wait be interrupted, and the exchange aborted).
   */
  readonly attempt: <B, E>(
    out: Outgoing.Prepared,
    budgetMillis: number,
    clock: Clock.Clock,
    interruptible: boolean,
    handler: Handler<B, E>
  ) => Effect.Effect<B, E>
}

/** What one attempt's outcome goes on to. @since 0.1.0 */
export interface Handler<B, E> {
  readonly onAnswer: (answer: Transport.Exchange) => Effect.Effect<B, E>
  readonly onFailure: (failure: Failure) => Effect.Effect<B, E>
}

/**
 * One attempt on the generic path: what the platform's side of it tells us
 * (whether it took our signal, read fetch's options), our controller, and
 * its attempt timer, which aborts the exchange when the budget is spent.
 */
class GenericAttempt implements AttemptTimers.Entry {
  timedOut = false
  taken = false
  readFetchOptions = false
  controller: AbortController | undefined = undefined
  timerList: AttemptTimers.TimerList | undefined = undefined
  timerPrev: AttemptTimers.Entry | undefined = undefined
  timerNext: AttemptTimers.Entry | undefined = undefined
  expiresAt = 0
  expire(): void {
    this.timedOut = true
    this.controller?.abort()
  }
}

/**
 * One attempt on the fast path: the transport's receiver, resuming the wait
 * with what the handler makes of the outcome.
 */
class FastAttempt<B, E> implements Transport.Receiver {
  started: Transport.Started | undefined = undefined
  reported = false
  resume: ((effect: Effect.Effect<B, E>) => void) | undefined = undefined
  constructor(readonly handler: Handler<B, E>) {}
  done(answer: Transport.Exchange | undefined, failure: Transport.Failure | undefined): void {
    this.reported = true
    let next: Effect.Effect<B, E>
    try {
      next = failure === undefined ? this.handler.onAnswer(answer!) : this.handler.onFailure(failure)
    } catch (defect) {
      next = Effect.die(defect)
    }
    const resume = this.resume
    this.resume = undefined
    resume?.(next)
  }
  /** The wait ended in a failure: before the transport reported, that is an interruption, and the exchange is aborted. */
  onEnd(cause: Cause.Cause<E>): Effect.Effect<B, E> {
    if (!this.reported) this.started?.cancel()
    return Effect.failCause(cause)
  }
}

/**
 * A sender over `http` (and its fast path, used for plain bodies under the
 * live clock).
 *
 * @since 0.1.0
 */
export const make = (http: HttpClient.HttpClient): Sender => {
  const fast = Transport.fastPathOf(http)
  /** Whether this client's requests take the abort signal we register (learned on the first call). */
  let abortable: boolean | undefined
  /** Whether this client reads fetch's options (only then do they go with each call; learned on the first call that reached it). */
  let readsFetchOptions: boolean | undefined
  // `HttpClient.makeWith` keeps these at run time (`execute` is `postprocess(preprocess(request))`); running the
  // two halves ourselves lets the controller be registered for the request that reaches the implementation.
  const internals = http as unknown as {
    readonly preprocess?: HttpClient.HttpClient.Preprocess<HttpClientError.HttpClientError, never>
    readonly postprocess?: HttpClient.HttpClient.Postprocess<HttpClientError.HttpClientError, never>
  }
  const executeWith = (
    request: HttpClientRequest.HttpClientRequest,
    register: (request: HttpClientRequest.HttpClientRequest) => void
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
    const { postprocess, preprocess } = internals
    if (typeof preprocess !== "function" || typeof postprocess !== "function") {
      register(request)
      return http.execute(request)
    }
    return Effect.flatMap(preprocess(request), (final) => {
      register(final)
      return postprocess(Effect.succeed(final))
    })
  }

  const generic = (out: Outgoing.Prepared, budgetMillis: number, clock: Clock.Clock) =>
    Effect.withFiberRuntime<Transport.Exchange, Failure>((fiber) => {
      const request = toPlatformRequest(out)
      const state = new GenericAttempt()
      const register = (final: HttpClientRequest.HttpClientRequest) => {
        const controller = new AbortController()
        state.controller = controller
        if (state.timedOut) controller.abort()
        // Once both are learned, nothing needs to watch the signal being read.
        if (abortable !== undefined && readsFetchOptions !== undefined) return void scopedRequests.set(final, controller)
        // The platform reads `signal` when it hands the request to its implementation: that tells us it is abortable.
        const tracked = {
          get signal() {
            state.taken = true
            return controller.signal
          },
          abort: (reason?: unknown) => controller.abort(reason)
        } as AbortController
        scopedRequests.set(final, tracked)
      }
      let attempt: Effect.Effect<Transport.Exchange, HttpClientError.HttpClientError> = Effect.flatMap(
        executeWith(request, register),
        (response) => Effect.map(response.text, (text) => new PlatformAnswer(response, text))
      )
      if (abortable === undefined || readsFetchOptions === undefined) {
        attempt = Effect.ensuring(
          attempt,
          Effect.sync(() => {
            abortable ??= state.taken
            // a request that reached the implementation tells whether it reads fetch's options
            if (state.taken) readsFetchOptions ??= state.readFetchOptions
          })
        )
      }
      const init = readsFetchOptions === false ? undefined : manualRedirects(
        fiber,
        readsFetchOptions === true ? undefined : () => void (state.readFetchOptions = true)
      )
      const budgeted = AttemptTimers.fits(budgetMillis)
      // Fork-free under the live clock once the client is known to take our signal: the attempt timer (shared by
      // the attempts of one budget) aborts the exchange, which then fails in this fiber. Started in the
      // uninterruptible region below, whose handlers stop it however the attempt ends (an interruption before it
      // would leave it holding the process open until it fired).
      const armed = budgeted && abortable === true && isLiveClock(clock)
      // With our controller registered the platform leaves aborting to us: on interruption, and on our timer.
      // `putBack` restores what the attempt ran with.
      const ended = (putBack: Effect.Effect<void> | undefined) => ({
        onSuccess: (answer: Transport.Exchange) => {
          AttemptTimers.stop(state)
          return putBack === undefined ? Effect.succeed(answer) : Effect.as(putBack, answer)
        },
        onFailure: (cause: Cause.Cause<HttpClientError.HttpClientError>) => {
          AttemptTimers.stop(state)
          if (Cause.isInterrupted(cause)) state.controller?.abort()
          const failed = Effect.failCause(
            Cause.map(cause, (error): Failure => (state.timedOut ? { _tag: "Timeout" } : { _tag: "Platform", error }))
          )
          return putBack === undefined ? failed : Effect.zipRight(putBack, failed)
        }
      })
      const settled = Effect.uninterruptibleMask((restore) => {
        if (armed) AttemptTimers.start(state, Math.max(0, budgetMillis))
        if (init === undefined) return Effect.matchCauseEffect(restore(attempt), ended(undefined))
        // The fetch options are in the context for the attempt alone, as `Effect.provideService` would put them
        // there (without its ~25 run-loop steps): set in this uninterruptible region, and put back however the
        // attempt ends.
        return Effect.flatMap(FiberRef.get(FiberRef.currentContext), (previous) =>
          Effect.zipRight(
            FiberRef.set(FiberRef.currentContext, withFetchOptions(previous, init)),
            Effect.matchCauseEffect(restore(attempt), ended(FiberRef.set(FiberRef.currentContext, previous)))
          ))
      })
      if (!budgeted || armed) return settled
      return Effect.timeoutFail(settled, {
        duration: Duration.millis(Math.max(0, budgetMillis)),
        onTimeout: (): Failure => ({ _tag: "Timeout" })
      })
    })

  const budget = (millis: number) => (AttemptTimers.fits(millis) ? Math.max(0, millis) : Infinity)

  return {
    send: (out, budgetMillis, clock) =>
      fast !== undefined && isLiveClock(clock)
        ? fast.exchange(fastOutgoing(out), budget(budgetMillis))
        : generic(out, budgetMillis, clock),
    attempt: <B, E>(
      out: Outgoing.Prepared,
      budgetMillis: number,
      clock: Clock.Clock,
      interruptible: boolean,
      handler: Handler<B, E>
    ): Effect.Effect<B, E> => {
      if (fast === undefined || !isLiveClock(clock)) {
        return Effect.matchEffect(generic(out, budgetMillis, clock), {
          onFailure: (failure) => handler.onFailure(failure),
          onSuccess: (answer) => handler.onAnswer(answer)
        })
      }
      const attempt = new FastAttempt(handler)
      const wait = Effect.async<B, E>((resume) => {
        attempt.resume = resume
        attempt.started = fast.start(fastOutgoing(out), budget(budgetMillis), attempt)
      })
      // `Effect.async` with a canceler would wrap the wait in `onInterrupt` (about twice the run-loop steps of this).
      // The failure handler runs in the uninterruptible region around the wait (an interruption reaches it), and a
      // success passes it without a step. An uninterruptible caller cannot be interrupted while waiting: nothing to
      // abort then.
      return interruptible
        ? Effect.uninterruptible(Effect.catchAllCause(Effect.interruptible(wait), (cause) => attempt.onEnd(cause)))
        : wait
    }
  }
}
