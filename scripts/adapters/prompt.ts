import * as readline from 'node:readline/promises';
import { DeclinedError, UsageError } from '../core/errors';

/**
 * Asks before a change. On a terminal the user answers; `--yes` skips the question; without a terminal
 * (CI, pipes) the change is refused unless `--yes` was given (exit 2), because nobody is there to answer.
 * Answering anything but y/yes is a DeclinedError: exit 1, nothing changed.
 */
export async function confirmChange(question: string, opts: { yes: boolean; verb: string }): Promise<void> {
  if (opts.yes) return;
  if (!process.stdin.isTTY) {
    throw new UsageError(`${opts.verb} changes real resources and there is no terminal to ask: run it again with --yes`);
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new DeclinedError(`${opts.verb} cancelled: nothing was changed`); // exit 1, documented in --help and the README
  } finally {
    rl.close();
  }
}
