/**
 * The secrets of one client, registered once and scrubbed everywhere: every
 * secret value (API keys, tokens, each cookie value, tokens fetched at run
 * time) is cut out of every text meant for an error, and every header that
 * carries one is registered in `Headers.currentRedactedNames` on every call,
 * so spans and logs show `<redacted>` even when the caller narrowed that
 * list after the layer was built. URLs meant for errors and spans lose their
 * user info and secret-looking query values.
 *
 * @since 0.1.0
 */
import * as Headers from "@effect/platform/Headers"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"

/** Query parameter names whose values are secrets (`?token=…`, `X-Amz-Signature=…`). @since 0.1.0 */
export const secretQueryName = /token|key|secret|password|signature|credential|auth|sig$/i

/** What replaces a secret. @since 0.1.0 */
export const placeholder = "<redacted>"

/** Secrets shorter than this are not scrubbed from texts (they would match everywhere). */
const minScrubbedLength = 4
/** Dynamic tokens remembered for scrubbing (a refreshed token's predecessor may still appear in a late error). */
const maxDynamic = 8

/**
 * A URL fit for errors and spans: no user info, secret-looking query values
 * replaced. Never throws.
 *
 * @since 0.1.0
 */
export const redactUrl = (url: string): string => {
  const query = url.indexOf("?")
  const hasUserInfo = url.lastIndexOf("@", query === -1 ? url.length : query) > url.indexOf("//")
  if (!hasUserInfo && (query === -1 || !secretQueryName.test(url.slice(query)))) return url
  try {
    const parsed = new URL(url)
    parsed.username = ""
    parsed.password = ""
    for (const name of Array.from(parsed.searchParams.keys())) {
      if (secretQueryName.test(name)) parsed.searchParams.set(name, "REDACTED")
    }
    return parsed.toString()
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//").replace(/\?.*$/, "?REDACTED")
  }
}

/** One client's secrets. @since 0.1.0 */
export interface Registry {
  /** Cuts every registered secret out of `text`. Linear in the text's length per secret. */
  readonly scrub: (text: string) => string
  /** Registers a secret fetched at run time (a login's token). */
  readonly addDynamic: (secret: Redacted.Redacted<string>) => void
  /** Header names that carry secrets (lower case). */
  readonly headerNames: ReadonlyArray<string>
  /** Runs `effect` with this client's secret headers in `Headers.currentRedactedNames`, adding only what is missing. */
  readonly protect: <A, E, R>(fiber: Fiber.RuntimeFiber<unknown, unknown>, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/**
 * A registry of fixed secrets (values in any form) and the headers that
 * carry them.
 *
 * @since 0.1.0
 */
export const make = (input: {
  readonly values: ReadonlyArray<Redacted.Redacted<string> | string>
  readonly headerNames: ReadonlyArray<string>
}): Registry => {
  const fixed = unique(input.values.map((v) => (Redacted.isRedacted(v) ? Redacted.value(v) : v)))
  const dynamic: Array<string> = []
  let all = fixed
  const headerNames = Array.from(new Set(input.headerNames.map((n) => n.toLowerCase())))
  let lastNames: ReadonlyArray<string | RegExp> | undefined
  let lastMissing: ReadonlyArray<string> | undefined
  const missingFrom = (names: ReadonlyArray<string | RegExp>): ReadonlyArray<string> | undefined => {
    let missing: Array<string> | undefined
    for (const name of headerNames) {
      if (!names.includes(name) && !names.some((n) => typeof n !== "string" && n.test(name))) (missing ??= []).push(name)
    }
    return missing
  }
  return {
    headerNames,
    scrub: (text) => {
      let out = text
      for (const secret of all) if (out.includes(secret)) out = out.split(secret).join(placeholder)
      return out
    },
    addDynamic: (secret) => {
      const value = Redacted.value(secret)
      if (value.length < minScrubbedLength || dynamic.includes(value)) return
      dynamic.push(value)
      if (dynamic.length > maxDynamic) dynamic.shift()
      all = unique([...fixed, ...dynamic])
    },
    protect: (fiber, effect) => {
      if (headerNames.length === 0) return effect
      const names = fiber.getFiberRef(Headers.currentRedactedNames)
      // The list in force is nearly always the same array from call to call: its answer is kept.
      if (names !== lastNames) {
        lastNames = names
        lastMissing = missingFrom(names)
      }
      const missing = lastMissing
      return missing === undefined
        ? effect
        : Effect.locallyWith(effect, Headers.currentRedactedNames, (names) => [...names, ...missing])
    }
  }
}

/** Longest first, so that a secret containing another is cut whole. */
const unique = (values: ReadonlyArray<string>): ReadonlyArray<string> =>
  Array.from(new Set(values.filter((v) => v.length >= minScrubbedLength))).sort((a, b) => b.length - a.length)
