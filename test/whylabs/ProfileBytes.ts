/**
 * Deterministic profile bytes of any size, generated chunk by chunk (so a
 * 50 MB body never exists whole in memory), and their SHA-256: the upload
 * tests, the RSS child and the benchmark make the same bytes on both sides.
 */
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"

/** Default chunk size: 64 KiB, as a file read would give. */
export const chunkSize = 64 * 1024

/** The chunks of `size` bytes from `seed` (xorshift32 words), generated lazily. */
export function* chunks(size: number, seed = 0x9e3779b9, chunk = chunkSize): Generator<Uint8Array> {
  let x = seed >>> 0 || 1
  for (let offset = 0; offset < size; offset += chunk) {
    const length = Math.min(chunk, size - offset)
    const words = new Uint32Array(Math.ceil(length / 4))
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13
      x >>>= 0
      x ^= x >>> 17
      x ^= x << 5
      x >>>= 0
      words[i] = x
    }
    yield new Uint8Array(words.buffer, 0, length)
  }
}

/**
 * The bytes as a re-runnable `Stream` (each run generates them anew), one
 * chunk at a time as a file read would give them (`Stream.fromIterable` would
 * pull up to 4096 chunks at once).
 */
export const stream = (size: number, seed?: number): Stream.Stream<Uint8Array> =>
  Stream.suspend(() => Stream.fromIteratorSucceed(chunks(size, seed), 1))

/** The bytes whole (for small sizes). */
export const bytes = (size: number, seed?: number): Uint8Array => {
  const out = new Uint8Array(size)
  let offset = 0
  for (const c of chunks(size, seed)) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}

/** Lowercase hex SHA-256 of the bytes, computed chunk by chunk. */
export const sha256 = (size: number, seed?: number): string => {
  const hash = createHash("sha256")
  for (const c of chunks(size, seed)) hash.update(c)
  return hash.digest("hex")
}
