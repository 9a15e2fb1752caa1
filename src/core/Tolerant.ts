/**
 * Schema building blocks for wire models that must survive server drift.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * An enum the server may extend: the known literals keep their types for
 * callers, and a value the client does not know yet decodes as a plain string
 * instead of failing the whole response (deepset added `EXPIRED` this way).
 *
 * @since 0.1.0
 */
export const OpenEnum = <const Literals extends ReadonlyArray<string>>(
  ...literals: Literals
): Schema.Schema<Literals[number] | (string & {}), string> =>
  // Any string is accepted, so the schema is `String` (a union with the
  // literals would accept exactly the same values, at several times the cost
  // per item); the literals live in the type and in the annotation.
  Schema.String.annotations({
    identifier: `OpenEnum<${literals.join(" | ")}>`,
    examples: literals as unknown as readonly [string, ...Array<string>]
  }) as unknown as Schema.Schema<Literals[number] | (string & {}), string>

/**
 * A field servers sometimes send as `null` where the spec says "absent":
 * both decode to `undefined`, and it is omitted when encoding.
 *
 * @since 0.1.0
 */
export const OptionalNullable = <S extends Schema.Schema.Any>(schema: S) =>
  Schema.optionalWith(schema, { nullable: true, exact: true })
