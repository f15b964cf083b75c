import * as readline from 'node:readline/promises';
import { UsageError } from '../core/errors';

/**
 * Asks before a change. On a terminal the user answers; `--yes` skips the question; without a terminal
 * (CI, pipes) the change is refused unless `--yes` was given, because nobody is there to answer.
 */
export async function confirmChange(question: string, opts: { yes: boolean; verb: string }): Promise<void> {
  if (opts.yes) return;
  if (!process.stdin.isTTY) {
    throw new UsageError(`${opts.verb} changes real resources and there is no terminal to ask: run it again with --yes`);
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new UsageError(`${opts.verb} cancelled: nothing was changed`);
  } finally {
    rl.close();
  }
}
