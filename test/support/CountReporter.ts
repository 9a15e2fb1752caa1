/**
 * Prints the plain closing line CI reads: `N passed, N failed` (`, N skipped`).
 * Unhandled errors count as failures.
 */
import type { Reporter, RunnerTask, RunnerTestFile } from "vitest"

const walk = (tasks: ReadonlyArray<RunnerTask>, counts: { passed: number; failed: number; skipped: number }) => {
  for (const task of tasks) {
    if (task.type === "suite") {
      walk(task.tasks, counts)
      if (task.result?.state === "fail" && task.tasks.length === 0) counts.failed++
    } else if (task.mode === "skip" || task.mode === "todo") counts.skipped++
    else if (task.result?.state === "pass") counts.passed++
    else if (task.result?.state === "fail") counts.failed++
    else counts.skipped++
  }
}

export default class CountReporter implements Reporter {
  onFinished(files: ReadonlyArray<RunnerTestFile> = [], errors: ReadonlyArray<unknown> = []) {
    const counts = { passed: 0, failed: 0, skipped: 0 }
    for (const file of files) {
      walk(file.tasks, counts)
      // a file that failed to load (syntax error, failing hook) has no tests but must fail the run
      if (file.result?.state === "fail" && file.tasks.length === 0) counts.failed++
    }
    counts.failed += errors.length
    const skipped = counts.skipped > 0 ? `, ${counts.skipped} skipped` : ""
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed${skipped}\n`)
  }
}
