import type { Command } from 'commander';
import { locked } from './locked';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('tune').description('raise OS limits on every host and verify them in a new session'))
    .option('--verify-only', 'only read and compare the effective values', false)
    .option('--concurrency <n>', 'hosts at a time (default 128)')
    .option('--hosts <list>', 'only these hosts or roles, comma-separated (default: all)')
    .option('--connect-attempts <n>', 'tries per host while it boots (default 6, with backoff)')
    .option('--connect-timeout <s>', 'SSH handshake timeout in seconds (default 20)')
    .option('--verbose', 'list every setting of every host, not only what falls short', false)
    .addOption(jsonOption())
    .action(async (opts) => locked(opts, 'tune', async () => (await import('../actions/tune')).tuneAction(opts)));
}
