/**
 * Fault injection for emulated HTTP APIs: a plan (latency, a sequence of
 * faults for the next requests, a random fault rate) held in a `Ref` and
 * applied by a middleware around any `HttpApp`. Nothing here knows an API.
 *
 * @since 0.1.0
 */
import type * as HttpApp from "@effect/platform/HttpApp"
import * as Headers from "@effect/platform/Headers"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"

/**
 * Answer with this status instead of calling the app (e.g. 429, 503).
 * `retryAfter`: a number is sent as seconds, a string verbatim (an HTTP-date).
 *
 * @since 0.1.0
 */
export interface StatusFault {
  readonly _tag: "Status"
  readonly status: number
  readonly retryAfter?: number | string
  readonly body?: unknown
}

/**
 * Drop the connection without any response. By default the app is not called;
 * with `afterHandler: true` it runs (its side effects happen) and then the
 * response is lost.
 *
 * @since 0.1.0
 */
export interface DropFault {
  readonly _tag: "Drop"
  readonly afterHandler?: boolean
}

/** Answer 200 with a body that is not JSON (the app is not called). @since 0.1.0 */
export interface MalformedFault {
  readonly _tag: "Malformed"
}

/**
 * Run the app, then send its status, headers and a `content-length` of the
 * whole body, but only the first half of the body; then the connection ends
 * (a clean close on loopback, a body stream that fails in memory). The client
 * sees a transfer cut off mid-body.
 *
 * @since 0.1.0
 */
export interface TruncatedFault {
  readonly _tag: "Truncated"
}

/**
 * Like {@link TruncatedFault}, but the connection is reset (TCP RST on
 * loopback, `ECONNRESET` in memory) after half the body.
 *
 * @since 0.1.0
 */
export interface ResetFault {
  readonly _tag: "Reset"
}

/**
 * Run the app, then answer with the first half of its body as if it were the
 * whole body (the `content-length` matches the half): a complete but short
 * answer, as a buggy proxy may send. The client gets a body that does not parse.
 *
 * @since 0.1.0
 */
export interface ShortBodyFault {
  readonly _tag: "ShortBody"
}

/** Pass the request through untouched (useful inside sequences). @since 0.1.0 */
export interface NoFault {
  readonly _tag: "None"
}

/** One injected fault. @since 0.1.0 */
export type Fault = StatusFault | DropFault | MalformedFault | TruncatedFault | ResetFault | ShortBodyFault | NoFault

/** A per-request latency: fixed, or uniformly random in `[min, max)`. @since 0.1.0 */
export type Latency = Duration.DurationInput | {
  readonly min: Duration.DurationInput
  readonly max: Duration.DurationInput
}

/**
 * What to do to the requests `match` selects (all by default): wait `latency`,
 * then apply the next fault of `sequence` (one per request, in order), and once
 * the sequence is used up apply `rate.fault` with `rate.probability`.
 * Randomness comes from Effect's `Random`, waiting from its `Clock`.
 *
 * @since 0.1.0
 */
export interface FaultPlan {
  readonly latency?: Latency
  readonly sequence?: ReadonlyArray<Fault>
  readonly rate?: { readonly probability: number; readonly fault: Fault }
  readonly match?: (method: string, path: string) => boolean
}

/** A status fault, e.g. `status(503, { retryAfter: 2 })`. @since 0.1.0 */
export const status = (
  status: number,
  options?: { readonly retryAfter?: number | string; readonly body?: unknown }
): Fault => ({ _tag: "Status", status, ...options })

/** Drop the connection before the app runs. @since 0.1.0 */
export const drop: Fault = { _tag: "Drop" }

/** Run the app (side effects happen), then drop the connection instead of answering. @since 0.1.0 */
export const dropAfterHandler: Fault = { _tag: "Drop", afterHandler: true }

/** 200 with a body that is not JSON. @since 0.1.0 */
export const malformed: Fault = { _tag: "Malformed" }

/** The real response, cut off after half its body: the connection ends mid-body. @since 0.1.0 */
export const truncated: Fault = { _tag: "Truncated" }

/** The real response, and the connection reset after half its body. @since 0.1.0 */
export const resetMidBody: Fault = { _tag: "Reset" }

/** The real response with half its body, presented as complete (`content-length` of the half). @since 0.1.0 */
export const shortBody: Fault = { _tag: "ShortBody" }

/** No fault. @since 0.1.0 */
export const none: Fault = { _tag: "None" }

/**
 * A response the transport must start and then cut off: status, headers and
 * a `content-length` of the whole `body` go out, then the first `sent` bytes,
 * then the connection ends (`"close"`) or is reset (`"reset"`).
 *
 * @since 0.1.0
 */
export interface PartialResponse {
  readonly status: number
  /** Header pairs as the app set them (several `set-cookie` stay apart); no `content-length`. */
  readonly headers: ReadonlyArray<readonly [string, string]>
  readonly body: Uint8Array
  readonly sent: number
  readonly ending: "close" | "reset"
}

/**
 * The failure a faulty app signals to its transport (`InMemory`, `Loopback`):
 * "drop this connection", at once, or with `partial` after sending part of a
 * response. It may arrive as a failure or as a defect.
 *
 * @since 0.1.0
 */
export class ConnectionDropped extends Data.TaggedError("ConnectionDropped")<{
  readonly method: string
  readonly url: string
  readonly partial?: PartialResponse | undefined
}> {
  /** @since 0.1.0 */
  override get message(): string {
    const partial = this.partial
    const how = partial === undefined
      ? "connection dropped"
      : `connection ${partial.ending === "reset" ? "reset" : "closed"} after ${partial.sent} of ${partial.body.length} body bytes`
    return `Injected fault: ${how} (${this.method} ${this.url})`
  }
}

/** Whether a value is a `ConnectionDropped`. @since 0.1.0 */
export const isConnectionDropped = (u: unknown): u is ConnectionDropped =>
  typeof u === "object" && u !== null && "_tag" in u && u._tag === "ConnectionDropped"

/** The `ConnectionDropped` in a cause (as failure or defect), if any. @since 0.1.0 */
export const findConnectionDropped = (cause: Cause.Cause<unknown>): Option.Option<ConnectionDropped> =>
  Cause.find(cause, (reason) => {
    if (reason._tag === "Fail" && isConnectionDropped(reason.error)) return Option.some(reason.error)
    if (reason._tag === "Die" && isConnectionDropped(reason.defect)) return Option.some(reason.defect)
    return Option.none()
  })

/** A fault plan held in a `Ref`, and the middleware that applies it. @since 0.1.0 */
export interface Controller {
  /** Replace the plan (and restart its sequence). */
  readonly set: (plan: FaultPlan) => Effect.Effect<void>
  /** Remove the plan: every request passes through. */
  readonly clear: Effect.Effect<void>
  /** Faults of the current sequence not consumed yet. */
  readonly remaining: Effect.Effect<number>
  /** Faults injected so far (every kind but `None`), over all plans. */
  readonly injected: Effect.Effect<number>
  /** Apply the current plan to every request of `app`. */
  readonly middleware: <E, R>(app: HttpApp.Default<E, R>) => HttpApp.Default<E | ConnectionDropped, R>
}

/** Options of {@link makeController}. @since 0.1.0 */
export interface ControllerOptions {
  /** The JSON body of a `Status` fault without its own body (default `{"message": "<reason>"}`). */
  readonly statusBody?: (status: number) => unknown
}

interface State {
  readonly plan: FaultPlan | undefined
  readonly cursor: number
  readonly injected: number
}

type Decision =
  | { readonly _tag: "Pass" }
  | { readonly _tag: "Apply"; readonly plan: FaultPlan; readonly fault: Fault | undefined }

const pass: Decision = { _tag: "Pass" }

const reasons: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout"
}

/** The standard reason phrase of a status ("Error" when unknown). @since 0.1.0 */
export const reasonPhrase = (status: number): string => reasons[status] ?? "Error"

const encoder = new TextEncoder()

const malformedBody = "<html><head><title>502 Bad Gateway</title></head><body>upstream sent garbage</body></html>"

const pathOf = (url: string): string => {
  const q = url.indexOf("?")
  return q === -1 ? url : url.slice(0, q)
}

const latencyDelay = (latency: Latency): Effect.Effect<Duration.Duration> => {
  if (typeof latency === "object" && latency !== null && "min" in latency && "max" in latency) {
    const min = Duration.toMillis(Duration.decode(latency.min))
    const max = Duration.toMillis(Duration.decode(latency.max))
    return max <= min
      ? Effect.succeed(Duration.millis(min))
      : Effect.map(Random.nextRange(min, max), Duration.millis)
  }
  return Effect.succeed(Duration.decode(latency))
}

/** The response's bytes and headers, as they would go on the wire. */
const wireOf = (
  response: HttpServerResponse.HttpServerResponse
): Effect.Effect<{ readonly headers: Array<readonly [string, string]>; readonly body: Uint8Array }> =>
  Effect.promise(async () => {
    const web = HttpServerResponse.toWeb(response)
    const headers: Array<readonly [string, string]> = []
    web.headers.forEach((value, name) => {
      if (name !== "content-length" && name !== "set-cookie") headers.push([name, value])
    })
    for (const cookie of web.headers.getSetCookie()) headers.push(["set-cookie", cookie])
    return { headers, body: new Uint8Array(await web.arrayBuffer()) }
  })

const shorten = (response: HttpServerResponse.HttpServerResponse): HttpServerResponse.HttpServerResponse => {
  const body = response.body
  let bytes: Uint8Array | undefined
  if (body._tag === "Uint8Array") {
    bytes = body.body
  } else if (body._tag === "Raw" && typeof body.body === "string") {
    bytes = encoder.encode(body.body)
  } else if (body._tag === "Raw" && body.body instanceof Uint8Array) {
    bytes = body.body
  }
  if (bytes === undefined || bytes.length === 0) return response
  const options: HttpServerResponse.Options.WithContentType = {
    status: response.status,
    headers: Headers.remove(response.headers, "content-length"),
    cookies: response.cookies,
    ...(body.contentType !== undefined ? { contentType: body.contentType } : {})
  }
  return HttpServerResponse.uint8Array(bytes.subarray(0, Math.floor(bytes.length / 2)), options)
}

/** Runs `app` and fails with a `ConnectionDropped` carrying its response cut after half the body. */
const cutOff = <E, R>(
  app: HttpApp.Default<E, R>,
  request: HttpServerRequest.HttpServerRequest,
  ending: "close" | "reset"
): HttpApp.Default<E | ConnectionDropped, R> =>
  Effect.flatMap(app, (response) =>
    Effect.flatMap(wireOf(response), ({ body, headers }) =>
      body.length === 0 || request.method === "HEAD"
        ? Effect.succeed(response)
        : Effect.fail(
          new ConnectionDropped({
            method: request.method,
            url: request.url,
            partial: { status: response.status, headers, body, sent: Math.floor(body.length / 2), ending }
          })
        )))

/**
 * A controller with no plan (every request passes through until `set`).
 *
 * @since 0.1.0
 */
export const makeController = (options?: ControllerOptions): Effect.Effect<Controller> =>
  Effect.map(
    Ref.make<State>({ plan: undefined, cursor: 0, injected: 0 }),
    (ref): Controller => {
      const statusBody = options?.statusBody ?? ((status: number) => ({ message: reasonPhrase(status) }))

      const decide = (method: string, url: string): Effect.Effect<Decision> =>
        Ref.modify(ref, (state): readonly [Decision, State] => {
          const plan = state.plan
          if (plan === undefined) return [pass, state]
          if (plan.match !== undefined && !plan.match(method, pathOf(url))) return [pass, state]
          const sequence = plan.sequence
          if (sequence !== undefined && state.cursor < sequence.length) {
            const fault = sequence[state.cursor]
            const injected = fault !== undefined && fault._tag !== "None" ? state.injected + 1 : state.injected
            return [{ _tag: "Apply", plan, fault }, { plan, cursor: state.cursor + 1, injected }]
          }
          return [{ _tag: "Apply", plan, fault: undefined }, state]
        })

      const countInjected = Ref.update(ref, (state) => ({ ...state, injected: state.injected + 1 }))

      const fromRate = (plan: FaultPlan): Effect.Effect<Fault | undefined> => {
        const rate = plan.rate
        if (rate === undefined || rate.probability <= 0) return Effect.succeed(undefined)
        return Effect.flatMap(Random.next, (n) =>
          n < rate.probability && rate.fault._tag !== "None"
            ? Effect.as(countInjected, rate.fault)
            : Effect.succeed(undefined))
      }

      const apply = <E, R>(
        app: HttpApp.Default<E, R>,
        request: HttpServerRequest.HttpServerRequest,
        fault: Fault | undefined
      ): HttpApp.Default<E | ConnectionDropped, R> => {
        if (fault === undefined) return app
        switch (fault._tag) {
          case "None":
            return app
          case "Status": {
            const headers: Record<string, string> = {}
            if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter)
            return Effect.succeed(
              HttpServerResponse.unsafeJson(fault.body ?? statusBody(fault.status), { status: fault.status, headers })
            )
          }
          case "Drop": {
            const dropped = new ConnectionDropped({ method: request.method, url: request.url })
            return fault.afterHandler === true ? Effect.zipRight(app, Effect.fail(dropped)) : Effect.fail(dropped)
          }
          case "Malformed":
            return Effect.succeed(
              HttpServerResponse.text(malformedBody, { status: 200, contentType: "application/json" })
            )
          case "Truncated":
            return cutOff(app, request, "close")
          case "Reset":
            return cutOff(app, request, "reset")
          case "ShortBody":
            return Effect.map(app, shorten)
        }
      }

      const middleware = <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E | ConnectionDropped, R> =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
          Effect.flatMap(decide(request.method, request.url), (decision) => {
            if (decision._tag === "Pass") return app
            const plan = decision.plan
            const chosen = decision.fault !== undefined ? Effect.succeed(decision.fault) : fromRate(plan)
            return Effect.flatMap(chosen, (fault) => {
              const run = apply(app, request, fault)
              return plan.latency === undefined
                ? run
                : Effect.flatMap(latencyDelay(plan.latency), (delay) => Effect.zipRight(Effect.sleep(delay), run))
            })
          }))

      return {
        set: (plan) => Ref.update(ref, (state) => ({ plan, cursor: 0, injected: state.injected })),
        clear: Ref.update(ref, (state) => ({ plan: undefined, cursor: 0, injected: state.injected })),
        remaining: Effect.map(Ref.get(ref), (state) =>
          state.plan?.sequence === undefined ? 0 : Math.max(0, state.plan.sequence.length - state.cursor)),
        injected: Effect.map(Ref.get(ref), (state) => state.injected),
        middleware
      }
    }
  )
