/**
 * examples/looker-session.ts runs as a user runs it: on the embedded
 * emulator by default, and against the Looker of `LOOKERSDK_*` when set
 * (here an emulator on loopback standing in for a real instance).
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Loopback from "../../src/testing/Loopback.js"
import * as LookerEmulator from "../../src/testing/LookerEmulator.js"
import { runExample } from "../support/RunExample.js"

const unset = {
  LOOKERSDK_BASE_URL: undefined,
  LOOKERSDK_CLIENT_ID: undefined,
  LOOKERSDK_CLIENT_SECRET: undefined,
  LOOKERSDK_API_VERSION: undefined,
  LOOKERSDK_VERIFY_SSL: undefined,
  LOOKERSDK_TIMEOUT: undefined
}

describe("examples/looker-session.ts", () => {
  it.live("switches to dev and back on the emulator by default", () =>
    Effect.gen(function*() {
      const run = yield* Effect.promise(() => runExample("examples/looker-session.ts", unset))
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain("touring the Looker emulator")
      expect(run.stdout).toMatch(/workspace: production[\s\S]*switched to: dev[\s\S]*switched back to: production[\s\S]*logged out/)
    }), { timeout: 90_000 })

  it.live("uses LOOKERSDK_* when set", () =>
    Effect.gen(function*() {
      const emulator = yield* LookerEmulator.make()
      const served = yield* Loopback.serve(emulator.app)
      const run = yield* Effect.promise(() =>
        runExample("examples/looker-session.ts", {
          ...unset,
          LOOKERSDK_BASE_URL: served.url,
          LOOKERSDK_CLIENT_ID: LookerEmulator.defaultClientId,
          LOOKERSDK_CLIENT_SECRET: LookerEmulator.defaultClientSecret,
          LOOKERSDK_API_VERSION: "3.1",
          LOOKERSDK_VERIFY_SSL: "false",
          LOOKERSDK_TIMEOUT: "20"
        })
      )
      expect(run.code, run.stderr).toBe(0)
      expect(run.stdout).toContain(`touring the Looker API at ${served.url}`)
      expect(run.stdout).toContain("switched back to: production")
      const stats = yield* emulator.stats
      expect(stats.logins).toBe(1)
      expect(stats.logouts).toBe(1)
      expect(stats.byRoute["PATCH /session"]).toBe(2)
      expect((yield* emulator.recent).every((r) => r.url.startsWith("/api/3.1/"))).toBe(true)
      expect(run.stdout + run.stderr).not.toContain(LookerEmulator.defaultClientSecret)
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
