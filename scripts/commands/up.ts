import { Option, type Command } from 'commander';
import { envOptions, jsonOption, yesOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('up').description('create or update the env (idempotent)'), true)
    .addOption(new Option('--target <target>', 'where the hosts live').choices(['aws', 'local']).default('aws'))
    .addOption(yesOption())
    .addOption(jsonOption())
    .option('--keep-on-failure', 'keep what a failed first up created (default: destroy it again)', false)
    .action(async (opts) => (await import('../actions/up')).upAction(opts));
}
