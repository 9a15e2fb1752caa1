/**
 * A decoder compiled from a schema's AST for the shapes wire listings are made
 * of (structs of strings, numbers, booleans, literals, refinements, arrays,
 * records), with the generic `effect/Schema` decoder as its reference:
 *
 * - a value the compiled checks accept decodes to what the generic decoder
 *   gives (known keys only, excess properties dropped);
 * - struct-level transformations (`optionalWith`, renamed keys) are applied
 *   as the generic decoder applies them; `DateTimeUtc` strings are read as
 *   its decoding reads them, other final transformations (`NumberFromString`)
 *   run their own decoding; any other node it does not compile (a
 *   suspension, a declaration that answers asynchronously) is decoded by the
 *   generic decoder for that subtree;
 * - a value it rejects is decoded again by the generic decoder, so the error
 *   (with its field path) is exactly the generic one.
 *
 * Listings of a million items spend most of their client CPU decoding; on a
 * page of deepset session files this is several times faster than the
 * generic decoder. Tests check it against the generic decoder on generated
 * values.
 *
 * @since 0.1.0
 */
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"

const invalid: unique symbol = Symbol("effect-sessions/FastDecode/invalid")
type Check = (u: unknown) => unknown

const parseOptions: AST.ParseOptions = { errors: "first", onExcessProperty: "ignore" }

const generic = (ast: AST.AST): Check => {
  const decode = ParseResult.decodeUnknownEither(Schema.make(ast), parseOptions)
  return (u) => {
    const result = decode(u)
    return Either.isRight(result) ? result.right : invalid
  }
}

/** `Schema.DateTimeUtc`'s decoding (shared by its annotated copies). */
const dateTimeUtc = (Schema.DateTimeUtc.ast as AST.Transformation).transformation

/** What `DateTime.unsafeMake` takes for a time zone at the end of a string (none: the string is read as UTC). */
const hasZone = /Z|[+-]\d{2}$|[+-]\d{2}:?\d{2}$|\]$/

/**
 * A date-time string as `Schema.DateTimeUtc` decodes it (`DateTime.unsafeMake`
 * of the string, with `Z` appended when it names no zone), without the
 * generic transformation's two `Either`s, its `try` and the check of the
 * result (in a loop on one core: ~1.7 µs per value by the generic decoder,
 * ~1.3 by running the transformation's own decode, ~1.0 here).
 */
const utcOf = (s: string): unknown => {
  // A trailing `Z` (the usual wire form) names a zone: no need for the pattern.
  const millis = Date.parse(s.charCodeAt(s.length - 1) === 90 || hasZone.test(s) ? s : s + "Z")
  return Number.isNaN(millis) ? invalid : DateTime.unsafeMake(millis)
}

const isObject = (u: unknown): u is Record<PropertyKey, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const compile = (ast: AST.AST): Check => {
  switch (ast._tag) {
    case "StringKeyword":
      return (u) => (typeof u === "string" ? u : invalid)
    case "NumberKeyword":
      return (u) => (typeof u === "number" ? u : invalid)
    case "BooleanKeyword":
      return (u) => (typeof u === "boolean" ? u : invalid)
    case "UndefinedKeyword":
      return (u) => (u === undefined ? u : invalid)
    case "UnknownKeyword":
    case "AnyKeyword":
      return (u) => u
    case "Literal": {
      const literal = ast.literal
      return (u) => (u === literal ? u : invalid)
    }
    case "Refinement": {
      const from = compile(ast.from)
      return (u) => {
        const value = from(u)
        return value !== invalid && Option.isNone(ast.filter(value, parseOptions, ast)) ? value : invalid
      }
    }
    case "Union": {
      // Literals and keywords, plus at most one other member (`X | null`, `Int | undefined`), tried in the
      // schema's order: the first member that accepts a value is the one the generic decoder picks.
      const simple = (t: AST.AST) =>
        t._tag === "Literal" || t._tag === "StringKeyword" || t._tag === "NumberKeyword" ||
        t._tag === "BooleanKeyword" || t._tag === "UndefinedKeyword"
      if (ast.types.filter((t) => !simple(t)).length > 1) return generic(ast)
      const members = ast.types.map(compile)
      return (u) => {
        for (const member of members) {
          const value = member(u)
          if (value !== invalid) return value
        }
        return invalid
      }
    }
    case "TupleType": {
      if (ast.elements.length > 0 || ast.rest.length !== 1) return generic(ast)
      const item = compile(ast.rest[0]!.type)
      return (u) => {
        if (!Array.isArray(u)) return invalid
        let out: Array<unknown> | undefined
        for (let i = 0; i < u.length; i++) {
          const value = item(u[i])
          if (value === invalid) return invalid
          if (out === undefined && value !== u[i]) out = u.slice(0, i)
          if (out !== undefined) out.push(value)
        }
        return out ?? u
      }
    }
    case "TypeLiteral": {
      if (ast.indexSignatures.length > 0) {
        const only = ast.indexSignatures[0]!
        if (ast.propertySignatures.length > 0 || ast.indexSignatures.length > 1 || only.parameter._tag !== "StringKeyword") {
          return generic(ast)
        }
        const value = compile(only.type)
        return (u) => {
          if (!isObject(u)) return invalid
          const out: Record<string, unknown> = {}
          for (const key of Object.keys(u)) {
            const v = value(u[key])
            if (v === invalid) return invalid
            out[key] = v
          }
          return out
        }
      }
      return struct(ast.propertySignatures.map((ps) => plainField(ps.name, ps.isOptional, compile(ps.type))))
    }
    case "Declaration": {
      // e.g. DateTimeUtcFromSelf: its own check, synchronous in practice.
      const parse = ast.decodeUnknown(...ast.typeParameters)
      const slow = generic(ast)
      return (u) => {
        const result: unknown = parse(u, parseOptions, ast)
        if (!Either.isEither(result)) return slow(u)
        return Either.isRight(result) ? result.right : invalid
      }
    }
    case "Transformation": {
      // Struct fields such as `optionalWith(X, { nullable: true })` or renamed
      // keys: decode the encoded struct, move/transform its properties as the
      // generic decoder does, then check the result against the type side.
      const from = compile(ast.from)
      if (ast.transformation === dateTimeUtc) {
        // The result is a UTC DateTime by construction: the type side needs no check (nor a compiled one).
        return (u) => {
          const s = from(u)
          return typeof s === "string" ? utcOf(s) : invalid
        }
      }
      const to = compile(ast.to)
      if (ast.transformation._tag === "FinalTransformation") {
        // e.g. NumberFromString: run its decode; a synchronous result is an Either.
        const transformation = ast.transformation
        const slow = generic(ast)
        return (u) => {
          const a = from(u)
          if (a === invalid) return invalid
          const result: unknown = transformation.decode(a, parseOptions, ast, u)
          if (!Either.isEither(result)) return slow(u)
          return Either.isRight(result) ? to(result.right) : invalid
        }
      }
      if (ast.transformation._tag !== "TypeLiteralTransformation") return generic(ast)
      const direct = inPlaceStruct(ast.from, ast.to, ast.transformation)
      if (direct !== undefined) return struct(direct)
      const moves = ast.transformation.propertySignatureTransformations
      const moved = new Set<PropertyKey>(moves.map((move) => move.from))
      return (u) => {
        const decoded = from(u)
        if (decoded === invalid) return invalid
        const input = decoded as Record<PropertyKey, unknown>
        // A fresh object rather than `delete` on a copy: deleting keys would
        // turn it into a slow dictionary-mode object for every later access.
        const out: Record<PropertyKey, unknown> = {}
        for (const key in input) {
          if (Object.prototype.hasOwnProperty.call(input, key) && !moved.has(key)) out[key] = input[key]
        }
        for (const move of moves) {
          const o = move.decode(
            Object.prototype.hasOwnProperty.call(input, move.from) ? Option.some(input[move.from]) : Option.none()
          )
          if (Option.isSome(o)) out[move.to] = o.value
        }
        return to(out)
      }
    }
    default:
      return generic(ast)
  }
}

/** What a field's transformation makes of an absent value when it leaves the field out. */
const omitted: unique symbol = Symbol("effect-sessions/FastDecode/omitted")

/** A struct field as the compiled struct checks it. */
interface Field {
  readonly name: PropertyKey
  readonly optional: boolean
  readonly check: Check
  /**
   * The field's own transformation, for what stands for an absent value: a
   * missing key (`fillMissing`), or a present `null` / `undefined` that the
   * transformation turns into absence or a default. Gives the value (checked
   * on the type side), {@link omitted}, or {@link invalid}. Present values it
   * does not single out pass it unchanged.
   */
  readonly fill: ((given: Option.Option<unknown>) => unknown) | undefined
  readonly fillMissing: boolean
  readonly fillNull: boolean
  readonly fillUndefined: boolean
}

const plainField = (name: PropertyKey, optional: boolean, check: Check): Field => ({
  name,
  optional,
  check,
  fill: undefined,
  fillMissing: false,
  fillNull: false,
  fillUndefined: false
})

/**
 * A struct: known keys only. The input itself is the result when it holds
 * only known keys and no field changed (the usual case for JSON just parsed):
 * no copy, no garbage.
 */
const struct = (fields: ReadonlyArray<Field>): Check => {
  // Called only while every earlier field was present and unchanged.
  const copyKnown = (u: Record<PropertyKey, unknown>, upTo: number) => {
    const out: Record<PropertyKey, unknown> = {}
    for (let i = 0; i < upTo; i++) {
      const name = fields[i]!.name
      if (Object.prototype.hasOwnProperty.call(u, name)) out[name] = u[name]
    }
    return out
  }
  return (u) => {
    if (!isObject(u)) return invalid
    let out: Record<PropertyKey, unknown> | undefined
    let present = 0
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i]!
      let filled: unknown
      if (!Object.prototype.hasOwnProperty.call(u, field.name)) {
        if (!field.optional) return invalid
        if (!field.fillMissing) continue
        filled = field.fill!(Option.none())
      } else {
        const given = u[field.name]
        if ((given === null && field.fillNull) || (given === undefined && field.fillUndefined)) {
          filled = field.fill!(Option.some(given))
        } else {
          const value = field.check(given)
          if (value === invalid) return invalid
          present++
          if (out === undefined && value !== given) out = copyKnown(u, i)
          if (out !== undefined) out[field.name] = value
          continue
        }
      }
      if (filled === invalid) return invalid
      if (out === undefined) out = copyKnown(u, i)
      if (filled !== omitted) out[field.name] = filled
    }
    if (out !== undefined) return out
    if (Object.getPrototypeOf(u) === Object.prototype) {
      let keys = 0
      for (const key in u) if (Object.prototype.hasOwnProperty.call(u, key)) keys++
      if (keys === present) return u
    }
    return copyKnown(u, fields.length)
  }
}

/**
 * The fields of a struct whose transformations each keep their key and pass
 * a present value through unchanged, in one pass; `undefined` for any other
 * transformation (renamed keys, `as: "Option"`). That covers the forms of
 * `optionalWith` with `exact`, `nullable` and `default`: each move is
 * recognised by its decoding of `None`, `Some(null)`, `Some(undefined)` and
 * `Some(x)`, so a different transformation with the same shape is never
 * mistaken for it. A present value is checked by its encoded type as the
 * generic decoder's first pass checks it; the second pass (the type side)
 * cannot fail for such a value, so it is skipped, except for a value the
 * transformation makes (a default), which is checked on the type side.
 */
const inPlaceStruct = (
  from: AST.AST,
  to: AST.AST,
  transformation: AST.TypeLiteralTransformation
): ReadonlyArray<Field> | undefined => {
  if (from._tag !== "TypeLiteral" || from.indexSignatures.length > 0) return undefined
  if (to._tag !== "TypeLiteral" || to.indexSignatures.length > 0) return undefined
  const moves = new Map<PropertyKey, AST.PropertySignatureTransformation>()
  const probe = {}
  for (const move of transformation.propertySignatureTransformations) {
    if (move.from !== move.to) return undefined
    const some = move.decode(Option.some(probe))
    if (!(Option.isSome(some) && some.value === probe)) return undefined
    moves.set(move.from, move)
  }
  const fields: Array<Field> = []
  for (const ps of from.propertySignatures) {
    const check = compile(ps.type)
    const move = moves.get(ps.name)
    if (move === undefined) {
      fields.push(plainField(ps.name, ps.isOptional, check))
      continue
    }
    const typeSide = to.propertySignatures.find((t) => t.name === ps.name)
    if (typeSide === undefined) return undefined
    const checkMade = compile(typeSide.type)
    const fill = (given: Option.Option<unknown>): unknown => {
      const decoded = move.decode(given)
      return Option.isNone(decoded) ? omitted : checkMade(decoded.value)
    }
    /** Whether the transformation singles out a present `v` (one the encoded type accepts). */
    const singles = (v: null | undefined) => {
      if (check(v) === invalid) return false
      const decoded = move.decode(Option.some(v))
      return !(Option.isSome(decoded) && decoded.value === v)
    }
    fields.push({
      name: ps.name,
      optional: ps.isOptional,
      check,
      fill,
      fillMissing: Option.isSome(move.decode(Option.none())),
      fillNull: singles(null),
      fillUndefined: singles(undefined)
    })
  }
  return fields
}

/**
 * Compiles a decoder for `schema`: the result is what
 * `Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" })`
 * gives, faster on plain wire shapes.
 *
 * @since 0.1.0
 */
export const decoder = <A, I>(schema: Schema.Schema<A, I>): (u: unknown) => Either.Either<A, ParseResult.ParseError> => {
  const reference = Schema.decodeUnknownEither(schema, parseOptions)
  const fast = compile(schema.ast)
  return (u) => {
    const value = fast(u)
    return value === invalid ? reference(u) : Either.right(value as A)
  }
}
