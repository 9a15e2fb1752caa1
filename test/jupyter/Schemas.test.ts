/**
 * The wire models: tolerant of what real servers send, strict where a wrong
 * value would mislead, and lossless both ways.
 */
import { describe, expect, it } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import * as Schemas from "../../src/jupyter/Schemas.js"

const decodeSessions = Schema.decodeUnknownEither(Schemas.SessionList, { onExcessProperty: "ignore" })

/** `GET /api/sessions` as Jupyter Server 1.23.3 answered it (ids shortened), with one field it may add later. */
const observed = [
  {
    id: "33f312d4-f2e2-4a89-a408-2c100ae50169",
    path: "a.ipynb",
    name: null,
    type: "notebook",
    kernel: {
      id: "5e2ead47-4057-46a9-b422-1098c7917b7f",
      name: "python3",
      last_activity: "2026-11-23T13:08:40.174795Z",
      execution_state: "starting",
      connections: 0
    },
    notebook: { path: "a.ipynb", name: null }
  },
  {
    id: "3ee9cc22-e813-4d35-a7c5-23a5a23a86f8",
    path: "console-1",
    name: "my console",
    type: "console",
    kernel: null,
    added_in_a_future_version: { anything: true }
  }
]

describe("Jupyter.Schemas", () => {
  it("decodes what a real server sends: null name, null kernel, the deprecated notebook field, extra fields", () => {
    const decoded = decodeSessions(observed)
    expect(Either.isRight(decoded)).toBe(true)
    if (Either.isLeft(decoded)) return
    const [notebook, console] = decoded.right
    expect(notebook?.name).toBeUndefined()
    expect(notebook && "name" in notebook).toBe(false)
    expect(notebook?.notebook).toEqual({ path: "a.ipynb" })
    expect(notebook?.kernel?.execution_state).toBe("starting")
    expect(DateTime.formatIso(notebook!.kernel!.last_activity!)).toBe("2026-11-23T13:08:40.174Z")
    expect(console?.kernel).toBeUndefined()
    expect(console?.name).toBe("my console")
    expect(console && "added_in_a_future_version" in console).toBe(false)
  })

  it("keeps execution states and session types it does not know", () => {
    const decoded = Schema.decodeUnknownSync(Schemas.Session)({
      id: "x",
      path: "p",
      type: "voila-dashboard",
      kernel: { id: "k", name: "julia-1.10", execution_state: "hibernating", last_activity: null, connections: null }
    })
    expect(decoded.type).toBe("voila-dashboard")
    expect(decoded.kernel).toEqual({ id: "k", name: "julia-1.10", execution_state: "hibernating" })
  })

  it("is strict about what addresses a session: id, path, type; and about dates", () => {
    const base = { id: "x", path: "p", type: "notebook" }
    for (const bad of [{ ...base, id: undefined }, { ...base, path: 3 }, { path: "p", id: "x" }]) {
      expect(Either.isLeft(Schema.decodeUnknownEither(Schemas.Session)(bad))).toBe(true)
    }
    const kernel = { id: "k", name: "python3", last_activity: "yesterday" }
    expect(Either.isLeft(Schema.decodeUnknownEither(Schemas.Session)({ ...base, kernel }))).toBe(true)
  })

  it("request bodies carry only the fields given", () => {
    expect(Schema.encodeSync(Schemas.CreateSession)({ path: "p", type: "file", name: undefined })).toStrictEqual({
      path: "p",
      type: "file",
      name: undefined
    })
    expect(JSON.stringify(Schema.encodeSync(Schemas.CreateSession)({ path: "p", type: "file", name: undefined })))
      .toBe("{\"path\":\"p\",\"type\":\"file\"}")
    expect(JSON.stringify(Schema.encodeSync(Schemas.UpdateSession)({ kernel: { id: "k" } })))
      .toBe("{\"kernel\":{\"id\":\"k\"}}")
  })

  it.prop("a session survives encode → decode", [Schemas.Session], ([session]) => {
    const encoded = Schema.encodeSync(Schemas.Session)(session)
    const again = Schema.decodeUnknownSync(Schemas.Session)(JSON.parse(JSON.stringify(encoded)))
    // JSON has no -0: it arrives as 0
    const connections = session.kernel?.connections
    const expected = connections === undefined || !Object.is(connections, -0)
      ? session
      : { ...session, kernel: { ...session.kernel!, connections: 0 } }
    expect(again).toEqual(expected)
  })
})
