import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { FormDataEncoder } from "form-data-encoder"
import * as PresignedPost from "../../src/deepset/PresignedPost.js"

/** What `form-data-encoder` makes of a real `FormData` with the same parts: the reference framing. */
const reference = async (boundary: string, fields: Readonly<Record<string, string>>, name: string, type: string, bytes: Uint8Array) => {
  const form = new FormData()
  for (const [k, v] of Object.entries(fields)) form.append(k, v)
  form.append("file", new File([bytes as Uint8Array<ArrayBuffer>], name, { type }))
  const encoder = new FormDataEncoder(form, boundary)
  const chunks: Array<Uint8Array> = []
  for await (const chunk of encoder.encode()) chunks.push(chunk)
  return { bytes: Buffer.concat(chunks), contentLength: Number(encoder.contentLength), contentType: encoder.contentType }
}

const fields = {
  key: "ws/session/${filename}",
  "x-amz-algorithm": "AWS4-HMAC-SHA256",
  policy: "eyJleHBpcmF0aW9uIjoiMjAyNi0xMi0wMlQwODowMDowMFoifQ==",
  "x-amz-meta-note": "quotes \" and\r\nnewlines, ünïcödé"
}

describe("PresignedPost", () => {
  it.effect("the fields encoded once and each file's own part are exactly form-data-encoder's body of all the parts", () =>
    Effect.gen(function*() {
      const boundary = "----effect-sessions-test"
      const encode = PresignedPost.encoder(boundary, fields)
      for (const [name, type, size] of [["a.txt", "text/plain", 0], ["b \"q\".pdf", "application/pdf", 70_000], ["ü.md", "text/markdown", 13]] as const) {
        const bytes = new Uint8Array(size).map((_, i) => (i * 31) % 256)
        const expected = yield* Effect.promise(() => reference(boundary, fields, name, type, bytes))
        const body = encode({ fileName: name, contentType: type, size, open: () => Stream.make(bytes.subarray(0, size / 2), bytes.subarray(size / 2)) })
        expect(body.contentType).toBe(expected.contentType)
        expect(body.contentLength).toBe(expected.contentLength)
        expect(Buffer.from(body.whole(bytes)).equals(expected.bytes)).toBe(true)
        const streamed = Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(body.open())))
        expect(streamed.equals(expected.bytes)).toBe(true)
        // The file read in place gives the same body; a count other than the size gives none.
        const inPlace = body.wholeInPlace((buffer, offset, room) => {
          expect(room).toBe(size + 1)
          buffer.set(bytes, offset)
          return size
        })
        expect(inPlace.read).toBe(size)
        expect(Buffer.from(inPlace.body!).equals(expected.bytes)).toBe(true)
        expect(body.wholeInPlace((_, __, room) => room)).toEqual({ read: size + 1 })
        // The one-call form gives the same body.
        const once = PresignedPost.encode({ boundary, fields, fileName: name, contentType: type, size, open: () => Stream.make(bytes) })
        expect(Buffer.from(once.whole(bytes)).equals(expected.bytes)).toBe(true)
      }
    }))

  it.effect("with a native source the body is an async iterable of the same bytes too; without one it is not", () =>
    Effect.gen(function*() {
      const bytes = new Uint8Array(5000).map((_, i) => i % 256)
      const encode = PresignedPost.encoder("b", fields)
      const native = encode({
        fileName: "n.bin",
        contentType: "application/octet-stream",
        size: bytes.length,
        open: () => Stream.make(bytes),
        native: async function*() {
          yield bytes.subarray(0, 1000)
          yield bytes.subarray(1000)
        }
      })
      const stream = native.open()
      expect(Symbol.asyncIterator in stream).toBe(true)
      const chunks: Array<Uint8Array> = []
      yield* Effect.promise(async () => {
        for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk)
      })
      expect(Buffer.concat(chunks).equals(Buffer.from(native.whole(bytes)))).toBe(true)
      expect(Buffer.concat(Chunk.toReadonlyArray(yield* Stream.runCollect(native.open()))).equals(Buffer.concat(chunks))).toBe(true)
      const plain = encode({ fileName: "n.bin", contentType: "text/plain", size: bytes.length, open: () => Stream.make(bytes) })
      expect(Symbol.asyncIterator in plain.open()).toBe(false)
    }))
})
