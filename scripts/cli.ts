/**
 * loadfleet's command line. One top-level catch maps errors to the documented exit codes:
 * 0 ok · 1 an external tool or service said no · 2 usage or config error · 3 a run broke a --threshold, or
 * compare / run --baseline found a regression · 4 compare / run --baseline was inconclusive ·
 * 70 a bug (trace with DEBUG=1).
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../stacks/config-error';
import { EXIT, exitCodeFor } from './core/errors';
import { discoverConfig } from './adapters/config-discovery';
import { register as synth } from './commands/synth';
import { register as up } from './commands/up';
import { register as down } from './commands/down';
import { register as status } from './commands/status';
import { register as inventory } from './commands/inventory';
import { register as tune } from './commands/tune';
import { register as sweep } from './commands/sweep';
import { register as bake } from './commands/bake';
import { register as install } from './commands/install';
import { register as doctor } from './commands/doctor';
import { register as run } from './commands/run';
import { register as serve } from './commands/serve';
import { register as tunnel } from './commands/tunnel';
import { register as prices } from './commands/prices';
import { register as init } from './commands/init';
import { register as runs } from './commands/runs';
import { register as compare } from './commands/compare';
import { HELP, helpAfter } from './commands/help';

/** package.json's version (kept equal by test/unit/cli-words.test.ts). */
export const VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command('loadfleet')
    .description('A ready load-testing fleet on AWS (or local namespace hosts), and gone again afterwards.')
    .version(VERSION, '-v, --version', 'print the version')
    // The error and one line, not 30 lines of help (issue 22); commander still suggests a near flag or command.
    .showHelpAfterError('(run "loadfleet <command> --help" for its options)')
    .exitOverride();
  program.command('version').description('print the version').action(() => void process.stdout.write(`${VERSION}\n`));
  for (const register of [init, synth, up, down, status, inventory, tune, sweep, bake, install, doctor, serve, run, runs, compare, tunnel, prices]) register(program);
  // Each command's --help ends with examples and its exit codes (issue 22.13).
  for (const cmd of program.commands) {
    const h = HELP[cmd.name()];
    if (h) cmd.addHelpText('after', helpAfter(h));
  }
  // Config discovery (issue 22): without -c and --env, a command uses $LOADFLEET_CONFIG or ./loadfleet.yaml.
  program.hook('preAction', (_program, action) => {
    if (!action.options.some((o) => o.attributeName() === 'config')) return;
    const o = action.opts();
    if (o.config === undefined && o.env === undefined) {
      const found = discoverConfig();
      if (found !== undefined) action.setOptionValue('config', found);
    }
  });
  return program;
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof ConfigError) return EXIT.usage;
  return exitCodeFor(err);
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    const code = exitCodeOf(err);
    if (err instanceof CommanderError) return code; // commander already printed it
    const message = err instanceof Error ? err.message : String(err);
    if (code === EXIT.internal) {
      process.stderr.write(`loadfleet: internal error: ${message}\n${process.env.DEBUG ? (err as Error).stack : 'run again with DEBUG=1 for the stack trace'}\n`);
    } else {
      process.stderr.write(`loadfleet: ${message}\n`);
      if (process.env.DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    }
    return code;
  }
}
