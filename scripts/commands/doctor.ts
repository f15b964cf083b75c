import type { Command } from 'commander';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('doctor').description('read-only pre-flight: engine versions, supervised processes and limits, master/agent/target reachability, clocks, disk'))
    .option('--concurrency <n>', 'hosts at a time (default 128)')
    .option('--wait <s>', 'keep re-checking for up to this many seconds while a check fails (default 0: one round)')
    .option('--verbose', 'list every check, not only the failing ones', false)
    .addOption(jsonOption())
    .action(async (opts) => (await import('../actions/doctor')).doctorAction(opts));
}
