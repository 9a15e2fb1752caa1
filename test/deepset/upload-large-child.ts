/**
 * Child process of Upload.rss.test.ts: writes one large file (argv: dir, MB)
 * in 1 MiB chunks, uploads it with `deepset.upload` + `UploadFiles.fromPath`
 * to the emulator at argv URL, and prints one JSON line with the result and
 * this process's peak RSS (`process.resourceUsage().maxRSS`, in KiB).
 */
import * as UndiciHttpClient from "../../src/node/UndiciHttpClient.js"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as NodePath from "node:path"
import * as Deepset from "../../src/deepset/UploadSessions.js"
import * as UploadFiles from "../../src/node/UploadFiles.js"

const [url = "", apiKey = "", dir = "", mb = "500"] = process.argv.slice(2)
const path = NodePath.join(dir, "large.bin")
const chunk = Buffer.alloc(1024 * 1024)
for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 13) % 256
const hash = createHash("sha256")
const fd = Fs.openSync(path, "w")
for (let i = 0; i < Number(mb); i++) {
  chunk[0] = i % 256
  Fs.writeSync(fd, chunk)
  hash.update(chunk)
}
Fs.closeSync(fd)

const program = Effect.gen(function*() {
  const deepset = yield* Deepset.make({ apiKey: Redacted.make(apiKey), baseUrl: url, policy: { attemptTimeout: "10 minutes", deadline: "20 minutes" } })
  return yield* deepset.upload("default", Stream.make(UploadFiles.fromPath(path)))
}).pipe(Effect.provide(UndiciHttpClient.layer))

const baselineKiB = Math.round(process.memoryUsage().rss / 1024)
Effect.runPromise(program).then((report) => {
  process.stdout.write(JSON.stringify({
    sessionId: report.sessionId,
    uploaded: report.uploaded,
    failed: report.failedUploads.map((f) => String(f.error)),
    bytes: report.bytes,
    sha256: hash.digest("hex"),
    maxRssKiB: process.resourceUsage().maxRSS,
    baselineKiB
  }) + "\n")
})
