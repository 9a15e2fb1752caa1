/**
 * Validated settings for the clients' `layerConfig`: every option is a
 * `Config` (so callers choose the env var names, or pass `Config.succeed`),
 * and a value that cannot work fails the layer with a `ConfigError` naming
 * the setting and saying why, instead of failing every call later.
 *
 * ```ts
 * Deepset.layerConfig({ apiKey: Config.redacted("PROD_DEEPSET_KEY") })
 * ```
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"

/**
 * An `http:` or `https:` URL. A setting that is not one fails with
 * `ConfigError.InvalidData` (at the setting's path where Effect keeps it), its
 * message naming `label` (say, `"DEEPSET_CLOUD_API_URL (baseUrl)"`).
 *
 * @since 0.1.0
 */
export const httpUrl = (config: Config.Config<string>, label = "the base URL"): Config.Config<string> =>
  Config.mapOrFail(config, (raw) => {
    const value = raw.trim()
    let url: URL
    try {
      url = new URL(value)
    } catch {
      return Either.left(ConfigError.InvalidData([], `${label} must be an http(s) URL, got ${JSON.stringify(shorten(value))}`))
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return Either.left(ConfigError.InvalidData([], `${label} must be an http or https URL, got ${url.protocol} (${url.host})`))
    }
    return Either.right(value)
  })

/**
 * A secret that is not empty nor only whitespace; its value never appears in
 * the error, whose message names `label`.
 *
 * @since 0.1.0
 */
export const nonEmptySecret = (
  config: Config.Config<Redacted.Redacted<string>>,
  label = "the secret"
): Config.Config<Redacted.Redacted<string>> =>
  Config.mapOrFail(config, (secret) =>
    Redacted.value(secret).trim().length === 0
      ? Either.left(ConfigError.InvalidData([], `${label} must not be empty`))
      : Either.right(secret))

/**
 * A whole number of seconds ≥ 0 (e.g. `LOOKERSDK_TIMEOUT`).
 *
 * @since 0.1.0
 */
export const seconds = (config: Config.Config<number>, label = "the timeout"): Config.Config<number> =>
  Config.validate(config, {
    message: `${label} must be a number of seconds ≥ 0`,
    validation: (n) => Number.isFinite(n) && n >= 0
  })

const shorten = (s: string): string => (s.length > 80 ? `${s.slice(0, 80)}…` : s)
