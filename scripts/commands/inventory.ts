import type { Command } from 'commander';
import { FORMATS } from '../core/inventory-formats';
import { envOptions } from './common';

export function register(program: Command): void {
  envOptions(program.command('inventory').description('render the fleet for Ansible, ssh, Prometheus, /etc/hosts or JSON'))
    .option('-f, --format <format>', `one of ${FORMATS.join(', ')}`, 'ansible')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--from-tags', 'build it from EC2 tags (when state is lost) instead of the outputs', false)
    .option('--region <region>', 'with --from-tags and no config or env folder: AWS region (default: $AWS_REGION, else us-east-1)')
    .option('--user <name>', 'login user, when there is no config (default ec2-user)')
    .option('--key <file>', 'private key for the hosts, when there is no config (default ~/.ssh/id_ed25519)')
    .action(async (opts) => (await import('../actions/inventory')).inventoryAction(opts));
}
