import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { createHash } from "node:crypto"
import * as Net from "node:net"
import * as Faults from "../../src/testing/Faults.js"
import * as InMemory from "../../src/testing/InMemory.js"
import * as ObjectStore from "../../src/testing/ObjectStore.js"
import * as Loopback from "../../src/testing/Loopback.js"

const origin = "https://storage.example"
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")
const textBytes = (s: string) => new TextEncoder().encode(s)

const formOf = (fields: Readonly<Record<string, string>>, name: string, bytes: Uint8Array, type = "text/plain") => {
  const form = new FormData()
  for (const [k, v] of Object.entries(fields)) form.append(k, v)
  form.append("file", new Blob([bytes as Uint8Array<ArrayBuffer>], { type }), name)
  return form
}

const setup = (options?: Partial<ObjectStore.Options>) =>
  Effect.map(ObjectStore.make({ origin, ...options }), (store) => ({ store, client: InMemory.makeClient(store.app) }))

const post = (client: HttpClient.HttpClient, url: string, form: FormData, headers?: Record<string, string>) =>
  client.execute(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyFormData(form), HttpClientRequest.setHeaders(headers ?? {})))

const xmlCode = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1]
const xmlMessage = (xml: string) => /<Message>([^<]*)<\/Message>/.exec(xml)?.[1]

describe("ObjectStore", () => {
  it.effect("a presigned POST stores the file byte for byte under key prefix + filename, with its fields", () =>
    Effect.gen(function*() {
      const { client, store } = yield* setup()
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      yield* store.onStored((object) => Ref.update(seen, (keys) => [...keys, object.key]))
      const target = yield* store.presignPost("ws/session-1/")
      expect(target.url).toBe(`${origin}/storage`)
      expect(Object.keys(target.fields)).toEqual(
        ["key", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "policy", "x-amz-signature"]
      )
      expect(target.fields["key"]).toBe("ws/session-1/${filename}")
      const bytes = textBytes("hello, object store ✓")
      const response = yield* post(client, target.url, formOf(target.fields, "a b.txt", bytes))
      expect(response.status).toBe(204)
      expect(response.headers["etag"]).toBeDefined()
      const stored = Option.getOrThrow(yield* store.get("ws/session-1/a b.txt"))
      expect(stored.size).toBe(bytes.length)
      expect(stored.sha256).toBe(sha(bytes))
      expect(stored.bytes).toEqual(bytes)
      expect(stored.contentType).toBe("text/plain")
      expect(stored.fields?.["x-amz-algorithm"]).toBe("AWS4-HMAC-SHA256")
      expect(yield* Ref.get(seen)).toEqual(["ws/session-1/a b.txt"])
      expect((yield* store.list).map((o) => o.key)).toEqual(["ws/session-1/a b.txt"])
    }))

  it.effect("a form field the policy does not cover is rejected (Extra input fields)", () =>
    Effect.gen(function*() {
      const { client, store } = yield* setup()
      const target = yield* store.presignPost("p/")
      const response = yield* post(
        client,
        target.url,
        formOf({ ...target.fields, success_action_status: "201" }, "x.txt", textBytes("x"))
      )
      // success_action_status is not in the policy: S3 rejects extra fields.
      expect(response.status).toBe(403)
      expect(xmlMessage(yield* response.text)).toBe("Invalid according to Policy: Extra input fields: success_action_status")
      expect(yield* store.list).toEqual([])
    }))

  it.effect("a tampered signature, a changed key or a wrong field is rejected with 403 and nothing is stored", () =>
    Effect.gen(function*() {
      const { client, store } = yield* setup()
      const target = yield* store.presignPost("ws/s/")
      const bad = yield* post(
        client,
        target.url,
        formOf({ ...target.fields, "x-amz-signature": "0".repeat(64) }, "a.txt", textBytes("a"))
      )
      expect(bad.status).toBe(403)
      const badText = yield* bad.text
      expect(bad.headers["content-type"]).toContain("application/xml")
      expect(badText.startsWith("<?xml")).toBe(true)
      expect(xmlCode(badText)).toBe("SignatureDoesNotMatch")
      expect(badText).toMatch(/<RequestId>EMU[0-9A-F]+<\/RequestId>/)

      const otherKey = yield* post(client, target.url, formOf({ ...target.fields, key: "elsewhere/${filename}" }, "a.txt", textBytes("a")))
      expect(otherKey.status).toBe(403)
      const otherText = yield* otherKey.text
      expect(xmlCode(otherText)).toBe("AccessDenied")
      expect(xmlMessage(otherText)).toContain("Policy Condition failed: [&quot;starts-with&quot;, &quot;$key&quot;")

      const noFile = yield* client.execute(
        HttpClientRequest.post(target.url).pipe(HttpClientRequest.bodyFormDataRecord({ ...target.fields }))
      )
      expect(noFile.status).toBe(400)
      expect(xmlMessage(yield* noFile.text)).toBe("POST requires exactly one file upload per request.")
      expect(yield* store.list).toEqual([])
      expect((yield* store.errors)["SignatureDoesNotMatch"]).toBe(1)
    }))

  it.effect("an expired policy is 403 AccessDenied 'Invalid according to Policy: Policy expired.' (TestClock)", () =>
    Effect.gen(function*() {
      const { client, store } = yield* setup()
      const target = yield* store.presignPost("ws/s/", { expiresIn: "10 minutes" })
      yield* TestClock.adjust("9 minutes")
      expect((yield* post(client, target.url, formOf(target.fields, "in-time.txt", textBytes("1")))).status).toBe(204)
      yield* TestClock.adjust("2 minutes")
      const late = yield* post(client, target.url, formOf(target.fields, "late.txt", textBytes("2")))
      expect(late.status).toBe(403)
      const text = yield* late.text
      expect(xmlCode(text)).toBe("AccessDenied")
      expect(xmlMessage(text)).toBe("Invalid according to Policy: Policy expired.")
      expect((yield* store.list).map((o) => o.key)).toEqual(["ws/s/in-time.txt"])
    }))

  it.effect("the policy's content-length range: a larger file is 400 EntityTooLarge", () =>
    Effect.gen(function*() {
      const { client, store } = yield* setup()
      const target = yield* store.presignPost("ws/s/", { maxBytes: 10 })
      expect((yield* post(client, target.url, formOf(target.fields, "ok.txt", textBytes("0123456789")))).status).toBe(204)
      const big = yield* post(client, target.url, formOf(target.fields, "big.txt", textBytes("0123456789A")))
      expect(big.status).toBe(400)
      const text = yield* big.text
      expect(xmlCode(text)).toBe("EntityTooLarge")
      expect(text).toContain("<MaxSizeAllowed>10</MaxSizeAllowed>")
      expect((yield* store.list).map((o) => o.key)).toEqual(["ws/s/ok.txt"])
    }))

  it.effect("a request carrying Authorization or X-API-Key is rejected (one auth mechanism only), and its headers are recorded", () =>
    Effect.gen(function*() {
      const { client, store } = yield* setup()
      const target = yield* store.presignPost("ws/s/")
      for (const headers of [{ authorization: "Bearer secret-key" }, { "x-api-key": "secret-key" }]) {
        const response = yield* post(client, target.url, formOf(target.fields, "a.txt", textBytes("a")), headers)
        expect(response.status).toBe(400)
        const text = yield* response.text
        expect(xmlCode(text)).toBe("InvalidArgument")
        expect(xmlMessage(text)).toContain("Only one auth mechanism allowed")
      }
      const url = yield* store.presignPut("k/put.bin")
      const put = yield* client.execute(
        HttpClientRequest.put(url).pipe(HttpClientRequest.bodyUint8Array(textBytes("p")), HttpClientRequest.bearerToken("k"))
      )
      expect(put.status).toBe(400)
      expect(yield* store.list).toEqual([])
      const recent = yield* store.recent
      expect(recent.map((r) => r.headers["authorization"] ?? r.headers["x-api-key"])).toEqual([
        "Bearer secret-key",
        "secret-key",
        "Bearer k"
      ])
    }))

  it.effect("a presigned PUT stores the body; a wrong signature, another key or an expired URL is 403", () =>
    Effect.gen(function*() {
      const { client, store } = yield* setup()
      const url = yield* store.presignPut("reports/profile 1.bin", { expiresIn: "5 minutes" })
      expect(url).toMatch(/^https:\/\/storage\.example\/storage\/reports\/profile%201\.bin\?X-Amz-Algorithm=AWS4-HMAC-SHA256&/)
      expect(url).toContain("X-Amz-Expires=300")
      const bytes = new Uint8Array(70_000).map((_, i) => i % 251)
      const ok = yield* client.execute(
        HttpClientRequest.put(url).pipe(HttpClientRequest.bodyUint8Array(bytes, "application/octet-stream"))
      )
      expect(ok.status).toBe(200)
      const stored = Option.getOrThrow(yield* store.get("reports/profile 1.bin"))
      expect(stored.bytes).toEqual(bytes)
      expect(stored.sha256).toBe(sha(bytes))
      expect(stored.contentType).toBe("application/octet-stream")

      const tampered = url.replace(/X-Amz-Signature=[0-9a-f]+/, `X-Amz-Signature=${"a".repeat(64)}`)
      const bad = yield* client.execute(HttpClientRequest.put(tampered).pipe(HttpClientRequest.bodyUint8Array(bytes)))
      expect(bad.status).toBe(403)
      expect(xmlCode(yield* bad.text)).toBe("SignatureDoesNotMatch")
      const other = yield* client.execute(
        HttpClientRequest.put(url.replace("profile%201.bin", "other.bin")).pipe(HttpClientRequest.bodyUint8Array(bytes))
      )
      expect(other.status).toBe(403)

      yield* TestClock.adjust("6 minutes")
      const late = yield* client.execute(HttpClientRequest.put(url).pipe(HttpClientRequest.bodyUint8Array(bytes)))
      expect(late.status).toBe(403)
      const text = yield* late.text
      expect(xmlCode(text)).toBe("AccessDenied")
      expect(xmlMessage(text)).toBe("Request has expired")
      expect((yield* store.list).length).toBe(1)
    }))

  it.effect("objects above storeBytesUpTo keep only size and SHA-256", () =>
    Effect.gen(function*() {
      const { client, store } = yield* setup({ storeBytesUpTo: 1000 })
      const target = yield* store.presignPost("big/")
      const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 256)
      expect((yield* post(client, target.url, formOf(target.fields, "large.bin", bytes, "application/pdf"))).status).toBe(204)
      const stored = Option.getOrThrow(yield* store.get("big/large.bin"))
      expect(stored.bytes).toBeUndefined()
      expect(stored.size).toBe(300_000)
      expect(stored.sha256).toBe(sha(bytes))
      expect(stored.contentType).toBe("application/pdf")
    }))

  it.effect("shared faults: 503 SlowDown as S3 XML, a dropped connection, then normal service", () =>
    Effect.gen(function*() {
      const { client, store } = yield* setup()
      const target = yield* store.presignPost("f/")
      yield* store.faults.set({ sequence: [Faults.status(503), Faults.drop, Faults.status(500)] })
      const slow = yield* post(client, target.url, formOf(target.fields, "a.txt", textBytes("a")))
      expect(slow.status).toBe(503)
      const text = yield* slow.text
      expect(slow.headers["content-type"]).toContain("application/xml")
      expect(xmlCode(text)).toBe("SlowDown")
      expect(xmlMessage(text)).toBe("Please reduce your request rate.")
      const dropped = yield* Effect.flip(post(client, target.url, formOf(target.fields, "a.txt", textBytes("a"))))
      expect(dropped._tag).toBe("RequestError")
      const internal = yield* post(client, target.url, formOf(target.fields, "a.txt", textBytes("a")))
      expect(internal.status).toBe(500)
      expect(xmlCode(yield* internal.text)).toBe("InternalError")
      expect(yield* store.list).toEqual([])
      expect((yield* post(client, target.url, formOf(target.fields, "a.txt", textBytes("a")))).status).toBe(204)
      expect(yield* store.faults.injected).toBe(3)
    }))

  it.effect("shared faults: latency is waited on the Clock (TestClock)", () =>
    Effect.gen(function*() {
      const { client, store } = yield* setup()
      const target = yield* store.presignPost("l/")
      yield* store.faults.set({ latency: "3 seconds" })
      const fiber = yield* Effect.fork(post(client, target.url, formOf(target.fields, "a.txt", textBytes("a"))))
      yield* TestClock.adjust("2 seconds")
      expect(yield* store.list).toEqual([])
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(fiber)).status).toBe(204)
      expect((yield* store.list).length).toBe(1)
    }))

  it.scopedLive("on loopback (fetch): a 24 MB file streams through a real socket; a drop mid-body is a transport error", () =>
    Effect.gen(function*() {
      const store = yield* ObjectStore.make({ origin: "http://placeholder", storeBytesUpTo: 1024 })
      const served = yield* Loopback.serve(store.app)
      const client = yield* HttpClient.HttpClient
      const target = yield* store.presignPost("loop/", { origin: served.url })
      expect(target.url).toBe(`${served.url}/storage`)
      const chunk = new Uint8Array(1024 * 1024).map((_, i) => i % 253)
      const expected = createHash("sha256")
      for (let i = 0; i < 24; i++) expected.update(chunk)
      const form = new FormData()
      for (const [k, v] of Object.entries(target.fields)) form.append(k, v)
      form.append("file", new Blob(Array.from({ length: 24 }, () => chunk)), "big.bin")
      const response = yield* post(client, target.url, form)
      expect(response.status).toBe(204)
      const stored = Option.getOrThrow(yield* store.get("loop/big.bin"))
      expect(stored.size).toBe(24 * 1024 * 1024)
      expect(stored.sha256).toBe(expected.digest("hex"))
      expect(stored.bytes).toBeUndefined()

      yield* store.faults.set({ sequence: [Faults.drop] })
      const put = yield* store.presignPut("loop/put.bin", { origin: served.url })
      const dropped = yield* Effect.flip(
        client.execute(
          HttpClientRequest.put(put).pipe(
            HttpClientRequest.setBody(HttpBody.stream(Stream.make(chunk, chunk, chunk, chunk), "application/octet-stream"))
          )
        ).pipe(Effect.flatMap((r) => r.text))
      )
      expect(dropped._tag).toBe("RequestError")
      expect(Option.isNone(yield* store.get("loop/put.bin"))).toBe(true)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it.scopedLive("on loopback: a client that goes away mid-body stores nothing, and the store serves on", () =>
    Effect.gen(function*() {
      const store = yield* ObjectStore.make({ origin: "http://placeholder" })
      const served = yield* Loopback.serve(store.app)
      const target = yield* store.presignPost("cut/", { origin: served.url })
      const port = new URL(served.url).port
      const boundary = "cut-boundary"
      let head = ""
      for (const [k, v] of Object.entries(target.fields)) head += `--${boundary}\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`
      head += `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="half.bin"\r\n\r\n`
      const put = yield* store.presignPut("cut/put.bin", { origin: served.url })
      const putPath = put.slice(served.url.length)
      // Heads that promise 100 000 bytes, then 1 000 of them, then the socket is destroyed.
      const cutOff = (request: string) =>
        Effect.async<void>((resume) => {
          const socket = Net.connect(Number(port), "127.0.0.1", () => {
            socket.write(request)
            socket.write(new Uint8Array(1000).fill(65), () => setTimeout(() => socket.destroy(), 50))
          })
          socket.on("close", () => resume(Effect.void))
          socket.on("error", () => undefined)
        })
      const contentLength = 100_000
      yield* cutOff(
        `POST /storage HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: multipart/form-data; boundary=${boundary}\r\n` +
          `content-length: ${contentLength}\r\n\r\n${head}`
      )
      yield* cutOff(`PUT ${putPath} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: ${contentLength}\r\n\r\n`)
      // Loopback interrupts a handler whose client went away (so no error answer is counted): nothing is stored.
      expect((yield* store.recent).map((r) => r.method)).toEqual(["POST", "PUT"])
      expect(yield* store.list).toEqual([])
      const client = yield* HttpClient.HttpClient
      const bytes = textBytes("after the cut")
      expect((yield* post(client, target.url, formOf(target.fields, "whole.txt", bytes))).status).toBe(204)
      expect(Option.getOrThrow(yield* store.get("cut/whole.txt")).sha256).toBe(sha(bytes))
    }).pipe(Effect.provide(FetchHttpClient.layer)))
})
