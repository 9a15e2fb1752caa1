import { describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as FastDecode from "../../src/core/FastDecode.js"
import { OptionalNullable } from "../../src/core/Tolerant.js"
import * as DeepsetSchemas from "../../src/deepset/Schemas.js"
import * as JupyterSchemas from "../../src/jupyter/Schemas.js"

const schemas: ReadonlyArray<[string, Schema.Schema<any, any>]> = [
  ["deepset PaginatedSessionFile", DeepsetSchemas.PaginatedSessionFile],
  ["deepset PaginatedSession", DeepsetSchemas.PaginatedSession],
  ["deepset SessionDetail", DeepsetSchemas.SessionDetail],
  ["deepset UploadSession", DeepsetSchemas.UploadSession],
  ["jupyter Session", JupyterSchemas.Session],
  ["jupyter SessionList", JupyterSchemas.SessionList],
  // Compiled in one pass: only nullable-and-exact optional fields.
  ["nullable optional fields", Schema.Struct({
    a: OptionalNullable(Schema.String),
    n: OptionalNullable(Schema.Union(Schema.Number, Schema.Boolean)),
    s: Schema.String
  })],
  // Other struct transformations take the general route.
  ["other optional forms and renamed keys", Schema.Struct({
    a: OptionalNullable(Schema.String),
    b: Schema.optionalWith(Schema.Number, { default: () => 7 }),
    c: Schema.optionalWith(Schema.String, { nullable: true }),
    d: Schema.propertySignature(Schema.String).pipe(Schema.fromKey("dd"))
  })],
  // Every form of optionalWith that keeps its key, compiled in one pass: a default fills a missing key (and a
  // null or undefined the form reads as absent), and is checked on the type side (the Positive's default is not).
  ["optionalWith forms with defaults", Schema.Struct({
    e: Schema.optionalWith(Schema.Int, { default: () => 0, exact: true }),
    d: Schema.optionalWith(Schema.String, { default: () => "d" }),
    n: Schema.optionalWith(Schema.Number, { default: () => 1, nullable: true }),
    ne: Schema.optionalWith(Schema.Boolean, { default: () => true, nullable: true, exact: true }),
    o: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
    x: Schema.optionalWith(Schema.String, { exact: true }),
    u: Schema.optionalWith(Schema.String, { nullable: true }),
    list: Schema.optionalWith(Schema.Array(Schema.Int), { default: () => [] })
  })],
  ["a default the type side rejects", Schema.Struct({
    p: Schema.optionalWith(Schema.Positive, { default: () => -1 }),
    s: Schema.String
  })],
  // Unions are tried in the schema's order (a transforming member first changes the result).
  ["unions in order", Schema.Struct({
    u: Schema.Union(Schema.NumberFromString, Schema.String),
    v: Schema.Union(Schema.String, Schema.NumberFromString),
    i: Schema.optionalWith(Schema.Int, { default: () => 0 }),
    b: Schema.Union(Schema.Boolean, Schema.Literal("yes"), Schema.Undefined)
  })]
]

const reference = (schema: Schema.Schema<any, any>) =>
  Schema.decodeUnknownEither(schema, { errors: "first", onExcessProperty: "ignore" })

/** Same outcome: equal values, or the same error message. */
const same = (fast: Either.Either<unknown, ParseResult.ParseError>, ref: Either.Either<unknown, ParseResult.ParseError>) => {
  expect(fast._tag).toBe(ref._tag)
  if (Either.isRight(fast) && Either.isRight(ref)) expect(fast.right).toStrictEqual(ref.right)
  if (Either.isLeft(fast) && Either.isLeft(ref)) expect(fast.left.message).toBe(ref.left.message)
}

/** Every object or array inside a value (the value included). */
const containers = (value: unknown, out: Array<Record<string, unknown> | Array<unknown>> = []) => {
  if (typeof value === "object" && value !== null) {
    out.push(value as Record<string, unknown>)
    for (const v of Object.values(value)) containers(v, out)
  }
  return out
}

/**
 * Valid wire values: generated on the decoded side (so refinements such as
 * UUIDs and date-times hold) and encoded with the schema.
 */
const valid = (schema: Schema.Schema<any, any>) => {
  const encode = Schema.encodeSync(schema)
  return Arbitrary.make(schema).map((value) => encode(value) as unknown)
}

/** Valid encoded values, some with a field broken, an extra field, or a field removed, at any depth. */
const inputs = (schema: Schema.Schema<any, any>) =>
  FastCheck.tuple(
    valid(schema),
    FastCheck.constantFrom("keep", "extra", "break", "drop"),
    FastCheck.nat(),
    FastCheck.nat(),
    FastCheck.anything()
  ).map(([value, how, n, m, junk]) => {
    const copy = structuredClone(value) as unknown
    const all = containers(copy)
    const target = all[n % Math.max(1, all.length)]
    if (how === "keep" || target === undefined) return copy
    const keys = Object.keys(target)
    const key = keys[m % Math.max(1, keys.length)]
    const t = target as Record<string, unknown>
    if (how === "extra" && !Array.isArray(target)) t[`x_${m}`] = junk
    else if (key !== undefined && how === "break") t[key] = junk
    else if (key !== undefined && !Array.isArray(target)) delete t[key]
    return copy
  })

const pad = (n: number, width: number) => String(n).padStart(width, "0")

/** Date-time strings in the forms `DateTime.unsafeMake` reads (and some it does not), with and without a zone. */
const dateTimeStrings = FastCheck.oneof(
  FastCheck.tuple(
    FastCheck.oneof(FastCheck.integer({ min: 0, max: 9999 }).map((y) => pad(y, 4)), FastCheck.constantFrom("+275760", "-271821", "+010000")),
    FastCheck.integer({ min: 0, max: 13 }),
    FastCheck.integer({ min: 0, max: 32 }),
    FastCheck.option(FastCheck.tuple(
      FastCheck.integer({ min: 0, max: 24 }),
      FastCheck.integer({ min: 0, max: 60 }),
      FastCheck.integer({ min: 0, max: 60 }),
      FastCheck.constantFrom("", ".5", ".123", ".123456", ".")
    )),
    FastCheck.constantFrom("", "Z", "z", "+02", "-05:30", "+0530", "+14:00", "-23:59", "[Europe/Paris]", " GMT", "+2")
  ).map(([year, month, day, time, zone]) => {
    const date = `${year}-${pad(month, 2)}-${pad(day, 2)}`
    return time === null ? `${date}${zone}` : `${date}T${pad(time[0], 2)}:${pad(time[1], 2)}:${pad(time[2], 2)}${time[3]}${zone}`
  }),
  FastCheck.constantFrom("", "Z", "now", "2026", "2026-12", "Tue, 01 Dec 2026 10:00:00 GMT", "12/01/2026", "2026-12-01 10:00", "١٢٣٤-٠١-٠١"),
  FastCheck.string()
)

describe("FastDecode.decoder agrees with the generic decoder", () => {
  it("DateTimeUtc: every form of date-time string, alone, annotated and in a struct, to the same DateTime or the same error", () => {
    const schemas = [
      Schema.DateTimeUtc,
      Schema.DateTimeUtc.annotations({ identifier: "When" }),
      Schema.Struct({ at: Schema.DateTimeUtc, until: Schema.optionalWith(Schema.DateTimeUtc, { exact: true }) })
    ] as const
    const [alone, annotated, struct] = schemas.map((schema) => [FastDecode.decoder(schema as Schema.Schema<any, any>), reference(schema as Schema.Schema<any, any>)] as const)
    let accepted = 0
    let rejected = 0
    FastCheck.assert(
      FastCheck.property(dateTimeStrings, dateTimeStrings, (s, t) => {
        for (const [fast, ref] of [alone!, annotated!]) {
          const got = fast(s)
          const want = ref(s)
          same(got, want)
          if (Either.isLeft(want)) rejected++
          if (Either.isRight(got) && Either.isRight(want)) {
            accepted++
            expect(DateTime.isUtc(got.right)).toBe(true)
            expect(got.right.epochMillis).toBe(want.right.epochMillis)
            expect(Object.getPrototypeOf(got.right)).toBe(Object.getPrototypeOf(want.right))
            expect(Object.getOwnPropertyDescriptors(got.right)).toEqual(Object.getOwnPropertyDescriptors(want.right))
          }
        }
        same(struct![0]({ at: s, until: t }), struct![1]({ at: s, until: t }))
        same(struct![0]({ at: s }), struct![1]({ at: s }))
      }),
      { numRuns: 2000 }
    )
    // Of the 4 000 strings decoded alone, many are dates and many are not: both outcomes are compared.
    expect(accepted).toBeGreaterThan(600)
    expect(rejected).toBeGreaterThan(600)
  })

  for (const [name, schema] of schemas) {
    it(name, () => {
      const fast = FastDecode.decoder(schema)
      const ref = reference(schema)
      FastCheck.assert(FastCheck.property(inputs(schema), (input) => same(fast(input), ref(input))), { numRuns: 400 })
      FastCheck.assert(FastCheck.property(FastCheck.anything(), (input) => same(fast(input), ref(input))), { numRuns: 200 })
    })
  }

  for (const [name, schema] of schemas) {
    it(`${name}: the generator reaches valid inputs (a majority decode), so acceptance is tested too`, () => {
      const ref = reference(schema)
      const samples = FastCheck.sample(inputs(schema), { numRuns: 400, seed: 20261202 })
      const accepted = samples.filter((input) => Either.isRight(ref(input))).length
      expect(accepted).toBeGreaterThan(samples.length / 2)
      expect(accepted).toBeLessThan(samples.length) // the mutations are rejected sometimes
    })
  }

  it("optionalWith forms: each field missing, null, undefined or given decodes as the generic decoder decodes it", () => {
    const schema = schemas.find(([name]) => name === "optionalWith forms with defaults")![1]
    const fast = FastDecode.decoder(schema)
    const ref = reference(schema)
    const given: Record<string, unknown> = { e: 2, d: "s", n: 3.5, ne: false, o: "o", x: "x", u: "u", list: [1, 2] }
    let cases = 0
    for (const key of Object.keys(given)) {
      for (const value of ["missing", null, undefined, given[key]]) {
        const input: Record<string, unknown> = { ...given }
        if (value === "missing") delete input[key]
        else input[key] = value
        same(fast(input), ref(input))
        cases++
      }
    }
    expect(cases).toBe(32)
    // A default is a fresh value each time (no decoded value shares another's array).
    const a = fast({}), b = fast({})
    expect(Either.isRight(a) && Either.isRight(b) && a.right.list !== b.right.list).toBe(true)
  })

  it("drops excess properties and names the failing field like the generic decoder", () => {
    const fast = FastDecode.decoder(DeepsetSchemas.PaginatedSessionFile)
    const ok = fast({ data: [{ name: "a", ingestion_status: "NEW_STATE", junk: 1 }], has_more: false, total: 1 })
    expect(ok).toEqual(Either.right({ data: [{ name: "a", ingestion_status: "NEW_STATE" }], has_more: false, total: 1 }))
    const wrongName = fast({ data: [{ name: 3, ingestion_status: "X" }], has_more: false, total: 1 })
    expect(Either.isLeft(wrongName)).toBe(true)
    const bad = fast({ data: [{ name: "a", ingestion_status: "X" }, { name: 3, ingestion_status: "X" }], has_more: false, total: 1.5 })
    expect(Either.isLeft(bad)).toBe(true)
    if (Either.isLeft(bad)) expect(ParseResult.ArrayFormatter.formatErrorSync(bad.left)[0]?.path).toEqual(["data", 1, "name"])
  })
})
