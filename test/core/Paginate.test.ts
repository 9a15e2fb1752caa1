import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import type * as Tracer from "effect/Tracer"
import * as Paginate from "../../src/core/Paginate.js"

/** A listing of `total` numbered items, pageSize per page, with an optional per-page latency. */
const listing = (total: number, pageSize: number, latency?: (page: number) => Effect.Effect<void>) => {
  const calls: Array<number> = []
  let inFlight = 0
  let maxInFlight = 0
  const fetch = (page: number) =>
    Effect.gen(function*() {
      calls.push(page)
      inFlight++
      maxInFlight = Math.max(maxInFlight, inFlight)
      yield* Effect.ensuring(latency ? latency(page) : Effect.void, Effect.sync(() => inFlight--))
      const start = (page - 1) * pageSize
      const data = Array.from({ length: Math.max(0, Math.min(pageSize, total - start)) }, (_, i) => start + i)
      return { data, has_more: start + pageSize < total, total }
    })
  return { fetch, calls, stats: () => ({ inFlight, maxInFlight }) }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

describe("Paginate.stream", () => {
  it.effect("emits every item of many pages in order, with the prefetch depth reached and never passed", () =>
    Effect.gen(function*() {
      // each page answers asynchronously (after other fibers ran), so requests really overlap
      const l = listing(10_007, 100, () => Effect.repeatN(Effect.yieldNow(), 3))
      const items = yield* Stream.runCollect(Paginate.stream(l.fetch, { pageSize: 100, prefetch: 4 }))
      expect(Chunk.toReadonlyArray(items)).toEqual(range(10_007))
      expect(l.calls.length).toBe(101)
      expect(l.stats().maxInFlight).toBe(4)
      expect(l.stats().inFlight).toBe(0)
    }))

  it.effect("keeps order with random per-page latency and prefetch > 1, fetching concurrently", () =>
    Effect.gen(function*() {
      const l = listing(5_000, 50, () => Effect.flatMap(Random.nextIntBetween(1, 50), (ms) => Effect.sleep(`${ms} millis`)))
      const fiber = yield* Effect.fork(Stream.runCollect(Paginate.stream(l.fetch, { pageSize: 50, prefetch: 8 })))
      for (let i = 0; i < 2_000 && (yield* Fiber.poll(fiber))._tag === "None"; i++) yield* TestClock.adjust("5 millis")
      const items = yield* Fiber.join(fiber)
      expect(Chunk.toReadonlyArray(items)).toEqual(range(5_000))
      expect(l.stats().maxInFlight).toBeGreaterThan(1)
      expect(l.stats().maxInFlight).toBeLessThanOrEqual(8)
    }))

  it.effect("a single page and an empty listing", () =>
    Effect.gen(function*() {
      expect(Chunk.toReadonlyArray(yield* Stream.runCollect(Paginate.stream(listing(7, 10).fetch, { pageSize: 10, prefetch: 4 })))).toEqual(range(7))
      const empty = listing(0, 10)
      expect(Chunk.size(yield* Stream.runCollect(Paginate.stream(empty.fetch, { pageSize: 10, prefetch: 4 })))).toBe(0)
      expect(empty.calls).toEqual([1])
    }))

  it.effect("does not request pages past the end given by total", () =>
    Effect.gen(function*() {
      const l = listing(1_000, 100)
      yield* Stream.runDrain(Paginate.stream(l.fetch, { pageSize: 100, prefetch: 8 }))
      expect([...l.calls].sort((a, b) => a - b)).toEqual(range(10).map((i) => i + 1))
    }))

  it.effect("follows a listing that grew beyond the total of page 1", () =>
    Effect.gen(function*() {
      let total = 250
      const fetch = (page: number) =>
        Effect.sync(() => {
          const start = (page - 1) * 100
          const result = { data: range(Math.max(0, Math.min(100, total - start))).map((i) => start + i), has_more: start + 100 < total, total }
          total = 420 // grows after page 1
          return result
        })
      const items = yield* Stream.runCollect(Paginate.stream(fetch, { pageSize: 100, prefetch: 2 }))
      expect(Chunk.toReadonlyArray(items)).toEqual(range(420))
    }))

  it.effect("stops on an empty page that claims has_more", () =>
    Effect.gen(function*() {
      const calls: Array<number> = []
      const fetch = (page: number) =>
        Effect.sync(() => {
          calls.push(page)
          return { data: page === 1 ? [1] : [], has_more: true, total: 1 }
        })
      const items = yield* Stream.runCollect(Paginate.stream(fetch, { pageSize: 1, prefetch: 2 }))
      expect(Chunk.toReadonlyArray(items)).toEqual([1])
      expect(calls).toEqual([1, 2])
    }))

  it.effect("a failing page fails the stream after the items before it, never skipping it", () =>
    Effect.gen(function*() {
      const l = listing(1_000, 100)
      const fetch = (page: number) => (page === 5 ? Effect.fail("page 5 broke" as const) : l.fetch(page))
      const seen: Array<number> = []
      const result = yield* Stream.runForEach(Paginate.stream(fetch, { pageSize: 100, prefetch: 4 }), (n) =>
        Effect.sync(() => void seen.push(n))).pipe(Effect.flip)
      expect(result).toBe("page 5 broke")
      expect(seen).toEqual(range(400))
    }))

  it.effect("interrupting the consumer interrupts every request in flight", () =>
    Effect.gen(function*() {
      const allStarted = yield* Deferred.make<void>()
      let started = 0
      let interrupted = 0
      const fetch = (page: number) =>
        page === 1
          ? Effect.succeed({ data: [0], has_more: true, total: 100 })
          : Effect.suspend(() => (++started === 4 ? Deferred.succeed(allStarted, void 0) : Effect.void)).pipe(
            Effect.zipRight(Effect.never),
            Effect.onInterrupt(() => Effect.sync(() => void interrupted++))
          )
      const fiber = yield* Effect.fork(Stream.runDrain(Paginate.stream(fetch, { pageSize: 1, prefetch: 4 })))
      yield* Deferred.await(allStarted)
      yield* Fiber.interrupt(fiber)
      expect(started).toBe(4) // prefetch bounds the requests in flight
      expect(interrupted).toBe(4)
    }))

  it.effect("taking a prefix stops fetching and interrupts the pages in flight", () =>
    Effect.gen(function*() {
      const l = listing(1_000_000, 100, () => Effect.repeatN(Effect.yieldNow(), 3))
      const items = yield* Stream.runCollect(Stream.take(Paginate.stream(l.fetch, { pageSize: 100, prefetch: 4 }), 250))
      expect(Chunk.size(items)).toBe(250)
      expect(l.stats().maxInFlight).toBe(4)
      expect(l.calls.length).toBeLessThan(12)
      expect(l.stats().inFlight).toBe(0)
    }))

  it.effect("an empty page that says has_more before the announced end is fetched again: no item is lost", () =>
    Effect.gen(function*() {
      const l = listing(500, 100)
      let glitches = 0
      // page 2 answers empty (has_more: true) once, as a server does when read mid-change
      const fetch = (page: number) =>
        page === 2 && glitches++ === 0 ? Effect.succeed({ data: [] as Array<number>, has_more: true, total: 500 }) : l.fetch(page)
      const items = yield* Stream.runCollect(Paginate.stream(fetch, { pageSize: 100, prefetch: 3 }))
      expect(Chunk.toReadonlyArray(items)).toEqual(range(500))
      expect(glitches).toBe(2)
    }))

  it.effect("a page that stays empty but says has_more does not end the listing before the announced end", () =>
    Effect.gen(function*() {
      const l = listing(500, 100)
      const calls: Array<number> = []
      const fetch = (page: number) => {
        calls.push(page)
        return page === 2 ? Effect.succeed({ data: [] as Array<number>, has_more: true, total: 500 }) : l.fetch(page)
      }
      const items = yield* Stream.runCollect(Paginate.stream(fetch, { pageSize: 100, prefetch: 2 }))
      // page 2 holds nothing (twice); every item of pages 1, 3, 4 and 5 arrives
      expect(Chunk.toReadonlyArray(items)).toEqual([...range(100), ...range(300).map((i) => i + 200)])
      expect(calls.filter((p) => p === 2)).toHaveLength(2)
    }))

  it.effect("with onGap, a page that stays empty but says has_more fails the stream (a lying total is never followed)", () =>
    Effect.gen(function*() {
      const calls: Array<number> = []
      // page 1 has items and announces a billion more; every later page is empty and says has_more
      const fetch = (page: number) => {
        calls.push(page)
        return Effect.succeed(Effect.succeed({ data: page === 1 ? [0] : [] as Array<number>, has_more: true, total: 1e9 }))
      }
      const seen: Array<number> = []
      const error = yield* Stream.runForEach(
        Paginate.streamDeferred(fetch, { pageSize: 1, prefetch: 2 }, (gap) => `gap at ${gap.page} of ${gap.expectedPages}`),
        (n) => Effect.sync(() => void seen.push(n))
      ).pipe(Effect.flip)
      expect(error).toBe("gap at 2 of 1000000000")
      expect(seen).toEqual([0])
      expect(calls.length).toBeLessThan(10)
    }))

  it.effect("a first page that is empty but announces a total is fetched again", () =>
    Effect.gen(function*() {
      const l = listing(250, 100)
      let first = 0
      const fetch = (page: number) =>
        page === 1 && first++ === 0 ? Effect.succeed({ data: [] as Array<number>, has_more: true, total: 250 }) : l.fetch(page)
      const items = yield* Stream.runCollect(Paginate.stream(fetch, { pageSize: 100, prefetch: 2 }))
      expect(Chunk.toReadonlyArray(items)).toEqual(range(250))
    }))

  it.effect("streamDeferred fetches ahead but decodes each page only when the consumer reaches it", () =>
    Effect.gen(function*() {
      const fetched: Array<number> = []
      const decoded: Array<number> = []
      const fetch = (page: number) =>
        Effect.sync(() => {
          fetched.push(page)
          return Effect.sync(() => {
            decoded.push(page)
            return { data: [page], has_more: page < 10, total: 10 }
          })
        })
      const seen: Array<number> = []
      yield* Stream.runForEach(
        Stream.take(Paginate.streamDeferred(fetch, { pageSize: 1, prefetch: 4 }), 3),
        (n) => Effect.sync(() => void seen.push(n))
      )
      expect(seen).toEqual([1, 2, 3])
      expect(decoded).toEqual([1, 2, 3])
      expect(fetched.length).toBeGreaterThan(3) // pages 4… were fetched ahead, never decoded
    }))

  it.effect("with a span, every page's request runs under it, and it ends with the stream", () =>
    Effect.gen(function*() {
      const parents: Array<string> = []
      const spans: Array<Tracer.Span> = []
      const l = listing(950, 100, () => Effect.yieldNow())
      const fetch = (page: number) =>
        Effect.flatMap(Effect.currentSpan, (span) => {
          parents.push(span.name)
          spans.push(span)
          return Effect.map(l.fetch(page), Effect.succeed)
        })
      const items = yield* Stream.runCollect(
        Paginate.streamDeferred(fetch, { pageSize: 100, prefetch: 3, span: "Listing.stream" }).pipe(Stream.withSpan("caller"))
      ).pipe(Effect.withSpan("outer"))
      expect(Chunk.toReadonlyArray(items)).toEqual(range(950))
      expect(parents).toEqual(Array.from({ length: 10 }, () => "Listing.stream"))
      const span = spans[0]!
      expect(spans.every((s) => s === span)).toBe(true)
      expect(span.status._tag).toBe("Ended")
      expect(span.parent._tag === "Some" && span.parent.value._tag === "Span" && span.parent.value.name).toBe("caller")
    }))

  it.effect("the stream's span ends with the stream's failure", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const fetch = (page: number) =>
        Effect.flatMap(Effect.currentSpan, (span) => {
          spans.push(span)
          return page < 3 ? Effect.succeed(Effect.succeed({ data: [page], has_more: true, total: 5 })) : Effect.fail("page 3 failed")
        })
      const error = yield* Effect.flip(Stream.runCollect(Paginate.streamDeferred(fetch, { pageSize: 1, prefetch: 2, span: "S" })))
      expect(error).toBe("page 3 failed")
      const span = spans[0]!
      expect(span.status._tag === "Ended" && span.status.exit._tag).toBe("Failure")
    }))

  it.effect("a page that arrived before the consumer reached it is taken at once, in order; so is its failure", () =>
    Effect.gen(function*() {
      // Requests answer at once; the consumer yields after each item, so the pages ahead have ended when it reaches them.
      const l = listing(500, 100)
      const slow = Effect.repeatN(Effect.yieldNow(), 20)
      const seen: Array<number> = []
      yield* Stream.runForEach(Paginate.stream(l.fetch, { pageSize: 100, prefetch: 4 }), (n) =>
        Effect.zipRight(slow, Effect.sync(() => void seen.push(n))))
      expect(seen).toEqual(range(500))
      const broken = (page: number) => (page === 3 ? Effect.fail("page 3 broke" as const) : l.fetch(page))
      const before: Array<number> = []
      const error = yield* Stream.runForEach(Paginate.stream(broken, { pageSize: 100, prefetch: 4 }), (n) =>
        Effect.zipRight(slow, Effect.sync(() => void before.push(n)))).pipe(Effect.flip)
      expect(error).toBe("page 3 broke")
      expect(before).toEqual(range(200))
    }))

  it.effect("a consumer that reaches a page still on its way waits for it, and for its failure", () =>
    Effect.gen(function*() {
      const l = listing(300, 100)
      const gate = yield* Deferred.make<void>()
      const fetch = (page: number) => (page === 2 ? Effect.zipRight(Deferred.await(gate), l.fetch(page)) : l.fetch(page))
      const seen: Array<number> = []
      const consumer = yield* Effect.fork(
        Stream.runForEach(Paginate.stream(fetch, { pageSize: 100, prefetch: 2 }), (n) => Effect.sync(() => void seen.push(n)))
      )
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      expect(seen).toEqual(range(100)) // page 1, then waiting for page 2 (page 3 has arrived)
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(consumer)
      expect(seen).toEqual(range(300))

      const failGate = yield* Deferred.make<void>()
      const failing = (page: number) => (page === 2 ? Effect.zipRight(Deferred.await(failGate), Effect.fail("page 2 broke" as const)) : l.fetch(page))
      const waiting = yield* Effect.fork(Stream.runDrain(Paginate.stream(failing, { pageSize: 100, prefetch: 2 })))
      yield* Effect.repeatN(Effect.yieldNow(), 50)
      expect(waiting.unsafePoll()).toBeNull()
      yield* Deferred.succeed(failGate, void 0)
      expect(yield* Effect.flip(Fiber.join(waiting))).toBe("page 2 broke")
    }))
})
