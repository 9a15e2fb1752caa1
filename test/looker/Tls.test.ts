/**
 * TLS per client: one program holds a Looker client against an HTTPS
 * emulator with a self-signed certificate (verify off, through
 * `LookerTls`) and a deepset client against another self-signed HTTPS
 * server (verify on). The Looker calls succeed, the deepset calls fail with
 * a TLS `Transport` error, and neither `NODE_TLS_REJECT_UNAUTHORIZED` nor
 * undici's global dispatcher is touched. A private CA given to the Looker
 * client makes verification pass with checks on.
 */
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { getGlobalDispatcher } from "undici"
import * as Deepset from "../../src/deepset/index.js"
import * as Looker from "../../src/looker/index.js"
import * as LookerTls from "../../src/node/LookerTls.js"
import * as UndiciHttpClient from "../../src/node/UndiciHttpClient.js"
import * as DeepsetEmulator from "../../src/testing/DeepsetEmulator.js"
import * as LookerEmulator from "../../src/testing/LookerEmulator.js"
import * as Https from "../support/Https.js"

const deepsetKey = "deepset-tls-key-1f2e3d"

const lookerOptions = (baseUrl: string): Looker.Options => ({
  baseUrl,
  clientId: LookerEmulator.defaultClientId,
  clientSecret: Redacted.make(LookerEmulator.defaultClientSecret)
})

describe("Looker TLS settings apply to the Looker client only", () => {
  it.live("Looker with verify off succeeds, deepset with verify on fails with a TLS Transport error, globals untouched", () =>
    Effect.gen(function*() {
      const envBefore = process.env["NODE_TLS_REJECT_UNAUTHORIZED"]
      const dispatcherBefore = getGlobalDispatcher()
      const lookerEmulator = yield* LookerEmulator.make()
      const lookerServer = yield* Https.serve(lookerEmulator.app)
      const deepsetEmulator = yield* DeepsetEmulator.make({ apiKey: deepsetKey })
      const deepsetServer = yield* Https.serve(deepsetEmulator.app)

      const program = Effect.gen(function*() {
        const looker = yield* Looker.Session
        const deepset = yield* Deepset.UploadSessions
        const session = yield* looker.getSession()
        yield* looker.updateSession({ workspace_id: "dev" })
        const deepsetError = yield* Effect.flip(deepset.getStatus("default", "00000000-0000-4000-8000-000000000000"))
        const after = yield* looker.getSession()
        return { session, after, deepsetError }
      })
      const { after, deepsetError, session } = yield* program.pipe(
        Effect.provide(Layer.mergeAll(
          LookerTls.layer({ ...lookerOptions(lookerServer.url), verifySsl: false }),
          Deepset.layer({ apiKey: Redacted.make(deepsetKey), baseUrl: deepsetServer.url, policy: { maxRetries: 0 } }).pipe(
            Layer.provide(UndiciHttpClient.layer)
          )
        ))
      )
      expect(session.workspace_id).toBe("production")
      expect(after.workspace_id).toBe("dev")
      expect(deepsetError._tag).toBe("Transport")
      expect(deepsetError.message).toMatch(/self[- ]signed certificate|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED/i)
      expect((yield* deepsetEmulator.stats).requests).toBe(0)
      const lookerStats = yield* lookerEmulator.stats
      expect(lookerStats.logins).toBe(1)
      expect(lookerStats.logouts).toBe(1) // the layer's scope closed
      expect(process.env["NODE_TLS_REJECT_UNAUTHORIZED"]).toBe(envBefore)
      expect(getGlobalDispatcher()).toBe(dispatcherBefore)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("verification stays on by default, and a private CA makes it pass", () =>
    Effect.gen(function*() {
      const emulator = yield* LookerEmulator.make()
      const server = yield* Https.serve(emulator.app)
      const refused = yield* Effect.flip(
        Effect.flatMap(Looker.Session, (looker) => looker.getSession()).pipe(
          Effect.provide(LookerTls.layer({ ...lookerOptions(server.url), policy: { maxRetries: 0 } }))
        )
      )
      expect(refused._tag).toBe("Transport")
      expect(refused.message).toMatch(/certificate|SELF_SIGNED/i)
      const session = yield* Effect.flatMap(Looker.Session, (looker) => looker.getSession()).pipe(
        Effect.provide(LookerTls.layer({ ...lookerOptions(server.url), ca: server.certificate.cert }))
      )
      expect(session.workspace_id).toBe("production")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("LookerTls.layerConfig follows LOOKERSDK_VERIFY_SSL", () =>
    Effect.gen(function*() {
      const envBefore = process.env["NODE_TLS_REJECT_UNAUTHORIZED"]
      const emulator = yield* LookerEmulator.make()
      const server = yield* Https.serve(emulator.app)
      const env = (verify: string) =>
        Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
          ["LOOKERSDK_BASE_URL", server.url],
          ["LOOKERSDK_CLIENT_ID", LookerEmulator.defaultClientId],
          ["LOOKERSDK_CLIENT_SECRET", LookerEmulator.defaultClientSecret],
          ["LOOKERSDK_VERIFY_SSL", verify]
        ])))
      const call = (verify: string) =>
        Effect.flatMap(Looker.Session, (looker) => looker.getSession()).pipe(
          Effect.provide(LookerTls.layerConfig({ policy: { maxRetries: 0 } }).pipe(Layer.provide(env(verify))))
        )
      expect((yield* call("false")).workspace_id).toBe("production")
      expect((yield* Effect.flip(call("true")))._tag).toBe("Transport")
      expect(process.env["NODE_TLS_REJECT_UNAUTHORIZED"]).toBe(envBefore)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
