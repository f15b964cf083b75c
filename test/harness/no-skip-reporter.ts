/**
 * A reporter that makes a test that never ran impossible to read as a pass (issue 21): vitest reports the tests
 * of a file whose beforeAll failed as "skipped". This project skips nothing on purpose (a missing tool fails
 * loudly), so any skipped or todo test fails the run, named, and the run ends on a plain count line.
 */
import type { Reporter, TestModule, Vitest } from 'vitest/node';

export default class NoSkipReporter implements Reporter {
  /** A name filter (-t) leaves the other tests out on purpose: those are not counted as "did not run". */
  private filtered = false;

  onInit(vitest: Vitest): void {
    this.filtered = vitest.config.testNamePattern !== undefined;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    const notRun: string[] = [];
    for (const m of testModules) {
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else if (this.filtered && t.options.mode === 'skip') continue;
        else notRun.push(`${m.moduleId.replace(`${process.cwd()}/`, '')} > ${t.fullName} (${state})`);
      }
    }
    if (notRun.length > 0) {
      process.exitCode = 1;
      console.error(`\n${notRun.length} test(s) did not run (a failed beforeAll, a skip or a todo) — that is a failure here:`);
      for (const n of notRun.slice(0, 50)) console.error(`  - ${n}`);
      if (notRun.length > 50) console.error(`  … and ${notRun.length - 50} more`);
    }
    const project = testModules[0]?.project.name;
    console.log(`\n${project ? `${project}: ` : ''}${passed} passed, ${failed} failed, ${notRun.length} skipped`);
  }
}
