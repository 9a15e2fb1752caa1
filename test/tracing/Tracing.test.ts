/**
 * Tracing through `@effect/opentelemetry`: the program of
 * examples/tracing.ts (two clients on their in-memory emulators, composed)
 * exported to an in-memory OpenTelemetry exporter. Span names, attributes,
 * parent/child links, and the `traceparent` each emulator received.
 */
import { describe, expect, it } from "@effect/vitest"
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { emulated, program, tracing, tree, workspace } from "../../examples/tracing.js"
import { Jupyter } from "../../src/index.js"
import { DeepsetEmulator, JupyterEmulator } from "../../src/testing/index.js"

const idOf = (span: ReadableSpan) => span.spanContext().spanId
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId

/** Runs `effect` under the OpenTelemetry SDK and returns its value with every span exported before shutdown. */
const traced = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
  const exporter = new InMemorySpanExporter()
  return Effect.zip(effect, Effect.sync(() => [...exporter.getFinishedSpans()])).pipe(
    Effect.provide(tracing(exporter))
  )
}

const callNames = [
  "Deepset.list",
  "Deepset.getStatus",
  "Jupyter.createSession",
  "Jupyter.listSessions",
  "Jupyter.deleteSession"
]

describe("tracing with @effect/opentelemetry", () => {
  it.live("two clients: one span per call under the program's span, the HTTP attributes, traceparent at each emulator", () =>
    Effect.gen(function*() {
      const [recorded, spans] = yield* traced(
        Effect.gen(function*() {
          const deepsetEmulator = yield* DeepsetEmulator.DeepsetEmulator
          const jupyterEmulator = yield* JupyterEmulator.JupyterEmulator
          yield* deepsetEmulator.seedSession({ workspace, fileCount: 3 })
          yield* program
          return { deepset: yield* deepsetEmulator.recent, jupyter: yield* jupyterEmulator.recent }
        }).pipe(Effect.provide(emulated))
      )

      const root = spans.filter((s) => s.name === "nightly-report")
      expect(root).toHaveLength(1)
      const rootId = idOf(root[0]!)
      const traceId = root[0]!.spanContext().traceId
      expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([traceId]))

      // one client span per call, in order, each a child of the program's span
      const calls = spans.filter((s) => callNames.includes(s.name)).sort((a, b) =>
        a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]
      )
      expect(calls.map((s) => s.name)).toEqual(callNames)
      for (const call of calls) {
        expect(parentOf(call)).toBe(rootId)
        expect(call.kind).toBe(2) // SpanKind.CLIENT
        expect(call.status.code).not.toBe(2) // not ERROR
      }

      const byName = new Map(calls.map((s) => [s.name, s]))
      const attrs = (name: string) => byName.get(name)!.attributes
      expect(attrs("Deepset.getStatus")["http.request.method"]).toBe("GET")
      expect(attrs("Deepset.getStatus")["url.full"]).toMatch(
        new RegExp(`^${DeepsetEmulator.baseUrl}/api/v1/workspaces/${workspace}/upload_sessions/[0-9a-f-]{36}$`)
      )
      expect(attrs("Deepset.getStatus")["http.response.status_code"]).toBe(200)
      expect(attrs("Deepset.list")["url.full"]).toBe(
        `${DeepsetEmulator.baseUrl}/api/v1/workspaces/${workspace}/upload_sessions?limit=10`
      )
      expect(attrs("Jupyter.createSession")["http.request.method"]).toBe("POST")
      expect(attrs("Jupyter.createSession")["http.response.status_code"]).toBe(201)
      expect(attrs("Jupyter.listSessions")["url.full"]).toBe(`${JupyterEmulator.baseUrl}/api/sessions`)
      expect(attrs("Jupyter.listSessions")["http.response.status_code"]).toBe(200)
      expect(attrs("Jupyter.deleteSession")["http.request.method"]).toBe("DELETE")
      expect(attrs("Jupyter.deleteSession")["http.response.status_code"]).toBe(204)

      // the platform's http.client span of each attempt nests under its call
      const attempts = spans.filter((s) => s.name.startsWith("http.client"))
      expect(attempts).toHaveLength(callNames.length)
      const callIds = new Set(calls.map(idOf))
      for (const attempt of attempts) expect(callIds.has(parentOf(attempt)!)).toBe(true)

      // no secret in any span
      const everything = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })))
      expect(everything).not.toContain("tracing-example-key")
      expect(everything).not.toContain("tracing-example-token")

      // each emulator received the trace context of the attempt's span, in this trace
      const byId = new Map(spans.map((s) => [idOf(s), s]))
      const received = [...recorded.deepset, ...recorded.jupyter]
      expect(received).toHaveLength(callNames.length)
      for (const request of received) {
        const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(request.headers["traceparent"] ?? "")
        expect(match, `traceparent of ${request.method} ${request.url}`).not.toBeNull()
        expect(match![1]).toBe(traceId)
        const sender = byId.get(match![2]!)
        expect(sender?.name).toMatch(/^http\.client/)
        const call = byId.get(parentOf(sender!)!)!
        expect(call.attributes["http.request.method"]).toBe(request.method)
        expect(String(call.attributes["url.full"]).endsWith(request.url)).toBe(true)
      }

      // the example prints the same tree
      const lines = tree(spans)
      expect(lines[0]).toBe("nightly-report")
      expect(lines.filter((l) => /^ {2}(Deepset|Jupyter)\./.test(l)).map((l) => l.trim().split(" ")[0])).toEqual(callNames)
    }))

  it.live("a ?token= in the Jupyter base URL never reaches a span", () =>
    Effect.gen(function*() {
      const token = "query-token-0123456789"
      const [sessions, spans] = yield* traced(
        Effect.flatMap(Jupyter.Sessions, (jupyter) => jupyter.listSessions()).pipe(
          Effect.provide(
            Jupyter.layer({ baseUrl: `${JupyterEmulator.baseUrl}/?token=${token}` }).pipe(
              Layer.provideMerge(JupyterEmulator.layerInMemory({ token }))
            )
          )
        )
      )
      expect(sessions).toEqual([])
      expect(spans.map((s) => s.name)).toContain("Jupyter.listSessions")
      const everything = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes })))
      expect(everything).toContain("url.full")
      expect(everything).not.toContain(token)
    }))
})
