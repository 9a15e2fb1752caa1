/**
 * A page-numbered listing (`page_number` from 1, `limit`, `has_more`,
 * `total`) as a `Stream` of its items, in order.
 *
 * Page 1 is fetched first; its `total` tells how many pages to expect, and
 * pages 2…n are fetched up to `prefetch` at a time, emitted in page order
 * (memory holds at most `prefetch` pages in flight plus the one being
 * consumed, however long the listing). If the last expected page still says `has_more` (the listing
 * grew), the following pages are fetched one by one until it does not.
 *
 * A server that contradicts itself never ends a stream early: a page that is
 * empty yet says `has_more`, before the last page `total` announced, is
 * fetched once more (a page read while the listing changed), and if it is
 * still empty, the stream fails with `onGap`'s error when the caller gives
 * one (a listing client does: a server that keeps saying "more" with empty
 * pages could otherwise be followed up to its announced `total`, however
 * absurd), else goes on with the next page, so no later item is lost. At or
 * past the announced end such a page ends the stream (no endless loop on a
 * confused server). When the consumer stops or is interrupted, every request
 * in flight is interrupted. A page that fails (after the policy's retries)
 * fails the stream: no page is ever skipped.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/** One page of a page-numbered listing. @since 0.1.0 */
export interface Page<A> {
  readonly data: ReadonlyArray<A>
  readonly has_more: boolean
  readonly total: number
}

/** @since 0.1.0 */
export interface Options {
  /** Items per page, as sent in `limit` (used to know the number of pages from `total`). */
  readonly pageSize: number
  /** Pages fetched concurrently ahead of the consumer (1 = one at a time). */
  readonly prefetch: number
}

/** Whether the listing goes on after page `n` of an expected `lastExpected`. */
const continues = <A>(page: Page<A>, n: number, lastExpected: number): boolean =>
  page.has_more && (page.data.length > 0 || n < lastExpected)

/** An empty page that says more follow, before the announced end: worth one more look. */
const suspicious = <A>(page: Page<A>, n: number, lastExpected: number): boolean =>
  page.data.length === 0 && page.has_more && n < lastExpected

const items = <A>(page: Page<A>): Chunk.Chunk<A> => Chunk.unsafeFromArray(page.data as Array<A>)

/**
 * The stream of every item of a listing; `fetch(n)` gets page `n` (from 1).
 *
 * @since 0.1.0
 */
export const stream = <A, E>(
  fetch: (pageNumber: number) => Effect.Effect<Page<A>, E>,
  options: Options
): Stream.Stream<A, E> => streamDeferred((n) => Effect.map(fetch(n), Effect.succeed), options)

/**
 * The same, for a `fetch` whose result is the page still to be decoded (the
 * outer effect is the request, the inner one decodes it). Pages fetched ahead
 * wait undecoded and are decoded in order as the consumer reaches them, so a
 * prefetched page holds its bytes rather than an object graph, and its items
 * are created just before they are used.
 *
 * One stage does it all: each pull starts requests (each in its own fiber,
 * bound to the stream's scope) until `prefetch` are in flight, then waits for
 * the oldest and decodes it. Per page that is one fiber and one join, not a
 * chain of stream stages.
 *
 * @since 0.1.0
 */
export const streamDeferred = <A, E>(
  fetch: (pageNumber: number) => Effect.Effect<Effect.Effect<Page<A>, E>, E>,
  options: Options,
  onGap?: (gap: { readonly page: number; readonly expectedPages: number }) => E
): Stream.Stream<A, E> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      let first = yield* Effect.flatten(fetch(1))
      const announced = (page: Page<A>) =>
        Math.max(2, Math.ceil((Number.isFinite(page.total) ? page.total : 0) / Math.max(1, options.pageSize)))
      if (suspicious(first, 1, announced(first))) first = yield* Effect.flatten(fetch(1))
      const lastExpected = announced(first)
      if (onGap !== undefined && suspicious(first, 1, lastExpected)) {
        return Stream.fail(onGap({ page: 1, expectedPages: lastExpected }))
      }
      const head = Stream.fromChunk(items(first))
      if (!continues(first, 1, lastExpected)) return head
      const scope = yield* Effect.scope
      const prefetch = Math.max(1, Math.floor(options.prefetch))
      /** Requests in flight, oldest first, with their page numbers. */
      const inFlight: Array<{ readonly n: number; readonly fiber: Fiber.RuntimeFiber<Effect.Effect<Page<A>, E>, E> }> = []
      let next = 2
      let done = false
      const start = Effect.suspend(() => {
        // Up to `prefetch` requests while pages are expected; beyond the expected
        // end (the listing grew) one at a time, only after the last page said has_more.
        const limit = next <= lastExpected ? Math.min(prefetch, inFlight.length + lastExpected - next + 1) : 1
        const starts: Array<Effect.Effect<void>> = []
        while (inFlight.length + starts.length < limit) {
          const n = next++
          starts.push(Effect.map(Effect.forkIn(fetch(n), scope), (fiber) => void inFlight.push({ n, fiber })))
        }
        return Effect.all(starts, { discard: true })
      })
      const pull: Effect.Effect<Chunk.Chunk<A>, Option.Option<E>> = Effect.suspend(() => {
        if (done) return Effect.fail(Option.none())
        return Effect.zipRight(
          start,
          Effect.suspend(() => {
            const oldest = inFlight.shift()!
            const refetched = Effect.flatMap(Effect.flatten(fetch(oldest.n)), (again) =>
              onGap !== undefined && suspicious(again, oldest.n, lastExpected)
                ? Effect.fail(onGap({ page: oldest.n, expectedPages: lastExpected }))
                : Effect.succeed(again))
            const page = Effect.flatMap(Effect.flatten(Fiber.join(oldest.fiber)), (page) =>
              suspicious(page, oldest.n, lastExpected) ? refetched : Effect.succeed(page))
            return Effect.map(page, (page) => {
              if (!continues(page, oldest.n, lastExpected)) done = true
              return items(page)
            })
          })
        ).pipe(Effect.mapError(Option.some))
      })
      // Requests for the next pages go out before the consumer gets the first page's items.
      yield* start
      return Stream.concat(head, Stream.repeatEffectChunkOption(pull))
    })
  )
