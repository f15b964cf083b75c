import type { Command } from 'commander';
import { locked } from './locked';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('install').description("install the config's engine on the controller and agents, supervised, wired to the master"))
    .option('--hosts <list>', 'only these hosts or roles, comma-separated (default: controller and agents)')
    .option('--concurrency <n>', 'hosts at a time (default 128)')
    .option('--trust-first-download', "accept an artifact with no published checksum (nGrinder's war) as first downloaded, and record its sha256 in the env folder: every later install must match it")
    .addOption(jsonOption())
    .action(async (opts) => locked(opts, 'install', async () => (await import('../actions/install')).installAction(opts)));
}
