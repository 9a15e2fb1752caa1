import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as AttemptTimers from "../../src/core/AttemptTimers.js"

/** An entry that records when it expired (performance.now()). */
const entry = (log: Array<string>, name: string, at: Map<string, number>): AttemptTimers.Entry => ({
  expire: () => {
    log.push(name)
    at.set(name, performance.now())
  },
  timerList: undefined,
  timerPrev: undefined,
  timerNext: undefined,
  expiresAt: 0
})

const until = (check: () => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500 && !check(); i++) yield* Effect.sleep("10 millis")
  })

describe("AttemptTimers", () => {
  it.live("entries expire in order, never before their budget; a stopped one never", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const at = new Map<string, number>()
      const t0 = performance.now()
      const [a, b, c] = [entry(log, "a", at), entry(log, "b", at), entry(log, "c", at)]
      AttemptTimers.start(a, 60)
      AttemptTimers.start(b, 60)
      AttemptTimers.start(c, 60)
      const d = entry(log, "d", at)
      AttemptTimers.start(d, 20) // another budget: its own list, expires first
      AttemptTimers.stop(b)
      expect(b.timerList).toBeUndefined()
      yield* until(() => log.length >= 3)
      yield* Effect.sleep("80 millis")
      expect(log).toEqual(["d", "a", "c"])
      expect(at.get("d")! - t0).toBeGreaterThanOrEqual(20)
      expect(at.get("a")! - t0).toBeGreaterThanOrEqual(60)
      expect(at.get("c")! - t0).toBeGreaterThanOrEqual(60)
      expect(a.timerList).toBeUndefined()
    }))

  it.live("an entry started while the list's timer is pending for an earlier one waits its own full budget", () =>
    Effect.gen(function*() {
      const log: Array<string> = []
      const at = new Map<string, number>()
      const first = entry(log, "first", at)
      AttemptTimers.start(first, 100)
      yield* Effect.sleep("50 millis")
      const tLate = performance.now()
      const late = entry(log, "late", at)
      AttemptTimers.start(late, 100)
      AttemptTimers.stop(first) // the list's timer stays armed for the first's time
      yield* until(() => log.length >= 1)
      expect(log).toEqual(["late"])
      expect(at.get("late")! - tLate).toBeGreaterThanOrEqual(100)
    }))

  it.live("the shared timer holds the process open only while an entry waits", () =>
    Effect.sync(() => {
      const e = entry([], "e", new Map())
      AttemptTimers.start(e, 10_000)
      const list = e.timerList!
      expect(list.timer?.hasRef()).toBe(true)
      AttemptTimers.stop(e)
      expect(list.timer === undefined || !list.timer.hasRef()).toBe(true)
      const again = entry([], "again", new Map())
      AttemptTimers.start(again, 10_000)
      expect(again.timerList?.timer?.hasRef()).toBe(true)
      AttemptTimers.stop(again)
    }))
})
