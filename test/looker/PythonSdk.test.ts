/**
 * The official Python `looker-sdk` (PyPI, in the "looker" virtualenv made by
 * `.ci/venvs.sh`) logs in, reads and updates the session, and logs out
 * against the emulator on loopback: the emulator speaks Looker as the
 * official client family expects it.
 */
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as NodePath from "node:path"
import * as Loopback from "../../src/testing/Loopback.js"
import * as LookerEmulator from "../../src/testing/LookerEmulator.js"
import { describeWithVenv, needVenv, runPython } from "../support/Venvs.js"

const script = NodePath.resolve(import.meta.dirname, "python_sdk_session.py")

describeWithVenv("looker", "looker-sdk (the official Python SDK) against the emulator", () => {
  it.live("logs in, reads and updates the session, and logs out", () =>
    Effect.gen(function*() {
      const looker = yield* needVenv("looker")
      const emulator = yield* LookerEmulator.make({ sudoUserId: 7 })
      const served = yield* Loopback.serve(emulator.app)
      const run = yield* runPython(looker.python, script, { cleanEnv: true, env: {
        LOOKERSDK_BASE_URL: served.url,
        LOOKERSDK_CLIENT_ID: LookerEmulator.defaultClientId,
        LOOKERSDK_CLIENT_SECRET: LookerEmulator.defaultClientSecret,
        LOOKERSDK_VERIFY_SSL: "true",
        LOOKERSDK_TIMEOUT: "30"
      } })
      expect(run.code, run.stderr).toBe(0)
      expect(JSON.parse(run.stdout)).toEqual({
        before: "production",
        dev: "dev",
        after_dev: "dev",
        sudo_user_id: "7",
        production: "production",
        unknown_workspace: "SDKError",
        authenticated_before_logout: true,
        authenticated_after_logout: false
      })
      const stats = yield* emulator.stats
      expect(stats.logins).toBe(1)
      expect(stats.logouts).toBe(1)
      expect(stats.unauthorized).toBe(0)
      const login = (yield* emulator.recent).find((r) => r.method === "POST")
      expect(login?.url).toBe("/api/4.0/login")
      expect(login?.headers["content-type"]).toContain("application/x-www-form-urlencoded")
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
