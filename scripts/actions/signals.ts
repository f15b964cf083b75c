/**
 * Ctrl-C / SIGTERM during a change: instead of dying half-way, the running step is asked to stop and the
 * action cleans up what it created before exiting.
 *
 *   1st: `signal` aborts. terraform (in its own process group, so the terminal's Ctrl-C never reaches it)
 *        gets exactly one SIGINT from loadfleet and finishes what is in flight, so its state stays whole.
 *   2nd: reported, nothing else: the clean-up is still running.
 *   3rd: `abandon` aborts: stop waiting, leave the rest to `loadfleet down` (which sweeps by tag).
 *   4th: exit at once (130), naming the command that finishes the job.
 *
 * SIGHUP (the SSH session or terminal went away) takes the same path as SIGINT and SIGTERM: dying on it
 * would orphan terraform and leave what was being created behind.
 */
export const HANDLED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

export interface Interrupts {
  readonly signal: AbortSignal;
  readonly abandon: AbortSignal;
}

export interface InterruptOptions {
  /** The command that finishes the job later, named when the user presses Ctrl-C again. */
  readonly later?: string;
  /** What the first signal does, said on it (default: the terraform text of up/down). */
  readonly stopping?: string;
  readonly write?: (text: string) => void;
  /** How the 4th signal ends the process (tests replace it). */
  readonly exit?: (code: number) => void;
}

export async function withInterrupts<T>(work: (signal: AbortSignal, abandon: AbortSignal) => Promise<T>, opts: InterruptOptions = {}): Promise<T> {
  const stop = new AbortController();
  const abandon = new AbortController();
  // After a hang-up the terminal is gone: a write to it fails (EIO/EPIPE), which must not crash the clean-up.
  const write =
    opts.write ??
    ((t: string) => {
      try {
        process.stderr.write(t);
      } catch {
        /* the terminal is gone */
      }
    });
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const ignoreGoneTerminal = () => undefined;
  const later = opts.later ? ` and run \`${opts.later}\` later` : '';
  let count = 0;
  let hungUp = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (sig === 'SIGHUP' && !hungUp) {
      hungUp = true;
      process.stderr.on('error', ignoreGoneTerminal);
      process.stdout.on('error', ignoreGoneTerminal);
    }
    count++;
    if (count === 1) {
      write(`\n${sig}: ${opts.stopping ?? 'stopping the current step (terraform finishes what is in flight), then cleaning up…'}\n`);
      stop.abort(new Error(`interrupted by ${sig}`));
    } else if (count === 2) {
      write(`\n${sig}: still cleaning up; press Ctrl-C again to abandon${later}\n`);
    } else if (count === 3) {
      write(`\n${sig}: abandoning the clean-up${later ? `; run \`${opts.later}\` later` : ''}\n`);
      abandon.abort(new Error(`abandoned by ${sig}`));
    } else {
      write(`\n${sig}: exiting now${later ? `; run \`${opts.later}\` later` : ''}\n`);
      exit(130);
    }
  };
  for (const sig of HANDLED_SIGNALS) process.on(sig, onSignal);
  try {
    return await work(stop.signal, abandon.signal);
  } finally {
    for (const sig of HANDLED_SIGNALS) process.off(sig, onSignal);
    process.stderr.off('error', ignoreGoneTerminal);
    process.stdout.off('error', ignoreGoneTerminal);
  }
}
