/**
 * The seed's own client, whylabs-client (PyPI, in the "whylabs" virtualenv
 * made by `.ci/venvs.sh`), calls all seven operations against the emulator on
 * loopback, each without an error, and PUTs a profile to the upload URL: the
 * emulator's answers satisfy the official client's own models and checks.
 */
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as NodePath from "node:path"
import * as Loopback from "../../src/testing/Loopback.js"
import * as WhyLabsEmulator from "../../src/testing/WhyLabsEmulator.js"
import { describeWithVenv, needVenv, runPython } from "../support/Venvs.js"

const apiKey = "wl-python-key-0a1b2c3d"
const orgId = "org-python"
const script = NodePath.resolve(import.meta.dirname, "seven_operations.py")

describeWithVenv("whylabs", "whylabs-client (the seed's Python client) against the emulator", () => {
  it.live("calls all seven operations, each without an error, and uploads a profile", () =>
    Effect.gen(function*() {
      const whylabs = yield* needVenv("whylabs")
      const emulator = yield* WhyLabsEmulator.make({ apiKey, orgId })
      const served = yield* Loopback.serve(emulator.app)
      const run = yield* runPython(whylabs.python, script, { args: [served.url, apiKey, orgId] })
      expect(run.stderr).toBe("")
      expect(run.code).toBe(0)
      const out = JSON.parse(run.stdout) as Record<string, Record<string, unknown>>
      const sessionId = out["create_session"]!["id"] as string
      const session = Option.getOrThrow(yield* emulator.session(sessionId))
      expect(out["get_session"]).toEqual({
        session_id: sessionId,
        org_id: session.orgId,
        model_id: WhyLabsEmulator.guestModelId,
        user_id: "python-user"
      })
      expect(out["create_dataset_profile_upload"]!["dataset_id"]).toBe(WhyLabsEmulator.guestModelId)
      expect(out["put_status"]).toBe(200)
      const uploadId = out["create_dataset_profile_upload"]!["id"] as string
      expect(Option.getOrThrow(yield* emulator.uploaded(uploadId)).size).toBe(out["put_size"])
      expect(out["create_reference_profile_upload"]).toMatchObject({ alias: "training", model_id: WhyLabsEmulator.guestModelId })
      expect(out["batch_create_reference_profile_upload"]!["aliases"]).toEqual(["a", "b"])
      expect(out["get_session_profile_observatory_link"]!["individual_observatory_urls"]).toHaveLength(2)
      expect(session.claimedInto).toBe(orgId)
      expect(session.uploads.map((u) => u.kind)).toEqual(["dataset", "reference", "reference", "reference"])
      expect(session.uploads[0]!.segmentTags).toEqual([{ key: "region", value: "eu" }])
      // The official client, too, sends the key only where the spec asks for it.
      const keyed = (yield* emulator.recent).filter((r) => r.headers["x-api-key"] !== undefined)
      expect(keyed.map((r) => `${r.method} ${r.url.split("?")[0]!.replace(sessionId, "{id}")}`)).toEqual([
        "GET /v0/sessions/{id}",
        "POST /v0/sessions/{id}/claim"
      ])
      // Every route was called (the seven operations and the PUT).
      expect(Object.keys((yield* emulator.stats).byRoute).sort()).toEqual([
        "GET /v0/sessions/{id}",
        "POST /v0/sessions",
        "POST /v0/sessions/observatory-link/{id}",
        "POST /v0/sessions/{id}/claim",
        "POST /v0/sessions/{id}/reference",
        "POST /v0/sessions/{id}/references",
        "POST /v0/sessions/{id}/upload",
        "PUT upload"
      ])
    }).pipe(Effect.scoped))
})
