import type { Command } from 'commander';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('synth').description('write the env\'s Terraform JSON without touching AWS'), true)
    .option('-o, --out <dir>', 'output folder (default: the env folder\'s synth/)')
    .addOption(jsonOption())
    .action(async (opts) => (await import('../actions/synth')).synthAction(opts));
}
