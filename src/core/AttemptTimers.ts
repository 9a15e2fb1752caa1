/**
 * Attempt timers (the undici fast path's, and the generic path's under the
 * live clock): the attempts with the same budget are kept in the order they
 * started, which is the order they expire in, under one native timer for them
 * all (armed for the first to expire, holding the process open only while one
 * waits). Starting and ending an attempt is a list insert and unlink instead
 * of a native timer made and cleared: under sequential calls Node would drop
 * its timer list with each cleared timer and make it and re-arm libuv's timer
 * with the next one (measured on the generic path: ~30 µs of CPU per call on
 * a slow 2-core VM, most of the library's overhead over the platform client).
 *
 * Times are `performance.now()`: a native timer can fire a little early by
 * that clock (Node counts from its loop's cached time); an entry not yet due
 * is waited for again, so none expires early.
 *
 * Any runtime: where a timer cannot be unreferenced (a browser's or Deno's
 * `setTimeout` gives a number), an emptied list's timer is cleared at once,
 * so no timer outlives the attempts it watches.
 *
 * @since 0.1.0
 */

/** Something with an attempt timer (its fields belong to this module). @since 0.1.0 */
export interface Entry {
  /** Called once when the time is up (the entry has already left its list). */
  readonly expire: () => void
  timerList: TimerList | undefined
  timerPrev: Entry | undefined
  timerNext: Entry | undefined
  expiresAt: number
}

/** The longest delay a native timer takes (about 24.8 days: Node turns a longer one into 1 ms). @since 0.1.0 */
export const maxMillis = 2 ** 31 - 1

/** Whether a budget needs a timer at all (Infinity, or longer than a native timer holds, sets none). @since 0.1.0 */
export const fits = (millis: number): boolean => millis <= maxMillis

/** Lists kept (with their timer) while empty; beyond this many budgets an emptied list is dropped at once. */
const maxLingering = 8

/** A timer as Node (and Bun) make it: it can stop holding the process open. */
interface Referable {
  readonly ref: () => unknown
  readonly unref: () => unknown
}

type Timer = ReturnType<typeof setTimeout>

const referable = (timer: Timer): Referable | undefined =>
  typeof timer === "object" && timer !== null && typeof (timer as Partial<Referable>).unref === "function"
    ? timer as unknown as Referable
    : undefined

const lists = new Map<number, TimerList>()

/** The entries of one budget, oldest first. @since 0.1.0 */
export class TimerList {
  head: Entry | undefined = undefined
  tail: Entry | undefined = undefined
  /** Fires no later than the head expires (possibly earlier: then it is armed again). */
  timer: Timer | undefined = undefined
  constructor(readonly millis: number) {}

  add(entry: Entry, now: number): void {
    entry.timerList = this
    entry.expiresAt = now + this.millis
    entry.timerPrev = this.tail
    entry.timerNext = undefined
    if (this.tail === undefined) {
      this.head = entry
      // A lingering timer is unreferenced (only a referable one lingers).
      if (this.timer === undefined) this.arm(this.millis)
      else referable(this.timer)?.ref()
    } else {
      this.tail.timerNext = entry
    }
    this.tail = entry
  }

  remove(entry: Entry): void {
    const { timerNext: next, timerPrev: prev } = entry
    if (prev === undefined) this.head = next
    else prev.timerNext = next
    if (next === undefined) this.tail = prev
    else next.timerPrev = prev
    entry.timerList = undefined
    entry.timerPrev = undefined
    entry.timerNext = undefined
    if (this.head === undefined && this.timer !== undefined) {
      const lingering = lists.size <= maxLingering ? referable(this.timer) : undefined
      if (lingering !== undefined) {
        lingering.unref()
      } else {
        clearTimeout(this.timer)
        this.timer = undefined
        if (lists.get(this.millis) === this) lists.delete(this.millis)
      }
    }
  }

  arm(delay: number): void {
    this.timer = setTimeout(fire, Math.max(1, Math.ceil(delay)), this)
  }

  fire(): void {
    this.timer = undefined
    const now = performance.now()
    let head = this.head
    while (head !== undefined && head.expiresAt <= now) {
      this.remove(head)
      head.expire()
      head = this.head
    }
    if (head !== undefined) {
      if (this.timer === undefined) this.arm(head.expiresAt - now)
    } else if (this.timer === undefined && lists.get(this.millis) === this) lists.delete(this.millis)
  }
}

const fire = (list: TimerList) => list.fire()

/**
 * Starts the timer of `entry`: its `expire` is called after `millis`
 * (a whole number ≥ 0 that a native timer can hold) unless {@link stop} is
 * called first.
 *
 * @since 0.1.0
 */
export const start = (entry: Entry, millis: number): void => {
  let list = lists.get(millis)
  if (list === undefined) {
    list = new TimerList(millis)
    lists.set(millis, list)
  }
  list.add(entry, performance.now())
}

/** How many entries wait, over every budget (what tests check: an ended attempt leaves none). @since 0.1.0 */
export const waiting = (): number => {
  let count = 0
  for (const list of lists.values()) for (let e = list.head; e !== undefined; e = e.timerNext) count++
  return count
}

/** Stops the timer of `entry`, if it has one running. @since 0.1.0 */
export const stop = (entry: Entry): void => {
  entry.timerList?.remove(entry)
}
