/**
 * Side by side with `@jupyterlab/services` (JupyterLab's own client) on a
 * real Jupyter Server of each version (1.23 and 2.x): what one creates, the
 * other sees identically.
 */
import { ServerConnection, SessionAPI } from "@jupyterlab/services"
import type { Session as JupyterLabSession } from "@jupyterlab/services"
import { expect } from "@effect/vitest"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import { createRequire } from "node:module"
import * as Jupyter from "../../src/jupyter/index.js"
import { describeOn, Harness, realTarget, uniquePath, versions } from "../support/JupyterServer.js"

// Node 20 has no global WebSocket; `ws` has no type declarations here, and REST calls never use it.
const { WebSocket: NodeWebSocket } = createRequire(import.meta.url)("ws") as { readonly WebSocket: unknown }

const settingsFor = (baseUrl: string, token: string): ServerConnection.ISettings =>
  ServerConnection.makeSettings({
    baseUrl,
    token,
    fetch: (input, init) => fetch(input, init),
    Request,
    Headers,
    WebSocket: NodeWebSocket as typeof WebSocket
  })

const jlab = Effect.gen(function*() {
  const h = yield* Harness
  return settingsFor(h.baseUrl, h.token)
})

/** A JupyterLab call; a rejection is the test's failure. */
const call = <A>(f: (settings: ServerConnection.ISettings) => Promise<A>) =>
  Effect.flatMap(jlab, (settings) => Effect.promise(() => f(settings)))

/** A JupyterLab call that must reject: its error. */
const rejection = <A>(f: (settings: ServerConnection.ISettings) => Promise<A>) =>
  Effect.flatMap(jlab, (settings) => Effect.flip(Effect.tryPromise({ try: () => f(settings), catch: (e) => e })))

/** What both clients report, in JupyterLab's terms (its `last_activity` is a string; ours a DateTime). */
const ours = (s: Jupyter.Session) => ({
  id: s.id,
  path: s.path,
  name: s.name,
  type: s.type,
  kernel: s.kernel === undefined
    ? null
    : { id: s.kernel.id, name: s.kernel.name, execution_state: s.kernel.execution_state, connections: s.kernel.connections }
})
const theirs = (s: JupyterLabSession.IModel) => ({
  id: s.id,
  path: s.path,
  name: s.name,
  type: s.type,
  kernel: s.kernel === null
    ? null
    : { id: s.kernel.id, name: s.kernel.name, execution_state: s.kernel.execution_state, connections: s.kernel.connections }
})

for (const version of versions) describeOn(realTarget({ version }), "effect-sessions side by side with @jupyterlab/services", (it) => {
  it.effect("a session created by effect-sessions is seen identically by @jupyterlab/services", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const created = yield* jupyter.createSession({
        path: uniquePath("ours"),
        type: "notebook",
        name: "ours",
        kernel: { name: "python3" }
      })
      const model = yield* call((s) => SessionAPI.getSessionModel(created.id, s))
      expect(theirs(model)).toEqual(ours(created))
      // the same instant, give or take the kernel's start-up activity between the two reads
      const activity = Date.parse(String(model.kernel?.last_activity))
      expect(Math.abs(DateTime.toEpochMillis(created.kernel!.last_activity!) - activity)).toBeLessThan(10_000)
      const running = yield* call((s) => SessionAPI.listRunning(s))
      const listed = yield* jupyter.listSessions()
      expect(running.map(theirs).sort((a, b) => a.id.localeCompare(b.id))).toEqual(
        listed.map(ours).sort((a, b) => a.id.localeCompare(b.id))
      )
      yield* jupyter.deleteSession(created.id)
    }))

  it.effect("a session started by @jupyterlab/services is seen identically by effect-sessions, and returned for its path", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const path = uniquePath("theirs")
      const started = yield* call((s) =>
        SessionAPI.startSession({ path, type: "notebook", name: "theirs", kernel: { name: "python3" } }, s)
      )
      const read = yield* jupyter.getSession(started.id)
      expect(ours(read)).toEqual(theirs(started))
      expect((yield* jupyter.listSessions()).map(ours)).toContainEqual(theirs(started))
      const again = yield* jupyter.createSession({ path, type: "notebook" })
      expect(again.id).toBe(started.id)
      yield* jupyter.deleteSession(started.id)
    }))

  it.effect("renames by one are seen by the other; a delete by one is a 404 for the other", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const started = yield* call((s) =>
        SessionAPI.startSession({ path: uniquePath("rename"), type: "notebook", name: "before" }, s)
      )
      yield* call((s) => SessionAPI.updateSession({ id: started.id, name: "renamed by jlab" }, s))
      expect((yield* jupyter.getSession(started.id)).name).toBe("renamed by jlab")
      const moved = uniquePath("moved")
      yield* jupyter.updateSession(started.id, { path: moved, name: "renamed by us" })
      const model = yield* call((s) => SessionAPI.getSessionModel(started.id, s))
      expect([model.path, model.name]).toEqual([moved, "renamed by us"])
      yield* jupyter.deleteSession(started.id)
      const error = yield* rejection((s) => SessionAPI.getSessionModel(started.id, s))
      expect(error).toBeInstanceOf(ServerConnection.ResponseError)
      if (error instanceof ServerConnection.ResponseError) expect(error.response.status).toBe(404)
    }))

  it.effect("a session without a name: effect-sessions decodes `name: null`, @jupyterlab/services 7.6 rejects the listing", () =>
    Effect.gen(function*() {
      const jupyter = yield* Jupyter.Sessions
      const unnamed = yield* jupyter.createSession({ path: uniquePath("unnamed"), type: "notebook" })
      expect(unnamed.name).toBeUndefined()
      expect((yield* jupyter.listSessions()).map((s) => s.id)).toContain(unnamed.id)
      const error = yield* rejection((s) => SessionAPI.listRunning(s))
      expect(String(error)).toContain("Property 'name' is not of type 'string'")
      yield* jupyter.deleteSession(unnamed.id)
      expect((yield* call((s) => SessionAPI.listRunning(s))).map((m) => m.id)).not.toContain(unnamed.id)
    }))
})
