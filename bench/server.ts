/**
 * The bench's server process: the deepset emulator (and the Jupyter emulator
 * when the library has one) on 127.0.0.1 free ports, seeded for every
 * scenario. Prints one JSON line ({@link ServerInfo}) and serves until killed.
 *
 * `node server.js '{"largeFiles":1000000,"smallFiles":100000,"slowFiles":20000,"latencyMs":20,"jupyterSessions":50}'`
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { DeepsetEmulator } from "../src/testing/index.js"
import { Loopback } from "../src/testing/node.js"
import { type JupyterTarget, seedJupyter, type ServerInfo } from "./lib.js"

interface Params {
  readonly largeFiles: number
  readonly smallFiles: number
  /** Files of the prefetch scenario's listing (pages × 100). */
  readonly slowFiles: number
  readonly latencyMs: number
  readonly jupyterSessions: number
}

const params = JSON.parse(process.argv[2] ?? "{}") as Params
const apiKey = "bench-key"
const workspace = "bench"
const maxPageSize = 1000

/** What the bench needs of the Jupyter emulator module, written by someone else; loaded only if it exists. */
interface JupyterEmulatorModule {
  readonly make: (options: { readonly token: string }) => Effect.Effect<{ readonly app: HttpApp.Default<never, never> }>
}

const loadJupyterEmulator = Effect.promise(async (): Promise<JupyterEmulatorModule | string> => {
  const specifier = new URL("../src/testing/JupyterEmulator.js", import.meta.url).href
  try {
    const mod = (await import(specifier)) as Partial<JupyterEmulatorModule>
    return typeof mod.make === "function" ? (mod as JupyterEmulatorModule) : "JupyterEmulator has no make()"
  } catch (e) {
    return `jupyter emulator not available (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`
  }
})

const main = Effect.gen(function*() {
  const deepset = yield* DeepsetEmulator.make({ apiKey, maxPageSize, unlimitedForBenchmarks: true })
  const statusSession = yield* deepset.seedSession({ workspace, fileCount: 1000, status: "CLOSED" })
  const largeSession = yield* deepset.seedSession({ workspace, fileCount: params.largeFiles, status: "CLOSED" })
  const smallSession = yield* deepset.seedSession({ workspace, fileCount: params.smallFiles, status: "CLOSED" })
  const warmSession = yield* deepset.seedSession({ workspace, fileCount: 5 * maxPageSize, status: "CLOSED" })
  const served = yield* Loopback.serve(deepset.app)

  // A dedicated instance for the prefetch scenario: every request waits on the server.
  const slow = yield* DeepsetEmulator.make({ apiKey, maxPageSize, unlimitedForBenchmarks: true })
  const slowSession = yield* slow.seedSession({ workspace, fileCount: params.slowFiles, status: "CLOSED" })
  // The warm-up listing: 20 pages, streamed with the same prefetch (JIT and connection pool warm).
  const slowWarm = yield* slow.seedSession({ workspace, fileCount: 2000, status: "CLOSED" })
  yield* slow.faults.set({ latency: `${params.latencyMs} millis` })
  const slowServed = yield* Loopback.serve(slow.app)

  const mod = yield* loadJupyterEmulator
  const jupyter: JupyterTarget | { readonly skipped: string } = typeof mod === "string"
    ? { skipped: mod }
    : yield* Effect.gen(function*() {
      const token = "bench-jupyter-token"
      const emulator = yield* mod.make({ token })
      const jServed = yield* Loopback.serve(emulator.app)
      const sessionIds = yield* Effect.tryPromise(() => seedJupyter(jServed.url, token, params.jupyterSessions, false))
      return { url: jServed.url, token, sessionIds }
    }).pipe(
      Effect.catchAllCause((cause) => Effect.succeed({ skipped: `jupyter emulator failed: ${Cause.pretty(cause)}` }))
    )

  const info: ServerInfo = {
    deepset: {
      url: served.url,
      apiKey,
      workspace,
      statusSession,
      largeSession,
      largeFiles: params.largeFiles,
      smallSession,
      smallFiles: params.smallFiles,
      warmSession,
      maxPageSize
    },
    slow: {
      url: slowServed.url,
      apiKey,
      workspace,
      session: slowSession,
      files: params.slowFiles,
      warmSession: slowWarm,
      latencyMs: params.latencyMs
    },
    jupyter
  }
  process.stdout.write(`${JSON.stringify(info)}\n`)
  return yield* Effect.never
})

// Killed by PID by the orchestrator; also gone if the orchestrator dies (its end of our stdin closes).
process.stdin.on("close", () => process.exit(0))
process.stdin.resume()
NodeRuntime.runMain(Effect.scoped(main))
