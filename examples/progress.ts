/**
 * A live progress line on stderr: items and items/s, redrawn in place on a
 * terminal, one line every 2 s otherwise (CI logs).
 */
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"

export const progress = (unit: string) =>
  Effect.gen(function*() {
    let count = 0
    const started = performance.now()
    const tty = process.stderr.isTTY === true
    const draw = Effect.sync(() => {
      const seconds = (performance.now() - started) / 1000
      const rate = seconds > 0 ? Math.round(count / seconds) : 0
      const line = `  ${count.toLocaleString("en")} ${unit}  ${rate.toLocaleString("en")} items/s`
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`)
    })
    const fiber = yield* Effect.fork(Effect.repeat(draw, Schedule.spaced(tty ? "200 millis" : "2 seconds")))
    return {
      add: (n: number) => Effect.sync(() => void (count += n)),
      count: Effect.sync(() => count),
      stop: Effect.zipRight(Fiber.interrupt(fiber), Effect.zipRight(draw, Effect.sync(() => tty && process.stderr.write("\n"))))
    }
  })
