/** Progress display for long steps (listr2): a live list on a terminal, plain lines elsewhere, nothing with --json. */
import { Listr } from 'listr2';

export interface Step {
  readonly title: string;
  /** `report` updates the step's status line (e.g. "12/34 resources"). */
  readonly run: (report: (text: string) => void) => Promise<void>;
  readonly skip?: boolean;
}

export async function runSteps(steps: readonly Step[], opts: { quiet: boolean }): Promise<void> {
  const list = new Listr(
    steps.map((s) => ({
      title: s.title,
      skip: s.skip,
      task: async (_ctx: unknown, task: { output: string }) => {
        await s.run((text) => {
          task.output = text;
        });
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      // loadfleet handles Ctrl-C itself: it must clean up before exiting.
      registerSignalListeners: false,
      silentRendererCondition: opts.quiet,
      fallbackRendererCondition: () => !process.stdout.isTTY,
      rendererOptions: { collapseErrors: false, showErrorMessage: false },
    },
  );
  await list.run();
}
