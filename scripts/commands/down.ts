import type { Command } from 'commander';
import { locked } from './locked';
import { envOptions, jsonOption, yesOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('down').description('destroy the env and everything it made (idempotent)'))
    .addOption(yesOption())
    .addOption(jsonOption())
    .option('--keep-ami', 'keep the env\'s baked AMIs and their snapshots', false)
    .action(async (opts) => locked(opts, 'down', async () => (await import('../actions/down')).downAction(opts)));
}
