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
import * as Channel from "effect/Channel"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"

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
  /**
   * A span for the whole stream (from its first request until it ends, with
   * its exit), the parent of every page's request. Unlike `Stream.withSpan`
   * it is set on each page request only, so it costs nothing per chunk.
   */
  readonly span?: string | undefined
}

/** Whether the listing goes on after page `n` of an expected `lastExpected`. */
const continues = <A>(page: Page<A>, n: number, lastExpected: number): boolean =>
  page.has_more && (page.data.length > 0 || n < lastExpected)

/** An empty page that says more follow, before the announced end: worth one more look. */
const suspicious = <A>(page: Page<A>, n: number, lastExpected: number): boolean =>
  page.data.length === 0 && page.has_more && n < lastExpected

const items = <A>(page: Page<A>): Chunk.Chunk<A> => Chunk.unsafeFromArray(page.data as Array<A>)

/** Where a request in flight leaves its (undecoded) page, and how it tells that it has ended. */
interface Slot<A, E> {
  page: Effect.Effect<Page<A>, E> | undefined
  /** The request's end (set by an observer of its fiber, however it ends). */
  exit: Exit.Exit<void, E> | undefined
  /** The consumer waiting for this request, if it came before the request's end. */
  wake: (() => void) | undefined
}

/** A request in flight: its page number and where it leaves its page. */
interface InFlight<A, E> {
  readonly n: number
  readonly slot: Slot<A, E>
}

/** Records a request's end and wakes the consumer waiting for it. */
const settle = <A, E>(slot: Slot<A, E>, exit: Exit.Exit<void, E>): void => {
  slot.exit = exit
  const wake = slot.wake
  slot.wake = undefined
  wake?.()
}

/** The page a finished request left, emptying its slot. */
const take = <A, E>(slot: Slot<A, E>): Effect.Effect<Page<A>, E> => {
  const page = slot.page!
  slot.page = undefined
  return page
}

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
 * the oldest and decodes it. Per page that is one fiber, not a chain of
 * stream stages; the fiber's end is observed, so a page that has arrived when
 * the consumer reaches it is taken without a wait. A request's fiber leaves
 * its page in a slot that only this stage holds (the fiber's own result is
 * void), so that nothing a finished fiber still references keeps a page alive.
 *
 * The stream is one channel: a scope acquired and released around a loop
 * that writes each page's chunk (no `unwrapScoped`/`concat` layers: in a
 * micro-benchmark those took ~5 µs of executor work per chunk, this ~1).
 *
 * @since 0.1.0
 */
export const streamDeferred = <A, E>(
  fetch: (pageNumber: number) => Effect.Effect<Effect.Effect<Page<A>, E>, E>,
  options: Options,
  onGap?: (gap: { readonly page: number; readonly expectedPages: number }) => E
): Stream.Stream<A, E> =>
  Stream.fromChannel(Channel.acquireUseRelease(
    Scope.make(),
    (scope) => Channel.unwrap(Effect.map(Scope.extend(start(fetch, options, onGap, scope), scope), writeAll)),
    (scope, exit) => Scope.close(scope, exit)
  ))

/** A pull's answer: the next chunk, or `undefined` once the listing has ended. */
type Pull<A, E> = Effect.Effect<Chunk.Chunk<A> | undefined, E>

/** The channel that writes every chunk `pull` gives, until it gives `undefined`. */
const writeAll = <A, E>(pull: Pull<A, E>): Channel.Channel<Chunk.Chunk<A>, unknown, E, unknown, void, unknown> => {
  const again: Channel.Channel<Chunk.Chunk<A>, unknown, E, unknown, void, unknown> = Channel.suspend(() => loop)
  const loop: Channel.Channel<Chunk.Chunk<A>, unknown, E, unknown, void, unknown> = Channel.flatMap(
    Channel.fromEffect(pull),
    (chunk) => chunk === undefined ? Channel.void : Channel.zipRight(Channel.write(chunk), again)
  )
  return loop
}

/** Fetches page 1 (and the first requests ahead), then gives the pull of the whole listing. */
const start = <A, E>(
  fetch: (pageNumber: number) => Effect.Effect<Effect.Effect<Page<A>, E>, E>,
  options: Options,
  onGap: ((gap: { readonly page: number; readonly expectedPages: number }) => E) | undefined,
  scope: Scope.Scope
): Effect.Effect<Pull<A, E>, E, Scope.Scope> =>
  Effect.gen(function*() {
    const span = options.span === undefined ? undefined : yield* Effect.makeSpanScoped(options.span)
    const get = span === undefined ? fetch : (n: number) => Effect.withParentSpan(fetch(n), span)
    // A request ahead runs in a fiber of its own, which ends with it: the span is set as its parent once,
    // with nothing to restore (`withParentSpan`'s scoped change cost about ten run-loop steps a page).
    const underSpan = span === undefined
      ? Effect.void
      : FiberRef.update(FiberRef.currentContext, (context) => Context.add(context, Tracer.ParentSpan, span))
    let first = yield* Effect.flatten(get(1))
    const announced = (page: Page<A>) =>
      Math.max(2, Math.ceil((Number.isFinite(page.total) ? page.total : 0) / Math.max(1, options.pageSize)))
    if (suspicious(first, 1, announced(first))) first = yield* Effect.flatten(get(1))
    const lastExpected = announced(first)
    if (onGap !== undefined && suspicious(first, 1, lastExpected)) {
      return Effect.fail(onGap({ page: 1, expectedPages: lastExpected }))
    }
    /** The first page's items, until the first pull takes them. */
    let head: Chunk.Chunk<A> | undefined = items(first)
    const takeHead = Effect.sync(() => {
      const chunk = head
      head = undefined
      return chunk
    })
    if (!continues(first, 1, lastExpected)) return takeHead
    const prefetch = Math.max(1, Math.floor(options.prefetch))
    /** Requests in flight, oldest first, with their page numbers. */
    const inFlight: Array<InFlight<A, E>> = []
    let next = 2
    let done = false
    /** Forks requests until as many are in flight as may be. */
    const fill: Effect.Effect<void> = Effect.suspend(() => {
      // Up to `prefetch` requests while pages are expected; beyond the expected
      // end (the listing grew) one at a time, only after the last page said has_more.
      const limit = next <= lastExpected ? Math.min(prefetch, inFlight.length + lastExpected - next + 1) : 1
      if (inFlight.length >= limit) return Effect.void
      const n = next++
      const slot: Slot<A, E> = { page: undefined, exit: undefined, wake: undefined }
      // The fiber's own result is void: the page waits in the slot, which only this stage holds, so that a
      // finished fiber (which the young-generation collector may keep for a while) never keeps a page alive.
      const request = Effect.map(span === undefined ? fetch(n) : Effect.zipRight(underSpan, fetch(n)), (page) => void (slot.page = page))
      return Effect.flatMap(Effect.forkIn(request, scope), (fiber) => {
        // The fiber's end is observed rather than awaited: a page that has arrived when the consumer
        // reaches it is taken without a wait (no async step, no observer added and removed per page).
        fiber.addObserver((exit) => settle(slot, exit))
        inFlight.push({ n, slot })
        return fill
      })
    })
    /** The items of a page taken from the listing (the stream ends after the last one). */
    const emit = (page: Page<A>, n: number): Chunk.Chunk<A> => {
      if (!continues(page, n, lastExpected)) done = true
      return items(page)
    }
    /** A suspicious page, fetched once more (`onGap` fails the stream when it stays empty). */
    const refetch = (n: number) =>
      Effect.flatMap(Effect.flatten(get(n)), (again) =>
        onGap !== undefined && suspicious(again, n, lastExpected)
          ? Effect.fail(onGap({ page: n, expectedPages: lastExpected }))
          : Effect.sync(() => emit(again, n)))
    /** The page of a request that has ended, decoded (its failure fails the stream: no page is skipped). */
    const settled = (n: number, slot: Slot<A, E>): Effect.Effect<Chunk.Chunk<A>, E> => {
      const exit = slot.exit!
      if (exit._tag === "Failure") return Effect.failCause(exit.cause)
      return Effect.flatMap(take(slot), (page) => suspicious(page, n, lastExpected) ? refetch(n) : Effect.succeed(emit(page, n)))
    }
    /** The oldest request's page, once the request has ended. */
    const oldest: Effect.Effect<Chunk.Chunk<A>, E> = Effect.suspend(() => {
      const { n, slot } = inFlight.shift()!
      if (slot.exit !== undefined) return settled(n, slot)
      return Effect.async<Chunk.Chunk<A>, E>((resume) => {
        slot.wake = () => resume(settled(n, slot))
        // The consumer interrupted while it waits: nothing to wake (the scope interrupts the request).
        return Effect.sync(() => void (slot.wake = undefined))
      })
    })
    const end = Effect.succeed(undefined)
    const rest: Pull<A, E> = Effect.zipRight(fill, oldest)
    const pull: Pull<A, E> = Effect.suspend(() => head !== undefined ? takeHead : done ? end : rest)
    // Requests for the next pages go out before the consumer gets the first page's items.
    yield* fill
    return pull
  })
