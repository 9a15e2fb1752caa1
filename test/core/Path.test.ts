import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as Path from "../../src/core/Path.js"

describe("Path.template", () => {
  const t = Path.template("/api/sessions/{session_id}/files")

  it("keeps every value inside its segment", () => {
    expect(t({ session_id: "../kernels" })).toEqual(Either.right("/api/sessions/..%2Fkernels/files"))
    expect(t({ session_id: "a/b?c#d" })).toEqual(Either.right("/api/sessions/a%2Fb%3Fc%23d/files"))
    expect(t({ session_id: "%2e%2e" })).toEqual(Either.right("/api/sessions/%252e%252e/files"))
    const url = new URL("http://h/base" + Either.getOrThrow(t({ session_id: "../../x" })))
    expect(url.pathname).toBe("/base/api/sessions/..%2F..%2Fx/files")
  })

  it("refuses values a URL parser would collapse, naming the parameter", () => {
    for (const bad of ["", ".", ".."]) {
      const result = t({ session_id: bad })
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) expect(result.left.field).toBe("session_id")
    }
  })
})
