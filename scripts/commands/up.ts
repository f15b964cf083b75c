import { Option, type Command } from 'commander';
import { locked } from './locked';
import { envOptions, jsonOption, yesOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('up').description('create or update the env (idempotent)'), true)
    .addOption(new Option('--target <target>', "where the hosts live (default: the config's target, else aws)").choices(['aws', 'local']))
    .addOption(yesOption())
    .addOption(jsonOption())
    .option('--max-cost-per-hour <usd>', 'refuse when the estimated hourly cost is over this (default: the config\'s maxCostPerHour, else no limit)')
    .option('--keep-on-failure', 'keep what a failed first up created (default: destroy it again)', false)
    .action(async (opts) => locked(opts, 'up', async () => (await import('../actions/up')).upAction(opts)));
}
