import type { Command } from 'commander';
import { jsonOption } from './common';

export function register(program: Command): void {
  program.command('prices').description('the instance price table in use (source, date); --refresh asks the AWS Price List API')
    .option('--refresh', 'ask the AWS Price List API and write the price cache (needs credentials and network)', false)
    .option('--region <region>', 'region to price, with --refresh (default: $AWS_REGION, else us-east-1)')
    .option('--types <a,b>', 'instance types to price, with --refresh (default: the offline table\'s and a few common ones)')
    .addOption(jsonOption())
    .action(async (opts) => (await import('../actions/prices')).pricesAction(opts));
}
