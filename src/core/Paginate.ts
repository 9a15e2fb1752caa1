/**
 * A page-numbered listing (`page_number` from 1, `limit`, `has_more`,
 * `total`) as a `Stream` of its items, in order.
 *
 * Page 1 is fetched first; its `total` tells how many pages to expect, and
 * pages 2…n are fetched up to `prefetch` at a time, emitted in page order
 * (memory holds at most about `2 · prefetch` pages, however long the
 * listing). If the last expected page still says `has_more` (the listing
 * grew), the following pages are fetched one by one until it does not. A page
 * that says `has_more` but is empty ends the stream (no endless loop on a
 * confused server). When the consumer stops or is interrupted, every request
 * in flight is interrupted. A page that fails (after the policy's retries)
 * fails the stream: no page is ever skipped.
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
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

const continues = <A>(page: Page<A>): boolean => page.has_more && page.data.length > 0

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
 * prefetched page holds one string rather than an object graph, and its items
 * are created just before they are used.
 *
 * @since 0.1.0
 */
export const streamDeferred = <A, E>(
  fetch: (pageNumber: number) => Effect.Effect<Effect.Effect<Page<A>, E>, E>,
  options: Options
): Stream.Stream<A, E> =>
  Stream.unwrap(
    Effect.map(Effect.flatten(fetch(1)), (first) => {
      const head = Stream.fromChunk(items(first))
      if (!continues(first)) return head
      const lastExpected = Math.max(2, Math.ceil(first.total / Math.max(1, options.pageSize)))
      let lastSeen: Page<A> = first
      const expected = Stream.range(2, lastExpected).pipe(
        Stream.mapEffect(fetch, { concurrency: Math.max(1, Math.floor(options.prefetch)) }),
        Stream.mapEffect((decode) => decode),
        Stream.map((page) => (lastSeen = page)),
        Stream.takeUntil((page) => !continues(page))
      )
      const beyond = Stream.suspend(() =>
        continues(lastSeen)
          ? Stream.paginateChunkEffect(lastExpected + 1, (n) =>
            Effect.map(
              Effect.flatten(fetch(n)),
              (page) => [items(page), continues(page) ? Option.some(n + 1) : Option.none()] as const
            ))
          : Stream.empty
      )
      return head.pipe(
        Stream.concat(Stream.mapConcatChunk(expected, items)),
        Stream.concat(beyond)
      )
    })
  )
