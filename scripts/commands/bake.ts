import type { Command } from 'commander';
import { locked } from './locked';
import { envOptions, jsonOption, yesOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('bake').description('bake the tuning into an AMI (temporary builder, cleaned up on every path)'), true)
    .option('--role <role>', 'agent, target or all', 'agent')
    .option('--time-limit <minutes>', 'the builder terminates itself after this (default 60)')
    .option('--poll-seconds <s>', 'polling interval for instance and image states (default 5)')
    .option('--image-timeout <minutes>', 'how long the image may take to become available (default 45)')
    .addOption(yesOption())
    .addOption(jsonOption())
    .action(async (opts) => locked(opts, 'bake', async () => (await import('../actions/bake-cli')).bakeAction(opts)));
}
