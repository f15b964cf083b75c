import type { Command } from 'commander';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('status').description('what the env is, where, and when it expires'))
    .addOption(jsonOption())
    .action(async (opts) => (await import('../actions/status')).statusAction(opts));
}
