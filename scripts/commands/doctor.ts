import type { Command } from 'commander';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('doctor').description('read-only pre-flight: engine versions, supervised processes and limits, master/agent/target reachability, clocks, disk'))
    .option('--concurrency <n>', 'hosts at a time (default 128)')
    .addOption(jsonOption())
    .action(async (opts) => (await import('../actions/doctor')).doctorAction(opts));
}
