import type { Command } from 'commander';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('status').description('each host\'s live state, interruptions, strays, time left and cost'))
    .option('--region <region>', 'AWS region, when there is no env folder or config (default: $AWS_REGION, else us-east-1)')
    .addOption(jsonOption())
    .action(async (opts) => (await import('../actions/status')).statusAction(opts));
}
