import type { Command } from 'commander';
import { jsonOption, yesOption } from './common';

export function register(program: Command): void {
  program
    .command('sweep')
    .description('delete everything tagged with an env (no config or state needed), or every expired env')
    .option('--env <name>', 'the env whose loadfleet:env tag to sweep')
    .option('-c, --config <file>', 'take the env name and region from a config')
    .option('--expired', 'sweep every env whose loadfleet:expires-at has passed (local envs: those under every env home found: --home, $LOADFLEET_HOME, beside the config, ./.loadfleet)', false)
    .option('--home <dir>', 'one more folder of env folders to scan for expired envs, or the one holding --env\'s record')
    .option('--region <region>', 'AWS region, repeatable (default: the regions the env\'s record lists, else the config\'s, else $AWS_REGION, else us-east-1)', (v: string, all: string[] = []) => [...all, v])
    .option('--all-regions', 'sweep every region EC2 lists for the account (an env with no record whose regions are unknown)', false)
    .option('--dry-run', 'only list what would be deleted', false)
    .addOption(yesOption())
    .addOption(jsonOption())
    .action(async (opts) => (await import('../actions/sweep')).sweepAction(opts));
}
