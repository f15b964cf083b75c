/**
 * Ctrl-C / SIGTERM during a change: instead of dying half-way, the running step is asked to stop and the
 * action cleans up what it created before exiting.
 *
 *   1st: `signal` aborts. terraform (in its own process group, so the terminal's Ctrl-C never reaches it)
 *        gets exactly one SIGINT from loadfleet and finishes what is in flight, so its state stays whole.
 *   2nd: reported, nothing else: the clean-up is still running.
 *   3rd: `abandon` aborts: stop waiting, leave the rest to `loadfleet down` (which sweeps by tag).
 */
export interface Interrupts {
  readonly signal: AbortSignal;
  readonly abandon: AbortSignal;
}

export interface InterruptOptions {
  /** The command that finishes the job later, named when the user presses Ctrl-C again. */
  readonly later?: string;
  readonly write?: (text: string) => void;
}

export async function withInterrupts<T>(work: (signal: AbortSignal, abandon: AbortSignal) => Promise<T>, opts: InterruptOptions = {}): Promise<T> {
  const stop = new AbortController();
  const abandon = new AbortController();
  const write = opts.write ?? ((t: string) => void process.stderr.write(t));
  const later = opts.later ? ` and run \`${opts.later}\` later` : '';
  let count = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      write(`\n${sig}: stopping the current step (terraform finishes what is in flight), then cleaning up…\n`);
      stop.abort(new Error(`interrupted by ${sig}`));
    } else if (count === 2) {
      write(`\n${sig}: still cleaning up; press Ctrl-C again to abandon${later}\n`);
    } else if (count === 3) {
      write(`\n${sig}: abandoning the clean-up${later ? `; run \`${opts.later}\` later` : ''}\n`);
      abandon.abort(new Error(`abandoned by ${sig}`));
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(stop.signal, abandon.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
