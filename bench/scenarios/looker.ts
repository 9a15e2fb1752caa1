/**
 * The `looker` scenario: `getSession` at concurrency 16 on the Looker
 * emulator (on loopback, in a server process of its own), effect-sessions'
 * Looker client against the official `@looker/sdk-node`.
 *
 * Each variant runs in its own child process from a cold start (no token):
 * a warm-up, then the measured calls; it reports calls per second, CPU per
 * call of its process, peak RSS, and how many logins the emulator saw while
 * it ran (read from a stats route the server process adds beside the
 * emulator). Ratios, one value per round:
 * - `looker.throughputVsLookerSdk_c16`: ours over the official SDK's calls
 *   per second (target ≥ 1.3);
 * - `looker.logins`: our client's logins in that run (must be exactly 1).
 *
 * The children run this module compiled (`ctx.outDir`) when it is there,
 * else the TypeScript source under tsx (`node --import tsx`).
 */
import type * as EffectNS from "effect/Effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { childMetrics, median, rate, serverUrl, stopChild } from "../lib.js"
import type { Scenario, ScenarioContext, ScenarioResult } from "./Scenario.js"

type Metrics = Record<string, number>

interface Sizes {
  readonly warmup: number
  readonly calls: number
  readonly concurrency: number
}

const sizes = (quick: boolean): Sizes =>
  quick ? { warmup: 200, calls: 800, concurrency: 16 } : { warmup: 2_000, calls: 10_000, concurrency: 16 }

const ours = "effect-sessions"
const official = "@looker/sdk-node"
const variants = [ours, official] as const

/** The route the server process adds beside the emulator, for the children to read the login count. */
const statsPath = "/__bench/stats"

// ---------------------------------------------------------------------------
// the children

const clientId = "bench-client-id"
const clientSecret = "bench-client-secret-4e1f"

const logins = async (url: string): Promise<number> => {
  const response = await fetch(`${url}${statsPath}`)
  return ((await response.json()) as { logins: number }).logins
}

const variantChild = async (variant: string, p: { url: string } & Sizes): Promise<Metrics> => {
  const before = await logins(p.url)
  let measured: { cpuUsPerCall: number; callsPerSec: number }
  if (variant === official) {
    const { LookerNodeSDK, NodeSettings } = await import("@looker/sdk-node")
    class Settings extends NodeSettings {
      override readConfig() {
        return { client_id: clientId, client_secret: clientSecret }
      }
    }
    const settings = new Settings("LOOKERSDK_BENCH_UNSET", { base_url: p.url, verify_ssl: true, timeout: 30 } as never)
    const sdk = LookerNodeSDK.init40(settings)
    const call = () => sdk.ok(sdk.session())
    await rate(p.warmup, p.concurrency, call, true)
    measured = await rate(p.calls, p.concurrency, call)
  } else {
    // As an Effect program runs its calls: `concurrency` fibers in one runtime, each taking the next call.
    const Effect = await import("effect/Effect")
    const Layer = await import("effect/Layer")
    const ManagedRuntime = await import("effect/ManagedRuntime")
    const Redacted = await import("effect/Redacted")
    const { UndiciHttpClient } = await import("../../src/node/index.js")
    const Looker = await import("../../src/looker/index.js")
    const runtime = ManagedRuntime.make(
      Layer.provide(Looker.layer({ baseUrl: p.url, clientId, clientSecret: Redacted.make(clientSecret) }), UndiciHttpClient.layer)
    )
    const looker = await runtime.runPromise(Looker.Session)
    const rateEffect = (calls: number) =>
      Effect.suspend(() => {
        let next = 0
        const worker: EffectNS.Effect<void, unknown> = Effect.suspend(() =>
          next++ >= calls ? Effect.void : Effect.zipRight(looker.getSession(), worker)
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
    await runtime.runPromise(rateEffect(p.warmup))
    measured = await runtime.runPromise(rateEffect(p.calls))
    await runtime.dispose() // logs out
  }
  return {
    [`callsPerSec_c${p.concurrency}`]: measured.callsPerSec,
    [`cpuUsPerCall_c${p.concurrency}`]: measured.cpuUsPerCall,
    logins: (await logins(p.url)) - before,
    peakRssMB: process.resourceUsage().maxRSS / 1024
  }
}

/** The server child: the emulator on loopback (plus the stats route); prints its URL, runs until killed. */
const serverChild = async () => {
  const Effect = await import("effect/Effect")
  const HttpServerRequest = await import("@effect/platform/HttpServerRequest")
  const HttpServerResponse = await import("@effect/platform/HttpServerResponse")
  const Loopback = await import("../../src/testing/Loopback.js")
  const LookerEmulator = await import("../../src/testing/LookerEmulator.js")
  const program = Effect.gen(function*() {
    const emulator = yield* LookerEmulator.make({ clientId, clientSecret, expiresIn: 3600 })
    const app = Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
      request.url === statsPath
        ? Effect.map(emulator.stats, (stats) => HttpServerResponse.unsafeJson({ logins: stats.logins }))
        : emulator.app)
    const served = yield* Loopback.serve(app)
    process.stdout.write(`${JSON.stringify({ url: served.url })}\n`)
    return yield* Effect.never
  })
  await Effect.runPromise(Effect.scoped(program))
}

// ---------------------------------------------------------------------------
// the orchestration (in bench/run.ts's process)

const selfPath = fileURLToPath(import.meta.url)

/** How to start this module as a child: compiled JS when `outDir` has it, else the source under tsx. */
const childArgs = (outDir: string): Array<string> => {
  const compiled = Path.join(outDir, "bench", "scenarios", "looker.js")
  if (Fs.existsSync(compiled)) return [compiled]
  const source = selfPath.endsWith(".ts") ? selfPath : Path.resolve(Path.dirname(selfPath), "../../../bench/scenarios/looker.ts")
  return ["--import", "tsx", source]
}

const runVariant = (outDir: string, started: Array<ChildProcess>, variant: string, params: unknown) =>
  childMetrics(spawnChild(outDir, ["variant", variant, JSON.stringify(params)], started), `looker / ${variant}`, started)

const startServer = async (outDir: string, started: Array<ChildProcess>) => ({
  url: await serverUrl(spawnChild(outDir, ["server"], started), "looker", started)
})

const spawnChild = (outDir: string, args: ReadonlyArray<string>, started: Array<ChildProcess>): ChildProcess => {
  const child = spawn(process.execPath, [...childArgs(outDir), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOOKER_BENCH_CHILD: "1" }
  })
  started.push(child)
  return child
}




const run = async (context: ScenarioContext): Promise<ScenarioResult> => {
  const size = sizes(context.quick)
  const started: Array<ChildProcess> = []
  try {
    const server = await startServer(context.outDir, started)
    context.log(`looker emulator on ${server.url}; getSession × ${size.calls} at c${size.concurrency} after ${size.warmup} warm-up, ${context.rounds} round(s)`)
    const params = { url: server.url, ...size }
    const samples: Record<string, Array<Metrics>> = {}
    const throughput: Array<number> = []
    const loginCounts: Array<number> = []
    const key = `callsPerSec_c${size.concurrency}`
    for (let round = 1; round <= context.rounds; round++) {
      const got: Record<string, Metrics> = {}
      for (const variant of variants) {
        context.log(`looker · ${variant} (round ${round}/${context.rounds})`)
        got[variant] = await runVariant(context.outDir, started, variant, params)
        ;(samples[variant] ??= []).push(got[variant]!)
      }
      throughput.push((got[ours]?.[key] ?? Number.NaN) / (got[official]?.[key] ?? Number.NaN))
      loginCounts.push(got[ours]?.["logins"] ?? Number.NaN)
    }
    const rows: Record<string, Metrics> = {}
    for (const [variant, runs] of Object.entries(samples)) {
      const row: Metrics = {}
      for (const metric of new Set(runs.flatMap((r) => Object.keys(r)))) row[metric] = median(runs.map((r) => r[metric] ?? Number.NaN))
      rows[variant] = row
    }
    return {
      rows,
      ratios: { "looker.throughputVsLookerSdk_c16": throughput, "looker.logins": loginCounts },
      notes: [
        `getSession × ${size.calls} at concurrency ${size.concurrency} after ${size.warmup} warm-up calls, each variant from a cold start (no token) in its own process; CPU per call of the client process`,
        "effect-sessions: Looker.layer on UndiciHttpClient.layer (logs in lazily, single flight); @looker/sdk-node 26.12: LookerNodeSDK.init40 on its own fetch transport",
        "logins: what the emulator counted while the variant ran (warm-up included); the official SDK logs in once per concurrent cold call"
      ]
    }
  } finally {
    await Promise.all(started.splice(0).map(stopChild))
  }
}

/** The scenario `bench/run.ts` discovers. @since 0.1.0 */
export const looker: Scenario = { name: "looker", run }

// A child: this module run with a role.
if (
  process.env["LOOKER_BENCH_CHILD"] === "1" && process.argv[1] !== undefined &&
  pathToFileURL(Path.resolve(process.argv[1])).href === import.meta.url
) {
  const [role = "", variant = "", raw = "{}"] = process.argv.slice(2)
  const params = JSON.parse(raw) as { url: string } & Sizes
  const main = role === "server"
    ? serverChild().then(() => undefined)
    : (role === "variant" ? variantChild(variant, params) : Promise.reject(new Error(`unknown role ${role}`)))
      .then((metrics) => new Promise<void>((resolve) => process.stdout.write(`${JSON.stringify(metrics)}\n`, () => resolve())))
      .then(() => process.exit(0))
  main.catch((e: unknown) => {
    console.error(e)
    process.exit(1)
  })
}
