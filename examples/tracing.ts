/**
 * Tracing a program that uses two clients (`npx tsx examples/tracing.ts`):
 * deepset Cloud upload sessions and Jupyter Server sessions, under one
 * parent span, exported through `@effect/opentelemetry` (the OpenTelemetry
 * Node SDK) to an in-memory exporter and printed as a tree.
 *
 * Every call is a client span named `<Api>.<operation>` (`Deepset.getStatus`,
 * `Jupyter.listSessions`) with `http.request.method`, `url.full` (secrets
 * redacted) and `http.response.status_code`; the platform's `http.client`
 * span of each attempt nests under it, and the server receives the trace
 * context as `traceparent` (and `b3`).
 *
 * Without configuration both clients talk to their in-memory emulators,
 * composed in one layer (each answers only at its own base URL). With
 * `DEEPSET_CLOUD_API_KEY` and `JUPYTER_SERVER_URL` (+ `JUPYTER_TOKEN`) set,
 * it traces the real services instead (deepset read-only; on Jupyter it
 * creates and deletes one session). In an app, replace the in-memory exporter
 * with an OTLP one (`@opentelemetry/exporter-trace-otlp-http`).
 *
 * @since 0.1.0
 */
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Deepset, Jupyter } from "../src/index.js"
import { UndiciHttpClient } from "../src/node/index.js"
import { DeepsetEmulator, JupyterEmulator } from "../src/testing/index.js"

/** The workspace the example reads. */
export const workspace = process.env["DEEPSET_WORKSPACE"] ?? "default"

/**
 * The traced program: one parent span (`nightly-report`) over calls of both
 * clients. Read-only on deepset; on Jupyter one session is created, listed and
 * deleted.
 *
 * @since 0.1.0
 */
export const program = Effect.gen(function*() {
  const deepset = yield* Deepset.UploadSessions
  const jupyter = yield* Jupyter.Sessions
  const uploads = yield* deepset.list(workspace, { limit: 10 })
  const newest = uploads.data[0]
  const status = newest === undefined ? undefined : yield* deepset.getStatus(workspace, newest.session_id)
  const session = yield* jupyter.createSession({ path: "effect-sessions-tracing.ipynb", type: "notebook" })
  const sessions = yield* jupyter.listSessions()
  yield* jupyter.deleteSession(session.id)
  return { uploads: uploads.total, status: status?.session_id, sessions: sessions.length }
}).pipe(Effect.withSpan("nightly-report"))

const deepsetKey = "tracing-example-key"
const jupyterToken = "tracing-example-token"

/**
 * Both clients on their in-memory emulators, composed in one layer; the
 * emulators stay reachable (`DeepsetEmulator`, `JupyterEmulator`) to seed data
 * and read what they received.
 *
 * @since 0.1.0
 */
export const emulated = Layer.mergeAll(
  Deepset.layer({ apiKey: Redacted.make(deepsetKey), baseUrl: DeepsetEmulator.baseUrl }),
  Jupyter.layer({ baseUrl: JupyterEmulator.baseUrl, token: Redacted.make(jupyterToken) })
).pipe(
  Layer.provideMerge(Layer.merge(
    DeepsetEmulator.layerInMemory({ apiKey: deepsetKey }),
    JupyterEmulator.layerInMemory({ token: jupyterToken })
  ))
)

/**
 * The OpenTelemetry Node SDK as Effect's tracer, every span going to
 * `exporter` as soon as it ends.
 *
 * @since 0.1.0
 */
export const tracing = (exporter: InMemorySpanExporter) =>
  NodeSdk.layer(() => ({
    resource: { serviceName: "effect-sessions-tracing-example" },
    spanProcessor: new SimpleSpanProcessor(exporter)
  }))

/** `parent/span` lines, children under their parents, with the HTTP attributes. */
export const tree = (spans: ReadonlyArray<ReadableSpan>): ReadonlyArray<string> => {
  const byParent = new Map<string | undefined, Array<ReadableSpan>>()
  const ids = new Set(spans.map((s) => s.spanContext().spanId))
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId
    const key = parent !== undefined && ids.has(parent) ? parent : undefined
    byParent.set(key, [...(byParent.get(key) ?? []), span])
  }
  const lines: Array<string> = []
  const walk = (parent: string | undefined, depth: number) => {
    const children = [...(byParent.get(parent) ?? [])].sort((a, b) =>
      a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]
    )
    for (const span of children) {
      const a = span.attributes
      const http = a["http.request.method"] === undefined
        ? ""
        : `  ${String(a["http.request.method"])} ${String(a["url.full"])} → ${String(a["http.response.status_code"])}`
      lines.push(`${"  ".repeat(depth)}${span.name}${http}`)
      walk(span.spanContext().spanId, depth + 1)
    }
  }
  walk(undefined, 0)
  return lines
}

const real = process.env["DEEPSET_CLOUD_API_KEY"] !== undefined && process.env["JUPYTER_SERVER_URL"] !== undefined

const main = Effect.gen(function*() {
  const exporter = new InMemorySpanExporter()
  // read before the SDK shuts down: shutting down clears an in-memory exporter
  const traced = Effect.zipRight(program, Effect.sync(() => [...exporter.getFinishedSpans()]))
  const seed = Effect.flatMap(DeepsetEmulator.DeepsetEmulator, (emulator) => emulator.seedSession({ workspace, fileCount: 3 }))
  const spans = yield* real
    ? traced.pipe(
      Effect.provide(Layer.mergeAll(Deepset.layerConfig(), Jupyter.layerConfig()).pipe(Layer.provide(UndiciHttpClient.layer))),
      Effect.provide(tracing(exporter))
    )
    : Effect.zipRight(seed, traced).pipe(Effect.provide(emulated), Effect.provide(tracing(exporter)))
  yield* Console.log(real ? "tracing the real services" : "tracing the in-memory emulators of deepset and Jupyter")
  for (const line of tree(spans)) yield* Console.log(line)
  const calls = spans.map((s) => s.name).filter((n) => n.startsWith("Deepset.") || n.startsWith("Jupyter."))
  const traces = new Set(spans.map((s) => s.spanContext().traceId))
  yield* Console.log(`tracing: exported ${spans.length} spans in ${traces.size} trace(s); calls: ${calls.join(", ")}`)
})

if (import.meta.url === `file://${process.argv[1]}`) NodeRuntime.runMain(main)
