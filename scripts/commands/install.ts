import type { Command } from 'commander';
import { locked } from './locked';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('install').description("install the config's engine on the controller and agents, supervised, wired to the master"))
    .option('--hosts <list>', 'only these hosts or roles, comma-separated (default: controller and agents)')
    .option('--concurrency <n>', 'hosts at a time (default 128)')
    .addOption(jsonOption())
    .action(async (opts) => locked(opts, 'install', async () => (await import('../actions/install')).installAction(opts)));
}
