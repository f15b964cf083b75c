/** Progress display for long steps (listr2): a live list on a terminal, plain lines elsewhere, nothing with --json. */
import { PROGRESS_INTERVAL_MS, throttled } from '../core/timing';

export interface Step {
  readonly title: string;
  /** `report` updates the step's status line (e.g. "12/34 resources"). */
  readonly run: (report: (text: string) => void) => Promise<void>;
  readonly skip?: boolean;
}

export async function runSteps(steps: readonly Step[], opts: { quiet: boolean; tty?: boolean }): Promise<void> {
  // Without a terminal every status update is a line of its own: one per host on a 1,000-host fleet (issue 19).
  const tty = opts.tty ?? !!process.stdout.isTTY;
  if (opts.quiet) {
    // Nothing is shown: run the steps in order (stop at the first error, as listr2 does) without loading it.
    for (const s of steps) if (!s.skip) await s.run(() => undefined);
    return;
  }
  const { Listr } = await import('listr2');
  const list = new Listr(
    steps.map((s) => ({
      title: s.title,
      skip: s.skip,
      task: async (_ctx: unknown, task: { output: string }) => {
        if (tty) {
          await s.run((text) => {
            task.output = text;
          });
          return;
        }
        const t = throttled((text) => (task.output = text), PROGRESS_INTERVAL_MS);
        try {
          await s.run(t.report);
        } finally {
          t.flush();
        }
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      // loadfleet handles Ctrl-C itself: it must clean up before exiting.
      registerSignalListeners: false,
      silentRendererCondition: opts.quiet,
      fallbackRendererCondition: () => !tty,
      rendererOptions: { collapseErrors: false, showErrorMessage: false },
    },
  );
  await list.run();
}
