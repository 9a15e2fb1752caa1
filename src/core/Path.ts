/**
 * Path templates whose parameters can never leave their segment: every value
 * is percent-encoded (`../x` → `..%2Fx`, `a/b?c` → `a%2Fb%3Fc`), and values a
 * URL parser would collapse or drop (`""`, `.`, `..`) are refused with the
 * parameter's name.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"

/** A lone UTF-16 surrogate (`encodeURIComponent` throws on it). */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
/** `String.prototype.isWellFormed` (Node 20, recent browsers; no regex run per value), else the regex. */
const nativeIsWellFormed = (String.prototype as { readonly isWellFormed?: (this: string) => boolean }).isWellFormed
const isWellFormed: (s: string) => boolean = nativeIsWellFormed !== undefined
  ? (s) => nativeIsWellFormed.call(s)
  : (s) => !loneSurrogate.test(s)

/** A parameter value that cannot be placed in a path. @since 0.1.0 */
export interface BadSegment {
  readonly field: string
  readonly message: string
}

/** A compiled template: parameters in, encoded path (or the bad parameter) out. @since 0.1.0 */
export type Template<P extends string> = (params: Readonly<Record<P, string>>) => Either.Either<string, BadSegment>

/** The names of a template's `{parameters}`. @since 0.1.0 */
export type ParamsOf<T extends string> = T extends `${string}{${infer P}}${infer Rest}` ? P | ParamsOf<Rest> : never

/**
 * Compiles a template such as `/api/sessions/{session_id}` once; the result
 * encodes each call's parameters.
 *
 * @since 0.1.0
 */
export const template = <const T extends string>(path: T): Template<ParamsOf<T>> => {
  const parts = path.split(/\{([^}]+)\}/)
  return (params) => {
    let out = parts[0] ?? ""
    for (let i = 1; i < parts.length; i += 2) {
      const name = parts[i] as ParamsOf<T>
      const value = params[name]
      if (value === "" || value === "." || value === "..") {
        return Either.left({
          field: name,
          message: value === "" ? "must not be empty" : `"${value}" is not a valid ${name}`
        })
      }
      if (typeof value !== "string") return Either.left({ field: name, message: "must be a string" })
      if (!isWellFormed(value)) return Either.left({ field: name, message: "is not valid Unicode (it holds a lone surrogate)" })
      out += encodeURIComponent(value) + (parts[i + 1] ?? "")
    }
    return Either.right(out)
  }
}
