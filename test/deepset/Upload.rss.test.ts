/**
 * Memory: a child process uploads one 500 MB file from disk with
 * `deepset.upload` + `UploadFiles.fromPath`; its peak RSS stays under 150 MB
 * (the file streams from disk, it is never read whole). The emulator runs in
 * this process (only the uploader is measured) and keeps only the object's
 * hash and size.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as ChildProcess from "node:child_process"
import { createHash } from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import * as DeepsetEmulator from "../../src/testing/DeepsetEmulator.js"
import * as Loopback from "../../src/testing/Loopback.js"

const apiKey = "dc-rss-key-01234567"
const child = NodePath.resolve(import.meta.dirname, "upload-large-child.ts")
const megabytes = Number(process.env["RSS_MB"] ?? 500)

/** The child bundled to one plain JS file (esbuild), so its RSS is the upload's and not a TypeScript loader's. */
const bundle = (dir: string) =>
  Effect.promise(async () => {
    const esbuild = await import("esbuild")
    const outfile = NodePath.join(dir, "child.mjs")
    await esbuild.build({ entryPoints: [child], bundle: true, platform: "node", format: "esm", outfile, logLevel: "warning", banner: { js: "import { createRequire } from \"node:module\"; const require = createRequire(import.meta.url);" } })
    return outfile
  })

const runChild = (script: string, args: ReadonlyArray<string>) =>
  Effect.async<{ code: number | null; stdout: string; stderr: string }>((resume) => {
    const proc = ChildProcess.spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    proc.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")))
    proc.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
    proc.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => proc.pid !== undefined && proc.exitCode === null && process.kill(proc.pid, "SIGKILL"))
  })

describe("Deepset.upload memory", () => {
  it.live(`a child uploading one ${megabytes} MB file from disk peaks under 150 MB RSS`, () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "es-rss-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const emulator = yield* DeepsetEmulator.make({
        apiKey,
        storage: { storeBytesUpTo: 0, hasher: () => createHash("sha256") }
      })
      const served = yield* Loopback.serve(emulator.app)
      const script = yield* bundle(dir)
      const run = yield* runChild(script, [served.url, apiKey, dir, String(megabytes)])
      expect(run.code, run.stderr.slice(-2000)).toBe(0)
      const result = JSON.parse(run.stdout.trim().split("\n").at(-1) ?? "{}") as {
        sessionId: string
        uploaded: number
        failed: ReadonlyArray<string>
        bytes: number
        sha256: string
        maxRssKiB: number
        baselineKiB: number
      }
      expect(result.failed).toEqual([])
      expect(result.uploaded).toBe(1)
      expect(result.bytes).toBe(megabytes * 1024 * 1024)
      const stored = Option.getOrThrow(yield* emulator.storage.get(`default/${result.sessionId}/large.bin`))
      expect(stored.size).toBe(megabytes * 1024 * 1024)
      expect(stored.sha256).toBe(result.sha256)
      expect(stored.bytes).toBeUndefined()
      console.log(`peak RSS of the uploading child: ${(result.maxRssKiB / 1024).toFixed(0)} MB for ${megabytes} MB (before the upload: ${(result.baselineKiB / 1024).toFixed(0)} MB)`)
      expect(result.maxRssKiB / 1024).toBeLessThan(150)
    }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)), 600_000)
})
