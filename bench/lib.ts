/**
 * What the bench's three roles share: the shapes they exchange, timing
 * helpers, and table formatting. No side effects.
 */
import type { ChildProcess } from "node:child_process"
import * as Os from "node:os"

/** One variant's measurements: metric name → number. */
export type Metrics = Record<string, number>

/** What the server process prints (one JSON line) once it listens and is seeded. */
export interface ServerInfo {
  readonly deepset: {
    readonly url: string
    readonly apiKey: string
    readonly workspace: string
    /** A small closed session for `getStatus`. */
    readonly statusSession: string
    /** The large and the small file listings of the stream scenario, and a warm-up listing. */
    readonly largeSession: string
    readonly largeFiles: number
    readonly smallSession: string
    readonly smallFiles: number
    readonly warmSession: string
    readonly maxPageSize: number
  }
  /** A second deepset emulator with per-request latency, for the prefetch scenario. */
  readonly slow: {
    readonly url: string
    readonly apiKey: string
    readonly workspace: string
    readonly session: string
    readonly files: number
    readonly warmSession: string
    readonly latencyMs: number
  }
  /** The Jupyter emulator, or why it is not there. */
  readonly jupyter: JupyterTarget | { readonly skipped: string }
}

/** A Jupyter server to measure against, seeded with sessions. */
export interface JupyterTarget {
  readonly url: string
  readonly token: string
  readonly sessionIds: ReadonlyArray<string>
}

/** Parameters of the request-rate scenarios (overhead, jupyter). */
export interface RateParams {
  readonly warmup: number
  readonly seq: number
  readonly conc: number
  readonly concurrency: number
}

/** One measured phase of requests. */
export interface Phase {
  readonly reqPerSec: number
  readonly cpuUsPerReq: number
  readonly p50Ms: number
  readonly p99Ms: number
}

/** The value at quantile `q` (0..1) of the first `n` entries (sorted in place). */
export const percentile = (values: Float64Array, q: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = values.sort()
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[index] ?? Number.NaN
}

/** CPU (user + system) used by this process since `since`, in microseconds. */
export const cpuMicros = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since)
  return d.user + d.system
}

/** Peak resident set size of this process so far (since {@link resetPeakRss}, where that worked), in MB. */
export const peakRssMB = (): number => process.resourceUsage().maxRSS / 1024

/** Resident set size of this process now, in MB. */
export const rssMB = (): number => process.memoryUsage.rss() / (1024 * 1024)

/**
 * Resets this process's peak RSS to its RSS now (Linux: `5` into
 * `/proc/self/clear_refs`, which resets `VmHWM` and with it getrusage's
 * `maxRSS`), so that {@link peakRssMB} then gives the peak of what follows.
 * False where that is not possible.
 */
export const resetPeakRss = async (): Promise<boolean> => {
  const Fs = await import("node:fs")
  try {
    Fs.writeFileSync("/proc/self/clear_refs", "5")
    return true
  } catch {
    return false
  }
}

/** A phase's metrics from its request count, wall time, CPU and latencies. */
export const phase = (n: number, wallMs: number, cpuUs: number, latencies: Float64Array): Phase => ({
  reqPerSec: n / (wallMs / 1000),
  cpuUsPerReq: cpuUs / n,
  p50Ms: percentile(latencies, 0.5),
  p99Ms: percentile(latencies, 0.99)
})

/**
 * Runs `n` calls of `call`, `concurrency` at a time (that many workers each
 * taking the next call), timing each one.
 */
export const runPromises = async (
  n: number,
  concurrency: number,
  call: () => Promise<unknown>,
  warmup = false
): Promise<Phase> => {
  const latencies = new Float64Array(n)
  let next = 0
  let done = 0
  const worker = async () => {
    while (next < n) {
      next++
      const t0 = performance.now()
      await call()
      latencies[done++] = performance.now() - t0
    }
  }
  if (n > 0 && !warmup) markMeasured()
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker))
  const wall = performance.now() - t0
  return phase(n, wall, cpuMicros(cpu), latencies)
}

/** `n` calls of `call`, `concurrency` at a time: CPU µs per call and calls per second (for the scenario modules). */
export const rate = async (
  n: number,
  concurrency: number,
  call: () => Promise<unknown>,
  warmup = false
): Promise<{ cpuUsPerCall: number; callsPerSec: number }> => {
  const measured = await runPromises(n, concurrency, call, warmup)
  return { cpuUsPerCall: measured.cpuUsPerReq, callsPerSec: measured.reqPerSec }
}

/** Adds a phase's metrics to `into`, each name suffixed (`reqPerSec_seq`). */
export const addPhase = (into: Metrics, suffix: string, p: Phase): void => {
  into[`reqPerSec_${suffix}`] = p.reqPerSec
  into[`cpuUsPerReq_${suffix}`] = p.cpuUsPerReq
  into[`p50Ms_${suffix}`] = p.p50Ms
  into[`p99Ms_${suffix}`] = p.p99Ms
}

/** The machine a run is on. */
export const machine = () => {
  const cpus = Os.cpus()
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    cores: cpus.length,
    memoryGB: Math.round((Os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${Os.type()} ${Os.release()} ${Os.arch()}`
  }
}

/** A number for a table: 3 significant digits below 100, whole numbers above, thousands separated. */
export const fmt = (n: number | undefined): string => {
  if (n === undefined || Number.isNaN(n)) return "–"
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString("en-US")
  return Number(n.toPrecision(3)).toString()
}

/** A Markdown-style table (readable as is on a terminal): the first column (and those in `left`) left-aligned, the rest right-aligned. */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  left: ReadonlyArray<number> = []
): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const isLeft = (i: number) => i === 0 || left.includes(i)
  const line = (cells: ReadonlyArray<string>) =>
    `| ${cells.map((c, i) => (isLeft(i) ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")} |`
  const rule = `|${widths.map((w, i) => (isLeft(i) ? `:${"-".repeat(w + 1)}` : `${"-".repeat(w + 1)}:`)).join("|")}|`
  return [line(header), rule, ...rows.map(line)].join("\n")
}

/**
 * Creates `count` notebook sessions through the API (`POST /api/sessions`)
 * and returns their ids. With `shareKernel` every session after the first is
 * bound to the first one's kernel (a real server then runs one kernel, not 50).
 */
export const seedJupyter = async (
  url: string,
  token: string,
  count: number,
  shareKernel: boolean
): Promise<ReadonlyArray<string>> => {
  const ids: Array<string> = []
  let kernelId: string | undefined
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${url}/api/sessions`, {
      method: "POST",
      headers: { authorization: `token ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        path: `bench/notebook-${String(i).padStart(2, "0")}.ipynb`,
        name: `bench ${i}`,
        type: "notebook",
        kernel: shareKernel && kernelId !== undefined ? { id: kernelId } : { name: "python3" }
      })
    })
    const body = (await response.json()) as { id?: unknown; kernel?: { id?: unknown } | null }
    if (response.status !== 201 || typeof body.id !== "string") {
      throw new Error(`seeding Jupyter sessions at ${url}: ${response.status} ${JSON.stringify(body).slice(0, 300)}`)
    }
    if (typeof body.kernel?.id === "string") kernelId = body.kernel.id
    ids.push(body.id)
  }
  return ids
}

/** When profiling (`BENCH_PROFILE=1`), the monotonic time (µs) the first measured phase began: the analysis skips what came before (module loading, warm-up). */
export let measuredFromUs: number | undefined

/** Marks the start of measurement (the first call wins). */
export const markMeasured = (): void => {
  if (process.env["BENCH_PROFILE"] === "1") measuredFromUs ??= Number(process.hrtime.bigint() / 1000n)
}

/** Stops a child by PID: SIGTERM, then SIGKILL after 10 s. */
export const stopChild = (child: ChildProcess): Promise<void> =>
  new Promise<void>((resolve) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), 10_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    process.kill(child.pid, "SIGTERM")
  })

/** The mean of each metric over some runs of one variant. */
const meanOf = (runs: ReadonlyArray<Metrics>): Metrics => {
  const out: Metrics = {}
  for (const key of new Set(runs.flatMap((r) => Object.keys(r)))) {
    const values = runs.map((r) => r[key]).filter((v): v is number => v !== undefined)
    out[key] = values.reduce((a, b) => a + b, 0) / values.length
  }
  return out
}

/**
 * Runs `a` and `b` as A B B A, `cycles` times (the second cycle B A A B, and so on, alternating), each run a process of
 * its own (in `run`); each one's mean over its runs that gave metrics (none: left out). Two processes run one after
 * the other are hit unequally by a drift of the machine's speed; A B B A weighs it on both alike. For the pairs a gated
 * ratio compares directly whose call is long or sequential. More cycles average out more of what differs from one
 * process to the next (JIT, heap layout) at the cost of time.
 */
export const runABBA = async <V>(
  [a, b]: readonly [V, V],
  run: (v: V) => Promise<Metrics | undefined>,
  cycles = 1
): Promise<ReadonlyArray<readonly [V, Metrics]>> => {
  const runs = new Map<V, Array<Metrics>>([[a, []], [b, []]])
  for (let cycle = 0; cycle < cycles; cycle++) {
    for (const x of cycle % 2 === 0 ? [a, b, b, a] : [b, a, a, b]) {
      const metrics = await run(x)
      if (metrics !== undefined) runs.get(x)!.push(metrics)
    }
  }
  return [...runs].filter(([, got]) => got.length > 0).map(([x, got]) => [x, meanOf(got)] as const)
}

/** The median of the finite values (NaN when none). */
export const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].filter(Number.isFinite).sort((a, b) => a - b)
  if (sorted.length === 0) return Number.NaN
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * Waits for a child that prints one JSON line of metrics and exits (its last
 * stdout line); it is killed after `timeoutMs`. The child is tracked in
 * `started` while it runs, so a failing scenario can stop it.
 */
export const childMetrics = (
  child: ChildProcess,
  label: string,
  started: Array<ChildProcess>,
  timeoutMs = 600_000
): Promise<Metrics> =>
  new Promise<Metrics>((resolve, reject) => {
    if (!started.includes(child)) started.push(child)
    let out = ""
    let err = ""
    child.stdout!.setEncoding("utf8").on("data", (c: string) => (out += c))
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (err += c))
    const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), timeoutMs)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      started.splice(started.indexOf(child), 1)
      const line = out.trim().split("\n").at(-1) ?? ""
      if (code !== 0) return reject(new Error(`${label}: exited ${code ?? signal}: ${err.slice(-800)}`))
      try {
        resolve(JSON.parse(line) as Metrics)
      } catch {
        reject(new Error(`${label}: no metrics line (${line.slice(0, 200)})`))
      }
    })
  })

/** Waits for a server child's first stdout line, `{"url": …}` (60 s at most); the child is tracked in `started`. */
export const serverUrl = (child: ChildProcess, label: string, started: Array<ChildProcess>): Promise<string> =>
  new Promise<string>((resolve, reject) => {
    if (!started.includes(child)) started.push(child)
    let out = ""
    let err = ""
    const timer = setTimeout(() => reject(new Error(`the ${label} server did not start within 60 s: ${err}`)), 60_000)
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (err += c))
    child.stdout!.setEncoding("utf8").on("data", (c: string) => {
      out += c
      const newline = out.indexOf("\n")
      if (newline === -1) return
      clearTimeout(timer)
      resolve((JSON.parse(out.slice(0, newline)) as { url: string }).url)
    })
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`the ${label} server exited (${code ?? signal}): ${err.slice(-500)}`))
    })
  })
