/**
 * The WhyLabs example runs as users run it: `npx tsx examples/whylabs-guest-upload.ts`.
 */
import { describe, expect, it } from "@effect/vitest"
import { runExample } from "../support/RunExample.js"

describe("examples/whylabs-guest-upload.ts", () => {
  it("without configuration uploads to the emulator on loopback and prints the observatory link", async () => {
    const run = await runExample("examples/whylabs-guest-upload.ts", {
      WHYLABS_API_KEY: undefined,
      WHYLABS_API_ENDPOINT: undefined,
      WHYLABS_DEFAULT_ORG_ID: undefined,
      WHYLABS_PROFILE: undefined
    })
    expect(run.stderr).toBe("")
    expect(run.code).toBe(0)
    const lines = run.stdout.trim().split("\n")
    expect(lines[0]).toMatch(/^WHYLABS_API_KEY is not set: guest upload to the WhyLabs emulator served on http:\/\/127\.0\.0\.1:\d+$/)
    expect(lines[1]).toMatch(/^whylabs: guest session session-\w+$/)
    expect(lines[2]).toMatch(/^whylabs: uploaded profile upload-\w+ \(36000 bytes\)$/)
    const session = /session-\w+/.exec(lines[1]!)![0]
    expect(lines.at(-1)).toMatch(new RegExp(`^whylabs: observatory link: https://hub\\.whylabsapp\\.com/resources/model-1/profiles\\?profile=\\d+&sessionToken=${session}$`))
  })

  it("with WHYLABS_API_ENDPOINT set talks to that server: a bad one fails with the error naming it", async () => {
    const run = await runExample("examples/whylabs-guest-upload.ts", {
      WHYLABS_API_KEY: undefined,
      WHYLABS_API_ENDPOINT: "not a url",
      WHYLABS_PROFILE: undefined
    })
    expect(run.code).not.toBe(0)
    expect(run.stdout + run.stderr).toContain("WHYLABS_API_ENDPOINT (baseUrl) must be an http(s) URL")
  })
})
