import { Option, type Command } from 'commander';
import { ENGINE_NAMES } from '../../stacks/engines';

export function register(program: Command): void {
  program
    .command('init')
    .description('write a starter loadfleet.yaml (valid as written), a key pair and a starter script, then print the next commands')
    .argument('[dir]', 'folder to write into (created when missing; default: this folder)')
    .addOption(new Option('--target <target>', 'local (namespace hosts here) or aws (default: local on Linux as root, else aws)').choices(['local', 'aws']))
    .addOption(new Option('--engine <engine>', 'the load engine (default locust)').choices([...ENGINE_NAMES]))
    .option('--name <name>', "the env's name (default: from the folder's name)")
    .option('--key <file.pub>', 'reference an existing public key instead of creating a pair in keys/')
    .option('--force', 'replace an existing loadfleet.yaml', false)
    .action(async (dir: string | undefined, opts) => (await import('../actions/init')).initAction(dir, opts));
}
