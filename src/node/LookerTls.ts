/**
 * The Looker client's TLS settings on Node: `LOOKERSDK_VERIFY_SSL=false` or
 * a custom CA apply to the connections of the Looker client alone, through
 * an undici `Agent` of its own. `process.env.NODE_TLS_REJECT_UNAUTHORIZED`
 * and undici's global dispatcher are never touched, so every other client in
 * the process keeps verifying certificates.
 *
 * ```ts
 * import { LookerTls } from "effect-sessions/node"
 *
 * // LOOKERSDK_* from the environment, LOOKERSDK_VERIFY_SSL included; needs nothing else.
 * program.pipe(Effect.provide(LookerTls.layerConfig()))
 *
 * // Or in code: a private CA for this client only.
 * Looker.layer(options).pipe(Layer.provide(LookerTls.transport({ ca: Fs.readFileSync("corp-ca.pem", "utf8") })))
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Looker from "../looker/index.js"
import * as UndiciHttpClient from "./UndiciHttpClient.js"

/** @since 0.1.0 */
export interface TlsOptions {
  /** Verify the server's certificate (default true). `false` is for a self-signed development instance. */
  readonly verifySsl?: boolean | undefined
  /** Certificate authorities to trust instead of Node's bundled ones (PEM). */
  readonly ca?: string | ReadonlyArray<string> | undefined
}

/**
 * An `HttpClient` (effect-sessions' undici transport, fast path included) on
 * an `Agent` of its own with these TLS settings; closed with the layer.
 * Provide it to the Looker layer only.
 *
 * @since 0.1.0
 */
export const transport = (tls: TlsOptions = {}): Layer.Layer<HttpClient.HttpClient> =>
  UndiciHttpClient.layerWith({
    connect: {
      rejectUnauthorized: tls.verifySsl ?? true,
      ...(tls.ca === undefined ? {} : { ca: typeof tls.ca === "string" ? tls.ca : [...tls.ca] })
    }
  })

/**
 * `Looker.layer` on its own {@link transport}: the layer needs nothing.
 *
 * @since 0.1.0
 */
export const layer = (options: Looker.Options & TlsOptions): Layer.Layer<Looker.Session> =>
  Looker.layer(options).pipe(Layer.provide(transport(options)))

/**
 * `Looker.layerConfig` on its own {@link transport}, whose certificate check
 * follows `LOOKERSDK_VERIFY_SSL` (or `options.verifySsl`); `ca` is trusted
 * when given. The layer needs nothing.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  options: Looker.ConfigOptions & { readonly ca?: string | ReadonlyArray<string> | undefined } = {}
): Layer.Layer<Looker.Session, ConfigError.ConfigError> =>
  Layer.unwrapEffect(
    Effect.map(
      options.verifySsl ?? Config.boolean("LOOKERSDK_VERIFY_SSL").pipe(Config.withDefault(true)),
      (verifySsl) =>
        // The transport applies the setting, so the Looker layer is told it is handled (no warning).
        Looker.layerConfig({ ...options, verifySsl: Config.succeed(true) }).pipe(
          Layer.provide(transport({ verifySsl, ca: options.ca }))
        )
    )
  )
