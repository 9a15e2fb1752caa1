/**
 * `npm run bench [-- --quick] [-- --tsx] [-- --only=overhead,stream] [-- --record]`
 *
 * The orchestrator: compiles bench/ and src/ to bench/.out/ (plain JS, so the
 * children carry no TypeScript loader), starts the server process (and the
 * real Jupyter Server when installed), runs every variant of every scenario
 * in its own child process, prints a table per scenario and the ratios
 * against their targets, and writes bench/results.json (`--record` also
 * writes bench/RESULTS.md). Every process it starts is killed by PID at the
 * end, also on failure.
 *
 * `--analyze=<file.cpuprofile>` prints that analysis for any profile.
 *
 * `--profile` runs the effect-sessions children under `node --cpu-prof` and
 * prints their self time grouped by layer (undici, Effect runtime, platform
 * HttpClient, our src/, schema decode, JSON, GC…); its numbers are not
 * written to results.json (profiling slows the children).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import ts from "typescript"
import { fmt, type JupyterTarget, machine, type Metrics, type RateParams, seedJupyter, type ServerInfo, table } from "./lib.js"

const benchDir = Path.dirname(fileURLToPath(import.meta.url))
const outDir = Path.join(benchDir, ".out")
const args = process.argv.slice(2)
const quick = args.includes("--quick")
const useTsx = args.includes("--tsx")
const record = args.includes("--record")
const profile = args.includes("--profile")
/** Extra node flags for every client child, for investigation (e.g. `BENCH_CHILD_FLAGS=--trace-gc`). */
const childFlags = (process.env["BENCH_CHILD_FLAGS"] ?? "").split(" ").filter((flag) => flag.length > 0)
/** The same for the server process (e.g. `BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/server"`). */
const serverFlags = (process.env["BENCH_SERVER_FLAGS"] ?? "").split(" ").filter((flag) => flag.length > 0)
/** Interleaved rounds of the overhead and jupyter variants (rows and ratios from medians). */
const rounds = Number(args.find((a) => a.startsWith("--rounds="))?.slice("--rounds=".length) ?? (quick ? 1 : 3))
const only = args.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",")
const wanted = (scenario: string) => only === undefined || only.includes(scenario)

/** Sizes: the full run, or about 1/50 of it (prefetch keeps 20 pages × 100 files × 20 ms so its ratio still means something). */
const size = quick
  ? {
    overhead: { warmup: 100, seq: 100, conc: 400, concurrency: 16 },
    jupyterEmulator: { warmup: 20, seq: 40, conc: 160, concurrency: 16 },
    jupyterReal: { warmup: 5, seq: 20, conc: 40, concurrency: 16 },
    largeFiles: 20_000,
    smallFiles: 2_000,
    prefetchPages: 20
  }
  : {
    overhead: { warmup: 3_000, seq: 5_000, conc: 20_000, concurrency: 16 },
    jupyterEmulator: { warmup: 500, seq: 2_000, conc: 8_000, concurrency: 16 },
    jupyterReal: { warmup: 50, seq: 300, conc: 1_000, concurrency: 16 },
    largeFiles: 1_000_000,
    smallFiles: 100_000,
    prefetchPages: 200
  }
const jupyterSessions = 50
const prefetchPageSize = 100
const latencyMs = 20

const label = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n))
const largeLabel = label(size.largeFiles)
const smallLabel = label(size.smallFiles)

// ---------------------------------------------------------------------------
// processes

const started: Array<ChildProcess> = []
const cleanups: Array<() => Promise<void>> = []

const stopProcess = (child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> =>
  new Promise((resolve) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, "SIGKILL")
    }, 10_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    process.kill(child.pid, signal)
  })

const cleanup = async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch((e) => console.error("cleanup:", e))
  await Promise.all(started.splice(0).map((child) => stopProcess(child)))
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void cleanup().finally(() => process.exit(130))
  })
}

/** Compiles src/ and bench/ to bench/.out/ with bench/tsconfig.json's options (transpile only: `npm run typecheck` checks types). */
const compile = () => {
  const configPath = Path.join(benchDir, "tsconfig.json")
  const config = ts.readConfigFile(configPath, ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, benchDir)
  const rootDir = parsed.options.rootDir ?? Path.dirname(benchDir)
  const compilerOptions: ts.CompilerOptions = {
    ...parsed.options,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    incremental: false,
    sourceMap: false
  }
  delete compilerOptions.tsBuildInfoFile
  for (const file of parsed.fileNames) {
    const target = Path.join(outDir, Path.relative(rootDir, file)).replace(/\.ts$/, ".js")
    const { outputText } = ts.transpileModule(Fs.readFileSync(file, "utf8"), { fileName: file, compilerOptions })
    Fs.mkdirSync(Path.dirname(target), { recursive: true })
    if (!Fs.existsSync(target) || Fs.readFileSync(target, "utf8") !== outputText) Fs.writeFileSync(target, outputText)
  }
}

/** How to start a bench script: compiled JS on plain node, or the .ts under tsx (`--tsx`, to compare). */
const script = (name: string): Array<string> =>
  useTsx ? ["--import", "tsx", Path.join(benchDir, `${name}.ts`)] : [Path.join(outDir, "bench", `${name}.js`)]

/** Starts the server process and waits for its JSON line. */
const startServer = (): Promise<ServerInfo> =>
  new Promise((resolve, reject) => {
    const params = {
      largeFiles: size.largeFiles,
      smallFiles: size.smallFiles,
      slowFiles: size.prefetchPages * prefetchPageSize,
      latencyMs,
      jupyterSessions
    }
    const child = spawn(process.execPath, [...serverFlags, ...script("server"), JSON.stringify(params)], {
      stdio: ["pipe", "pipe", "inherit"]
    })
    started.push(child)
    let buffer = ""
    const timer = setTimeout(() => reject(new Error("the server did not start within 60 s")), 60_000)
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      buffer += chunk
      const newline = buffer.indexOf("\n")
      if (newline === -1) return
      clearTimeout(timer)
      child.stdout.removeAllListeners("data")
      child.stdout.resume()
      try {
        resolve(JSON.parse(buffer.slice(0, newline)) as ServerInfo)
      } catch (e) {
        reject(e)
      }
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`the server exited (${code ?? signal})`))
    })
  })

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject()))
    })
  })

const python = "/usr/bin/python3"

/** Starts the real Jupyter Server, seeded with sessions sharing one kernel; a reason string when it cannot. */
const startJupyter = async (): Promise<JupyterTarget | string> => {
  if (!Fs.existsSync(python)) return `${python} not found`
  const probe = spawnSync(python, ["-c", "import jupyter_server, ipykernel"], { stdio: "ignore" })
  if (probe.status !== 0) return "jupyter_server / ipykernel not installed"
  const port = await freePort()
  const token = randomBytes(16).toString("hex")
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "bench-jupyter-"))
  Fs.mkdirSync(Path.join(root, "bench"))
  const log = Fs.openSync(Path.join(root, "server.log"), "w")
  const child = spawn(python, [
    "-m",
    "jupyter_server",
    "--no-browser",
    "--allow-root",
    "--ip=127.0.0.1",
    `--port=${port}`,
    `--ServerApp.token=${token}`,
    `--ServerApp.root_dir=${root}`
  ], {
    stdio: ["ignore", log, log],
    env: { ...process.env, JUPYTER_RUNTIME_DIR: Path.join(root, "runtime") }
  })
  started.push(child)
  const url = `http://127.0.0.1:${port}`
  cleanups.push(async () => {
    // Shut the kernels down through the API first, then the server.
    try {
      const kernels = (await (await fetch(`${url}/api/kernels`, { headers: { authorization: `token ${token}` } }))
        .json()) as ReadonlyArray<{ id: string }>
      for (const k of kernels) {
        await fetch(`${url}/api/kernels/${k.id}`, { method: "DELETE", headers: { authorization: `token ${token}` } })
      }
    } catch {
      // the server is gone already
    }
    await stopProcess(child)
    Fs.closeSync(log)
    Fs.rmSync(root, { recursive: true, force: true })
  })
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) {
      const tail = Fs.readFileSync(Path.join(root, "server.log"), "utf8").trim().split("\n").slice(-3).join(" / ")
      return `jupyter_server exited (${child.exitCode}): ${tail}`
    }
    try {
      if ((await fetch(`${url}/api`)).status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) return "jupyter_server did not answer GET /api within 60 s"
    await new Promise((r) => setTimeout(r, 200))
  }
  const sessionIds = await seedJupyter(url, token, jupyterSessions, true)
  return { url, token, sessionIds }
}

/** Runs one variant in its own process; its metrics, or the error. */
const runChild = (scenario: string, variant: string, params: unknown, tag = ""): Promise<Metrics | Error> =>
  new Promise((resolve) => {
    const profiled = profile && (variant.startsWith("effect-sessions") || scenario === "prefetch")
    const profileName = `${scenario}-${variant}${tag}`.replace(/[^\w.-]+/g, "_") + ".cpuprofile"
    const flags = [
      ...(profiled ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${profileName}`] : []),
      ...childFlags
    ]
    const child = spawn(process.execPath, [...flags, ...script("client"), scenario, variant, JSON.stringify(params)], {
      stdio: ["ignore", "pipe", "inherit"],
      env: profiled ? { ...process.env, BENCH_PROFILE: "1" } : process.env
    })
    started.push(child)
    let out = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => (out += chunk))
    const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), 600_000)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      started.splice(started.indexOf(child), 1)
      const lines = out.trim().split("\n")
      const last = lines.pop() ?? ""
      if (childFlags.length > 0) {
        // What the flags printed (e.g. --trace-gc) goes to bench/.out/logs/, one file per child.
        Fs.mkdirSync(Path.join(outDir, "logs"), { recursive: true })
        Fs.writeFileSync(Path.join(outDir, "logs", profileName.replace(/\.cpuprofile$/, ".log")), lines.join("\n"))
      }
      if (code !== 0) return resolve(new Error(`${scenario} / ${variant}: exited ${code ?? signal}`))
      let metrics: Metrics
      try {
        metrics = JSON.parse(last) as Metrics
      } catch {
        return resolve(new Error(`${scenario} / ${variant}: no metrics line (${last.slice(0, 200)})`))
      }
      const from = metrics["profileFromUs"]
      delete metrics["profileFromUs"]
      if (profiled) profiles.push([`${scenario} · ${variant}${tag}`, analyze(Path.join(profileDir, profileName), from)])
      resolve(metrics)
    })
  })

// ---------------------------------------------------------------------------
// profiles

const profileDir = Path.join(outDir, "profiles")
const profiles: Array<readonly [string, string]> = []

interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    readonly id: number
    readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number }
    readonly children?: ReadonlyArray<number>
  }>
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const socketWrites = new Set(["writeLatin1String", "writeUtf8String", "writeBuffer", "writev", "writeAsciiString"])

/** effect's generic helpers (dual, hasProperty, Option, Either…): their time is booked to the layer that called them. */
const helpers = /\/effect\/dist\/esm\/(Function|Predicate|Option|Either|Equal|Hash|Utils|internal\/option|internal\/either)\.js$/

/** The layer a profile frame belongs to. */
const layerOf = (url: string, name: string): string => {
  if (url === "") {
    if (name === "(garbage collector)") return "GC"
    if (name === "(idle)") return "(idle)"
    if (name === "parse" || name === "stringify") return "JSON.parse"
    if (socketWrites.has(name)) return "socket writes (syscall)"
    return "V8 / native other"
  }
  if (url.includes("/node_modules/undici/") || url.startsWith("node:internal/deps/undici")) return "undici"
  if (/\/effect\/dist\/esm\/(Schema|ParseResult|SchemaAST|internal\/schema\/)/.test(url)) return "schema decode (effect/Schema)"
  if (url.includes("/node_modules/effect/")) return "effect core runtime"
  if (url.includes("/node_modules/@effect/platform")) return "@effect/platform HttpClient (+ platform-node)"
  // V8 books the JSON.parse builtin to its caller: ApiClient's parseJson is nothing but that call.
  if (name === "parseJson" && url.endsWith("/src/core/ApiClient.js")) return "JSON.parse"
  const ours = /\/src\/(.+)\.js$/.exec(url)
  if (ours) return `effect-sessions src/${ours[1]}`
  if (url.startsWith("node:")) return "node internals (net, streams, events, loader)"
  if (url.includes("/bench/")) return "bench harness"
  return "other"
}

/**
 * Self time of a `.cpuprofile` from `fromUs` on (the measured phases: module
 * loading and warm-up left out), by layer and by function; idle time is left
 * out of the percentages.
 */
const analyze = (file: string, fromUs = 0): string => {
  const prof = JSON.parse(Fs.readFileSync(file, "utf8")) as CpuProfile
  const byId = new Map(prof.nodes.map((n) => [n.id, n.callFrame]))
  const parent = new Map<number, number>()
  for (const node of prof.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  /** The layer of a sample: its frame's, or for an effect helper the first caller's that is not one. */
  const layerOfNode = (id: number): string => {
    let at: number | undefined = id
    while (at !== undefined) {
      const frame = byId.get(at)
      if (frame === undefined) break
      if (!helpers.test(frame.url)) return layerOf(frame.url, frame.functionName)
      at = parent.get(at)
    }
    return "effect core runtime"
  }
  const self = new Map<number, number>()
  let at = prof.startTime
  prof.samples.forEach((id, i) => {
    const delta = prof.timeDeltas[i] ?? 0
    at += delta
    if (at >= fromUs) self.set(id, (self.get(id) ?? 0) + delta)
  })
  const layers = new Map<string, number>()
  const functions = new Map<string, number>()
  let busy = 0
  for (const [id, micros] of self) {
    const frame = byId.get(id)
    if (frame === undefined) continue
    const layer = layerOfNode(id)
    if (layer === "(idle)") continue
    busy += micros
    layers.set(layer, (layers.get(layer) ?? 0) + micros)
    const where = frame.url === "" ? "" : ` ${frame.url.replace(/^.*\/node_modules\//, "").replace(/^.*\/\.out\//, "")}:${frame.lineNumber + 1}`
    const key = `${frame.functionName || "(anonymous)"}${where}`
    functions.set(key, (functions.get(key) ?? 0) + micros)
  }
  const pct = (n: number) => `${((100 * n) / busy).toFixed(1)}%`
  const top = (map: Map<string, number>, count: number) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, count).map(([k, v]) => [k, pct(v)])
  return `busy CPU ${(busy / 1e6).toFixed(2)} s in the measured phases (${Path.basename(file)})\n\n${
    table(["layer (effect helpers such as dual/hasProperty booked to their caller)", "self"], top(layers, 20))
  }\n\n${
    table(["function (top 20 by self time)", "self"], top(functions, 20))
  }`
}

// ---------------------------------------------------------------------------
// scenarios

type Scenario = Record<string, Metrics>
const scenarios: Record<string, Scenario> = {}
const failures: Array<string> = []
const notes: Array<string> = []

/** Runs a variant (`clientScenario` is what client.ts calls it) and files its metrics under `scenario`. */
/** Every run of each variant (scenario → variant → one metrics object per round). */
const samples: Record<string, Record<string, Array<Metrics>>> = {}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const measure = async (scenario: string, clientScenario: string, variant: string, params: unknown, round = "") => {
  process.stderr.write(`  ${scenario} · ${variant}${round} …\n`)
  const result = await runChild(clientScenario, variant, params, scenario === clientScenario ? "" : ` · ${scenario}`)
  if (result instanceof Error) {
    failures.push(result.message)
    console.error(`  ✗ ${result.message}`)
    return
  }
  const runs = ((samples[scenario] ??= {})[variant] ??= [])
  runs.push(result)
  // The row is the median of the variant's runs, metric by metric.
  const row: Metrics = {}
  for (const key of Object.keys(result)) row[key] = median(runs.map((r) => r[key]!).filter((v) => v !== undefined))
  if (runs.length > 1) row["runs"] = runs.length
  ;(scenarios[scenario] ??= {})[variant] = row
}

/**
 * Runs the variants `rounds` times, interleaved (A B C, A B C, …), so that a
 * busy spell of the shared machine hits every variant alike; rows are medians.
 * Variants in `once` run in the first round only (information, not ratios).
 */
const measureRounds = async (
  scenario: string,
  clientScenario: string,
  variants: ReadonlyArray<string>,
  params: unknown,
  once: ReadonlyArray<string> = []
) => {
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      if (round > 1 && once.includes(variant)) continue
      await measure(scenario, clientScenario, variant, params, rounds > 1 ? ` (round ${round}/${rounds})` : "")
    }
  }
}

/** Renders one scenario: a row per variant and mode (`_seq`, `_c16`, …), a column per metric. */
const render = (
  scenario: string,
  modes: ReadonlyArray<string>,
  columns: ReadonlyArray<readonly [metric: string, header: string]>
) => {
  const rows: Array<Array<string>> = []
  for (const [variant, metrics] of Object.entries(scenarios[scenario] ?? {})) {
    for (const mode of modes) {
      // A metric of the variant (`peakRssMB`), of the operation (`fibersPerCall_list`) or of the mode (`p50Ms_list_c16`).
      const value = (metric: string) =>
        metrics[mode === "" ? metric : `${metric}_${mode}`] ?? metrics[`${metric}_${mode.split("_")[0]}`] ??
          metrics[metric]
      if (mode !== "" && columns.every(([metric]) => metrics[`${metric}_${mode}`] === undefined)) continue
      rows.push([mode === "" ? variant : `${variant} · ${mode}`, ...columns.map(([metric]) => fmt(value(metric)))])
    }
  }
  return rows.length === 0 ? "(no rows)" : table(["variant", ...columns.map(([, h]) => h)], rows)
}

const rateColumns = [
  ["reqPerSec", "req/s"],
  ["cpuUsPerReq", "CPU µs/req"],
  ["p50Ms", "p50 ms"],
  ["p99Ms", "p99 ms"],
  ["fibersPerCall", "fibers forked/call"],
  ["peakRssMB", "peak RSS MB"]
] as const

const overheadScenario = async (info: ServerInfo) => {
  const p = {
    ...size.overhead,
    url: info.deepset.url,
    apiKey: info.deepset.apiKey,
    workspace: info.deepset.workspace,
    session: info.deepset.statusSession
  }
  const informational = ["effect-sessions (undici)", "effect-sessions (fetch)", "@effect/platform HttpClient (undici)"]
  await measureRounds(
    "overhead",
    "overhead",
    ["effect-sessions (UndiciHttpClient)", ...informational, "undici.request", "fetch"],
    p,
    informational
  )
}

const jupyterVariants = ["effect-sessions", "@jupyterlab/services", "undici.request"]

const jupyterScenario = async (
  name: string,
  target: JupyterTarget | string,
  rate: RateParams
) => {
  if (typeof target === "string") {
    notes.push(`${name}: skipped: ${target}`)
    console.error(`  ${name}: skipped: ${target}`)
    return
  }
  await measureRounds(name, "jupyter", jupyterVariants, { ...rate, ...target })
}

const streamScenario = async (info: ServerInfo) => {
  const d = info.deepset
  const base = { url: d.url, apiKey: d.apiKey, workspace: d.workspace, warmSession: d.warmSession, pageSize: d.maxPageSize }
  for (const variant of ["effect-sessions", "hand loop (JSON.parse)", "hand loop + schema"]) {
    for (const [session, files, tag] of [[d.largeSession, d.largeFiles, largeLabel], [d.smallSession, d.smallFiles, smallLabel]] as const) {
      process.stderr.write(`  stream · ${variant} · ${tag} files …\n`)
      const metrics = await runChild("stream", variant, { ...base, session, files }, ` · ${tag}`)
      if (metrics instanceof Error) {
        failures.push(metrics.message)
        console.error(`  ✗ ${metrics.message}`)
        continue
      }
      const rows = (scenarios["stream"] ??= {})
      const row = (rows[variant] ??= {})
      for (const [k, v] of Object.entries(metrics)) if (k !== "childSeconds") row[`${k}_${tag}`] = v
    }
  }
}

const prefetchScenario = async (info: ServerInfo) => {
  const s = info.slow
  for (const prefetch of [1, 2, 4, 8]) {
    await measure("prefetch", "prefetch", `prefetch ${prefetch}`, {
      url: s.url,
      apiKey: s.apiKey,
      workspace: s.workspace,
      session: s.session,
      files: s.files,
      warmSession: s.warmSession,
      pageSize: prefetchPageSize,
      prefetch
    })
  }
  const rows = scenarios["prefetch"] ?? {}
  const one = rows["prefetch 1"]?.["seconds"]
  for (const row of Object.values(rows)) {
    const seconds = row["seconds"]
    if (one !== undefined && seconds !== undefined) row["speedupVsPrefetch1"] = one / seconds
  }
}

// ---------------------------------------------------------------------------
// ratios

const ratios: Record<string, number> = {}
const m = (scenario: string, variant: string, metric: string): number =>
  scenarios[scenario]?.[variant]?.[metric] ?? Number.NaN

const computeRatios = () => {
  const c = size.overhead
  const cpu = (v: string) =>
    (m("overhead", v, "cpuUsPerReq_seq") * c.seq + m("overhead", v, "cpuUsPerReq_c16") * c.conc) / (c.seq + c.conc)
  ratios["overhead.cpuPerRequestVsUndici"] = cpu("effect-sessions (UndiciHttpClient)") / cpu("undici.request")
  ratios["overhead.cpuPerRequestVsUndici_seq"] = m("overhead", "effect-sessions (UndiciHttpClient)", "cpuUsPerReq_seq") /
    m("overhead", "undici.request", "cpuUsPerReq_seq")
  ratios["overhead.cpuPerRequestVsUndici_c16"] = m("overhead", "effect-sessions (UndiciHttpClient)", "cpuUsPerReq_c16") /
    m("overhead", "undici.request", "cpuUsPerReq_c16")
  ratios["overhead.throughputVsFetch_c16"] = m("overhead", "effect-sessions (UndiciHttpClient)", "reqPerSec_c16") /
    m("overhead", "fetch", "reqPerSec_c16")
  ratios["overhead.throughputVsUndici_c16"] = m("overhead", "effect-sessions (UndiciHttpClient)", "reqPerSec_c16") /
    m("overhead", "undici.request", "reqPerSec_c16")

  const jl = (scenario: string, op: string) =>
    m(scenario, "effect-sessions", `reqPerSec_${op}_c16`) / m(scenario, "@jupyterlab/services", `reqPerSec_${op}_c16`)
  for (const scenario of ["jupyter", "jupyterReal"]) {
    if (scenarios[scenario] === undefined) continue
    const list = jl(scenario, "list")
    const get = jl(scenario, "get")
    ratios[`${scenario}.throughputVsJupyterlab_c16`] = Math.sqrt(list * get)
    ratios[`${scenario}.throughputVsJupyterlab_list_c16`] = list
    ratios[`${scenario}.throughputVsJupyterlab_get_c16`] = get
  }

  ratios["stream.throughputVsHandLoop"] = m("stream", "effect-sessions", `itemsPerSec_${largeLabel}`) /
    m("stream", "hand loop (JSON.parse)", `itemsPerSec_${largeLabel}`)
  ratios["stream.throughputVsHandLoopSchema"] = m("stream", "effect-sessions", `itemsPerSec_${largeLabel}`) /
    m("stream", "hand loop + schema", `itemsPerSec_${largeLabel}`)
  ratios[`stream.rss1MOver100k`] = m("stream", "effect-sessions", `peakRssMB_${largeLabel}`) /
    m("stream", "effect-sessions", `peakRssMB_${smallLabel}`)
  ratios["prefetch.speedup4"] = m("prefetch", "prefetch 4", "speedupVsPrefetch1")
  for (const [k, v] of Object.entries(ratios)) if (Number.isNaN(v)) delete ratios[k]
}

/** Targets: name, comparison, bound, and where the value comes from. */
const targets: ReadonlyArray<readonly [string, "≤" | "≥" | "<", number, () => number]> = [
  ["overhead.cpuPerRequestVsUndici", "≤", 1.15, () => ratios["overhead.cpuPerRequestVsUndici"] ?? Number.NaN],
  ["overhead.throughputVsFetch_c16", "≥", 1.3, () => ratios["overhead.throughputVsFetch_c16"] ?? Number.NaN],
  ["jupyter.throughputVsJupyterlab_c16", "≥", 1.3, () => ratios["jupyter.throughputVsJupyterlab_c16"] ?? Number.NaN],
  ["stream.throughputVsHandLoop", "≥", 0.8, () => ratios["stream.throughputVsHandLoop"] ?? Number.NaN],
  ["stream.rss1MOver100k", "≤", 1.2, () => ratios["stream.rss1MOver100k"] ?? Number.NaN],
  [`stream peakRssMB at ${largeLabel}`, "<", 150, () => m("stream", "effect-sessions", `peakRssMB_${largeLabel}`)],
  ["prefetch.speedup4", "≥", 3, () => ratios["prefetch.speedup4"] ?? Number.NaN]
]

const verdict = (op: "≤" | "≥" | "<", value: number, bound: number) =>
  Number.isNaN(value) ? "skipped" : (op === "≤" ? value <= bound : op === "≥" ? value >= bound : value < bound) ? "✓" : "✗"

// ---------------------------------------------------------------------------
// main

const tables = (): string => {
  const sections: Array<string> = []
  const add = (title: string, body: string) => sections.push(`### ${title}\n\n${body}`)
  if (scenarios["overhead"]) {
    add(
      `overhead — getStatus on the deepset emulator: ${size.overhead.seq.toLocaleString("en-US")} sequential, ${
        size.overhead.conc.toLocaleString("en-US")
      } at concurrency 16`,
      render("overhead", ["seq", "c16"], rateColumns)
    )
  }
  for (const [name, where, rate] of [
    ["jupyter", "Jupyter emulator", size.jupyterEmulator],
    ["jupyterReal", "real Jupyter Server", size.jupyterReal]
  ] as const) {
    if (scenarios[name]) {
      add(
        `${name} — listSessions (${jupyterSessions} sessions) and getSession on the ${where}: ${rate.seq} sequential, ${rate.conc} at concurrency 16`,
        render(name, ["list_seq", "list_c16", "get_seq", "get_c16"], rateColumns)
      )
    }
  }
  if (scenarios["stream"]) {
    add(
      `stream — streamFiles over ${largeLabel} and ${smallLabel} files, pages of 1000`,
      render("stream", [largeLabel, smallLabel], [
        ["itemsPerSec", "items/s"],
        ["seconds", "s"],
        ["cpuUsPerItem", "CPU µs/item"],
        ["peakRssMB", "peak RSS MB"]
      ])
    )
  }
  if (scenarios["prefetch"]) {
    add(
      `prefetch — ${size.prefetchPages} pages of ${prefetchPageSize} files, ${latencyMs} ms server latency per page`,
      render("prefetch", [""], [["seconds", "s"], ["itemsPerSec", "items/s"], ["speedupVsPrefetch1", "speedup"], [
        "peakRssMB",
        "peak RSS MB"
      ]])
    )
  }
  const targetRows = targets.map(([name, op, bound, get]) => {
    const value = get()
    return [name, fmt(value), `${op} ${bound}`, verdict(op, value, bound)]
  })
  const infoRows = Object.entries(ratios)
    .filter(([name]) => !targets.some(([t]) => t === name))
    .map(([name, value]) => [name, fmt(value), "(info)", ""])
  add("ratios", table(["ratio", "value", "target", ""], [...targetRows, ...infoRows]))
  return sections.join("\n\n")
}

const main = async () => {
  const t0 = performance.now()
  const loadAtStart = Os.loadavg()[0] ?? 0
  const lap = (name: string) =>
    process.stderr.write(`  (${name} done at ${((performance.now() - t0) / 1000).toFixed(1)} s)\n`)
  process.stderr.write(`bench${quick ? " --quick" : ""}: compiling to bench/.out …\n`)
  compile()
  // The real Jupyter Server starts (and is seeded) while the emulators start; both are ready before any measurement.
  const jupyterClient = Fs.existsSync(Path.join(benchDir, "..", "src", "jupyter", "index.ts"))
  const realJupyter = wanted("jupyter") && jupyterClient
    ? startJupyter().catch((e: unknown) => `could not start: ${e instanceof Error ? e.message : String(e)}`)
    : Promise.resolve("not wanted")
  const info = await startServer()
  const real = await realJupyter
  process.stderr.write(`server: deepset ${info.deepset.url}, slow ${info.slow.url}, jupyter emulator ${
    "url" in info.jupyter ? info.jupyter.url : info.jupyter.skipped
  }, real Jupyter Server ${typeof real === "string" ? real : real.url}\n`)
  lap("setup")

  if (wanted("overhead")) await overheadScenario(info).then(() => lap("overhead"))
  if (wanted("jupyter")) {
    if (!jupyterClient) {
      console.log("jupyter: skipped: jupyter client not available")
      notes.push("jupyter: skipped: jupyter client not available")
    } else {
      await jupyterScenario("jupyter", "url" in info.jupyter ? info.jupyter : info.jupyter.skipped, size.jupyterEmulator)
      await jupyterScenario("jupyterReal", real, size.jupyterReal)
      lap("jupyter")
    }
  }
  if (wanted("stream")) await streamScenario(info).then(() => lap("stream"))
  if (wanted("prefetch")) await prefetchScenario(info).then(() => lap("prefetch"))

  computeRatios()
  const seconds = (performance.now() - t0) / 1000
  const host = machine()
  const output = tables()
  console.log(`\n${output}\n`)
  for (const note of notes) console.log(note)
  for (const [name, text] of profiles) console.log(`\n### CPU profile: ${name}\n\n${text}`)
  const loadAtEnd = Os.loadavg()[0] ?? 0
  const load = `load average (1 min) ${loadAtStart.toFixed(2)} at start, ${loadAtEnd.toFixed(2)} at end`
  console.log(`\n${host.cpuModel}, ${host.cores} cores, ${host.memoryGB} GB, node ${host.node}, ${host.os}; ${load}`)
  console.log(`children on ${useTsx ? "tsx" : "compiled JS (plain node)"}; whole run ${seconds.toFixed(1)} s`)

  const results = {
    machine: host,
    scenarios,
    ratios,
    run: {
      quick,
      children: useTsx ? "tsx" : "node",
      seconds,
      date: new Date().toISOString(),
      loadAverage1m: { start: loadAtStart, end: loadAtEnd },
      failures,
      notes
    }
  }
  if (!profile) Fs.writeFileSync(Path.join(benchDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`)
  if (record) {
    const command = `npm run bench${quick ? " -- --quick" : ""}`
    Fs.writeFileSync(
      Path.join(benchDir, "RESULTS.md"),
      `# Benchmark results\n\nFrom one full run of \`${command}\` (${new Date().toISOString().slice(0, 10)}, ${
        seconds.toFixed(0)
      } s in all).\n\nMachine: ${host.cpuModel}, ${host.cores} cores, ${host.memoryGB} GB RAM, Node ${host.node}, ${host.os}; ${load}. Server and client share the machine (server in one process, each client variant in its own).\n\n${output}\n${
        notes.length > 0 ? `\n${notes.map((n) => `- ${n}`).join("\n")}\n` : ""
      }`
    )
  }
  if (failures.length > 0) {
    console.error(`\n${failures.length} variant(s) failed:\n${failures.join("\n")}`)
    process.exitCode = 1
  }
}

const analyzeOnly = args.find((a) => a.startsWith("--analyze="))?.slice("--analyze=".length)
try {
  if (analyzeOnly === undefined) await main()
  else console.log(analyze(analyzeOnly))
} catch (e) {
  console.error(e)
  process.exitCode = 1
} finally {
  await cleanup()
}
