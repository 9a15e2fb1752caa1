/**
 * A scripted HttpClient for core tests: each request is answered by the next
 * step (or by a function of the request), and every request is recorded.
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

export type Step =
  | { readonly status: number; readonly body?: unknown; readonly headers?: Record<string, string>; readonly delay?: Duration.DurationInput }
  | { readonly transport: string; readonly code?: string }

export interface Recorded {
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly body: string
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Step => ({
  status,
  body,
  headers
})

export const make = (answer: (request: Recorded, index: number) => Step) => {
  const recorded: Array<Recorded> = []
  const client = HttpClient.make((request, url) =>
    Effect.gen(function*() {
      const body = request.body._tag === "Uint8Array"
        ? new TextDecoder().decode(request.body.body)
        : request.body._tag === "Raw"
        ? String(request.body.body)
        : ""
      const rec: Recorded = { method: request.method, url: url.toString(), headers: { ...request.headers }, body }
      recorded.push(rec)
      const step = answer(rec, recorded.length - 1)
      if ("transport" in step) {
        const cause = Object.assign(new Error(step.transport), step.code ? { code: step.code } : {})
        return yield* Effect.fail(
          new HttpClientError.RequestError({ request, reason: "Transport", cause, description: step.transport })
        )
      }
      if (step.delay !== undefined) yield* Effect.sleep(step.delay)
      return toResponse(request, step)
    })
  )
  return { client, recorded }
}

const toResponse = (request: HttpClientRequest.HttpClientRequest, step: Exclude<Step, { transport: string }>) => {
  const text = step.body === undefined ? null : typeof step.body === "string" ? step.body : JSON.stringify(step.body)
  return HttpClientResponse.fromWeb(
    request,
    new Response(step.status === 204 ? null : text, {
      status: step.status,
      headers: { "content-type": "application/json", ...step.headers }
    })
  )
}

/** Answers with the steps in order, then repeats the last one. */
export const sequence = (...steps: ReadonlyArray<Step>) =>
  make((_, i) => steps[Math.min(i, steps.length - 1)]!)
