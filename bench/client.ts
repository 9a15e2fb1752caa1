/**
 * One client variant of one scenario, alone in its process (so its CPU and
 * memory are its own). Prints one JSON line of metrics.
 *
 * `node client.js <scenario> <variant> '<json params>'`
 *
 * Each variant imports only what it uses (dynamic imports), so a raw undici
 * child does not carry Effect or @jupyterlab/services in its memory.
 */
import type * as EffectNS from "effect/Effect"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import {
  addPhase,
  cpuMicros,
  markMeasured,
  measuredFromUs,
  type Metrics,
  median,
  peakRssMB,
  type Phase,
  phase,
  type RateParams,
  resetPeakRss,
  rssMB,
  runPromises
} from "./lib.js"

type EffectModule = typeof EffectNS

/** Parameters of the overhead scenario. */
interface OverheadParams extends RateParams {
  readonly url: string
  readonly apiKey: string
  readonly workspace: string
  readonly session: string
}

/** Parameters of the jupyter scenario. */
interface JupyterParams extends RateParams {
  readonly url: string
  readonly token: string
  readonly sessionIds: ReadonlyArray<string>
}

/** Parameters of the stream and prefetch scenarios. */
interface StreamParams {
  readonly url: string
  readonly apiKey: string
  readonly workspace: string
  readonly session: string
  readonly files: number
  readonly warmSession: string
  readonly pageSize: number
  /** Pages in flight: effect-sessions' `prefetch` (its default when absent), the hand loops' (1 when absent). */
  readonly prefetch?: number
}

// ---------------------------------------------------------------------------
// harness

/** Like {@link runPromises}, inside Effect: `concurrency` fibers each taking the next call. */
const runEffects = <E>(
  Effect: EffectModule,
  n: number,
  concurrency: number,
  call: () => EffectNS.Effect<unknown, E>,
  warmup = false
): EffectNS.Effect<Phase, E> =>
  Effect.suspend(() => {
    if (!warmup) markMeasured()
    const latencies = new Float64Array(n)
    let next = 0
    let done = 0
    const one = Effect.suspend(() => {
      const t0 = performance.now()
      return Effect.map(call(), () => {
        latencies[done++] = performance.now() - t0
      })
    })
    const worker: EffectNS.Effect<void, E> = Effect.suspend(() => {
      if (next >= n) return Effect.void
      next++
      return Effect.zipRight(one, worker)
    })
    const cpu = process.cpuUsage()
    const t0 = performance.now()
    return Effect.map(
      Effect.all(Array.from({ length: Math.min(concurrency, n) }, () => worker), {
        concurrency: "unbounded",
        discard: true
      }),
      () => phase(n, performance.now() - t0, cpuMicros(cpu), latencies)
    )
  })

let collect: (() => void) | undefined

/**
 * A full garbage collection between the warm-up and the measured phases (the
 * overhead scenario, every variant alike): the collection of what module
 * loading and the warm-up left in the old generation then falls into no
 * measured phase. Without it the first full collection after start-up landed
 * in whichever phase was running when the old generation filled, most often
 * the sequential one of the Effect-based children (their live heap is ~24 MB
 * against ~10 MB for a bare undici child, so that collection marks more): ~30 ms,
 * ~5 µs per call of a 6 000-call phase, in some rounds and not others.
 * Collections that the measured calls themselves cause are still measured.
 */
const settleHeap = (): void => {
  if (collect === undefined) {
    V8.setFlagsFromString("--expose-gc")
    collect = Vm.runInNewContext("gc") as () => void
  }
  collect()
  collect()
}

/**
 * The warm-up steps before the measured phases, every variant alike: `p.warmup`
 * calls at `p.concurrency`; with `settle`, {@link settleHeap} and then half as
 * many at `p.concurrency` again; last, half as many sequential calls, so that
 * each measured phase starts on code the JIT has already compiled for its mode.
 *
 * Both re-warms were measured (`--trace-opt`, CPU per 1 000 calls): a
 * sequential phase takes paths a concurrent warm-up never runs (undici's
 * check of an idle keep-alive socket before reuse, a `setImmediate` per call;
 * the attempt timer's list going empty and filling again), and V8 compiled
 * ~50 functions of the undici child and ~75–110 of the effect-sessions child
 * during the first 3 000 calls of it, the first 1 000 costing about twice the
 * rest; and the forced full collection of `settleHeap` discards much of the
 * compiled code, which is then compiled again inside the measured phase.
 */
const warmUp = (p: RateParams, settle: boolean): ReadonlyArray<{ readonly calls: number; readonly concurrency: number } | "settle"> => {
  const again = Math.ceil(p.warmup / 2)
  return [
    { calls: p.warmup, concurrency: p.concurrency },
    ...(settle ? ["settle" as const, { calls: again, concurrency: p.concurrency }] : []),
    { calls: again, concurrency: 1 }
  ]
}

/** {@link warmUp}, then the sequential and the concurrent phase, inside Effect. */
const rateEffect = <E>(
  Effect: EffectModule,
  p: RateParams,
  call: () => EffectNS.Effect<unknown, E>,
  prefix = "",
  settle = false
) =>
  Effect.gen(function*() {
    const metrics: Metrics = {}
    for (const step of warmUp(p, settle)) {
      yield* step === "settle" ? Effect.sync(settleHeap) : runEffects(Effect, step.calls, step.concurrency, call, true)
    }
    addPhase(metrics, `${prefix}seq`, yield* runEffects(Effect, p.seq, 1, call))
    addPhase(metrics, `${prefix}c${p.concurrency}`, yield* runEffects(Effect, p.conc, p.concurrency, call))
    const op = prefix === "" ? "" : `_${prefix.replace(/_$/, "")}`
    const counted = yield* perCall(Effect, call)
    metrics[`fibersPerCall${op}`] = counted.fibers
    metrics[`effectStepsPerCall${op}`] = counted.steps
    return metrics
  })

/**
 * What an effect costs the Effect runtime: the fibers it makes (by fiber ids)
 * and the run-loop steps (effects evaluated) of all its fibers, counted by a
 * `Supervisor` with op supervision on (never inside a measured phase: counting
 * slows every step).
 */
const countSteps = <A, E, R>(Effect: EffectModule, effect: EffectNS.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const Supervisor = yield* Effect.promise(() => import("effect/Supervisor"))
    const RuntimeFlags = yield* Effect.promise(() => import("effect/RuntimeFlags"))
    const RuntimeFlagsPatch = yield* Effect.promise(() => import("effect/RuntimeFlagsPatch"))
    let forks = 0
    let steps = 0
    class Counter extends Supervisor.AbstractSupervisor<number> {
      get value() {
        return Effect.sync(() => forks)
      }
      override onStart() {
        forks++
      }
      override onEffect() {
        steps++
      }
    }
    // Fibers: fiber ids come from one counter, so two probe fibers around the effect tell how many fibers it made
    // (the supervisor's onStart misses some, e.g. the fibers of a race); nothing else runs in this process meanwhile.
    const probe = Effect.map(Effect.fork(Effect.void), (fiber) => fiber.id().id)
    const before = yield* probe
    const value = yield* Effect.supervised(
      Effect.withRuntimeFlagsPatch(effect, RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision)),
      new Counter()
    )
    const after = yield* probe
    return { forks: Math.max(forks, after - before - 1), steps, value }
  })

/** After the measurement: the fibers one call forks and its run-loop steps (over 50 calls). */
const perCall = <E>(Effect: EffectModule, call: () => EffectNS.Effect<unknown, E>) =>
  Effect.map(
    countSteps(Effect, Effect.repeatN(Effect.suspend(call), 49)),
    ({ forks, steps }) => ({ fibers: forks / 50, steps: steps / 50 })
  )

/** {@link warmUp}, then the sequential and the concurrent phase, with promises. */
const ratePromise = async (p: RateParams, call: () => Promise<unknown>, prefix = "", settle = false): Promise<Metrics> => {
  const metrics: Metrics = {}
  for (const step of warmUp(p, settle)) {
    if (step === "settle") settleHeap()
    else await runPromises(step.calls, step.concurrency, call, true)
  }
  addPhase(metrics, `${prefix}seq`, await runPromises(p.seq, 1, call))
  addPhase(metrics, `${prefix}c${p.concurrency}`, await runPromises(p.conc, p.concurrency, call))
  return metrics
}

/** The floor: `undici.request` and `JSON.parse`, no validation. */
const undiciJson = async () => {
  const { request } = await import("undici")
  return async (url: string, headers: Record<string, string>): Promise<unknown> => {
    const { body, statusCode } = await request(url, { headers })
    const text = await body.text()
    if (statusCode !== 200) throw new Error(`${url}: ${statusCode} ${text.slice(0, 200)}`)
    return JSON.parse(text)
  }
}

/**
 * The floor of floors: one `undici.dispatch` per call with the smallest
 * callback handler that collects the body (what effect-sessions' fast path
 * does, minus everything else), then `JSON.parse`.
 */
const undiciDispatchJson = async () => {
  const { Agent } = await import("undici")
  const agent = new Agent()
  return (url: string, headers: Record<string, string>): Promise<unknown> => {
    const { origin, pathname, search } = new URL(url)
    const path = pathname + search
    return new Promise((resolve, reject) => {
      let status = 0
      const chunks: Array<Buffer> = []
      agent.dispatch({ origin, path, method: "GET", headers }, {
        onConnect() {},
        onHeaders(statusCode) {
          status = statusCode
          return true
        },
        onData(chunk) {
          chunks.push(chunk)
          return true
        },
        onComplete() {
          const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8")
          if (status !== 200) reject(new Error(`${url}: ${status} ${text.slice(0, 200)}`))
          else resolve(JSON.parse(text))
        },
        onError: reject
      })
    })
  }
}

/** Global `fetch` and `JSON.parse`. */
const fetchJson = async (url: string, headers: Record<string, string>): Promise<unknown> => {
  const response = await fetch(url, { headers })
  const text = await response.text()
  if (response.status !== 200) throw new Error(`${url}: ${response.status} ${text.slice(0, 200)}`)
  return JSON.parse(text)
}

/** The `HttpClient` layer of an effect-sessions variant. */
const httpLayer = async (transport: "ours" | "undici" | "fetch") =>
  transport === "fetch"
    ? (await import("@effect/platform/FetchHttpClient")).layer
    : transport === "undici"
    ? (await import("@effect/platform-node/NodeHttpClient")).layerUndici
    : (await import("../src/node/index.js")).UndiciHttpClient.layer

// ---------------------------------------------------------------------------
// scenarios

const overhead = async (variant: string, p: OverheadParams): Promise<Metrics> => {
  const url = `${p.url}/api/v1/workspaces/${p.workspace}/upload_sessions/${p.session}`
  const headers = { authorization: `Bearer ${p.apiKey}`, accept: "application/json" }
  switch (variant) {
    case "effect-sessions (UndiciHttpClient)":
    case "effect-sessions (undici)":
    case "effect-sessions (fetch)": {
      const Effect = await import("effect/Effect")
      const Redacted = await import("effect/Redacted")
      const { Deepset } = await import("../src/index.js")
      const http = await httpLayer(
        variant.includes("fetch") ? "fetch" : variant.includes("UndiciHttpClient") ? "ours" : "undici"
      )
      const program = Effect.gen(function*() {
        const deepset = yield* Deepset.UploadSessions
        return yield* rateEffect(Effect, p, () => deepset.getStatus(p.workspace, p.session), "", true)
      })
      return Effect.runPromise(
        program.pipe(
          Effect.provide(Deepset.layer({ apiKey: Redacted.make(p.apiKey), baseUrl: p.url })),
          Effect.provide(http)
        )
      )
    }
    case "@effect/platform HttpClient (undici)":
    case "@effect/platform HttpClient (fetch)": {
      // The same GET made with that HttpClient alone (`client.get` + `response.json`), nothing of ours: what
      // effect-sessions on the same HttpClient is compared with (issue 10's genericVsPlatform ratios).
      const Effect = await import("effect/Effect")
      const HttpClient = await import("@effect/platform/HttpClient")
      const http = await httpLayer(variant.includes("fetch") ? "fetch" : "undici")
      const program = Effect.flatMap(HttpClient.HttpClient, (client) =>
        rateEffect(Effect, p, () =>
          Effect.flatMap(client.get(url, { headers }), (response) =>
            response.status === 200
              ? response.json
              : Effect.die(new Error(`${url}: ${response.status}`))), "", true))
      return Effect.runPromise(Effect.provide(program, http))
    }
    case "undici.request": {
      const get = await undiciJson()
      return ratePromise(p, () => get(url, headers), "", true)
    }
    case "undici.dispatch": {
      const get = await undiciDispatchJson()
      return ratePromise(p, () => get(url, headers), "", true)
    }
    case "fetch":
      return ratePromise(p, () => fetchJson(url, headers), "", true)
  }
  throw new Error(`unknown overhead variant ${variant}`)
}

const jupyter = async (variant: string, p: JupyterParams): Promise<Metrics> => {
  const ids = p.sessionIds
  let i = 0
  const nextId = () => ids[i++ % ids.length] ?? ""
  switch (variant) {
    case "effect-sessions": {
      const Effect = await import("effect/Effect")
      const Redacted = await import("effect/Redacted")
      const Jupyter = await import("../src/jupyter/index.js")
      const http = await httpLayer("ours")
      const program = Effect.gen(function*() {
        const client = yield* Jupyter.Sessions
        const listed = yield* rateEffect(Effect, p, () => client.listSessions(), "list_")
        const got = yield* rateEffect(Effect, p, () => client.getSession(nextId()), "get_")
        return { ...listed, ...got }
      })
      return Effect.runPromise(
        program.pipe(
          Effect.provide(Jupyter.layer({ baseUrl: p.url, token: Redacted.make(p.token) })),
          Effect.provide(http)
        )
      )
    }
    case "@jupyterlab/services": {
      const { ServerConnection, SessionAPI } = await import("@jupyterlab/services")
      const settings = ServerConnection.makeSettings({ baseUrl: `${p.url}/`, token: p.token })
      const listed = await ratePromise(p, () => SessionAPI.listRunning(settings), "list_")
      const got = await ratePromise(p, () => SessionAPI.getSessionModel(nextId(), settings), "get_")
      return { ...listed, ...got }
    }
    case "undici.request": {
      const get = await undiciJson()
      const headers = { authorization: `token ${p.token}`, accept: "application/json" }
      const listed = await ratePromise(p, () => get(`${p.url}/api/sessions`, headers), "list_")
      const got = await ratePromise(p, () => get(`${p.url}/api/sessions/${nextId()}`, headers), "get_")
      return { ...listed, ...got }
    }
  }
  throw new Error(`unknown jupyter variant ${variant}`)
}

/** Streams every file of a session; resolves to the item count. */
interface Lister {
  (session: string): Promise<number>
  /** Effect variants: the same listing once more, counting its fibers and run-loop steps. */
  steps?: (session: string) => Promise<{ readonly forks: number; readonly steps: number; readonly value: number }>
}

/**
 * effect-sessions' `streamFiles`, validation on, default prefetch unless `p.prefetch`; on its own transport, or on
 * the platform's `NodeHttpClient.layerUndici` (the generic path).
 */
const effectLister = async (p: StreamParams, transport: "ours" | "undici" = "ours"): Promise<Lister> => {
  const Effect = await import("effect/Effect")
  const Layer = await import("effect/Layer")
  const ManagedRuntime = await import("effect/ManagedRuntime")
  const Redacted = await import("effect/Redacted")
  const Stream = await import("effect/Stream")
  const { Deepset } = await import("../src/index.js")
  // One runtime for the warm-up and the measured run, as an application would have.
  const runtime = ManagedRuntime.make(
    Layer.provide(Deepset.layer({ apiKey: Redacted.make(p.apiKey), baseUrl: p.url }), await httpLayer(transport))
  )
  const options = { pageSize: p.pageSize, ...(p.prefetch === undefined ? {} : { prefetch: p.prefetch }) }
  const listing = (session: string) =>
    Effect.flatMap(Deepset.UploadSessions, (deepset) =>
      deepset.streamFiles(p.workspace, session, options).pipe(
        Stream.runFold(0, (n, file) => (file.name.length > 0 ? n + 1 : n))
      ))
  const lister: Lister = (session) => runtime.runPromise(listing(session))
  lister.steps = (session) => runtime.runPromise(countSteps(Effect, listing(session)))
  return lister
}

/** `JSON.parse` in a function of its own, so that a CPU profile books the parse (V8 books builtins to their caller) apart. */
const parseJson = (text: string): unknown => JSON.parse(text)

/** A page as the hand loops read it. */
interface HandPage {
  readonly data: ReadonlyArray<{ readonly name: string }>
  readonly has_more: boolean
  readonly total: number
}

/**
 * The hand-written loop with undici, like for like with `streamFiles`: page 1
 * first, its `total` says how many pages to expect, then up to `prefetch`
 * requests in flight (`prefetch` 1: one page after the other), consumed in
 * page order. A page fetched ahead waits as its text and is parsed (and, with
 * `validate`, decoded with our schema's decoder, `ApiClient.decoder(
 * PaginatedSessionFile)`) when the loop reaches it, as effect-sessions defers
 * the decoding of prefetched pages. Past the expected last page (the listing
 * grew) it goes on one page at a time while pages say `has_more`.
 */
const handLoop = async (p: StreamParams, validate: boolean): Promise<Lister> => {
  const { request } = await import("undici")
  let decode: (json: unknown) => HandPage = (json) => json as HandPage
  if (validate) {
    const ApiClient = await import("../src/core/ApiClient.js")
    const Schemas = await import("../src/deepset/Schemas.js")
    const decoder = ApiClient.decoder(Schemas.PaginatedSessionFile)
    decode = (json) => {
      const decoded = decoder(json)
      if (decoded._tag === "Left") throw new Error(decoded.left.message)
      return decoded.right
    }
  }
  const prefetch = Math.max(1, p.prefetch ?? 1)
  const headers = { authorization: `Bearer ${p.apiKey}`, accept: "application/json" }
  return async (session) => {
    const base = `${p.url}/api/v1/workspaces/${p.workspace}/upload_sessions/${session}/files?limit=${p.pageSize}`
    const fetchText = async (page: number): Promise<string> => {
      const { body, statusCode } = await request(`${base}&page_number=${page}`, { headers })
      const text = await body.text()
      if (statusCode !== 200) throw new Error(`page ${page}: ${statusCode} ${text.slice(0, 200)}`)
      return text
    }
    let count = 0
    const consume = (text: string): HandPage => {
      const page = decode(parseJson(text))
      for (const file of page.data) if (file.name.length > 0) count++
      return page
    }
    const first = consume(await fetchText(1))
    if (!first.has_more || first.data.length === 0) return count
    const lastExpected = Math.max(2, Math.ceil(first.total / p.pageSize))
    const inFlight: Array<Promise<string>> = []
    let next = 2
    for (;;) {
      const limit = next <= lastExpected ? Math.min(prefetch, inFlight.length + lastExpected - next + 1) : 1
      while (inFlight.length < limit) {
        const pending = fetchText(next++)
        pending.catch(() => {}) // awaited in order below; no unhandled rejection meanwhile
        inFlight.push(pending)
      }
      const page = consume(await inFlight.shift()!)
      if (!page.has_more || page.data.length === 0) return count
    }
  }
}

/**
 * CPU (µs) of this process's main thread and of its other threads (V8's
 * workers: concurrent GC marking and sweeping, compilation; libuv's pool),
 * from Linux's per-thread `/proc/self/task/<tid>/stat` (clock ticks);
 * undefined elsewhere.
 */
const threadCpu = async (): Promise<{ readonly main: number; readonly other: number } | undefined> => {
  const Fs = await import("node:fs")
  try {
    let main = 0
    let other = 0
    for (const tid of Fs.readdirSync("/proc/self/task")) {
      const stat = Fs.readFileSync(`/proc/self/task/${tid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      const micros = (Number(fields[11]) + Number(fields[12])) * 10_000
      if (Number(tid) === process.pid) main += micros
      else other += micros
    }
    return { main, other }
  } catch {
    return undefined
  }
}

/** Garbage collection during the measured phase: pauses (ms) and count, from `PerformanceObserver`. */
const gcWatch = async () => {
  const { PerformanceObserver } = await import("node:perf_hooks")
  let ms = 0
  let count = 0
  let on = false
  const observer = new PerformanceObserver((list) => {
    if (!on) return
    for (const entry of list.getEntries()) {
      ms += entry.duration
      count++
    }
  })
  observer.observe({ entryTypes: ["gc"] })
  return {
    start: () => void (on = true),
    stop: async () => {
      // The observer is called asynchronously: let the last entries arrive.
      await new Promise((r) => setTimeout(r, 50))
      observer.disconnect()
      return { ms, count }
    }
  }
}

/**
 * How many times the warm-up listing is streamed before the measured one: in
 * the stream scenario 200 times (its 5 pages of 1 000: 1 000 pages, as many as
 * the measured listing of 1M), in the prefetch scenario (20 ms per page) 10.
 */
const streamWarmups = (scenario: string) => (scenario === "stream" ? 200 : 10)

/** How many steady-state passes of the measured listing the stream scenario measures (after its cold one). */
const streamPasses = 3

/** Each figure's median over the passes. */
const medianOfEach = <T extends Record<string, number>>(passes: ReadonlyArray<T>): T => {
  const out: Record<string, number> = {}
  for (const key of Object.keys(passes[0]!)) out[key] = median(passes.map((pass) => pass[key]!))
  return out as T
}

/** One listing's figures: time, CPU (all threads, and split by thread where Linux says), GC. */
const measureListing = async (run: Lister, session: string, expected: number, variant: string) => {
  const gc = await gcWatch()
  gc.start()
  const threads0 = await threadCpu()
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const count = await run(session)
  const seconds = (performance.now() - t0) / 1000
  const cpuUs = cpuMicros(cpu)
  const threads1 = await threadCpu()
  const gcs = await gc.stop()
  if (count !== expected) throw new Error(`${variant}: streamed ${count} files, expected ${expected}`)
  return {
    items: count,
    seconds,
    itemsPerSec: count / seconds,
    cpuUsPerItem: cpuUs / count,
    gcMs: gcs.ms,
    gcCount: gcs.count,
    gcPctOfCpu: (100 * gcs.ms * 1000) / cpuUs,
    ...(threads0 === undefined || threads1 === undefined ? {} : {
      mainThreadCpuUsPerItem: (threads1.main - threads0.main) / count,
      otherThreadsCpuUsPerItem: (threads1.other - threads0.other) / count
    })
  }
}

const stream = async (scenario: string, variant: string, p: StreamParams): Promise<Metrics> => {
  const run = variant === "effect-sessions" || variant.startsWith("prefetch")
    ? await effectLister(p)
    : variant === "effect-sessions (NodeHttpClient)"
    ? await effectLister(p, "undici")
    : variant === "hand loop (JSON.parse)"
    ? await handLoop(p, false)
    : variant === "hand loop + schema"
    ? await handLoop(p, true)
    : undefined
  if (run === undefined) throw new Error(`unknown stream variant ${variant}`)
  // Warm-up, every variant alike (see streamWarmups). With 50 pages V8 was still optimizing the per-page code
  // during the measured listing, on both sides and more on ours (more code on the path): ~125 functions of
  // effect-sessions' and ~72 of the hand loop's, most of them on its compiler threads.
  for (let i = 0; i < streamWarmups(scenario); i++) await run(p.warmSession)
  // The stream scenario then streams the measured listing 1 + streamPasses times, each pass measured alone: the
  // first ("cold") still pays for V8 optimizing the code of a long listing (which the 5-page warm-up listing does
  // not exercise alike); the others are the steady state of a process that streams big listings, reported as the
  // median of each figure over them (a burst of load elsewhere on the machine moves one pass, not the median). The
  // prefetch scenario, bound by its server's latency, measures one pass.
  const cold = scenario === "stream" ? await measureListing(run, p.session, p.files, variant) : undefined
  // Before the measurement (and outside the profiled window): the warm-up listing once more, counting the Effect
  // runtime's work per page (op supervision slows every step while it counts).
  const counted = run.steps === undefined ? undefined : await run.steps(p.warmSession)
  const pages = counted === undefined ? 0 : Math.ceil(counted.value / p.pageSize)
  // The process's peak RSS so far (warm-up, first pass), then the peak of the measured passes alone.
  const processPeakBeforeMB = peakRssMB()
  const rssAtStartMB = rssMB()
  const peakReset = await resetPeakRss()
  markMeasured()
  const passes: Array<Awaited<ReturnType<typeof measureListing>>> = []
  for (let i = 0; i < (scenario === "stream" ? streamPasses : 1); i++) {
    passes.push(await measureListing(run, p.session, p.files, variant))
  }
  const measured = medianOfEach(passes)
  const listingPeakMB = peakRssMB()
  return {
    ...(counted === undefined ? {} : {
      effectStepsPerPage: counted.steps / pages,
      fibersPerPage: counted.forks / pages
    }),
    ...measured,
    ...(cold === undefined ? {} : { coldItemsPerSec: cold.itemsPerSec, coldCpuUsPerItem: cold.cpuUsPerItem }),
    peakRssMB: Math.max(processPeakBeforeMB, listingPeakMB),
    rssAtListingStartMB: rssAtStartMB,
    ...(peakReset ? { listingPeakRssMB: listingPeakMB } : {})
  }
}

const [scenario = "", variant = "", raw = "{}"] = process.argv.slice(2)
const params: unknown = JSON.parse(raw)
const started = performance.now()
const metrics = await (scenario === "overhead"
  ? overhead(variant, params as OverheadParams)
  : scenario === "jupyter"
  ? jupyter(variant, params as JupyterParams)
  : scenario === "stream" || scenario === "prefetch"
  ? stream(scenario, variant, params as StreamParams)
  : Promise.reject(new Error(`unknown scenario ${scenario}`)))
metrics["peakRssMB"] ??= peakRssMB()
metrics["childSeconds"] = (performance.now() - started) / 1000
if (measuredFromUs !== undefined) metrics["profileFromUs"] = measuredFromUs
// Exit at once: idle keep-alive sockets would otherwise hold the process for seconds.
process.stdout.write(`${JSON.stringify(metrics)}\n`, () => process.exit(0))
