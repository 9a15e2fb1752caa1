/**
 * Contract: every request the Looker client sends (login, session,
 * update_session, logout) is validated by Prism serving Looker's own specs,
 * 4.0 and 3.1: zero violations. Prism serves the spec's paths at its root,
 * so the test strips `/api/<version>` with `HttpClient.mapRequest`. Prism's
 * mock answers `expires_in: -9007199254740991`: the client must still log
 * in once and use the token until refused.
 */
import { describe, expect, it } from "@effect/vitest"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as Looker from "../../src/looker/index.js"
import * as UndiciHttpClient from "../../src/node/UndiciHttpClient.js"
import * as Prism from "../support/Prism.js"

/**
 * Prism at its root: `/api/<version>` stripped. Prism's mock of `DELETE
 * /logout` answers 204 with `Content-Length: 8` and no body (the spec gives
 * the 204 a JSON string schema), which undici rightly refuses as a length
 * mismatch; this test is about the requests, so a 204 is read as empty here.
 */
const strip = (version: string) =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(HttpClient.HttpClient, (client) =>
      client.pipe(
        HttpClient.mapRequest((request) => HttpClientRequest.setUrl(request, request.url.replace(`/api/${version}/`, "/"))),
        HttpClient.transformResponse(Effect.map((response) =>
          response.status === 204
            ? HttpClientResponse.fromWeb(response.request, new Response(null, { status: 204 }))
            : response
        ))
      ))
  ).pipe(Layer.provide(UndiciHttpClient.layer))

/**
 * The spec file Prism serves. Looker.3.1.oas.json (and the Swagger 2
 * Looker.3.1.json) declare no request body for `POST /login`, only the query
 * parameters, although the operation's own description says the form body
 * is accepted and preferred (query parameters are on their way out; 4.0
 * declares the form body). Prism then reports any body as "No supported
 * content types". The client never sends credentials as query parameters, so
 * for 3.1 the test serves the 3.1 spec with 4.0's `/login` request body
 * added, and nothing else changed.
 */
const specFor = (apiVersion: "4.0" | "3.1"): string => {
  const file = Prism.spec(`looker/Looker.${apiVersion}.oas.json`)
  if (apiVersion === "4.0") return file
  const spec = JSON.parse(Fs.readFileSync(file, "utf8")) as {
    paths: Record<string, Record<string, Record<string, unknown>>>
  }
  const v4 = JSON.parse(Fs.readFileSync(Prism.spec("looker/Looker.4.0.oas.json"), "utf8")) as typeof spec
  spec.paths["/login"]!["post"]!["requestBody"] = v4.paths["/login"]!["post"]!["requestBody"]
  const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "looker-contract-"))
  const patched = NodePath.join(dir, "Looker.3.1.login-body.oas.json")
  Fs.writeFileSync(patched, JSON.stringify(spec))
  return patched
}

for (const apiVersion of ["4.0", "3.1"] as const) {
  describe(`Looker client against Prism (Looker.${apiVersion}.oas.json)`, () => {
    it.live(`login, session, update_session, logout: zero violations (${apiVersion})`, () =>
      Effect.gen(function*() {
        const prism = yield* Effect.acquireRelease(
          Effect.promise(() => Prism.start(specFor(apiVersion))),
          (p) => Effect.promise(() => p.stop())
        )
        yield* Effect.scoped(
          Effect.gen(function*() {
            const looker = yield* Looker.Session
            yield* looker.getSession()
            yield* looker.updateSession({ workspace_id: "dev" })
            yield* looker.getSession()
            yield* looker.updateSession({ workspace_id: "production" })
            yield* looker.logout()
            yield* looker.getSession()
          }).pipe(
            Effect.provide(
              Looker.layer({
                baseUrl: prism.url,
                apiVersion,
                clientId: "contract-client-id",
                clientSecret: Redacted.make("contract-client-secret")
              }).pipe(Layer.provide(strip(apiVersion)))
            )
          )
        )
        yield* Effect.promise(() => prism.settle())
        expect(prism.violations()).toEqual([])
        expect(prism.requests()).toEqual([
          "POST /login",
          "GET /session",
          "PATCH /session",
          "GET /session",
          "PATCH /session",
          "DELETE /logout",
          "POST /login", // after logout() the next call logs in again
          "GET /session",
          "DELETE /logout" // the scope closed
        ])
      }).pipe(Effect.scoped), { timeout: 120_000 })
  })
}
