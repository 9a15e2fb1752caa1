/**
 * A tracer that records every span (name, kind, parent, attributes, events,
 * exit), for assertions on what a call traced.
 */
import type * as Exit from "effect/Exit"
import * as Tracer from "effect/Tracer"

export interface RecordedSpan {
  readonly name: string
  readonly kind: string
  readonly parent: string | undefined
  readonly spanId: string
  readonly attributes: Map<string, unknown>
  readonly events: Array<[string, Record<string, unknown> | undefined]>
  exit?: Exit.Exit<unknown, unknown>
}

export const make = () => {
  const spans: Array<RecordedSpan> = []
  let ids = 0
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const recorded: RecordedSpan = {
        name,
        kind,
        parent: parent._tag === "Some" ? parent.value.spanId : undefined,
        spanId: `${(++ids).toString(16).padStart(16, "0")}`,
        attributes: new Map(),
        events: []
      }
      spans.push(recorded)
      return {
        _tag: "Span",
        name,
        spanId: recorded.spanId,
        traceId: "0af7651916cd43dd8448eb211c80319c",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: recorded.attributes,
        links,
        sampled: true,
        kind,
        end: (_endTime, exit) => void (recorded.exit = exit),
        attribute: (key, value) => void recorded.attributes.set(key, value),
        event: (eventName, _time, attributes) => void recorded.events.push([eventName, attributes]),
        addLinks: () => undefined
      }
    },
    context: (f) => f()
  })
  /** Every attribute value and event attribute of every span, as text (to search for secrets). */
  const everything = (): string =>
    spans.map((s) =>
      [s.name, ...Array.from(s.attributes.entries()).map(([k, v]) => `${k}=${String(v)}`), JSON.stringify(s.events)].join(
        "\n"
      )
    ).join("\n")
  return { tracer, spans, everything }
}
