/**
 * Tracing of a call: one client span per call named `<Api>.<operation>`, made
 * directly from the fiber's tracer (as `Effect.useSpan` would make it, without
 * the effects around it), ended however the call ends, and the trace context
 * that goes out with every attempt (`traceparent`, `b3`).
 *
 * Under Effect's built-in tracer, which records nothing anywhere, a call makes
 * no span of its own; the caller's span, if there is one, is propagated.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import type * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"

/** The tracer every Effect program has until one is provided. */
const builtInTracer: Tracer.Tracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/** The nearest span whose context does not disable propagation (as Effect's own spans pick their parent). */
const withPropagation = (span: Option.Option<Tracer.AnySpan>): Option.Option<Tracer.AnySpan> => {
  let current = span
  while (current._tag === "Some" && Context.get(current.value.context, Tracer.DisablePropagation)) {
    current = current.value._tag === "Span" ? current.value.parent : Option.none()
  }
  return current
}

/** What tells the server which span a request belongs to (as the platform's `HttpClient` sends it). */
const traceHeaders = (span: Tracer.AnySpan): Readonly<Record<string, string>> =>
  span._tag === "Span" ? HttpTraceContext.toHeaders(span) : {
    b3: `${span.traceId}-${span.spanId}-${span.sampled ? "1" : "0"}`,
    traceparent: `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`
  }

/** The tracing of one call. @since 0.1.0 */
export interface CallTrace {
  /** The call's span, when a real tracer records it. */
  readonly span: Tracer.Span | undefined
  /** The headers that carry the trace context (empty when there is none or propagation is off). */
  readonly headers: Readonly<Record<string, string>>
}

/** The headers of a call without trace context (compare by identity). @since 0.1.0 */
export const noHeaders: Readonly<Record<string, string>> = {}

const none: CallTrace = { span: undefined, headers: noHeaders }

/**
 * Starts the tracing of a call: its span (parent from the context unless
 * propagation is disabled there, the fiber's span annotations and links),
 * `http.request.method` and `url.full` (already redacted). The span is
 * named `<spanPrefix>.<operation>`; its name and URL are made only when there
 * is a span to give them to.
 *
 * @since 0.1.0
 */
export const start = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  clock: Clock.Clock,
  spanPrefix: string,
  call: {
    readonly operation: string
    readonly method: string
    /** Redacted; may be computed when read. */
    readonly url: string
  }
): CallTrace => {
  if (!fiber.getFiberRef(FiberRef.currentTracerEnabled)) return none
  const parentSpan = Context.getOption(fiber.currentContext, Tracer.ParentSpan)
  if (parentSpan._tag === "None" && fiber.currentTracer === builtInTracer) return none
  const parent = withPropagation(parentSpan)
  let span: Tracer.Span | undefined
  if (fiber.currentTracer !== builtInTracer) {
    const links = fiber.getFiberRef(FiberRef.currentTracerSpanLinks)
    const timed = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
    span = fiber.currentTracer.span(
      `${spanPrefix}.${call.operation}`,
      parent,
      Context.empty(),
      Chunk.toReadonlyArray(links),
      timed ? clock.unsafeCurrentTimeNanos() : BigInt(0),
      "client"
    )
    const annotations = fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations)
    if (HashMap.size(annotations) > 0) HashMap.forEach(annotations, (value, key) => span!.attribute(key, value))
    span.attribute("http.request.method", call.method)
    span.attribute("url.full", call.url)
  }
  const propagated = span ?? Option.getOrUndefined(parent)
  const headers = propagated !== undefined && fiber.getFiberRef(HttpClient.currentTracerPropagation)
    ? traceHeaders(propagated)
    : noHeaders
  return { span, headers }
}

/**
 * Runs a call's effect under its span: the platform client's own spans nest
 * under it, and the span ends however the call ends, interruption included.
 * A successful call's span ends with `void`, not with its value: a span keeps
 * its exit, and a decoded listing would otherwise live as long as the span.
 *
 * @since 0.1.0
 */
export const traced = <A, E extends { readonly _tag: string }>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  clock: Clock.Clock,
  span: Tracer.Span,
  effect: Effect.Effect<A, E>
): Effect.Effect<A, E> => {
  const timed = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
  const end = (exit: Exit.Exit<void, E>) =>
    Effect.sync(() => {
      if (exit._tag === "Failure") {
        const failure = Cause.failureOption(exit.cause)
        if (failure._tag === "Some") span.attribute("error.type", failure.value._tag)
      }
      span.end(timed ? clock.unsafeCurrentTimeNanos() : BigInt(0), exit)
    })
  const endSpan = {
    onSuccess: (value: A) => Effect.as(end(Exit.void), value),
    onFailure: (cause: Cause.Cause<E>) => Effect.zipRight(end(Exit.failCause(cause)), Effect.failCause(cause))
  }
  const inner = Effect.withParentSpan(effect, span)
  return Effect.checkInterruptible((interruptible) =>
    interruptible
      ? Effect.uninterruptible(Effect.matchCauseEffect(Effect.interruptible(inner), endSpan))
      : Effect.matchCauseEffect(inner, endSpan)
  )
}

/** Records a retry on the call's span. @since 0.1.0 */
export const retryEvent = (
  span: Tracer.Span | undefined,
  clock: Clock.Clock,
  info: { readonly resend: number; readonly waitMillis: number; readonly errorTag: string; readonly status?: number | undefined }
): void => {
  if (span === undefined) return
  span.event("retry", clock.unsafeCurrentTimeNanos(), {
    "http.request.resend_count": info.resend,
    "retry.wait_ms": info.waitMillis,
    "error.type": info.errorTag,
    ...(info.status === undefined ? {} : { "http.response.status_code": info.status })
  })
  span.attribute("http.request.resend_count", info.resend)
}
