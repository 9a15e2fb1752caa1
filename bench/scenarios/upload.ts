/**
 * The `upload` scenario: `deepset.upload` against the deepset emulator on
 * loopback (API and S3-style upload target on one origin, in a server process
 * of its own; uploads are hashed and counted as they stream, not kept).
 *
 * - small files: 2 000 files of 20 KB from disk (`UploadFiles.fromPath`),
 *   concurrency 16, vs the official Python SDK's `upload` of the same folder
 *   to the same emulator (non-blocking, no progress bar; its own S3
 *   concurrency, 10). Files/s and CPU per file of the uploading process
 *   (create, every POST, close). Each process uploads the folder once (the
 *   cold figures), then twice more, measured (the steady state).
 *   `upload.throughputVsPythonSdk` is ours over the SDK's files/s in the
 *   steady state (target ≥ 2); `…_cold` the same for the first upload (info).
 * - one large file: 200 MB from disk vs a raw `undici.request` multipart POST
 *   of the same bytes (the same session calls around it, the file streamed
 *   from `fs.createReadStream`), each uploaded twice in its process and the
 *   second upload measured. MB/s, CPU, peak RSS. `upload.largeVsRaw` is ours
 *   over raw (target ≥ 0.8).
 * - every variant also reports the emulator's CPU while it ran (info).
 *
 * Every variant runs in its own child process (this module, compiled, with a
 * role argument; the SDK variant is a Python process), interleaved over the
 * rounds (the large file's pair A B B A, each one's figures the mean of its
 * two runs); one value per round per ratio. The server is stopped by its PID.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import { Readable } from "node:stream"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { childMetrics, median, runABBA, serverUrl, stopChild } from "../lib.js"
import type { Scenario, ScenarioContext, ScenarioResult } from "./Scenario.js"

type Metrics = Record<string, number>

interface Sizes {
  readonly files: number
  readonly fileBytes: number
  readonly largeBytes: number
  readonly concurrency: number
  /**
   * Uploads of the whole folder measured per variant and round (a session each), after a first upload of it by
   * the same process (the steady state, as the large pair and the overhead scenario measure it: a 20-file warm-up
   * left most of Node's JIT work inside the measured upload). The first upload is reported apart, as cold figures.
   */
  readonly smallUploads: number
}

const sizes = (quick: boolean): Sizes =>
  quick
    ? { files: 300, fileBytes: 20 * 1024, largeBytes: 50 * 1024 * 1024, concurrency: 16, smallUploads: 1 }
    : { files: 2000, fileBytes: 20 * 1024, largeBytes: 200 * 1024 * 1024, concurrency: 16, smallUploads: 2 }

const apiKey = "bench-upload-key"
const workspace = "bench"

interface Params extends Sizes {
  readonly url: string
  readonly smallDir: string
  readonly largePath: string
}

// ---------------------------------------------------------------------------
// the children

const measure = async (work: () => Promise<void>) => {
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  await work()
  const seconds = (performance.now() - t0) / 1000
  const used = process.cpuUsage(cpu)
  return { seconds, cpuMs: (used.user + used.system) / 1000 }
}

const effectChild = async (variant: string, p: Params): Promise<Metrics> => {
  const Effect = await import("effect/Effect")
  const Redacted = await import("effect/Redacted")
  const Stream = await import("effect/Stream")
  const { UndiciHttpClient, UploadFiles } = await import("../../src/node/index.js")
  const Deepset = await import("../../src/deepset/UploadSessions.js")
  const upload = (paths: ReadonlyArray<string>) =>
    Effect.runPromise(
      Effect.flatMap(
        Deepset.make({ apiKey: Redacted.make(apiKey), baseUrl: p.url, policy: { attemptTimeout: "10 minutes", deadline: "30 minutes" } }),
        (deepset) => deepset.upload(workspace, Stream.fromIterable(paths).pipe(Stream.map((path) => UploadFiles.fromPath(path))), { concurrency: p.concurrency })
      ).pipe(Effect.provide(UndiciHttpClient.layer))
    )
  if (variant === "warm") {
    // The emulator's warm-up (its JIT), before round 1: unmeasured.
    const paths = Fs.readdirSync(p.smallDir).sort().map((f) => Path.join(p.smallDir, f))
    const report = await upload(paths.slice(0, 500))
    return { uploaded: report.uploaded }
  }
  if (variant === "small") {
    const paths = Fs.readdirSync(p.smallDir).sort().map((f) => Path.join(p.smallDir, f))
    // The whole folder once first (JIT, connections): reported apart as the cold figures, not in the measured phase.
    let coldUploaded = 0
    const cold = await measure(async () => void (coldUploaded = (await upload(paths)).uploaded))
    let uploaded = 0
    const m = await measure(async () => {
      for (let i = 0; i < p.smallUploads; i++) {
        const report = await upload(paths)
        uploaded += report.uploaded
        if (report.failedUploads.length > 0) throw new Error(`${report.failedUploads.length} uploads failed`)
      }
    })
    return {
      filesPerSec: uploaded / m.seconds,
      cpuUsPerFile: (m.cpuMs * 1000) / uploaded,
      coldFilesPerSec: coldUploaded / cold.seconds,
      coldCpuUsPerFile: (cold.cpuMs * 1000) / coldUploaded,
      peakRssMB: process.resourceUsage().maxRSS / 1024
    }
  }
  const once = async () => {
    const report = await upload([p.largePath])
    if (report.uploaded !== 1) throw new Error(`the large upload failed: ${report.failedUploads.map((f) => String(f.error)).join("; ")}`)
  }
  await once() // warm-up (JIT, connections), as the raw side does
  const m = await measure(once)
  return { mbPerSec: p.largeBytes / 1e6 / m.seconds, cpuMs: m.cpuMs, peakRssMB: process.resourceUsage().maxRSS / 1024 }
}

/** The raw side: undici.request for the session calls and one multipart POST streamed from disk. */
const rawChild = async (p: Params): Promise<Metrics> => {
  const { request } = await import("undici")
  const once = async () => {
    const headers = { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }
    const base = `${p.url}/api/v1/workspaces/${workspace}/upload_sessions`
    const created = await request(base, { method: "POST", headers, body: "{}" })
    const session = (await created.body.json()) as {
      session_id: string
      aws_prefixed_request_config: { url: string; fields: Record<string, string> }
    }
    const boundary = "----raw-undici-bench"
    let head = ""
    for (const [k, v] of Object.entries(session.aws_prefixed_request_config.fields)) {
      head += `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`
    }
    head += `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="large.bin"\r\nContent-Type: text/plain\r\n\r\n`
    const tail = `\r\n--${boundary}--\r\n`
    const size = Fs.statSync(p.largePath).size
    async function* body() {
      yield Buffer.from(head)
      for await (const chunk of Fs.createReadStream(p.largePath, { highWaterMark: 256 * 1024 })) yield chunk as Buffer
      yield Buffer.from(tail)
    }
    const posted = await request(session.aws_prefixed_request_config.url, {
      method: "POST",
      headers: {
        "content-type": `multipart/form-data; boundary=${boundary}`,
        "content-length": String(Buffer.byteLength(head) + size + Buffer.byteLength(tail))
      },
      body: Readable.from(body())
    })
    await posted.body.text()
    if (posted.statusCode !== 204) throw new Error(`raw POST → ${posted.statusCode}`)
    const closed = await request(`${base}/${session.session_id}`, { method: "PUT", headers, body: JSON.stringify({ status: "CLOSED" }) })
    await closed.body.text()
  }
  await once() // warm-up (JIT, connections), as our side does
  const m = await measure(once)
  return { mbPerSec: p.largeBytes / 1e6 / m.seconds, cpuMs: m.cpuMs, peakRssMB: process.resourceUsage().maxRSS / 1024 }
}

const serverChild = async () => {
  const Effect = await import("effect/Effect")
  const { Loopback } = await import("../../src/testing/node.js")
  const DeepsetEmulator = await import("../../src/testing/DeepsetEmulator.js")
  const { createHash } = await import("node:crypto")
  const program = Effect.gen(function*() {
    const emulator = yield* DeepsetEmulator.make({ apiKey, storage: { storeBytesUpTo: 0, hasher: () => createHash("sha256") } })
    const served = yield* Loopback.serve(emulator.app)
    process.stdout.write(`${JSON.stringify({ url: served.url })}\n`)
    return yield* Effect.never
  })
  await Effect.runPromise(Effect.scoped(program))
}

// The official SDK's upload, timed inside Python (module import excluded).
const pythonScript = `
import json, resource, sys, time
from pathlib import Path
from deepset_cloud_sdk.workflows.sync_client.files import upload
folder, workspace, uploads = sys.argv[1], sys.argv[2], int(sys.argv[3])
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
def once():
    summary = upload(paths=[Path(folder)], workspace_name=workspace, blocking=False, show_progress=False)
    if summary.failed_upload_count:
        raise SystemExit(f"{summary.failed_upload_count} uploads failed")
    return summary.successful_upload_count
c0, t0 = cpu(), time.perf_counter()
cold = once()  # the whole folder once first, as the Node side does: the cold figures
cold_seconds, cold_used = time.perf_counter() - t0, cpu() - c0
n = 0
c0, t0 = cpu(), time.perf_counter()
for _ in range(uploads):
    n += once()
seconds, used = time.perf_counter() - t0, cpu() - c0
print(json.dumps({"filesPerSec": n / seconds, "cpuUsPerFile": used * 1e6 / n,
                  "coldFilesPerSec": cold / cold_seconds, "coldCpuUsPerFile": cold_used * 1e6 / cold,
                  "peakRssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`

// ---------------------------------------------------------------------------
// the orchestration (in bench/run.ts's process)

const selfPath = fileURLToPath(import.meta.url)

const childArgs = (outDir: string): Array<string> => {
  const compiled = Path.join(outDir, "bench", "scenarios", "upload.js")
  if (Fs.existsSync(compiled)) return [compiled]
  const source = selfPath.endsWith(".ts") ? selfPath : Path.resolve(Path.dirname(selfPath), "../../../bench/scenarios/upload.ts")
  return ["--import", "tsx", source]
}


const collect = (child: ChildProcess, label: string, started: Array<ChildProcess>) =>
  childMetrics(child, `upload ${label}`, started, 900_000)

const startServer = async (outDir: string, started: Array<ChildProcess>) => {
  const child = spawn(process.execPath, [...childArgs(outDir), "server", "{}"], { stdio: ["ignore", "pipe", "pipe"] })
  return { url: await serverUrl(child, "upload", started), child }
}

const runNode = (outDir: string, started: Array<ChildProcess>, role: string, p: Params) =>
  collect(spawn(process.execPath, [...childArgs(outDir), role, JSON.stringify(p)], { stdio: ["ignore", "pipe", "pipe"] }), role, started)

/** CPU ms used so far by a process (Linux's /proc: user + system ticks), or NaN elsewhere. */
const cpuMsOf = (pid: number | undefined): number => {
  try {
    const fields = Fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
  } catch {
    return Number.NaN
  }
}

/**
 * A variant's metrics with the emulator's CPU while it ran (the server
 * process is shared by both variants of a pair and by the 2 cores):
 * `serverCpuUsPerFile` (warm-up files included) or `serverCpuMs`.
 */
const withServerCpu = async (serverPid: number | undefined, files: number, run: () => Promise<Metrics>): Promise<Metrics> => {
  const before = cpuMsOf(serverPid)
  const metrics = await run()
  const used = cpuMsOf(serverPid) - before
  return files > 1 ? { ...metrics, serverCpuUsPerFile: (used * 1000) / files } : { ...metrics, serverCpuMs: used }
}

const runPython = (python: string, started: Array<ChildProcess>, p: Params) =>
  collect(
    spawn(python, ["-c", pythonScript, p.smallDir, workspace, String(p.smallUploads)], {
      stdio: ["ignore", "pipe", "pipe"],
      cwd: Os.tmpdir(),
      env: { ...process.env, API_URL: `${p.url}/api/v1`, API_KEY: apiKey, DEFAULT_WORKSPACE_NAME: workspace }
    }),
    "python-sdk",
    started
  )



const pythonOf = (): string | undefined => {
  const root = process.env["EFFECT_SESSIONS_VENVS"] ?? Path.join(Os.homedir(), ".cache/effect-sessions/venvs")
  const python = Path.join(root, "deepset", "bin", "python")
  return Fs.existsSync(python) ? python : undefined
}

const makeFiles = (size: Sizes) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "es-bench-upload-"))
  const smallDir = Path.join(dir, "small")
  Fs.mkdirSync(smallDir)
  const chunk = Buffer.alloc(size.fileBytes)
  for (let i = 0; i < chunk.length; i++) chunk[i] = 97 + (i % 26)
  for (let i = 0; i < size.files; i++) {
    chunk.write(String(i).padStart(8, "0"), 0)
    Fs.writeFileSync(Path.join(smallDir, `file-${String(i).padStart(5, "0")}.txt`), chunk)
  }
  const largePath = Path.join(dir, "large.bin")
  const fd = Fs.openSync(largePath, "w")
  const mb = Buffer.alloc(1024 * 1024, 7)
  for (let i = 0; i < size.largeBytes / mb.length; i++) Fs.writeSync(fd, mb)
  Fs.closeSync(fd)
  // The files just written are flushed to disk before round 1: otherwise the kernel's writeback of ~250 MB of dirty
  // pages overlaps the first variant measured (effect-sessions' small files), and only that one.
  spawnSync("sync")
  return { dir, smallDir, largePath }
}

const run = async (context: ScenarioContext): Promise<ScenarioResult> => {
  const size = sizes(context.quick)
  const started: Array<ChildProcess> = []
  const files = makeFiles(size)
  const python = pythonOf()
  try {
    const server = await startServer(context.outDir, started)
    const params: Params = { url: server.url, ...size, smallDir: files.smallDir, largePath: files.largePath }
    context.log(`emulator on ${server.url}; ${size.files} × ${size.fileBytes / 1024} KB files, one ${size.largeBytes / 1e6} MB file, ${context.rounds} round(s)`)
    // A fresh emulator runs its first requests cold (not yet optimized by the JIT): whichever variant came first in
    // round 1 paid for it. 500 files and one large upload warm it up, unmeasured.
    await runNode(context.outDir, started, "warm", params)
    await runNode(context.outDir, started, "raw", params)
    const samples: Record<string, Array<Metrics>> = {}
    const ratios: Record<string, Array<number>> = {
      "upload.throughputVsPythonSdk": [],
      "upload.throughputVsPythonSdk_cold": [],
      "upload.largeVsRaw": []
    }
    for (let round = 1; round <= context.rounds; round++) {
      const got: Record<string, Metrics> = {}
      context.log(`upload small · effect-sessions (round ${round}/${context.rounds})`)
      const pid = server.child.pid
      got["small files: effect-sessions"] = await withServerCpu(pid, size.files * (size.smallUploads + 1), () => runNode(context.outDir, started, "small", params))
      if (python !== undefined) {
        context.log(`upload small · python deepset-cloud-sdk (round ${round}/${context.rounds})`)
        got["small files: deepset-cloud-sdk (Python)"] = await withServerCpu(pid, size.files * (size.smallUploads + 1), () => runPython(python, started, params))
      }
      // The large file's pair (the gated upload.largeVsRaw) runs A B B A, as bench/run.ts's long pairs do.
      const large = async (role: "large" | "raw") => {
        context.log(`upload large · ${role === "large" ? "effect-sessions" : "undici.request"} (round ${round}/${context.rounds})`)
        return withServerCpu(pid, 1, () => runNode(context.outDir, started, role, params))
      }
      for (const [role, metrics] of await runABBA(["large", "raw"] as const, large)) {
        got[role === "large" ? "large file: effect-sessions" : "large file: undici.request multipart POST"] = metrics
      }
      for (const [row, metrics] of Object.entries(got)) (samples[row] ??= []).push(metrics)
      ratios["upload.throughputVsPythonSdk"]!.push(
        (got["small files: effect-sessions"]?.["filesPerSec"] ?? Number.NaN) /
          (got["small files: deepset-cloud-sdk (Python)"]?.["filesPerSec"] ?? Number.NaN)
      )
      ratios["upload.throughputVsPythonSdk_cold"]!.push(
        (got["small files: effect-sessions"]?.["coldFilesPerSec"] ?? Number.NaN) /
          (got["small files: deepset-cloud-sdk (Python)"]?.["coldFilesPerSec"] ?? Number.NaN)
      )
      ratios["upload.largeVsRaw"]!.push(
        (got["large file: effect-sessions"]?.["mbPerSec"] ?? Number.NaN) /
          (got["large file: undici.request multipart POST"]?.["mbPerSec"] ?? Number.NaN)
      )
    }
    const rows: Record<string, Metrics> = {}
    for (const [row, runs] of Object.entries(samples)) {
      const out: Metrics = {}
      for (const key of new Set(runs.flatMap((r) => Object.keys(r)))) out[key] = median(runs.map((r) => r[key] ?? Number.NaN))
      rows[row] = out
    }
    return {
      rows,
      ratios,
      notes: [
        `small files: ${size.files} files of ${size.fileBytes / 1024} KB from disk, uploaded ${size.smallUploads} time(s) per variant and round (a session each; files/s and CPU over them all) after one upload of the folder by the same process (both variants), whose files/s and CPU per file are the cold columns (upload.throughputVsPythonSdk_cold, info); effect-sessions: deepset.upload with UploadFiles.fromPath, concurrency ${size.concurrency}, UndiciHttpClient.layer; Python: deepset_cloud_sdk upload(blocking=False, show_progress=False), its own S3 concurrency (10); both create and close the session; CPU of the uploading process`,
        `large file: ${size.largeBytes / 1e6} MB from disk, uploaded twice by each variant's process, the second upload measured (the first warms up JIT and connections on both sides); raw: undici.request with the same session calls and a multipart body streamed from fs.createReadStream with content-length`,
        "serverCpuUsPerFile / serverCpuMs: the emulator process's CPU (Linux /proc) while the variant ran (small files: warm-up files included), for each variant alike; the emulator shares the 2 cores with the client",
        ...(python === undefined ? ["the deepset virtualenv is missing (bash .ci/venvs.sh): the Python SDK variant was skipped"] : [])
      ]
    }
  } finally {
    await Promise.all(started.splice(0).map(stopChild))
    Fs.rmSync(files.dir, { recursive: true, force: true })
  }
}

/** The scenario `bench/run.ts` discovers. */
export const upload: Scenario = { name: "upload", run }

// A child: this module run with a role.
if (process.argv[1] !== undefined && pathToFileURL(Path.resolve(process.argv[1])).href === import.meta.url) {
  const [role = "", raw = "{}"] = process.argv.slice(2)
  const params = JSON.parse(raw) as Params
  const main = role === "server"
    ? serverChild().then(() => undefined)
    : (role === "small" || role === "large" || role === "warm" ? effectChild(role, params) : role === "raw" ? rawChild(params) : Promise.reject(new Error(`unknown role ${role}`)))
      .then((metrics) => new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(metrics)}\n`, () => resolve())))
      .then(() => process.exit(0))
  main.catch((e: unknown) => {
    console.error(e)
    process.exit(1)
  })
}
