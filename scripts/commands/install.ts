import type { Command } from 'commander';
import { locked } from './locked';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('install').description("install the config's engine on the controller and agents, supervised, wired to the master"))
    .option('--hosts <list>', 'only these hosts or roles, comma-separated (default: controller and agents)')
    .option('--concurrency <n>', 'hosts at a time (default 128)')
    .option('--trust-first-download', "accept an artifact with no published checksum (nGrinder's war) as first downloaded, and record its sha256 in the env folder: every later install must match it")
    .option('--render <dir>', 'write per host the scripts install would run (in order, byte for byte) into DIR, with an index DIR/README.md; touches no host, needs no SSH')
    .option('--render-cores <n>', 'with --render: the core count to render for every host, where install reads nproc (default 2)')
    .addOption(jsonOption())
    // Render only reads the config and the env folder: no lock, so it works while another command holds it.
    .action(async (opts) => (opts.render !== undefined ? (await import('../actions/install')).installAction(opts) : locked(opts, 'install', async () => (await import('../actions/install')).installAction(opts))));
}
