/**
 * `npm run bench [-- --quick] [-- --only=overhead,stream] [-- --record] [-- --no-gate] [-- --rounds=N]`
 *
 * The orchestrator: compiles src/, bench/ and test/support/ to bench/.out/
 * (plain JS, so the children carry no TypeScript loader), starts the server
 * process (and the real Jupyter Servers, 1.23 and 2.x, when installed), runs
 * every variant of every scenario in its own child process over interleaved
 * rounds, runs every scenario module of bench/scenarios/ (the
 * {@link Scenario.Scenario} contract), prints a table per scenario and every
 * ratio (median and min..max over rounds) against its target, and writes
 * bench/results.json (`--record` also writes bench/RESULTS.md). Every process
 * it starts is killed by PID at the end, also on failure.
 *
 * Gating: a gated ratio is met when all its rounds are on the right side of
 * the target, missed when all are on the wrong side, and not decided when its
 * spread crosses the target. A full run exits 1 when a gated ratio is missed
 * (unless `--no-gate`) or a variant or scenario failed; `--quick` never gates.
 *
 * `--analyze=<file.cpuprofile>` prints that analysis for any profile.
 *
 * `--profile` runs every client child under `node --cpu-prof` and prints
 * their self time grouped by layer (undici, Effect runtime, platform
 * HttpClient, our src/, schema decode, JSON, GC…); its numbers are not
 * written to results.json (profiling slows the children).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import ts from "typescript"
import {
  fmt,
  type JupyterTarget,
  machine,
  median,
  type Metrics,
  type RateParams,
  runABBA,
  seedJupyter,
  type ServerInfo,
  table
} from "./lib.js"
import type * as Scenario from "./scenarios/Scenario.js"

const benchDir = Path.dirname(fileURLToPath(import.meta.url))
const repoDir = Path.dirname(benchDir)
const outDir = Path.join(benchDir, ".out")
/** Where the scenario modules are (`BENCH_SCENARIOS_DIR` to try the runner on other modules). */
const scenariosDir = process.env["BENCH_SCENARIOS_DIR"] ?? Path.join(benchDir, "scenarios")
const args = process.argv.slice(2)
const quick = args.includes("--quick")
const useTsx = args.includes("--tsx")
const record = args.includes("--record")
const profile = args.includes("--profile")
const noGate = args.includes("--no-gate")
/** Extra node flags for every client child, for investigation (e.g. `BENCH_CHILD_FLAGS=--trace-gc`). */
const childFlags = (process.env["BENCH_CHILD_FLAGS"] ?? "").split(" ").filter((flag) => flag.length > 0)
/** The same for the server process (e.g. `BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/server"`). */
const serverFlags = (process.env["BENCH_SERVER_FLAGS"] ?? "").split(" ").filter((flag) => flag.length > 0)
/** Interleaved rounds of every scenario (rows are medians, ratios have a spread): 3 in a full run, 1 with --quick or --profile. */
const rounds = Math.max(
  1,
  Number(args.find((a) => a.startsWith("--rounds="))?.slice("--rounds=".length) ?? (quick || profile ? 1 : 3))
)
const only = args.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",").filter((s) => s !== "")
const wanted = (scenario: string) => only === undefined || only.includes(scenario)
const builtIn = ["overhead", "jupyter", "jupyterReal", "jupyterReal2", "stream", "prefetch"]

/** Sizes: the full run, or about 1/50 of it (prefetch keeps 20 pages × 100 files × 20 ms so its ratio still means something). */
const size = quick
  ? {
    overhead: { warmup: 50, seq: 50, conc: 200, concurrency: 16 },
    overheadGeneric: { warmup: 50, seq: 50, conc: 100, concurrency: 16 },
    jupyterEmulator: { warmup: 20, seq: 40, conc: 160, concurrency: 16 },
    jupyterReal: { warmup: 5, seq: 20, conc: 40, concurrency: 16 },
    largeFiles: 20_000,
    smallFiles: 2_000,
    prefetchPages: 20
  }
  : {
    // Sizes per round: three interleaved rounds of every variant must fit in ~15 min on a shared 2-core machine, and
    // the rounds' spread (not the size of one round) is what says how far a ratio can be trusted.
    // The sequential phase is the noisy one on a shared machine (each call waits for the server, ~0.3 ms): 6 000 calls.
    overhead: { warmup: 2_000, seq: 6_000, conc: 12_000, concurrency: 16 },
    // The generic-path pairs (effect-sessions and the platform client alone, on undici and on fetch) cost 2–4× more
    // per call; their gated ratio is sequential (6 000 calls, as noisy per call as the main pair's), so their
    // concurrent phase is shorter.
    overheadGeneric: { warmup: 2_000, seq: 6_000, conc: 1_500, concurrency: 16 },
    jupyterEmulator: { warmup: 300, seq: 500, conc: 1_500, concurrency: 16 },
    jupyterReal: { warmup: 30, seq: 200, conc: 500, concurrency: 16 },
    largeFiles: 1_000_000,
    smallFiles: 100_000,
    prefetchPages: 200
  }
const jupyterSessions = 50
/** Sessions seeded on the real servers (each is a POST the server takes its time over; fewer in a quick run). */
const realJupyterSessions = quick ? 20 : jupyterSessions
const prefetchPageSize = 100
const latencyMs = 20
/** The stream's prefetch depths; the gated ratios use {@link gatedPrefetch} (the library's default). */
const streamPrefetch = [1, 4] as const
const gatedPrefetch = 4

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

/**
 * Compiles src/, bench/ (scenario modules included) and test/support/ to
 * bench/.out/ with bench/tsconfig.json's options (transpile only: `npx tsc
 * -p bench/tsconfig.json` checks the types).
 */
const compile = () => {
  const configPath = Path.join(benchDir, "tsconfig.json")
  const config = ts.readConfigFile(configPath, ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, benchDir)
  const rootDir = parsed.options.rootDir ?? repoDir
  const compilerOptions: ts.CompilerOptions = {
    ...parsed.options,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    incremental: false,
    sourceMap: false
  }
  delete compilerOptions.tsBuildInfoFile
  // A file whose JS is newer than its source (and than the options) is not transpiled again.
  const optionsTime = Math.max(Fs.statSync(configPath).mtimeMs, Fs.statSync(fileURLToPath(import.meta.url)).mtimeMs)
  for (const file of parsed.fileNames) {
    if (file.endsWith(".d.ts")) continue
    const target = Path.join(outDir, Path.relative(rootDir, file)).replace(/\.ts$/, ".js")
    const built = Fs.statSync(target, { throwIfNoEntry: false })?.mtimeMs
    if (built !== undefined && built > Math.max(optionsTime, Fs.statSync(file).mtimeMs)) continue
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

/** The real Jupyter Servers: Debian's 1.23 and the 2.x of the `jupyter2` venv (`.ci/venvs.sh`, see test/support/Venvs.ts). */
const venvRoot = process.env["EFFECT_SESSIONS_VENVS"] ?? Path.join(Os.homedir(), ".cache/effect-sessions/venvs")
const jupyterServers = {
  jupyterReal: { python: "/usr/bin/python3", version: "1.23", tokenFlag: "--ServerApp.token", venv: undefined },
  jupyterReal2: {
    python: Path.join(venvRoot, "jupyter2", "bin", "python"),
    version: "2.x",
    tokenFlag: "--IdentityProvider.token",
    venv: Path.join(venvRoot, "jupyter2")
  }
} as const

/** Starts a real Jupyter Server, seeded with sessions sharing one kernel; a reason string when it cannot. */
const startJupyter = async (which: keyof typeof jupyterServers): Promise<JupyterTarget | string> => {
  const { python, tokenFlag, venv } = jupyterServers[which]
  if (venv !== undefined && !Fs.existsSync(Path.join(venv, ".stamp"))) {
    return `the jupyter2 virtualenv is missing at ${venv}: run bash .ci/venvs.sh`
  }
  if (!Fs.existsSync(python)) return `${python} not found`
  const probe = spawnSync(python, ["-c", "import jupyter_server, ipykernel; print(jupyter_server.__version__)"], {
    encoding: "utf8"
  })
  if (probe.status !== 0) return `jupyter_server / ipykernel cannot be imported by ${python}`
  const version = probe.stdout.trim()
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
    `${tokenFlag}=${token}`,
    `--ServerApp.root_dir=${root}`
  ], {
    stdio: ["ignore", log, log],
    env: { ...process.env, JUPYTER_RUNTIME_DIR: Path.join(root, "runtime"), JUPYTER_CONFIG_DIR: Path.join(root, "config") }
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
  const deadline = Date.now() + 90_000
  for (;;) {
    if (child.exitCode !== null) {
      const tail = Fs.readFileSync(Path.join(root, "server.log"), "utf8").trim().split("\n").slice(-3).join(" / ")
      return `jupyter_server ${version} exited (${child.exitCode}): ${tail}`
    }
    try {
      if ((await fetch(`${url}/api`)).status === 200) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) return `jupyter_server ${version} did not answer GET /api within 90 s`
    await new Promise((r) => setTimeout(r, 200))
  }
  const sessionIds = await seedJupyter(url, token, realJupyterSessions, true)
  serverVersions[which] = version
  return { url, token, sessionIds }
}
const serverVersions: Record<string, string> = {}

/** Runs one variant in its own process; its metrics, or the error. */
const runChild = (scenario: string, variant: string, params: unknown, tag = ""): Promise<Metrics | Error> =>
  new Promise((resolve) => {
    const profiled = profile
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
      if (code !== 0) return resolve(new Error(`${scenario} / ${variant}${tag}: exited ${code ?? signal}`))
      let metrics: Metrics
      try {
        metrics = JSON.parse(last) as Metrics
      } catch {
        return resolve(new Error(`${scenario} / ${variant}${tag}: no metrics line (${last.slice(0, 200)})`))
      }
      const from = metrics["profileFromUs"]
      delete metrics["profileFromUs"]
      if (profiled) {
        const analysis = analyzeProfile(Path.join(profileDir, profileName), from, metrics["items"])
        profiles.push([`${scenario} · ${variant}${tag}`, analysis.text])
        if (scenario === "stream" && metrics["items"] !== undefined) {
          streamProfiles[`${variant}${tag}`.replace(/ · stream$/, "")] = { layers: analysis.layers, items: metrics["items"] }
        }
      }
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
  if (url.includes("/node_modules/effect/")) {
    // The run loop (a step per effect: fiberRuntime's runLoop and the primitives it evaluates), the Stream/Channel
    // machinery, fibers and scopes, and the rest.
    if (/\/internal\/(fiberRuntime|core|core-effect|runtime)\.js$/.test(url)) return "effect run loop (fiberRuntime, core)"
    if (/\/internal\/(stream|channel|channel\/.*|sink|take|stream\/.*)\.js$/.test(url)) return "effect Stream / Channel"
    if (/\/internal\/(fiber|fiberScope|fiberRefs|fiberRefs\/patch|scope|supervisor|.*[Ss]cheduler.*|fiberId|fiberMessage)\.js$/.test(url)) {
      return "effect fibers, scopes, scheduler"
    }
    return "effect core other"
  }
  if (url.includes("/node_modules/@effect/platform")) return "@effect/platform HttpClient (+ platform-node)"
  // V8 books the JSON.parse builtin to its caller: a `parseJson` (the hand loops', or the library's when it has one)
  // is nothing but that call.
  if (name === "parseJson") return "JSON.parse"
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
const analyze = (file: string, fromUs = 0, items?: number): string => analyzeProfile(file, fromUs, items).text

/** The analysis as text, and its self time by layer (µs). */
const analyzeProfile = (file: string, fromUs = 0, items?: number): { readonly text: string; readonly layers: Map<string, number> } => {
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
    return "effect core other"
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
  // With an item count (the stream), each line also says what it costs per item.
  const perItem = items !== undefined && items > 0
  const top = (map: Map<string, number>, count: number) =>
    [...map].sort((a, b) => b[1] - a[1]).slice(0, count).map(([k, v]) =>
      perItem ? [k, pct(v), (v / items).toFixed(3)] : [k, pct(v)]
    )
  const extra = perItem ? ["µs/item"] : []
  const text = `busy CPU ${(busy / 1e6).toFixed(2)} s in the measured phases${
    perItem ? ` (${(busy / items).toFixed(2)} µs/item over ${items} items)` : ""
  } (${Path.basename(file)})\n\n${
    table(["layer (effect helpers such as dual/hasProperty booked to their caller)", "self", ...extra], top(layers, 20))
  }\n\n${
    table(["function (top 25 by self time)", "self", ...extra], top(functions, 25))
  }`
  return { text, layers }
}

/** Stream profiles by row and size: self time by layer (µs) and the item count, for the side-by-side table. */
const streamProfiles: Record<string, { readonly layers: Map<string, number>; readonly items: number }> = {}

/** effect-sessions against the hand loop + schema at the same prefetch: µs/item by layer, and the difference. */
const streamProfileDiff = (): string => {
  const out: Array<string> = []
  for (const n of streamPrefetch) {
    for (const at of [largeLabel, smallLabel]) {
      const lib = streamProfiles[`effect-sessions · prefetch ${n} · ${at}`]
      const hand = streamProfiles[`hand loop + schema · prefetch ${n} · ${at}`]
      if (lib === undefined || hand === undefined) continue
      const names = [...new Set([...lib.layers.keys(), ...hand.layers.keys()])].filter((k) => k !== "(idle)")
      const per = (p: typeof lib, k: string) => (p.layers.get(k) ?? 0) / p.items
      const rows = names
        .map((k) => [k, per(lib, k), per(hand, k), per(lib, k) - per(hand, k)] as const)
        .sort((a, b) => b[3] - a[3])
      const total = (p: typeof lib) => names.reduce((sum, k) => sum + per(p, k), 0)
      out.push(`#### prefetch ${n}, ${at}: CPU µs/item by layer, effect-sessions vs hand loop + schema (profiled)\n\n${
        table(["layer", "effect-sessions", "hand loop + schema", "difference"], [
          ...rows.map(([k, a, b, d]) => [k, a.toFixed(3), b.toFixed(3), (d >= 0 ? "+" : "") + d.toFixed(3)]),
          ["total", total(lib).toFixed(3), total(hand).toFixed(3), (total(lib) - total(hand) >= 0 ? "+" : "") + (total(lib) - total(hand)).toFixed(3)]
        ])
      }`)
    }
  }
  return out.join("\n\n")
}

// ---------------------------------------------------------------------------
// scenarios

type Rows = Record<string, Metrics>
/** scenario → variant → metric → median over rounds (what results.json and the tables show). */
const scenarios: Record<string, Rows> = {}
/** scenario → variant → one metrics object per round (index = round − 1). */
const samples: Record<string, Record<string, Array<Metrics | undefined>>> = {}
/** ratio → one value per round. */
const ratioRounds: Record<string, Array<number>> = {}
const failures: Array<string> = []
const notes: Array<string> = []

/** Files one round's metrics of a variant (merged with what that round has already) and updates its median row. */
const file = (scenario: string, variant: string, round: number, metrics: Metrics) => {
  const runs = ((samples[scenario] ??= {})[variant] ??= [])
  runs[round - 1] = { ...runs[round - 1], ...metrics }
  const present = runs.filter((r): r is Metrics => r !== undefined)
  const row: Metrics = {}
  const keys = new Set(present.flatMap((r) => Object.keys(r)))
  for (const key of keys) row[key] = median(present.map((r) => r[key]).filter((v): v is number => v !== undefined))
  if (present.length > 1) row["runs"] = present.length
  ;(scenarios[scenario] ??= {})[variant] = row
}

/** Runs one variant once (`clientScenario` is what client.ts calls it); its metrics, or undefined after recording the failure. */
const measure = async (
  scenario: string,
  clientScenario: string,
  variant: string,
  params: unknown,
  round: number,
  tag = ""
): Promise<Metrics | undefined> => {
  const of = rounds > 1 ? ` (round ${round}/${rounds})` : ""
  process.stderr.write(`  ${scenario} · ${variant}${tag}${of} …\n`)
  const result = await runChild(clientScenario, variant, params, tag === "" && scenario === clientScenario ? "" : `${tag} · ${scenario}`)
  if (result instanceof Error) {
    failures.push(`${result.message}${of}`)
    console.error(`  ✗ ${result.message}`)
    return undefined
  }
  delete result["childSeconds"]
  return result
}

/** A variant of an interleaved scenario: the name it is filed under, what client.ts calls it, its parameters. */
interface Variant {
  readonly row: string
  readonly client?: string
  readonly params: unknown
}

/**
 * Two variants that a ratio compares directly, run A B B A in each round
 * (`cycles` times: then A B B A B A A B, …): each one's figures for the round
 * are the mean of its runs, so a drift of the machine's speed during the
 * round (which two processes run one after the other do not cancel) weighs
 * on both alike.
 */
interface Pair {
  readonly pair: readonly [Variant, Variant]
  readonly cycles?: number
}

/**
 * Runs the variants `rounds` times, interleaved (A B C, A B C, …), so that a
 * busy spell of the shared machine hits every variant alike (a {@link Pair}
 * runs A B B A in its place); rows are medians, and each round gives each
 * ratio one value.
 */
const measureRounds = async (scenario: string, clientScenario: string, variants: ReadonlyArray<Variant | Pair>) => {
  for (let round = 1; round <= rounds; round++) {
    for (const v of variants) {
      if ("pair" in v) {
        const means = await runABBA(
          v.pair,
          (x) => measure(scenario, clientScenario, x.client ?? x.row, x.params, round),
          v.cycles
        )
        for (const [x, metrics] of means) file(scenario, x.row, round, metrics)
        continue
      }
      const metrics = await measure(scenario, clientScenario, v.client ?? v.row, v.params, round)
      if (metrics !== undefined) file(scenario, v.row, round, metrics)
    }
  }
}

/** The value of a metric for a row and a mode (`_seq`, `_c16`, `_1M`, …) or of the row itself. */
const cell = (metrics: Metrics, mode: string, metric: string) =>
  metrics[mode === "" ? metric : `${metric}_${mode}`] ?? metrics[`${metric}_${mode.split("_")[0]}`] ?? metrics[metric]

/** Renders one scenario: a row per variant and mode (`_seq`, `_c16`, …), a column per metric. */
const render = (
  scenario: string,
  modes: ReadonlyArray<string>,
  columns: ReadonlyArray<readonly [metric: string, header: string]>
) => {
  const rows: Array<Array<string>> = []
  for (const [variant, metrics] of Object.entries(scenarios[scenario] ?? {})) {
    for (const mode of modes) {
      if (mode !== "" && columns.every(([metric]) => metrics[`${metric}_${mode}`] === undefined)) continue
      rows.push([
        mode === "" ? variant : `${variant} · ${mode}`,
        ...columns.map(([metric]) => fmt(cell(metrics, mode, metric))),
        fmt(metrics["runs"] ?? 1)
      ])
    }
  }
  return rows.length === 0 ? "(no rows)" : table(["variant", ...columns.map(([, h]) => h), "runs"], rows)
}

/** A scenario module's rows: one column per metric when they are few, else one line per variant and metric. */
const renderGeneric = (scenario: string) => {
  const rows = scenarios[scenario] ?? {}
  const metrics = [...new Set(Object.values(rows).flatMap((r) => Object.keys(r)))].filter((k) => k !== "runs")
  if (metrics.length === 0) return "(no rows)"
  if (metrics.length <= 7) {
    return table(
      ["variant", ...metrics],
      Object.entries(rows).map(([variant, r]) => [variant, ...metrics.map((k) => fmt(r[k]))])
    )
  }
  return table(
    ["variant", "metric", "value"],
    Object.entries(rows).flatMap(([variant, r]) =>
      Object.entries(r).filter(([k]) => k !== "runs").map(([k, v]) => [variant, k, fmt(v)])
    )
  )
}

const rateColumns = [
  ["reqPerSec", "req/s"],
  ["cpuUsPerReq", "CPU µs/req"],
  ["p50Ms", "p50 ms"],
  ["p99Ms", "p99 ms"],
  ["fibersPerCall", "fibers forked/call"],
  ["effectStepsPerCall", "Effect steps/call"],
  ["peakRssMB", "peak RSS MB"]
] as const

/** A B B A cycles of each generic-path pair a round (one with --quick). */
const genericCycles = quick ? 1 : 2

/** The overhead variants: the library on its own transport against the floors, and the generic-path pairs. */
const ours = "effect-sessions (UndiciHttpClient)"
const overheadScenario = async (info: ServerInfo) => {
  const target = {
    url: info.deepset.url,
    apiKey: info.deepset.apiKey,
    workspace: info.deepset.workspace,
    session: info.deepset.statusSession
  }
  const main = { ...size.overhead, ...target }
  const generic = { ...size.overheadGeneric, ...target }
  await measureRounds("overhead", "overhead", [
    { row: ours, params: main },
    { row: "undici.request", params: main },
    { row: "undici.dispatch", params: main },
    { row: "fetch", params: main },
    // Each generic pair: effect-sessions on an HttpClient and that HttpClient alone, A B B A B A A B (four processes
    // of each a round): one process's sequential CPU/call differs from the next one's of the same variant by up to
    // ~6 %, about as much as the library's own share of these calls, so the round's value is the mean of four.
    { pair: [{ row: "effect-sessions (undici)", params: generic }, { row: "@effect/platform HttpClient (undici)", params: generic }], cycles: genericCycles },
    { pair: [{ row: "effect-sessions (fetch)", params: generic }, { row: "@effect/platform HttpClient (fetch)", params: generic }], cycles: genericCycles }
  ])
}

const jupyterVariants = ["effect-sessions", "@jupyterlab/services", "undici.request"]

const jupyterScenario = async (name: string, target: JupyterTarget | string, rate: RateParams) => {
  if (typeof target === "string") {
    notes.push(`${name}: skipped: ${target}`)
    console.error(`  ${name}: skipped: ${target}`)
    return
  }
  await measureRounds(name, "jupyter", jupyterVariants.map((row) => ({ row, params: { ...rate, ...target } })))
}

/** The stream's row of effect-sessions on the platform's undici client (the generic path; information). */
const genericStreamRow = `effect-sessions on NodeHttpClient.layerUndici · prefetch ${gatedPrefetch}`
/**
 * The stream's rows: effect-sessions and the hand loop with our schema at each prefetch, the plain sequential loop,
 * and (not with --quick) the generic path.
 */
interface StreamRow {
  readonly row: string
  readonly client: string
  readonly prefetch: number
}
/** effect-sessions and the hand loop with our schema at one prefetch. */
const streamPair = (n: number): readonly [StreamRow, StreamRow] => [
  { row: `effect-sessions · prefetch ${n}`, client: "effect-sessions", prefetch: n },
  { row: `hand loop + schema · prefetch ${n}`, client: "hand loop + schema", prefetch: n }
]
/** A pair (the gated prefetch's) runs A B B A in each round, as the overhead scenario's generic pairs do (`Pair`). */
const streamRows: ReadonlyArray<StreamRow | readonly [StreamRow, StreamRow]> = [
  // --quick keeps CI short: the gated prefetch only (the plain loop still runs the hand loop at prefetch 1).
  ...streamPrefetch.filter((n) => !quick || n === gatedPrefetch).flatMap(
    (n): ReadonlyArray<StreamRow | readonly [StreamRow, StreamRow]> => n === gatedPrefetch ? [streamPair(n)] : streamPair(n)
  ),
  { row: "hand loop (JSON.parse) · prefetch 1", client: "hand loop (JSON.parse)", prefetch: 1 },
  // The generic path (information): what an app that provides the platform's own undici client gets.
  ...(quick ? [] : [{ row: genericStreamRow, client: "effect-sessions (NodeHttpClient)", prefetch: gatedPrefetch }])
]

const streamScenario = async (info: ServerInfo) => {
  const d = info.deepset
  const base = { url: d.url, apiKey: d.apiKey, workspace: d.workspace, warmSession: d.warmSession, pageSize: d.maxPageSize }
  /** One process per listing size; the metrics suffixed by the size (`_1M`, `_100k`), or undefined if none ran. */
  const run = async (v: StreamRow, round: number): Promise<Metrics | undefined> => {
    let all: Metrics | undefined
    for (const [session, files, tag] of [[d.largeSession, d.largeFiles, largeLabel], [d.smallSession, d.smallFiles, smallLabel]] as const) {
      const metrics = await measure("stream", "stream", v.client, { ...base, session, files, prefetch: v.prefetch }, round, ` · prefetch ${v.prefetch} · ${tag}`)
      if (metrics === undefined) continue
      all ??= {}
      for (const [k, value] of Object.entries(metrics)) all[`${k}_${tag}`] = value
    }
    return all
  }
  for (let round = 1; round <= rounds; round++) {
    for (const v of streamRows) {
      if (!("row" in v)) {
        for (const [x, metrics] of await runABBA(v, (x) => run(x, round))) file("stream", x.row, round, metrics)
        continue
      }
      const metrics = await run(v, round)
      if (metrics !== undefined) file("stream", v.row, round, metrics)
    }
  }
}

const prefetchDepths = quick ? [1, 4] : [1, 2, 4, 8]
const prefetchScenario = async (info: ServerInfo) => {
  const s = info.slow
  const params = (prefetch: number) => ({
    url: s.url,
    apiKey: s.apiKey,
    workspace: s.workspace,
    session: s.session,
    files: s.files,
    warmSession: s.warmSession,
    pageSize: prefetchPageSize,
    prefetch
  })
  await measureRounds(
    "prefetch",
    "prefetch",
    prefetchDepths.map((n) => ({ row: `prefetch ${n}`, client: "effect-sessions", params: params(n) }))
  )
  const rows = scenarios["prefetch"] ?? {}
  const one = rows["prefetch 1"]?.["seconds"]
  for (const row of Object.values(rows)) {
    const seconds = row["seconds"]
    if (one !== undefined && seconds !== undefined) row["speedupVsPrefetch1"] = one / seconds
  }
}

// ---------------------------------------------------------------------------
// scenario modules (bench/scenarios/*.ts)

const isScenario = (value: unknown): value is Scenario.Scenario =>
  typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string" &&
  typeof (value as { run?: unknown }).run === "function"

/** Every module of bench/scenarios/ but Scenario.ts, with the scenarios it exports (or why it could not be loaded). */
const discover = async (): Promise<Array<{ readonly file: string; readonly scenarios: ReadonlyArray<Scenario.Scenario>; readonly error?: string }>> => {
  if (!Fs.existsSync(scenariosDir)) return []
  const files = Fs.readdirSync(scenariosDir)
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts") && f !== "Scenario.ts")
    .sort()
  const found = []
  for (const f of files) {
    try {
      // The orchestrator runs on tsx: the module's TypeScript source is imported as is; its children run compiled JS.
      const mod = (await import(pathToFileURL(Path.join(scenariosDir, f)).href)) as Record<string, unknown>
      const list = Object.values(mod).filter(isScenario)
      found.push({ file: f, scenarios: [...new Set(list)] })
    } catch (e) {
      found.push({ file: f, scenarios: [], error: e instanceof Error ? e.message.split("\n")[0] ?? "" : String(e) })
    }
  }
  return found
}

const runModule = async (scenario: Scenario.Scenario) => {
  const log = (line: string) => process.stderr.write(`  ${scenario.name}: ${line}\n`)
  try {
    // A scenario that hangs is a failure too (its own children are its to stop), not a run that never ends.
    const limitS = quick ? 240 : 2400
    let timer: ReturnType<typeof setTimeout> | undefined
    const result = await Promise.race([
      scenario.run({ quick, rounds, outDir, log }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${limitS} s`)), limitS * 1000)
      })
    ]).finally(() => clearTimeout(timer))
    scenarios[scenario.name] = { ...(scenarios[scenario.name] ?? {}), ...result.rows }
    for (const [name, values] of Object.entries(result.ratios)) {
      ;(ratioRounds[name] ??= []).push(...values.filter((v) => Number.isFinite(v)))
    }
    for (const note of result.notes ?? []) notes.push(`${scenario.name}: ${note}`)
  } catch (e) {
    const message = `${scenario.name}: the scenario failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`
    failures.push(message.split("\n").slice(0, 4).join("\n"))
    console.error(`  ✗ ${message}`)
  }
}

// ---------------------------------------------------------------------------
// ratios

/** A metric of one round: scenario, row, metric (NaN when that round has no value). */
type Get = (scenario: string, variant: string, metric: string) => number

const jupyterCpu = (g: Get, scenario: string, variant: string, op: string, rate: RateParams) =>
  (g(scenario, variant, `cpuUsPerReq_${op}_seq`) * rate.seq + g(scenario, variant, `cpuUsPerReq_${op}_c16`) * rate.conc) /
  (rate.seq + rate.conc)

/** Every ratio the built-in scenarios give, as a function of one round's metrics. */
const ratioDefinitions = (): Record<string, (g: Get) => number> => {
  const o = (v: string, k: string) => (g: Get) => g("overhead", v, k)
  const per = (a: (g: Get) => number, b: (g: Get) => number) => (g: Get) => a(g) / b(g)
  const c = size.overhead
  const blend = (v: string) => (g: Get) =>
    (g("overhead", v, "cpuUsPerReq_seq") * c.seq + g("overhead", v, "cpuUsPerReq_c16") * c.conc) / (c.seq + c.conc)
  const defs: Record<string, (g: Get) => number> = {
    "overhead.cpuPerRequestVsUndici_seq": per(o(ours, "cpuUsPerReq_seq"), o("undici.request", "cpuUsPerReq_seq")),
    "overhead.cpuPerRequestVsUndici_c16": per(o(ours, "cpuUsPerReq_c16"), o("undici.request", "cpuUsPerReq_c16")),
    "overhead.cpuPerRequestVsUndici": per(blend(ours), blend("undici.request")),
    "overhead.cpuPerRequestVsUndiciDispatch_seq": per(o(ours, "cpuUsPerReq_seq"), o("undici.dispatch", "cpuUsPerReq_seq")),
    "overhead.cpuPerRequestVsUndiciDispatch_c16": per(o(ours, "cpuUsPerReq_c16"), o("undici.dispatch", "cpuUsPerReq_c16")),
    "overhead.throughputVsFetch_c16": per(o(ours, "reqPerSec_c16"), o("fetch", "reqPerSec_c16")),
    "overhead.throughputVsUndici_c16": per(o(ours, "reqPerSec_c16"), o("undici.request", "reqPerSec_c16"))
  }
  for (const t of ["undici", "fetch"]) {
    const lib = `effect-sessions (${t})`
    const alone = `@effect/platform HttpClient (${t})`
    defs[`overhead.genericVsPlatform_${t}`] = per(o(lib, "cpuUsPerReq_seq"), o(alone, "cpuUsPerReq_seq"))
    defs[`overhead.genericVsPlatform_${t}_c16`] = per(o(lib, "cpuUsPerReq_c16"), o(alone, "cpuUsPerReq_c16"))
  }
  for (const [scenario, rate] of [
    ["jupyter", size.jupyterEmulator],
    ["jupyterReal", size.jupyterReal],
    ["jupyterReal2", size.jupyterReal]
  ] as const) {
    const tp = (op: string) => (g: Get) =>
      g(scenario, "effect-sessions", `reqPerSec_${op}_c16`) / g(scenario, "@jupyterlab/services", `reqPerSec_${op}_c16`)
    const cpu = (op: string) => (g: Get) =>
      jupyterCpu(g, scenario, "effect-sessions", op, rate) / jupyterCpu(g, scenario, "@jupyterlab/services", op, rate)
    defs[`${scenario}.throughputVsJupyterlab_c16`] = (g) => Math.sqrt(tp("list")(g) * tp("get")(g))
    defs[`${scenario}.throughputVsJupyterlab_list_c16`] = tp("list")
    defs[`${scenario}.throughputVsJupyterlab_get_c16`] = tp("get")
    defs[`${scenario}.cpuVsJupyterlab`] = (g) => Math.sqrt(cpu("list")(g) * cpu("get")(g))
    defs[`${scenario}.cpuVsJupyterlab_list`] = cpu("list")
    defs[`${scenario}.cpuVsJupyterlab_get`] = cpu("get")
  }
  const s = (row: string, metric: string, at = largeLabel) => (g: Get) => g("stream", row, `${metric}_${at}`)
  const lib = (n: number) => `effect-sessions · prefetch ${n}`
  const hand = (n: number) => `hand loop + schema · prefetch ${n}`
  for (const n of streamPrefetch) {
    const suffix = n === gatedPrefetch ? "" : `_p${n}`
    defs[`stream.throughputVsHandLoopSamePrefetch${suffix}`] = per(s(lib(n), "itemsPerSec"), s(hand(n), "itemsPerSec"))
    defs[`stream.cpuPerItemVsHandLoopSchema${suffix}`] = per(s(lib(n), "cpuUsPerItem"), s(hand(n), "cpuUsPerItem"))
    defs[`stream.mainThreadCpuPerItemVsHandLoopSchema${suffix}`] = per(s(lib(n), "mainThreadCpuUsPerItem"), s(hand(n), "mainThreadCpuUsPerItem"))
    defs[`stream.peakRssOverHandLoopMB${suffix}`] = (g) => s(lib(n), "peakRssMB")(g) - s(hand(n), "peakRssMB")(g)
    defs[`stream.listingPeakRssOverHandLoopMB${suffix}`] = (g) =>
      s(lib(n), "listingPeakRssMB")(g) - s(hand(n), "listingPeakRssMB")(g)
    defs[`stream.cold.throughputVsHandLoopSamePrefetch${suffix}`] = per(s(lib(n), "coldItemsPerSec"), s(hand(n), "coldItemsPerSec"))
    defs[`stream.cold.cpuPerItemVsHandLoopSchema${suffix}`] = per(s(lib(n), "coldCpuUsPerItem"), s(hand(n), "coldCpuUsPerItem"))
  }
  defs["stream.generic.cpuPerItemVsHandLoopSchema"] = per(s(genericStreamRow, "cpuUsPerItem"), s(hand(gatedPrefetch), "cpuUsPerItem"))
  defs["stream.generic.peakRssOverHandLoopMB"] = (g) =>
    s(genericStreamRow, "peakRssMB")(g) - s(hand(gatedPrefetch), "peakRssMB")(g)
  // The old definition (the library's default prefetch against the sequential loop without validation), for comparison.
  defs["stream.throughputVsHandLoop"] = per(s(lib(gatedPrefetch), "itemsPerSec"), s("hand loop (JSON.parse) · prefetch 1", "itemsPerSec"))
  // Flat memory: the measured passes' own peak at 1M against 100k (the process peaks include the warm-up).
  defs["stream.rss1MOver100k"] = per(
    s(lib(gatedPrefetch), "listingPeakRssMB"),
    s(lib(gatedPrefetch), "listingPeakRssMB", smallLabel)
  )
  defs[`stream.peakRssMB_${largeLabel}`] = s(lib(gatedPrefetch), "peakRssMB")
  defs[`stream.handLoopPeakRssMB_${largeLabel}`] = s(hand(gatedPrefetch), "peakRssMB")
  for (const n of prefetchDepths.slice(1)) {
    defs[`prefetch.speedup${n}`] = (g) => g("prefetch", "prefetch 1", "seconds") / g("prefetch", `prefetch ${n}`, "seconds")
  }
  return defs
}

/** Computes every built-in ratio once per round. */
const computeRatios = () => {
  for (const [name, definition] of Object.entries(ratioDefinitions())) {
    for (let round = 0; round < rounds; round++) {
      const value = definition((scenario, variant, metric) => samples[scenario]?.[variant]?.[round]?.[metric] ?? Number.NaN)
      if (Number.isFinite(value)) (ratioRounds[name] ??= []).push(value)
    }
  }
}

type Op = "≤" | "≥" | "<" | "="
/** A target: the ratio, how it compares, and whether a miss fails the run (`gated`) or is information. */
interface Target {
  readonly name: string
  readonly op: Op
  readonly bound: number
  readonly gated: boolean
  readonly label?: string
}

const gate = (name: string, op: Op, bound: number, label?: string): Target => ({ name, op, bound, gated: true, ...(label ? { label } : {}) })
const info = (name: string, op: Op, bound: number, label: string): Target => ({ name, op, bound, gated: false, label })

/**
 * The targets. Gated: a full run fails when one is missed. The scenario
 * modules' targets are here too (their ratios come from bench/scenarios/).
 */
const targets: ReadonlyArray<Target> = [
  gate("overhead.cpuPerRequestVsUndici_seq", "≤", 1.15),
  gate("overhead.cpuPerRequestVsUndici_c16", "≤", 1.15),
  gate("overhead.throughputVsFetch_c16", "≥", 1.3),
  gate("overhead.genericVsPlatform_undici", "≤", 1.15, "sequential CPU/call, on NodeHttpClient.layerUndici"),
  gate("overhead.genericVsPlatform_fetch", "≤", 1.15, "sequential CPU/call, on FetchHttpClient"),
  gate("stream.throughputVsHandLoopSamePrefetch", "≥", 0.8, `prefetch ${gatedPrefetch}, ${largeLabel}`),
  gate("stream.cpuPerItemVsHandLoopSchema", "≤", 1.3, `prefetch ${gatedPrefetch}, ${largeLabel}`),
  gate("stream.peakRssOverHandLoopMB", "≤", 20, `MB over the hand loop, prefetch ${gatedPrefetch}, ${largeLabel}`),
  gate("stream.rss1MOver100k", "≤", 1.2, "the measured passes' own peak"),
  gate("prefetch.speedup4", "≥", 3),
  gate("jupyterReal.cpuVsJupyterlab", "≤", 0.75, "real Jupyter Server 1.23"),
  gate("jupyterReal2.cpuVsJupyterlab", "≤", 0.75, "real Jupyter Server 2.x"),
  info("jupyter.throughputVsJupyterlab_c16", "≥", 1.3, "transport measurement on the emulator"),
  info("overhead.cpuPerRequestVsUndici", "≤", 1.15, "the old blend of seq and c16"),
  info("stream.throughputVsHandLoop", "≥", 0.8, "the old definition: prefetch 4 vs the sequential loop"),
  info("stream.cold.throughputVsHandLoopSamePrefetch", "≥", 0.8, `the first pass, prefetch ${gatedPrefetch}, ${largeLabel}`),
  info("stream.cold.cpuPerItemVsHandLoopSchema", "≤", 1.3, `the first pass, prefetch ${gatedPrefetch}, ${largeLabel}`),
  info(
    "stream.listingPeakRssOverHandLoopMB",
    "≤",
    20,
    `MB over the hand loop, the measured passes' own peak, prefetch ${gatedPrefetch}, ${largeLabel}`
  ),
  info(`stream.peakRssMB_${largeLabel}`, "<", 150, "issue 4's absolute bound; the hand loop's own is the next row"),
  info(`stream.handLoopPeakRssMB_${largeLabel}`, "<", 150, `hand loop + schema, prefetch ${gatedPrefetch}`),
  info("stream.generic.peakRssOverHandLoopMB", "≤", 20, `on NodeHttpClient.layerUndici, prefetch ${gatedPrefetch}, ${largeLabel}`),
  gate("looker.throughputVsLookerSdk_c16", "≥", 1.3),
  gate("looker.logins", "=", 1, "one login for the whole run"),
  gate("whylabs.uploadVsRawPut", "≥", 0.8),
  gate("whylabs.createCpuVsUndici", "≤", 1.15),
  gate("upload.throughputVsPythonSdk", "≥", 2),
  info("upload.throughputVsPythonSdk_cold", "≥", 2, "each process's first upload of the folder (Node's JIT still cold)"),
  gate("upload.largeVsRaw", "≥", 0.8)
]

type Verdict = "met" | "missed" | "not decided" | "skipped"

const holds = (op: Op, value: number, bound: number) =>
  op === "≤" ? value <= bound : op === "≥" ? value >= bound : op === "<" ? value < bound : value === bound

/** Met when every round holds, missed when none does, not decided when the spread crosses the target. */
const verdict = (t: Target, values: ReadonlyArray<number>): Verdict => {
  if (values.length === 0) return "skipped"
  const ok = values.filter((v) => holds(t.op, v, t.bound)).length
  return ok === values.length ? "met" : ok === 0 ? "missed" : "not decided"
}

const summary = (values: ReadonlyArray<number>) => ({
  median: median(values),
  min: Math.min(...values),
  max: Math.max(...values),
  rounds: values.length
})

const mark: Record<Verdict, string> = { met: "✓ met", missed: "✗ missed", "not decided": "? not decided", skipped: "skipped" }

// ---------------------------------------------------------------------------
// main

const spread = (values: ReadonlyArray<number>) =>
  values.length <= 1 ? "–" : `${fmt(Math.min(...values))}..${fmt(Math.max(...values))}`

/** The ratio table: gated targets first, then information targets, then every other ratio. */
const ratioTable = (): string => {
  const rows: Array<Array<string>> = []
  for (const t of targets) {
    const values = ratioRounds[t.name] ?? []
    // Absent: a scenario module that is not there, or a scenario not run (`--only`); a wanted built-in shows as skipped.
    if (values.length === 0 && !(builtInTarget(t.name) && wanted(t.name.split(".")[0] ?? ""))) continue
    rows.push([
      t.name,
      fmt(median(values)),
      spread(values),
      String(values.length),
      `${t.op} ${t.bound}${t.gated ? "" : " (info)"}`,
      t.gated ? mark[verdict(t, values)] : values.length === 0 ? "skipped" : `(${verdict(t, values)})`,
      t.label ?? ""
    ])
  }
  for (const [name, values] of Object.entries(ratioRounds)) {
    if (targets.some((t) => t.name === name)) continue
    rows.push([name, fmt(median(values)), spread(values), String(values.length), "(info)", "", ""])
  }
  return table(["ratio", "median", "min..max", "rounds", "target", "verdict", "what"], rows, [5, 6])
}

/** Whether a target belongs to a built-in scenario (shown as skipped when absent) rather than to a scenario module. */
const builtInTarget = (name: string) => builtIn.includes(name.split(".")[0] ?? "")

const tables = (modules: ReadonlyArray<string>): string => {
  const sections: Array<string> = []
  const add = (title: string, body: string) => sections.push(`### ${title}\n\n${body}`)
  if (scenarios["overhead"]) {
    const n = (v: number) => v.toLocaleString("en-US")
    add(
      `overhead — getStatus on the deepset emulator: ${n(size.overhead.seq)} sequential, ${n(size.overhead.conc)} at concurrency 16 (the generic-path pairs: ${
        n(size.overheadGeneric.seq)
      } and ${n(size.overheadGeneric.conc)})`,
      render("overhead", ["seq", "c16"], rateColumns)
    )
  }
  for (const [name, where, rate] of [
    ["jupyter", "Jupyter emulator (a transport measurement)", size.jupyterEmulator],
    ["jupyterReal", `real Jupyter Server ${serverVersions["jupyterReal"] ?? "1.23"}`, size.jupyterReal],
    ["jupyterReal2", `real Jupyter Server ${serverVersions["jupyterReal2"] ?? "2.x"}`, size.jupyterReal]
  ] as const) {
    if (scenarios[name]) {
      add(
        `${name} — listSessions (${name === "jupyter" ? jupyterSessions : realJupyterSessions} sessions) and getSession on the ${where}: ${rate.seq} sequential, ${rate.conc} at concurrency 16`,
        render(name, ["list_seq", "list_c16", "get_seq", "get_c16"], rateColumns)
      )
    }
  }
  if (scenarios["stream"]) {
    add(
      `stream — streamFiles over ${largeLabel} and ${smallLabel} files, pages of 1000, prefetch ${streamPrefetch.join(" and ")}`,
      render("stream", [largeLabel, smallLabel], [
        ["itemsPerSec", "items/s"],
        ["seconds", "s"],
        ["cpuUsPerItem", "CPU µs/item"],
        ["mainThreadCpuUsPerItem", "main thread"],
        ["otherThreadsCpuUsPerItem", "other threads"],
        ["gcMs", "GC ms"],
        ["gcPctOfCpu", "GC % of CPU"],
        ["effectStepsPerPage", "Effect steps/page"],
        ["fibersPerPage", "fibers/page"],
        ["coldItemsPerSec", "first pass: items/s"],
        ["coldCpuUsPerItem", "first pass: CPU µs/item"],
        ["rssAtListingStartMB", "RSS MB at start"],
        ["listingPeakRssMB", "peak RSS MB, listing"],
        ["peakRssMB", "peak RSS MB, process"]
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
  for (const name of modules) if (scenarios[name]) add(`${name} (bench/scenarios/)`, renderGeneric(name))
  add("ratios (median and min..max over the rounds; met: every round holds; missed: none does; not decided: the spread crosses the target)", ratioTable())
  return sections.join("\n\n")
}

/** The commit measured, and whether the measured code had uncommitted changes. */
const gitState = () => {
  const run = (...a: Array<string>) => spawnSync("git", a, { cwd: repoDir, encoding: "utf8" })
  const head = run("rev-parse", "HEAD").stdout.trim() || "unknown"
  const dirty = run("status", "--porcelain", "--", "src", "bench", "test/support", "package.json", "package-lock.json", ":(exclude)bench/RESULTS.md")
    .stdout.split("\n").filter((l) => l.trim() !== "")
  return { commit: head, dirty: dirty.length > 0, dirtyFiles: dirty.map((l) => l.slice(3)) }
}

/** bench/RESULTS.md from a run (or from a partial run: `partial` says up to where it measured). */
const writeResultsMd = (r: {
  readonly seconds: number
  readonly rounds: number
  readonly commit: string
  readonly load: string
  readonly output: string
  readonly failures: ReadonlyArray<string>
  readonly notes: ReadonlyArray<string>
  readonly partial: string | undefined
}) => {
  const host = machine()
  const given = process.argv.slice(2).filter((a) => a !== "--record" && !a.startsWith("--render="))
  const command = `npm run bench -- --record${given.length > 0 ? ` ${given.join(" ")}` : ""}`
  const date = new Date().toISOString()
  Fs.writeFileSync(
    Path.join(benchDir, "RESULTS.md"),
    `# Benchmark results\n\n${
      r.partial === undefined
        ? `From one run of \`${command}\``
        : `From a run of \`npm run bench -- --record\` stopped early (${r.partial}; rendered with \`--render\`)`
    } (${date.slice(0, 16).replace("T", " ")} UTC, ${r.seconds.toFixed(0)} s in all, ${r.rounds} interleaved round(s); rows are medians over rounds).\n\n` +
      `Measured: ${r.commit}.\n\n` +
      `Machine: ${host.cpuModel}, ${host.cores} cores, ${host.memoryGB} GB RAM, Node ${host.node}, ${host.os}; ${r.load}. ` +
      `Server and client share the machine (server in one process, each client variant in its own), and the machine is shared with other work: compare ratios within one run.\n\n` +
      `${r.output}\n${r.notes.length > 0 ? `\n${r.notes.map((n) => `- ${n}`).join("\n")}\n` : ""}` +
      (r.failures.length > 0 ? `\nFailures:\n\n${r.failures.map((f) => `- ${f.split("\n")[0]}`).join("\n")}\n` : "")
  )
}

const describeCommit = (git: ReturnType<typeof gitState>) =>
  `commit ${git.commit}${
    git.dirty
      ? ` + uncommitted changes in ${git.dirtyFiles.length} file(s) (${git.dirtyFiles.slice(0, 8).join(", ")}${git.dirtyFiles.length > 8 ? ", …" : ""})`
      : " (clean)"
  }`

const main = async () => {
  const t0 = performance.now()
  const loadAtStart = Os.loadavg()[0] ?? 0
  const loadAfter: Record<string, number> = {}
  const git = gitState()
  const startedAt = new Date().toISOString()
  const lap = (name: string) => {
    loadAfter[name] = Os.loadavg()[0] ?? 0
    // What is measured so far, every round of every variant, in case the run is stopped before its end.
    Fs.writeFileSync(
      Path.join(outDir, "partial.json"),
      `${
        JSON.stringify({
          after: name,
          at: new Date().toISOString(),
          startedAt,
          rounds,
          git,
          loadAtStart,
          loadAfter,
          seconds: (performance.now() - t0) / 1000,
          serverVersions,
          samples,
          scenarios,
          moduleRatios: ratioRounds,
          failures,
          notes
        })
      }\n`
    )
    process.stderr.write(`  (${name} done at ${((performance.now() - t0) / 1000).toFixed(1)} s, load ${loadAfter[name]!.toFixed(2)})\n`)
  }
  process.stderr.write(`bench${quick ? " --quick" : ""}: ${rounds} round(s); compiling to bench/.out …\n`)
  compile()
  const modules = await discover()
  const moduleNames = modules.flatMap((m) => m.scenarios.map((s) => s.name))
  for (const m of modules) {
    const name = m.file.replace(/\.ts$/, "")
    if (m.error !== undefined && wanted(name)) failures.push(`bench/scenarios/${m.file}: could not be loaded: ${m.error}`)
    else if (m.error === undefined && m.scenarios.length === 0) notes.push(`bench/scenarios/${m.file} exports no Scenario`)
  }
  for (const name of only ?? []) {
    if (!builtIn.includes(name) && !moduleNames.includes(name) && !modules.some((m) => m.file === `${name}.ts`)) {
      notes.push(`--only: no scenario named ${name} (known: ${[...builtIn, ...moduleNames].join(", ")})`)
    }
  }

  const needServer = ["overhead", "jupyter", "stream", "prefetch"].some(wanted)
  const jupyterClient = Fs.existsSync(Path.join(repoDir, "src", "jupyter", "index.ts"))
  // The real Jupyter Servers start (and are seeded) while the emulators start; all are ready before any measurement.
  const real = Object.fromEntries(
    (["jupyterReal", "jupyterReal2"] as const).map((name) => [
      name,
      wanted(name) && jupyterClient
        ? startJupyter(name).catch((e: unknown) => `could not start: ${e instanceof Error ? e.message : String(e)}`)
        : Promise.resolve(jupyterClient ? "not wanted" : "jupyter client not available")
    ])
  ) as Record<"jupyterReal" | "jupyterReal2", Promise<JupyterTarget | string>>
  const info = needServer ? await startServer() : undefined
  const real1 = await real.jupyterReal
  const real2 = await real.jupyterReal2
  const where = (t: JupyterTarget | string) => (typeof t === "string" ? t : t.url)
  process.stderr.write(`server: ${
    info === undefined
      ? "not needed"
      : `deepset ${info.deepset.url}, slow ${info.slow.url}, jupyter emulator ${"url" in info.jupyter ? info.jupyter.url : info.jupyter.skipped}`
  }; real Jupyter Server 1.23: ${where(real1)}; 2.x: ${where(real2)}\n`)
  lap("setup")

  if (info !== undefined) {
    if (wanted("overhead")) await overheadScenario(info).then(() => lap("overhead"))
    if (wanted("jupyter")) {
      if (!jupyterClient) notes.push("jupyter: skipped: jupyter client not available")
      else {
        await jupyterScenario("jupyter", "url" in info.jupyter ? info.jupyter : info.jupyter.skipped, size.jupyterEmulator)
        lap("jupyter")
      }
    }
  }
  if (wanted("jupyterReal")) await jupyterScenario("jupyterReal", real1, size.jupyterReal).then(() => lap("jupyterReal"))
  if (wanted("jupyterReal2")) await jupyterScenario("jupyterReal2", real2, size.jupyterReal).then(() => lap("jupyterReal2"))
  if (info !== undefined) {
    if (wanted("stream")) await streamScenario(info).then(() => lap("stream"))
    if (wanted("prefetch")) await prefetchScenario(info).then(() => lap("prefetch"))
  }
  const ran: Array<string> = []
  for (const m of modules) {
    for (const scenario of m.scenarios) {
      if (!wanted(scenario.name)) continue
      process.stderr.write(`  ${scenario.name} (bench/scenarios/${m.file}) …\n`)
      await runModule(scenario)
      ran.push(scenario.name)
      lap(scenario.name)
    }
  }

  computeRatios()
  const seconds = (performance.now() - t0) / 1000
  const host = machine()
  const output = tables(ran)
  console.log(`\n${output}\n`)
  for (const note of notes) console.log(`- ${note}`)
  for (const [name, text] of profiles) console.log(`\n### CPU profile: ${name}\n\n${text}`)
  if (profile && Object.keys(streamProfiles).length > 0) console.log(`\n### stream: where the CPU per item goes\n\n${streamProfileDiff()}`)
  const loadAtEnd = Os.loadavg()[0] ?? 0
  const load = `load average (1 min) ${loadAtStart.toFixed(2)} at start, ${loadAtEnd.toFixed(2)} at end (after each scenario: ${
    Object.entries(loadAfter).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")
  })`
  const commit = describeCommit(git)
  console.log(`\n${host.cpuModel}, ${host.cores} cores, ${host.memoryGB} GB, node ${host.node}, ${host.os}; ${load}`)
  console.log(`${commit}; children on ${useTsx ? "tsx" : "compiled JS (plain node)"}; ${rounds} round(s); whole run ${seconds.toFixed(1)} s`)

  const verdicts = targets
    .map((t) => ({ ...t, ...(ratioRounds[t.name] ? summary(ratioRounds[t.name]!) : {}), verdict: verdict(t, ratioRounds[t.name] ?? []) }))
    .filter((t) => t.verdict !== "skipped")
  const missed = verdicts.filter((t) => t.gated && t.verdict === "missed")
  const gating = !quick && !noGate && !profile
  const results = {
    machine: host,
    scenarios,
    ratios: Object.fromEntries(Object.entries(ratioRounds).map(([k, v]) => [k, median(v)])),
    ratioRounds: Object.fromEntries(Object.entries(ratioRounds).map(([k, v]) => [k, { ...summary(v), values: v }])),
    targets: verdicts,
    run: {
      quick,
      rounds,
      gated: gating,
      children: useTsx ? "tsx" : "node",
      seconds,
      date: new Date().toISOString(),
      commit: git.commit,
      dirty: git.dirty,
      dirtyFiles: git.dirtyFiles,
      loadAverage1m: { start: loadAtStart, end: loadAtEnd, afterScenario: loadAfter },
      jupyterServers: serverVersions,
      scenarioModules: ran,
      failures,
      notes
    }
  }
  if (!profile) Fs.writeFileSync(Path.join(benchDir, "results.json"), `${JSON.stringify(results, null, 2)}\n`)
  if (record) writeResultsMd({ seconds, rounds, commit, load, output, failures, notes, partial: undefined })
  const undecided = verdicts.filter((t) => t.gated && t.verdict === "not decided")
  if (undecided.length > 0) console.log(`\nnot decided (the spread crosses the target): ${undecided.map((t) => t.name).join(", ")}`)
  if (missed.length > 0) {
    console.error(`\n${missed.length} gated target(s) missed: ${missed.map((t) => `${t.name} ${fmt(t.median)} (target ${t.op} ${t.bound})`).join(", ")}${gating ? "" : " (not gating: --quick, --profile or --no-gate)"}`)
    if (gating) process.exitCode = 1
  }
  if (failures.length > 0) {
    console.error(`\n${failures.length} failure(s):\n${failures.join("\n")}`)
    process.exitCode = 1
  }
}

/** `--render=bench/.out/partial.json`: the tables and ratios of a run that was stopped early, from what it had measured. */
const renderPartial = (file: string) => {
  const partial = JSON.parse(Fs.readFileSync(file, "utf8")) as {
    readonly after: string
    readonly at: string
    readonly samples: typeof samples
    readonly scenarios: typeof scenarios
    readonly moduleRatios: typeof ratioRounds
    readonly startedAt: string
    readonly rounds: number
    readonly git: ReturnType<typeof gitState>
    readonly loadAtStart: number
    readonly loadAfter: Record<string, number>
    readonly seconds: number
    readonly serverVersions: Record<string, string>
    readonly failures: ReadonlyArray<string>
    readonly notes: ReadonlyArray<string>
  }
  Object.assign(samples, partial.samples)
  Object.assign(scenarios, partial.scenarios)
  // The module ratios were filed as they came; the built-in ones are computed again from the rounds.
  const builtInNames = new Set(Object.keys(ratioDefinitions()))
  for (const [k, v] of Object.entries(partial.moduleRatios)) if (!builtInNames.has(k)) ratioRounds[k] = v
  computeRatios()
  const modules = Object.keys(partial.scenarios).filter((k) => !builtIn.includes(k))
  Object.assign(serverVersions, partial.serverVersions)
  const output = tables(modules)
  console.log(`(partial run: measured up to ${partial.after}, ${partial.at})\n\n${output}`)
  if (record) {
    const loads = Object.entries(partial.loadAfter).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")
    writeResultsMd({
      seconds: partial.seconds,
      rounds: partial.rounds,
      commit: describeCommit(partial.git),
      load: `load average (1 min) ${partial.loadAtStart.toFixed(2)} at start (after each scenario: ${loads})`,
      output,
      failures: partial.failures,
      notes: partial.notes,
      partial: `started ${partial.startedAt}, measured up to ${partial.after} at ${partial.at}`
    })
  }
}

const analyzeOnly = args.find((a) => a.startsWith("--analyze="))?.slice("--analyze=".length)
const renderOnly = args.find((a) => a.startsWith("--render="))?.slice("--render=".length)
try {
  if (renderOnly !== undefined) renderPartial(renderOnly)
  else if (analyzeOnly === undefined) await main()
  else console.log(analyze(analyzeOnly))
} catch (e) {
  console.error(e)
  process.exitCode = 1
} finally {
  await cleanup()
}
