/**
 * Byte buffers: joining the chunks of a body.
 *
 * @since 0.1.0
 */

/**
 * The chunks as one buffer (the chunk itself when there is only one).
 *
 * @since 0.1.0
 */
export const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  let size = 0
  for (const c of chunks) size += c.length
  const out = new Uint8Array(size)
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}
