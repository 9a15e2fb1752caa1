/**
 * One suite, four servers: every test here runs against the emulator of each
 * version (1.23 and 2, in memory) and against a real Jupyter Server of each
 * version (Debian's 1.23 and the newest 2.x from the jupyter2 virtualenv)
 * started for the suite.
 */
import { expect } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"
import * as ApiError from "../../src/core/ApiError.js"
import * as Policy from "../../src/core/Policy.js"
import * as Jupyter from "../../src/jupyter/index.js"
import { runExample } from "../support/RunExample.js"
import { allTargets, describeOn, Harness, type Target, uniquePath } from "../support/JupyterServer.js"

const unknownUuid = "00000000-0000-4000-8000-000000000000"

/** The error of an effect that must fail. */
const failure = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.flip(effect)

const kernelIds = Effect.gen(function*() {
  const h = yield* Harness
  const answer = yield* h.raw("GET", "api/kernels")
  expect(answer.status).toBe(200)
  return (JSON.parse(answer.text) as ReadonlyArray<{ readonly id: string }>).map((k) => k.id)
})

interface WireSession {
  readonly id: string
  readonly path: string
  readonly kernel: { readonly id: string } | null
}

const wireSessions = Effect.gen(function*() {
  const h = yield* Harness
  const answer = yield* h.raw("GET", "api/sessions")
  expect(answer.status).toBe(200)
  return JSON.parse(answer.text) as ReadonlyArray<WireSession>
})

/** What /api/sessions and /api/kernels show, compared as one value. */
const serverState = Effect.map(
  Effect.all([wireSessions, kernelIds]),
  ([sessions, kernels]) => ({
    sessions: sessions.map((s) => `${s.id} ${s.path} ${s.kernel?.id ?? "-"}`).sort(),
    kernels: [...kernels].sort()
  })
)

/**
 * The same, or the answer that was not a 200: while requests that start
 * kernels are in flight a listing can fail (1.23 and 2.x both answered 500
 * while duplicate sessions were being created).
 */
const serverStateNow = Effect.gen(function*() {
  const h = yield* Harness
  const [sessions, kernels] = yield* Effect.all([h.raw("GET", "api/sessions"), h.raw("GET", "api/kernels")])
  if (sessions.status !== 200 || kernels.status !== 200) {
    return { _tag: "Busy" as const, answer: `${sessions.status} ${sessions.text.slice(0, 300)} / ${kernels.status}` }
  }
  return { _tag: "Ready" as const, state: yield* serverState }
})

/**
 * Waits (live clock, at most 60 s) until `ready` holds and the server's
 * sessions and kernels have not changed for a second: requests that timed
 * out on the client side are still being served, and their effects land late.
 */
const settled = (ready: (state: Effect.Effect.Success<typeof serverState>) => boolean) =>
  Effect.gen(function*() {
    let previous = ""
    let last = ""
    for (let i = 0; i < 240; i++) {
      const now = yield* serverStateNow
      if (now._tag === "Busy") {
        last = now.answer
        previous = ""
        yield* Effect.sleep("250 millis")
        continue
      }
      const shown = JSON.stringify(now.state)
      if (ready(now.state) && shown === previous) return now.state
      previous = ready(now.state) ? shown : ""
      yield* Effect.sleep(ready(now.state) ? "1 second" : "250 millis")
    }
    return yield* Effect.dieMessage(`the server's sessions and kernels did not settle within 60 s (last: ${last})`)
  })

/**
 * An attempt timeout far shorter than a kernel start, and replays sent at once
 * (1-2 ms backoff): the worst case for a replay, which would arrive while the
 * first request is still starting its kernel.
 */
const impatient = Policy.withPolicy({
  attemptTimeout: "20 millis",
  maxRetries: 3,
  baseDelay: "1 millis",
  maxDelay: "2 millis",
  deadline: "30 seconds"
})

const sessionsSuite = (target: Target) =>
  describeOn(target, "Jupyter.Sessions", (it) => {
    it.effect("full lifecycle: create → get → list → rename → move → change kernel → delete → get is NotFound", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const jupyter = yield* Jupyter.Sessions
        if (!h.real) yield* TestClock.setTime(DateTime.toEpochMillis(DateTime.unsafeMake("2025-03-14T15:09:26Z")))
        const path = uniquePath("lifecycle")
        const before = yield* Clock.currentTimeMillis
        const created = yield* jupyter.createSession({ path, type: "notebook", kernel: { name: "python3" } })
        const after = yield* Clock.currentTimeMillis
        expect(created.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
        expect(created.path).toBe(path)
        expect(created.type).toBe("notebook")
        expect(created.name).toBeUndefined() // the server sent `"name": null`
        expect(created.notebook).toEqual({ path }) // deprecated field, its `name: null` dropped too
        const kernel = created.kernel!
        expect(kernel.name).toBe("python3")
        expect(kernel.execution_state).toBe("starting")
        expect(kernel.connections).toBe(0)
        expect(DateTime.isDateTime(kernel.last_activity)).toBe(true)
        const activity = DateTime.toEpochMillis(kernel.last_activity!)
        expect(activity).toBeGreaterThanOrEqual(before - 2_000)
        expect(activity).toBeLessThanOrEqual(after + 2_000)
        if (!h.real) expect(DateTime.formatIso(kernel.last_activity!)).toBe("2025-03-14T15:09:26.000Z")

        const read = yield* jupyter.getSession(created.id)
        expect(read.id).toBe(created.id)
        expect(read.path).toBe(path)
        expect(read.kernel?.id).toBe(kernel.id)
        const listed = yield* jupyter.listSessions()
        expect(listed.filter((s) => s.id === created.id)).toHaveLength(1)

        const renamed = yield* jupyter.updateSession(created.id, { name: "Lifecycle" })
        expect(renamed.name).toBe("Lifecycle")
        expect(renamed.notebook).toEqual({ path, name: "Lifecycle" })
        expect(renamed.kernel?.id).toBe(kernel.id)

        const moved = uniquePath("moved")
        const movedSession = yield* jupyter.updateSession(created.id, { path: moved })
        expect(movedSession.path).toBe(moved)
        expect(movedSession.name).toBe("Lifecycle")
        // the session now answers for its new path
        expect((yield* jupyter.createSession({ path: moved, type: "notebook" })).id).toBe(created.id)

        const rekerneled = yield* jupyter.updateSession(created.id, { kernel: { name: "python3" } })
        const newKernel = rekerneled.kernel!
        expect(newKernel.id).not.toBe(kernel.id)
        expect(newKernel.name).toBe("python3")
        const running = yield* kernelIds
        expect(running).toContain(newKernel.id)
        expect(running).not.toContain(kernel.id) // the old kernel was shut down

        yield* jupyter.deleteSession(created.id)
        const gone = yield* failure(jupyter.getSession(created.id))
        expect(gone._tag).toBe("NotFound")
        expect(gone.status).toBe(404)
        expect(gone.message).toContain("Session not found")
        expect((yield* jupyter.listSessions()).map((s) => s.id)).not.toContain(created.id)
        expect(yield* kernelIds).not.toContain(newKernel.id)
      }))

    it.effect("create for a path that has a session returns that session (201), whatever name or kernel is asked", () =>
      Effect.gen(function*() {
        const jupyter = yield* Jupyter.Sessions
        const path = uniquePath("existing")
        const first = yield* jupyter.createSession({ path, type: "notebook", name: "first" })
        const again = yield* jupyter.createSession({
          path,
          type: "console",
          name: "second",
          kernel: { name: "no-such-kernel" }
        })
        expect(again.id).toBe(first.id)
        expect(again.name).toBe("first")
        expect(again.type).toBe("notebook")
        expect(again.kernel?.id).toBe(first.kernel?.id)
        expect((yield* jupyter.listSessions()).filter((s) => s.path === path)).toHaveLength(1)
        yield* jupyter.deleteSession(first.id)
      }))

    it.effect("without a kernel the default kernel starts; a console session has a name and no notebook field", () =>
      Effect.gen(function*() {
        const jupyter = yield* Jupyter.Sessions
        const path = uniquePath("console", "py")
        const session = yield* jupyter.createSession({ path, type: "console", name: "my console" })
        expect(session.type).toBe("console")
        expect(session.name).toBe("my console")
        expect(session.notebook).toBeUndefined()
        expect(session.kernel?.name).toBe("python3")
        yield* jupyter.deleteSession(session.id)
      }))

    it.effect("a wrong or missing token is Unauthorized for reads and writes, and no token is ever shown", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const wrong = "wrong-token-5d1c0ffee"
        const withWrong = Jupyter.Sessions.pipe(Effect.provide(h.client({ token: Redacted.make(wrong) })))
        const read = yield* failure(Effect.flatMap(withWrong, (j) => j.listSessions()))
        expect(read._tag).toBe("Unauthorized")
        expect(read.status).toBe(403)
        expect(JSON.parse(read.body!)).toEqual({ message: "Forbidden", reason: null })
        // writes that are not token-authenticated are checked for XSRF first
        const write = yield* failure(
          Effect.flatMap(withWrong, (j) => j.createSession({ path: uniquePath("forbidden"), type: "notebook" }))
        )
        expect(write._tag).toBe("Unauthorized")
        expect(write.status).toBe(403)
        expect(JSON.parse(write.body!)).toEqual({ message: "'_xsrf' argument missing from POST", reason: null })
        const none = yield* failure(
          Effect.flatMap(Jupyter.Sessions.pipe(Effect.provide(h.client({ token: undefined }))), (j) =>
            j.getSession(unknownUuid))
        )
        expect(none._tag).toBe("Unauthorized")
        expect(none.message).toContain("JUPYTER_TOKEN")
        for (const error of [read, write, none]) {
          for (const text of [error.message, String(error), JSON.stringify(error)]) {
            expect(text).not.toContain(wrong)
            expect(text).not.toContain(h.token)
          }
        }
      }))

    it.effect("an unknown kernelspec is ServerError 501 with the server's message and short_message", () =>
      Effect.gen(function*() {
        const jupyter = yield* Jupyter.Sessions
        const path = uniquePath("unknown-kernel")
        const error = yield* failure(
          jupyter.createSession({ path, type: "notebook", kernel: { name: "no-such-kernel" } })
        )
        expect(error._tag).toBe("ServerError")
        expect(error.status).toBe(501)
        if (error._tag !== "ServerError") return
        expect(error.serverMessage).toBe(
          "The 'no-such-kernel' kernel is not available. Please pick another suitable kernel instead, or install that kernel. (no-such-kernel not found)"
        )
        expect(error.message).toContain("cannot start that kernel")
        expect(error.message).not.toContain("Try again later")
        expect((yield* jupyter.listSessions()).map((s) => s.path)).not.toContain(path)
      }))

    it.effect("unknown UUID-shaped ids are NotFound with the JSON message; other ids get the HTML page, also NotFound", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const jupyter = yield* Jupyter.Sessions
        const json = [
          yield* failure(jupyter.getSession(unknownUuid)),
          yield* failure(jupyter.updateSession(unknownUuid, { name: "x" })),
          yield* failure(jupyter.deleteSession(unknownUuid)),
          // the server's route pattern is \w+-\w+-\w+-\w+-\w+, not a strict UUID
          yield* failure(jupyter.getSession("a-b-c-d-e"))
        ]
        for (const error of json) {
          expect(error._tag).toBe("NotFound")
          expect(error.status).toBe(404)
          expect(JSON.parse(error.body!)).toMatchObject({ reason: null })
          expect(error.message).toContain("Session not found: session_id='")
        }
        const html = [
          yield* failure(jupyter.getSession("not-a-uuid")),
          yield* failure(jupyter.updateSession("12345", { name: "x" })),
          yield* failure(jupyter.deleteSession("session one"))
        ]
        for (const error of html) {
          expect(error._tag).toBe("NotFound")
          expect(error.status).toBe(404)
          expect(error.message).toContain("no API route matched (the server answered an HTML page)")
          // the page of a logged-in request embeds the server's token (data-jupyter-api-token): never kept
          expect(error.body).toMatch(/^\(HTML page omitted: .+\)$/)
          expect(JSON.stringify(error)).not.toContain(h.token)
          expect(JSON.stringify(error)).not.toContain("data-jupyter-api-token")
        }
        const page = yield* h.raw("GET", "api/sessions/not-a-uuid")
        expect(page.status).toBe(404)
        expect(page.headers["content-type"]).toMatch(/^text\/html/)
        expect(page.text).toMatch(/^<!DOCTYPE HTML>/)
        expect(page.text).toContain(`data-jupyter-api-token="${h.token}"`) // what the client must never keep
        const anonymous = yield* h.raw("GET", "api/sessions/not-a-uuid", { auth: false })
        expect(anonymous.status).toBe(404)
        expect(anonymous.text).not.toContain("data-jupyter-api-token")
      }))

    it.effect("a session id never leaves its path segment: `../kernels` is NotFound, not the kernel listing", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const jupyter = yield* Jupyter.Sessions
        // the kernel listing exists and is reachable: an escape would have returned it
        const session = yield* jupyter.createSession({ path: uniquePath("escape"), type: "notebook" })
        expect(yield* kernelIds).toContain(session.kernel?.id)
        for (const id of ["../kernels", "../../api/kernels", `../kernels/${session.kernel?.id}`, "..%2Fkernels", "?x=1"]) {
          const error = yield* failure(jupyter.getSession(id))
          expect(error._tag).toBe("NotFound")
          expect(error.url).toContain("/api/sessions/")
          expect(error.url).not.toMatch(/\/api\/kernels/)
        }
        const deleted = yield* failure(jupyter.deleteSession(`../kernels/${session.kernel?.id}`))
        expect(deleted._tag).toBe("NotFound")
        expect(yield* kernelIds).toContain(session.kernel?.id) // the kernel survived
        const sent = yield* h.sent
        for (const id of ["", ".", ".."]) {
          const error = yield* failure(jupyter.getSession(id))
          expect(error._tag).toBe("InvalidRequest")
          if (error._tag === "InvalidRequest") expect(error.problems.map((p) => p.field)).toEqual(["session_id"])
        }
        expect(yield* h.sent).toBe(sent)
        yield* jupyter.deleteSession(session.id)
      }))

    it.effect("path and type are required on create: refused locally naming the field, nothing sent", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const jupyter = yield* Jupyter.Sessions
        const sent = yield* h.sent
        const cases: ReadonlyArray<readonly [unknown, ReadonlyArray<string>]> = [
          [{ type: "notebook" }, ["path"]],
          [{ path: "x.ipynb" }, ["type"]],
          [{}, ["path", "type"]],
          [{ path: 42, type: "notebook" }, ["path"]]
        ]
        for (const [input, fields] of cases) {
          const error = yield* failure(jupyter.createSession(input as Jupyter.CreateSession))
          expect(error._tag).toBe("InvalidRequest")
          if (error._tag !== "InvalidRequest") continue
          expect(error.problems.map((p) => p.field)).toEqual(fields)
          expect(error.message).toContain("nothing was sent")
          expect(error.status).toBeUndefined()
        }
        expect(yield* h.sent).toBe(sent)
        // what the client spares the caller: the server's own answer
        const raw = yield* h.raw("POST", "api/sessions", { body: JSON.stringify({ type: "notebook" }) })
        expect(raw.status).toBe(400)
        expect(JSON.parse(raw.text)).toEqual({ message: "Missing field in JSON data: path", reason: null })
        const rawType = yield* h.raw("POST", "api/sessions", { body: JSON.stringify({ path: "x.ipynb" }) })
        expect(JSON.parse(rawType.text)).toEqual({ message: "Missing field in JSON data: type", reason: null })
      }))

    it.effect("an empty update is refused locally; the server answers `{}` unchanged and no body with 400", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const jupyter = yield* Jupyter.Sessions
        const session = yield* jupyter.createSession({ path: uniquePath("empty-patch"), type: "notebook" })
        const sent = yield* h.sent
        for (const changes of [{}, { kernel: {} }, { name: undefined }]) {
          const error = yield* failure(jupyter.updateSession(session.id, changes))
          expect(error._tag).toBe("InvalidRequest")
          expect(error.message).toContain("nothing to change")
          expect(error.url).toContain(`/api/sessions/${session.id}`)
        }
        expect(yield* h.sent).toBe(sent)
        const emptyObject = yield* h.raw("PATCH", `api/sessions/${session.id}`, { body: "{}" })
        expect(emptyObject.status).toBe(200)
        expect(JSON.parse(emptyObject.text)).toMatchObject({ id: session.id, path: session.path, name: null })
        const noBody = yield* h.raw("PATCH", `api/sessions/${session.id}`)
        expect(noBody.status).toBe(400)
        expect(JSON.parse(noBody.text)).toEqual({ message: "No JSON data provided", reason: null })
        yield* jupyter.deleteSession(session.id)
      }))

    it.effect("a kernel id that is not running is InvalidRequest (400) with the server's message", () =>
      Effect.gen(function*() {
        const jupyter = yield* Jupyter.Sessions
        const session = yield* jupyter.createSession({ path: uniquePath("kernel-id"), type: "notebook" })
        const error = yield* failure(jupyter.updateSession(session.id, { kernel: { id: unknownUuid } }))
        expect(error._tag).toBe("InvalidRequest")
        expect(error.status).toBe(400)
        expect(error.message).toContain(`No such kernel: ${unknownUuid}`)
        expect((yield* jupyter.getSession(session.id)).kernel?.id).toBe(session.kernel?.id)
        yield* jupyter.deleteSession(session.id)
      }))

    it.effect(
      target.version === "1.23"
        ? "an unknown kernelspec in an update is 1.23's 500 `Unhandled error` with a traceback, sent once (500 is not retried)"
        : "an unknown kernelspec in an update is 2.x's 501 with message and short_message, sent once",
      () =>
        Effect.gen(function*() {
          const h = yield* Harness
          const jupyter = yield* Jupyter.Sessions
          const session = yield* jupyter.createSession({ path: uniquePath("patch-kernel"), type: "notebook" })
          const sent = yield* h.sent
          const error = yield* failure(jupyter.updateSession(session.id, { kernel: { name: "no-such-kernel" } }))
          expect(yield* h.sent).toBe(sent + 1)
          expect(error._tag).toBe("ServerError")
          if (h.version === "1.23") {
            expect(error.status).toBe(500)
            if (error._tag === "ServerError") expect(error.serverMessage).toBe("Unhandled error")
            expect(error.body).toContain("start_kernel_for_session")
          } else {
            expect(error.status).toBe(501)
            if (error._tag === "ServerError") {
              expect(error.serverMessage).toBe(
                "The 'no-such-kernel' kernel could not be started: 'No such kernel named no-such-kernel' (Error starting kernel no-such-kernel)"
              )
            }
            expect(JSON.parse(error.body!)).toEqual({
              message: "The 'no-such-kernel' kernel could not be started: 'No such kernel named no-such-kernel'",
              short_message: "Error starting kernel no-such-kernel"
            })
            expect(error.message).toContain("cannot start that kernel")
          }
          expect((yield* jupyter.getSession(session.id)).kernel?.id).toBe(session.kernel?.id)
          expect(yield* kernelIds).toContain(session.kernel?.id) // the old kernel still runs
          yield* jupyter.deleteSession(session.id)
        })
    )

    it.effect("a kernel shut down through /api/kernels takes its session along: the next access is NotFound", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const jupyter = yield* Jupyter.Sessions
        const session = yield* jupyter.createSession({ path: uniquePath("culled"), type: "notebook" })
        const shutdown = yield* h.raw("DELETE", `api/kernels/${session.kernel?.id}`)
        expect(shutdown.status).toBe(204)
        const error = yield* failure(jupyter.deleteSession(session.id))
        expect(error._tag).toBe("NotFound")
        expect(error.message).toContain(
          `Kernel '${session.kernel?.id}' appears to have been culled or died unexpectedly, invalidating session '${session.id}'. The session has been removed.`
        )
        expect((yield* jupyter.listSessions()).map((s) => s.id)).not.toContain(session.id)
        const again = yield* failure(jupyter.getSession(session.id))
        expect(again.message).toContain(`Session not found: session_id='${session.id}'`)
      }))

    it.effect("cookie login: reads need the cookie, writes the xsrf option too; the secrets never show", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const login = yield* h.login
        const cookies = Object.fromEntries(Object.entries(login.cookies).map(([k, v]) => [k, Redacted.make(v)]))
        const cookieClient = h.client({ token: undefined, xsrf: { token: Redacted.make(login.xsrf), cookies } })
        const session = yield* Effect.flatMap(Jupyter.Sessions, (j) =>
          Effect.zipLeft(
            j.createSession({ path: uniquePath("cookie"), type: "notebook" }),
            j.listSessions()
          )).pipe(Effect.provide(cookieClient))
        expect(session.kernel?.name).toBe("python3")
        // the server's HTML page for a logged-in cookie embeds its token, which this client does not even hold
        const html = yield* failure(
          Effect.flatMap(Jupyter.Sessions, (j) => j.getSession("not-a-uuid")).pipe(Effect.provide(cookieClient))
        )
        expect(html._tag).toBe("NotFound")
        expect(JSON.stringify(html)).not.toContain(h.token)
        // a write with the login cookie but no X-XSRFToken is refused by the server
        const cookieHeader = Object.entries(login.cookies).map(([k, v]) => `${k}=${v}`).join("; ")
        const raw = yield* h.raw("DELETE", `api/sessions/${session.id}`, { auth: false, headers: { cookie: cookieHeader } })
        expect(raw.status).toBe(403)
        expect(JSON.parse(raw.text)).toEqual({ message: "'_xsrf' argument missing from POST", reason: null })
        // XSRF alone, without the login cookie, is not a login
        const noLogin = yield* failure(
          Effect.flatMap(Jupyter.Sessions, (j) => j.getSession(session.id)).pipe(
            Effect.provide(h.client({ token: undefined, xsrf: { token: Redacted.make(login.xsrf) } }))
          )
        )
        expect(noLogin._tag).toBe("Unauthorized")
        for (const text of [noLogin.message, String(noLogin), JSON.stringify(noLogin)]) {
          expect(text).not.toContain(login.xsrf)
          for (const value of Object.values(login.cookies)) expect(text).not.toContain(value)
        }
        yield* Effect.flatMap(Jupyter.Sessions, (j) => j.deleteSession(session.id)).pipe(Effect.provide(cookieClient))
      }))

    it.effect("a kernel id binds a running kernel: two sessions share it, and deleting one takes the other along", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const jupyter = yield* Jupyter.Sessions
        const first = yield* jupyter.createSession({ path: uniquePath("shared-a"), type: "notebook" })
        const kernel = first.kernel!.id
        const second = yield* jupyter.createSession({ path: uniquePath("shared-b"), type: "console", kernel: { id: kernel } })
        expect(second.id).not.toBe(first.id)
        expect(second.kernel?.id).toBe(kernel)
        // a kernel id that is not running on create starts a new kernel instead (no error):
        // 1.23 under a fresh id, 2.x under the id asked for
        const wanted = "00000000-0000-4000-8000-0000000000a1"
        const fresh = yield* jupyter.createSession({
          path: uniquePath("shared-c"),
          type: "notebook",
          kernel: { id: wanted }
        })
        if (h.version === "1.23") expect(fresh.kernel?.id).not.toBe(wanted)
        else expect(fresh.kernel?.id).toBe(wanted)
        expect(fresh.kernel?.name).toBe("python3")
        expect(yield* kernelIds).toContain(fresh.kernel?.id)
        yield* jupyter.deleteSession(first.id) // shuts the shared kernel down
        expect(yield* kernelIds).not.toContain(kernel)
        const orphan = yield* failure(jupyter.getSession(second.id))
        expect(orphan._tag).toBe("NotFound")
        expect(orphan.message).toContain("culled or died unexpectedly")
        yield* jupyter.deleteSession(fresh.id)
      }))

    it.effect("wire details: token forms (Bearer only on 2.x), Location, the deprecated notebook input, 405, bad bodies, tracebacks", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const version = yield* h.raw("GET", "api", { auth: false })
        expect(version.status).toBe(200)
        expect(JSON.parse(version.text)).toEqual({ version: expect.any(String) })
        const bearer = { auth: false, headers: { authorization: `Bearer ${h.token}` } } as const
        expect((yield* h.raw("GET", `api/sessions?token=${h.token}`, { auth: false })).status).toBe(200)
        expect((yield* h.raw("GET", "api/sessions", { auth: false, headers: { authorization: `TOKEN ${h.token}` } })).status)
          .toBe(200)
        // 2.x's IdentityProvider takes `Bearer` too (any case); 1.23 only `token`
        expect((yield* h.raw("GET", "api/sessions", bearer)).status).toBe(h.version === "1.23" ? 403 : 200)
        expect((yield* h.raw("GET", "api/sessions", { auth: false, headers: { authorization: `bearer ${h.token}` } })).status)
          .toBe(h.version === "1.23" ? 403 : 200)
        expect((yield* h.raw("GET", "api/sessions", { auth: false })).status).toBe(403)

        const path = uniquePath("wire")
        const created = yield* h.raw("POST", "api/sessions", { body: JSON.stringify({ notebook: { path } }) })
        expect(created.status).toBe(201)
        const model = JSON.parse(created.text) as Record<string, unknown>
        expect(model).toMatchObject({ path, type: "notebook", name: null, notebook: { path, name: null } })
        expect(created.headers["location"]).toBe(`${new URL(h.baseUrl).pathname}api/sessions/${String(model["id"])}`)
        expect(created.headers["content-type"]).toMatch(/^application\/json/)

        const nullKernel = yield* h.raw("POST", "api/sessions", {
          body: JSON.stringify({ path: uniquePath("null-kernel"), type: "notebook", kernel: null })
        })
        expect(nullKernel.status).toBe(500)
        expect(JSON.parse(nullKernel.text)).toMatchObject({ message: "Unhandled error", reason: null })
        if (h.version === "1.23") {
          expect(nullKernel.text).toContain("AttributeError: 'NoneType' object has no attribute 'get'")
        } else {
          // 2.x keeps the field for compatibility but never sends the traceback
          expect(JSON.parse(nullKernel.text)).toEqual({ message: "Unhandled error", reason: null, traceback: "" })
        }
        // the deprecated input's `name` is the path on 2.x; 1.23 reads only its `path`
        const both = uniquePath("notebook-path")
        const nameAndPath = yield* h.raw("POST", "api/sessions", {
          body: JSON.stringify({ notebook: { name: "n.ipynb", path: both } })
        })
        expect(nameAndPath.status).toBe(201)
        const nameAndPathModel = JSON.parse(nameAndPath.text) as Record<string, unknown>
        expect(nameAndPathModel["path"]).toBe(h.version === "1.23" ? both : "n.ipynb")
        expect((yield* h.raw("DELETE", `api/sessions/${String(nameAndPathModel["id"])}`)).status).toBe(204)
        const invalid = yield* h.raw("POST", "api/sessions", { body: "{not json" })
        expect([invalid.status, JSON.parse(invalid.text)]).toEqual([
          400,
          { message: "Invalid JSON in body of request", reason: null }
        ])
        const empty = yield* h.raw("POST", "api/sessions")
        expect([empty.status, JSON.parse(empty.text)]).toEqual([400, { message: "No JSON data provided", reason: null }])
        const put = yield* h.raw("PUT", "api/sessions", { body: "{}" })
        expect([put.status, JSON.parse(put.text)]).toEqual([405, { message: "Method Not Allowed", reason: null }])
        const putAnonymous = yield* h.raw("PUT", "api/sessions", { body: "{}", auth: false })
        expect([putAnonymous.status, JSON.parse(putAnonymous.text)]).toEqual([
          403,
          { message: "'_xsrf' argument missing from POST", reason: null }
        ])
        const nowhere = yield* h.raw("GET", "api/sessionz")
        expect(nowhere.status).toBe(404)
        expect(nowhere.text).toMatch(/^<!DOCTYPE HTML>/)
        const deleted = yield* h.raw("DELETE", `api/sessions/${String(model["id"])}`)
        expect([deleted.status, deleted.text]).toEqual([204, ""])
      }))

    if (target.real) {
      it.effect("createSession is never replayed once sent: after attempt timeouts, exactly one session and one kernel per path", () =>
        Effect.gen(function*() {
          const h = yield* Harness
          const jupyter = yield* Jupyter.Sessions
          const before = yield* serverState
          const paths = [uniquePath("once-a"), uniquePath("once-b"), uniquePath("once-c")]
          const sent = yield* h.sent
          // three at once: each kernel start then takes well over the 20 ms attempt timeout
          const outcomes = yield* Effect.forEach(
            paths,
            (path) => Effect.either(impatient(jupyter.createSession({ path, type: "notebook" }))),
            { concurrency: "unbounded" }
          )
          const timedOut = outcomes.filter((o) => Either.isLeft(o) && o.left._tag === "Timeout")
          expect(timedOut.length).toBeGreaterThan(0)
          for (const outcome of outcomes) {
            if (Either.isLeft(outcome)) expect(outcome.left._tag).toBe("Timeout")
          }
          const after = yield* settled((state) =>
            paths.every((path) => state.sessions.some((line) => line.split(" ")[1] === path))
          )
          const sessions = (yield* wireSessions).filter((s) => paths.includes(s.path))
          const newKernels = after.kernels.filter((k) => !before.kernels.includes(k))
          // exactly what was asked: one session per path, one new kernel per session, nothing else
          expect({ sessions: sessions.length, kernels: newKernels.length }).toEqual({ sessions: 3, kernels: 3 })
          expect(sessions.map((s) => s.path).sort()).toEqual([...paths].sort())
          expect(sessions.map((s) => s.kernel?.id).sort()).toEqual([...newKernels].sort())
          expect((yield* h.sent) - sent).toBe(3) // one POST per call, none replayed
          for (const session of sessions) yield* jupyter.deleteSession(session.id)
        }))

      it.effect("updateSession with kernel.name is never replayed once sent: after an attempt timeout, one new kernel, the old one shut down", () =>
        Effect.gen(function*() {
          const h = yield* Harness
          const jupyter = yield* Jupyter.Sessions
          const session = yield* jupyter.createSession({ path: uniquePath("rekernel-once"), type: "notebook" })
          const old = session.kernel!.id
          const before = yield* serverState
          const sent = yield* h.sent
          // a kernel change starts a kernel and waits for the old one to shut down: far longer than 20 ms
          const outcome = yield* Effect.either(impatient(jupyter.updateSession(session.id, { kernel: { name: "python3" } })))
          if (Either.isLeft(outcome)) expect(outcome.left._tag).toBe("Timeout")
          const after = yield* settled((state) => !state.kernels.includes(old))
          const newKernels = after.kernels.filter((k) => !before.kernels.includes(k))
          expect(newKernels).toHaveLength(1)
          expect(after.kernels.length).toBe(before.kernels.length) // one started, one shut down
          expect((yield* h.sent) - sent).toBe(1) // one PATCH, not replayed
          const now = yield* jupyter.getSession(session.id)
          expect(now.kernel?.id).toBe(newKernels[0])
          yield* jupyter.deleteSession(session.id)
        }))

      it.effect("the example tour runs against this server from JUPYTER_SERVER_URL and JUPYTER_TOKEN, and exits 0", () =>
        Effect.gen(function*() {
          const h = yield* Harness
          const run = yield* Effect.promise(() =>
            runExample("examples/jupyter-sessions.ts", { JUPYTER_SERVER_URL: h.baseUrl, JUPYTER_TOKEN: h.token })
          )
          expect(run.stderr).toBe("")
          expect(run.code).toBe(0)
          const lines = run.stdout.trim().split("\n")
          expect(lines[0]).toBe(`touring the Jupyter Server at ${h.baseUrl}`)
          expect(lines).toContain("jupyter: renamed the session to \"Tour (renamed)\"")
          expect(lines.at(-1)).toBe("jupyter: deleted the session and its kernel; reading it again gives NotFound (404)")
          expect(run.stdout).not.toContain(h.token)
        }))
    }

    if (!target.real) {
      it.effect("emulator: a kernel that died under its session shows kernel null; DELETE is Gone and keeps the session", () =>
        Effect.gen(function*() {
          const h = yield* Harness
          const jupyter = yield* Jupyter.Sessions
          const session = yield* jupyter.createSession({ path: uniquePath("died"), type: "notebook" })
          yield* h.killKernel!(session.id)
          const orphan = yield* jupyter.getSession(session.id)
          expect(orphan.kernel).toBeUndefined() // the server sent `"kernel": null`
          expect((yield* jupyter.listSessions()).find((s) => s.id === session.id)?.kernel).toBeUndefined()
          const error = yield* failure(jupyter.deleteSession(session.id))
          expect(error._tag).toBe("Gone")
          expect(error).toBeInstanceOf(ApiError.Gone)
          expect(error.status).toBe(410)
          expect(error.message).toContain("Kernel deleted before session")
          expect((yield* jupyter.getSession(session.id)).id).toBe(session.id) // kept
          const revived = yield* jupyter.updateSession(session.id, { kernel: { name: "python3" } })
          expect(revived.kernel?.name).toBe("python3")
          yield* jupyter.deleteSession(session.id)
          expect((yield* failure(jupyter.getSession(session.id)))._tag).toBe("NotFound")
        }))
    }
  })

const basePathSuite = (target: Target) =>
  describeOn(target, "Jupyter.Sessions behind a base path", (it) => {
    it.effect("the client keeps the base path; Location carries it; the server root is not the API", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        const jupyter = yield* Jupyter.Sessions
        expect(h.baseUrl).toMatch(/\/user\/alice\/$/)
        const path = uniquePath("based")
        const session = yield* jupyter.createSession({ path, type: "notebook" })
        expect((yield* jupyter.getSession(session.id)).path).toBe(path)
        expect((yield* jupyter.listSessions()).map((s) => s.id)).toContain(session.id)
        const raw = yield* h.raw("POST", "api/sessions", { body: JSON.stringify({ path, type: "notebook" }) })
        expect(raw.status).toBe(201)
        expect(raw.headers["location"]).toBe(`/user/alice/api/sessions/${session.id}`)
        // the same server without the base path has no API
        const root = h.baseUrl.replace(/user\/alice\/$/, "")
        const error = yield* failure(
          Effect.flatMap(Jupyter.Sessions, (j) => j.listSessions()).pipe(Effect.provide(h.client({ baseUrl: root })))
        )
        expect(error._tag).toBe("NotFound")
        expect(error.url).toBe(`${root}api/sessions`)
        expect(error.message).toContain("check the id, and the base URL with its base path")
        // with a trailing slash or without, the base path is joined the same way
        const noSlash = h.client({ baseUrl: h.baseUrl.replace(/\/$/, "") })
        const listed = yield* Effect.flatMap(Jupyter.Sessions, (j) => j.listSessions()).pipe(Effect.provide(noSlash))
        expect(listed.map((s) => s.id)).toContain(session.id)
        yield* jupyter.deleteSession(session.id)
      }))
  })

const noTokenSuite = (target: Target) =>
  describeOn(target, "Jupyter.Sessions", (it) => {
    it.effect("no token: reads are open, every write needs XSRF (403 `'_xsrf' argument missing from POST`), the xsrf option passes", () =>
      Effect.gen(function*() {
        const h = yield* Harness
        expect(h.token).toBe("")
        const open = yield* Jupyter.Sessions // the harness's client sends no token here
        expect(Array.isArray(yield* open.listSessions())).toBe(true)
        const path = uniquePath("no-token")
        const refused = yield* failure(open.createSession({ path, type: "notebook" }))
        expect([refused._tag, refused.status]).toEqual(["Unauthorized", 403])
        expect(JSON.parse(refused.body!)).toEqual({ message: "'_xsrf' argument missing from POST", reason: null })
        // a token is no help: the server has none to match (reads still pass, writes still need XSRF)
        const someToken = h.client({ token: Redacted.make("any-token-0f9e") })
        const withToken = yield* failure(
          Effect.flatMap(Jupyter.Sessions, (j) => j.createSession({ path, type: "notebook" })).pipe(Effect.provide(someToken))
        )
        expect(withToken.status).toBe(403)
        expect(Array.isArray(yield* Effect.flatMap(Jupyter.Sessions, (j) => j.listSessions()).pipe(Effect.provide(someToken))))
          .toBe(true)
        // the xsrf option: any value, sent as the `_xsrf` cookie and the X-XSRFToken header
        const xsrf = h.client({ token: undefined, xsrf: { token: Redacted.make("any-xsrf-value") } })
        const session = yield* Effect.flatMap(Jupyter.Sessions, (j) => j.createSession({ path, type: "notebook" })).pipe(
          Effect.provide(xsrf)
        )
        expect((yield* open.getSession(session.id)).path).toBe(path)
        const deleteRefused = yield* failure(open.deleteSession(session.id))
        expect(deleteRefused.status).toBe(403)
        const mismatch = yield* h.raw("POST", "api/sessions", {
          body: JSON.stringify({ path, type: "notebook" }),
          headers: { "x-xsrftoken": "a", cookie: "_xsrf=b" }
        })
        expect([mismatch.status, JSON.parse(mismatch.text)]).toEqual([
          403,
          { message: "XSRF cookie does not match POST argument", reason: null }
        ])
        const put = yield* h.raw("PUT", "api/sessions", { body: "{}", headers: { "x-xsrftoken": "a", cookie: "_xsrf=a" } })
        expect(put.status).toBe(405)
        const page = yield* h.raw("GET", "api/sessions/not-a-uuid")
        expect(page.status).toBe(404)
        expect(page.text).not.toContain("data-jupyter-api-token")
        yield* Effect.flatMap(Jupyter.Sessions, (j) => j.deleteSession(session.id)).pipe(Effect.provide(xsrf))
        expect((yield* open.listSessions()).map((s) => s.id)).not.toContain(session.id)
      }))
  })

for (const target of allTargets()) sessionsSuite(target)
for (const target of allTargets({ token: false })) noTokenSuite(target)
for (const target of allTargets({ basePath: "/user/alice/" })) basePathSuite(target)
