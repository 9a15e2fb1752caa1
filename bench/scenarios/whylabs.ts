/**
 * The `whylabs` scenario: the WhyLabs client against its emulator on
 * loopback (API and S3-style upload target on one origin, in a server
 * process of its own), side by side with raw undici.
 *
 * - upload: `uploadProfile` of a 50 MB body (create the upload, `PUT` the
 *   bytes to the presigned URL) vs a raw `undici.request` `PUT` of the same
 *   bytes to presigned URLs fetched beforehand (so the raw side does less):
 *   throughput in MB/s, CPU, peak RSS. `whylabs.uploadVsRawPut` is
 *   effect-sessions' MB/s over raw undici's (target ≥ 0.8). The same upload
 *   from a `Stream` of 64 KiB chunks is reported too (info).
 * - create: `createSession` at concurrency 16 vs `undici.request` + `JSON.parse`:
 *   CPU per call. `whylabs.createCpuVsUndici` is ours over raw (target ≤ 1.15).
 *
 * Every variant runs in its own child process (this module, compiled, with a
 * role argument), interleaved over the rounds (the gated upload pair A B B A,
 * each one's figures the mean of its two runs); one value per round per ratio.
 * The server process is stopped by its PID before the scenario resolves.
 */
import type * as EffectNS from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { childMetrics, median, rate, runABBA, serverUrl, stopChild } from "../lib.js"
import type { Scenario, ScenarioContext, ScenarioResult } from "./Scenario.js"

type Metrics = Record<string, number>

interface Sizes {
  /** Bytes of one profile. */
  readonly profileBytes: number
  /** Measured uploads per variant per round (after one warm-up upload). */
  readonly uploads: number
  readonly createWarmup: number
  readonly createCalls: number
  readonly concurrency: number
}

const sizes = (quick: boolean): Sizes =>
  quick
    ? { profileBytes: 8 * 1024 * 1024, uploads: 2, createWarmup: 200, createCalls: 800, concurrency: 16 }
    // 20 000 createSession calls (10 000 until issue 14): on a loaded 2-core machine a round's CPU per call moved by ±20 %.
    : { profileBytes: 50 * 1024 * 1024, uploads: 12, createWarmup: 3000, createCalls: 20_000, concurrency: 16 }

/** The pair `whylabs.uploadVsRawPut` compares (run A B B A), and the Stream upload (info, run once a round). */
const uploadPair = ["effect-sessions (bytes)", "undici.request PUT"] as const
const uploadStream = "effect-sessions (Stream)"
const createVariants = ["effect-sessions", "undici.request"] as const

// ---------------------------------------------------------------------------
// the children

const jsonHeaders = { "content-type": "application/json", accept: "application/json" }

/** The effect-sessions client on effect-sessions' undici transport. */
const effectClient = async (url: string) => {
  const Effect = await import("effect/Effect")
  const Layer = await import("effect/Layer")
  const ManagedRuntime = await import("effect/ManagedRuntime")
  const { UndiciHttpClient } = await import("../../src/node/index.js")
  const WhyLabs = await import("../../src/whylabs/index.js")
  const runtime = ManagedRuntime.make(Layer.provide(WhyLabs.layer({ baseUrl: url }), UndiciHttpClient.layer))
  const whylabs = await runtime.runPromise(WhyLabs.Sessions)
  return { Effect, runtime, whylabs }
}

const profileOf = (size: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  let x = 0x2545f491
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    bytes[i] = x & 0xff
    bytes[i + 1] = (x >>> 8) & 0xff
    bytes[i + 2] = (x >>> 16) & 0xff
    bytes[i + 3] = x >>> 24
  }
  return bytes
}

const uploadChild = async (variant: string, p: { url: string } & Sizes): Promise<Metrics> => {
  const bytes = profileOf(p.profileBytes)
  const { request } = await import("undici")
  const createSession = async (): Promise<string> => {
    const { body } = await request(`${p.url}/v0/sessions`, {
      method: "POST",
      headers: jsonHeaders,
      body: JSON.stringify({ userId: "bench" })
    })
    return (JSON.parse(await body.text()) as { id: string }).id
  }
  const sessionId = await createSession()
  let upload: () => Promise<unknown>
  if (variant === "undici.request PUT") {
    // Presigned URLs fetched beforehand: the measured part is the PUTs alone.
    const urls: Array<string> = []
    for (let i = 0; i <= p.uploads; i++) {
      const { body } = await request(`${p.url}/v0/sessions/${sessionId}/upload`, { method: "POST", headers: jsonHeaders, body: "{}" })
      urls.push((JSON.parse(await body.text()) as { uploadUrl: string }).uploadUrl)
    }
    let next = 0
    upload = async () => {
      const { body, statusCode } = await request(urls[next++]!, {
        method: "PUT",
        headers: { "content-type": "application/octet-stream", "content-length": String(bytes.length) },
        body: bytes
      })
      const text = await body.text()
      if (statusCode !== 200) throw new Error(`PUT → ${statusCode}: ${text.slice(0, 200)}`)
    }
  } else {
    const { Effect, runtime, whylabs } = await effectClient(p.url)
    const Stream = await import("effect/Stream")
    const chunk = 64 * 1024
    const body = variant === "effect-sessions (Stream)"
      ? Stream.suspend(() =>
        Stream.fromIteratorSucceed(
          (function*() {
            for (let offset = 0; offset < bytes.length; offset += chunk) yield bytes.subarray(offset, offset + chunk)
          })(),
          1
        )
      )
      : bytes
    upload = () => runtime.runPromise(Effect.asVoid(whylabs.uploadProfile(sessionId, body, { size: bytes.length })))
  }
  await upload() // warm-up
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < p.uploads; i++) await upload()
  const seconds = (performance.now() - t0) / 1000
  const used = process.cpuUsage(cpu)
  const megabytes = (p.uploads * bytes.length) / (1024 * 1024)
  return {
    mbPerSec: megabytes / seconds,
    seconds,
    cpuMsPerUpload: (used.user + used.system) / 1000 / p.uploads,
    peakRssMB: process.resourceUsage().maxRSS / 1024
  }
}

const createChild = async (variant: string, p: { url: string } & Sizes): Promise<Metrics> => {
  let measured: { cpuUsPerCall: number; callsPerSec: number }
  if (variant === "undici.request") {
    const { request } = await import("undici")
    const body = JSON.stringify({ userId: "bench" })
    const call = async () => {
      const answer = await request(`${p.url}/v0/sessions`, { method: "POST", headers: jsonHeaders, body })
      const text = await answer.body.text()
      if (answer.statusCode !== 200) throw new Error(`POST → ${answer.statusCode}`)
      return JSON.parse(text)
    }
    await rate(p.createWarmup, p.concurrency, call, true)
    measured = await rate(p.createCalls, p.concurrency, call)
  } else {
    // As an Effect program runs its calls: `concurrency` fibers in one runtime, each taking the next call.
    const { Effect, runtime, whylabs } = await effectClient(p.url)
    const rateEffect = (calls: number) =>
      Effect.suspend(() => {
        let next = 0
        const worker: EffectNS.Effect<void, unknown> = Effect.suspend(() =>
          next++ >= calls ? Effect.void : Effect.zipRight(whylabs.createSession({ userId: "bench" }), worker)
        )
        const cpu = process.cpuUsage()
        const t0 = performance.now()
        return Effect.map(
          Effect.all(Array.from({ length: p.concurrency }, () => worker), { concurrency: "unbounded", discard: true }),
          () => {
            const used = process.cpuUsage(cpu)
            return { cpuUsPerCall: (used.user + used.system) / calls, callsPerSec: calls / ((performance.now() - t0) / 1000) }
          }
        )
      })
    await runtime.runPromise(rateEffect(p.createWarmup))
    measured = await runtime.runPromise(rateEffect(p.createCalls))
  }
  return {
    [`cpuUsPerCall_c${p.concurrency}`]: measured.cpuUsPerCall,
    [`callsPerSec_c${p.concurrency}`]: measured.callsPerSec,
    peakRssMB: process.resourceUsage().maxRSS / 1024
  }
}

/** The server child: the emulator on loopback; prints its URL, runs until killed. */
const serverChild = async () => {
  const Effect = await import("effect/Effect")
  const Loopback = await import("../../src/testing/Loopback.js")
  const WhyLabsEmulator = await import("../../src/testing/WhyLabsEmulator.js")
  const program = Effect.gen(function*() {
    // Uploads are hashed and counted as they stream, not kept.
    const { createHash } = yield* Effect.promise(() => import("node:crypto"))
    const emulator = yield* WhyLabsEmulator.make({ storeBytesUpTo: 0, hasher: () => createHash("sha256") })
    const served = yield* Loopback.serve(emulator.app)
    process.stdout.write(`${JSON.stringify({ url: served.url })}\n`)
    return yield* Effect.never
  })
  await Effect.runPromise(Effect.scoped(program))
}

// ---------------------------------------------------------------------------
// the orchestration (in bench/run.ts's process)

const selfPath = fileURLToPath(import.meta.url)

/** This module compiled, as the children run it. */
const compiled = (outDir: string) => Path.join(outDir, "bench", "scenarios", "whylabs.js")

const spawnChild = (
  outDir: string,
  args: ReadonlyArray<string>,
  started: Array<ChildProcess>
): ChildProcess => {
  const child = spawn(process.execPath, [compiled(outDir), ...args], { stdio: ["ignore", "pipe", "pipe"] })
  started.push(child)
  return child
}

/** Runs one variant child to its end; its metrics line. */
const runVariant = (outDir: string, started: Array<ChildProcess>, role: string, variant: string, params: unknown) =>
  childMetrics(spawnChild(outDir, [role, variant, JSON.stringify(params)], started), `whylabs ${role} / ${variant}`, started)

const startServer = async (outDir: string, started: Array<ChildProcess>) => {
  const child = spawnChild(outDir, ["server"], started)
  return { url: await serverUrl(child, "whylabs", started), child }
}

const medians = (runs: ReadonlyArray<Metrics>): Metrics => {
  const out: Metrics = {}
  for (const key of new Set(runs.flatMap((r) => Object.keys(r)))) out[key] = median(runs.map((r) => r[key] ?? Number.NaN))
  return out
}

const run = async (context: ScenarioContext): Promise<ScenarioResult> => {
  const size = sizes(context.quick)
  const started: Array<ChildProcess> = []
  try {
    const server = await startServer(context.outDir, started)
    context.log(`emulator on ${server.url}; ${size.profileBytes / (1024 * 1024)} MB × ${size.uploads} uploads, ${size.createCalls} createSession at c${size.concurrency}, ${context.rounds} round(s)`)
    const params = { url: server.url, ...size }
    const samples: Record<string, Array<Metrics>> = {}
    const ratios: Record<string, Array<number>> = {
      "whylabs.uploadVsRawPut": [],
      "whylabs.uploadStreamVsRawPut": [],
      "whylabs.createCpuVsUndici": []
    }
    for (let round = 1; round <= context.rounds; round++) {
      const got: Record<string, Metrics> = {}
      const upload = async (variant: string) => {
        context.log(`upload · ${variant} (round ${round}/${context.rounds})`)
        return runVariant(context.outDir, started, "upload", variant, params)
      }
      // The gated pair (about a second of uploads each) runs A B B A, as bench/run.ts's long pairs do.
      for (const [variant, metrics] of await runABBA(uploadPair, upload)) got[`upload: ${variant}`] = metrics
      got[`upload: ${uploadStream}`] = await upload(uploadStream)
      for (const variant of createVariants) {
        context.log(`createSession · ${variant} (round ${round}/${context.rounds})`)
        got[`createSession: ${variant}`] = await runVariant(context.outDir, started, "create", variant, params)
      }
      for (const [row, metrics] of Object.entries(got)) (samples[row] ??= []).push(metrics)
      const raw = got["upload: undici.request PUT"]?.["mbPerSec"] ?? Number.NaN
      ratios["whylabs.uploadVsRawPut"]!.push((got["upload: effect-sessions (bytes)"]?.["mbPerSec"] ?? Number.NaN) / raw)
      ratios["whylabs.uploadStreamVsRawPut"]!.push((got["upload: effect-sessions (Stream)"]?.["mbPerSec"] ?? Number.NaN) / raw)
      const cpuKey = `cpuUsPerCall_c${size.concurrency}`
      ratios["whylabs.createCpuVsUndici"]!.push(
        (got["createSession: effect-sessions"]?.[cpuKey] ?? Number.NaN) / (got["createSession: undici.request"]?.[cpuKey] ?? Number.NaN)
      )
    }
    const rows: Record<string, Metrics> = {}
    for (const [row, runs] of Object.entries(samples)) rows[row] = medians(runs)
    return {
      rows,
      ratios,
      notes: [
        `upload: ${size.profileBytes / (1024 * 1024)} MB per upload, ${size.uploads} measured after one warm-up; effect-sessions runs uploadProfile (the create POST and the PUT), raw undici only the PUT to URLs fetched beforehand; UndiciHttpClient.layer`,
        "upload (Stream): the same bytes as a Stream of 64 KiB chunks with `size` (Content-Length), re-run per attempt",
        `createSession: ${size.createCalls} calls at concurrency ${size.concurrency} after ${size.createWarmup} warm-up calls; CPU per call of the client process`
      ]
    }
  } finally {
    await Promise.all(started.splice(0).map(stopChild))
  }
}

/** The scenario `bench/run.ts` discovers. */
export const whylabs: Scenario = { name: "whylabs", run }

// A child: this module, compiled, run with a role.
if (process.argv[1] !== undefined && pathToFileURL(Path.resolve(process.argv[1])).href === import.meta.url && selfPath.endsWith(".js")) {
  const [role = "", variant = "", raw = "{}"] = process.argv.slice(2)
  const params = JSON.parse(raw) as { url: string } & Sizes
  const main = role === "server"
    ? serverChild().then(() => undefined)
    : (role === "upload" ? uploadChild(variant, params) : role === "create" ? createChild(variant, params) : Promise.reject(new Error(`unknown role ${role}`)))
      .then((metrics) => new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(metrics)}\n`, () => resolve())))
      .then(() => process.exit(0))
  main.catch((e: unknown) => {
    console.error(e)
    process.exit(1)
  })
}
