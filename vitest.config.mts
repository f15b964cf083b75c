import { defineConfig } from 'vitest/config';

// Two projects: unit tests are pure and fast (no sockets, no processes);
// integration tests drive real terraform, moto_server, sshd hosts and are never retried.
export default defineConfig({
  test: {
    // The CLI under test runs from dist/: build it from the current sources first, once per run.
    globalSetup: ['test/harness/build.ts'],
    // A test that did not run (a failed beforeAll reports its tests as skipped) fails the run (issue 21).
    reporters: ['default', './test/harness/no-skip-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          setupFiles: ['test/harness/setup-cdktf.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // The suite leaves no path outside the clone behind (/var/lib/loadfleet, /etc/loadfleet): issue 21.
          globalSetup: ['test/harness/machine-paths-guard.ts'],
          setupFiles: ['test/harness/setup-cdktf.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          // Real hosts and moto share the machine's two cores; files run one at a time.
          fileParallelism: false,
          retry: 0,
        },
      },
    ],
  },
});
