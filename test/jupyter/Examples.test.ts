/**
 * The Jupyter example runs as users run it: `npx tsx examples/jupyter-sessions.ts`.
 * (Against a real server: see Sessions.integration.test.ts.)
 */
import { describe, expect, it } from "@effect/vitest"
import { runExample } from "../support/RunExample.js"

describe("examples/jupyter-sessions.ts", () => {
  it("without JUPYTER_SERVER_URL tours the emulator on loopback and exits 0", async () => {
    const run = await runExample("examples/jupyter-sessions.ts", { JUPYTER_SERVER_URL: undefined, JUPYTER_TOKEN: undefined })
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    const lines = run.stdout.trim().split("\n")
    expect(lines[0]).toMatch(/^JUPYTER_SERVER_URL is not set: touring the Jupyter emulator served on http:\/\/127\.0\.0\.1:\d+$/)
    expect(lines).toContain("jupyter: the server runs 1 session(s)")
    expect(lines.at(-1)).toBe("jupyter: deleted the session and its kernel; reading it again gives NotFound (404)")
  })
})
