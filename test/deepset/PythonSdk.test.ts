/**
 * The official deepset-cloud-sdk (PyPI, in the "deepset" virtualenv made by
 * `.ci/venvs.sh`) runs its own `upload` (a folder of files with `.meta.json`
 * companions, blocking, with its progress bars) and `upload_texts` against
 * the emulator on loopback (`API_URL`, `API_KEY`): every file must arrive,
 * each session must end closed and ingested, and then this library's
 * `streamFiles` lists exactly those files. CI's proof that the emulator speaks
 * the real wire.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import { expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as NodePath from "node:path"
import { Deepset } from "../../src/index.js"
import * as DeepsetEmulator from "../../src/testing/DeepsetEmulator.js"
import * as Loopback from "../../src/testing/Loopback.js"
import { describeWithVenv, needVenv, runPython } from "../support/Venvs.js"

const apiKey = "dc-python-sdk-key-5f6e7d8c"
const workspace = "sdk-ws"
const script = NodePath.resolve(import.meta.dirname, "sdk_upload.py")
const fileCount = 30 // above the SDK's DIRECT_UPLOAD_THRESHOLD (20): it uses an upload session

describeWithVenv("deepset", "deepset-cloud-sdk (the official Python SDK) against the emulator", () => {
  it.live("upload (blocking, progress bars) and upload_texts: every file arrives, sessions end closed and ingested, streamFiles lists them", () =>
    Effect.gen(function*() {
      const deepsetVenv = yield* needVenv("deepset")
      const dir = Fs.mkdtempSync(NodePath.join(Os.tmpdir(), "es-sdk-upload-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const contents = new Map<string, string>()
      for (let i = 0; i < fileCount; i++) {
        const name = `doc-${String(i).padStart(3, "0")}.txt`
        const text = `document ${i}\n`.repeat(1 + i * 37)
        contents.set(name, text)
        Fs.writeFileSync(NodePath.join(dir, name), text)
        if (i % 5 === 0) Fs.writeFileSync(NodePath.join(dir, `${name}.meta.json`), JSON.stringify({ i }))
      }

      const emulator = yield* DeepsetEmulator.make({ apiKey, ingestionTime: "1 second" })
      const served = yield* Loopback.serve(emulator.app)
      const run = yield* runPython(deepsetVenv.python, script, {
        args: [dir, workspace],
        cwd: Os.tmpdir(), // no stray .env file
        timeoutMs: 240_000,
        env: { API_URL: `${served.url}/api/v1`, API_KEY: apiKey, DEFAULT_WORKSPACE_NAME: workspace }
      })
      expect(run.code, run.stderr.slice(-3000)).toBe(0)
      const results = run.stdout.split("\n").filter((l) => l.startsWith("{\"call\"")).map((l) => JSON.parse(l))
      expect(results).toEqual([
        { call: "upload", total: fileCount + fileCount / 5, ok: fileCount + fileCount / 5, failed: 0 },
        { call: "upload_texts", total: 50, ok: 50, failed: 0 }
      ])
      // tqdm's bars went to stderr: the blocking waits ran to the end.
      expect(run.stderr).toContain("Upload to S3")
      expect(run.stderr).toContain("Ingestion Progress")

      const deepset = yield* Deepset.make({ apiKey: Redacted.make(apiKey), baseUrl: `${served.url}/api/v1` })
      const sessions = Chunk.toReadonlyArray(yield* Stream.runCollect(deepset.streamSessions(workspace)))
      expect(sessions.map((s) => s.status)).toEqual(["CLOSED", "CLOSED"])
      const [fromFolder, fromTexts] = sessions

      // Every file arrived byte for byte (and the SDK sent no credential to S3).
      for (const [name, text] of contents) {
        const stored = Option.getOrThrow(yield* emulator.storage.get(`${workspace}/${fromFolder!.session_id}/${name}`))
        expect(new TextDecoder().decode(stored.bytes)).toBe(text)
      }
      const meta = Option.getOrThrow(yield* emulator.storage.get(`${workspace}/${fromTexts!.session_id}/text-007.txt.meta.json`))
      expect(new TextDecoder().decode(meta.bytes)).toBe(Deepset.UploadFile.metaJson({ index: 7, lang: "en" }))
      for (const request of yield* emulator.storage.recent) expect(request.headers["authorization"]).toBeUndefined()
      expect(yield* emulator.storage.errors).toEqual({})

      // Ingested, and streamFiles lists exactly those files.
      const folderStatus = yield* deepset.getStatus(workspace, fromFolder!.session_id)
      expect(folderStatus.ingestion_status).toEqual({ finished_files: fileCount, failed_files: 0 })
      const textStatus = yield* deepset.getStatus(workspace, fromTexts!.session_id)
      expect(textStatus.ingestion_status).toEqual({ finished_files: 25, failed_files: 0 })
      const folderFiles = Chunk.toReadonlyArray(yield* Stream.runCollect(deepset.streamFiles(workspace, fromFolder!.session_id)))
      expect(folderFiles.map((f) => f.name).sort()).toEqual([...contents.keys()].sort())
      expect(folderFiles.every((f) => f.ingestion_status === "FINISHED")).toBe(true)
      const textFiles = Chunk.toReadonlyArray(yield* Stream.runCollect(deepset.streamFiles(workspace, fromTexts!.session_id)))
      expect(textFiles.map((f) => f.name).sort()).toEqual(
        Array.from({ length: 25 }, (_, i) => `text-${String(i).padStart(3, "0")}.txt`)
      )
    }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)), 300_000)
})
