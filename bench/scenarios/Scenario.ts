/**
 * The contract of a benchmark scenario kept in its own file under
 * `bench/scenarios/` (looker, whylabs, upload, …). `bench/run.ts` finds every
 * such module, runs it when it is wanted (`--only=<name>`), files its rows and
 * ratios in `bench/results.json`, and gates the ratios it knows targets for.
 *
 * A scenario starts the servers it needs and stops them (by PID) before it
 * resolves, runs each variant in its own child process (so CPU and peak RSS
 * are that variant's own), interleaves its variants over `rounds` rounds, and
 * reports one value per round for each ratio (the runner takes the median and
 * the spread).
 */
export interface ScenarioContext {
  /** `--quick`: a small size, for CI; no gating. */
  readonly quick: boolean
  /** Interleaved rounds to run (≥ 3 in a full run). */
  readonly rounds: number
  /** A scratch directory of this run (`bench/.out`), holding the compiled JS of `src/` and `bench/` as `src/…`, `bench/…`. */
  readonly outDir: string
  /** Progress lines for the person running the bench (stderr). */
  readonly log: (line: string) => void
}

export interface ScenarioResult {
  /** variant → metric → value (the median over rounds), e.g. `{ "effect-sessions": { reqPerSec_c16: 5200, cpuUsPerCall_c16: 180 } }`. */
  readonly rows: Readonly<Record<string, Readonly<Record<string, number>>>>
  /** ratio name → one value per round, e.g. `{ "looker.throughputVsLookerSdk_c16": [1.6, 1.7, 1.5] }`. */
  readonly ratios: Readonly<Record<string, ReadonlyArray<number>>>
  /** What a reader of the table should know (what each variant does, what was skipped and why). */
  readonly notes?: ReadonlyArray<string>
}

export interface Scenario {
  /** `--only=<name>` selects it; its rows are filed under this name. */
  readonly name: string
  readonly run: (context: ScenarioContext) => Promise<ScenarioResult>
}
