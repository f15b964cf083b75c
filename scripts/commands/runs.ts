import type { Command } from 'commander';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('runs').description("the env's kept runs: id, label, when, engine, script, load, requests, rps, p95, errors, verdicts, flags"))
    .addOption(jsonOption())
    .action(async (opts) => (await import('../actions/compare')).runsAction(opts));
}
