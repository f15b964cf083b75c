import type { Command } from 'commander';
import { FORMATS } from '../core/inventory-formats';
import { envOptions } from './common';

export function register(program: Command): void {
  envOptions(program.command('inventory').description('render the fleet for Ansible, ssh, Prometheus, /etc/hosts or JSON'))
    .option('-f, --format <format>', `one of ${FORMATS.join(', ')}`, 'ansible')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--from-tags', 'build it from EC2 tags (when state is lost) instead of the outputs', false)
    .action(async (opts) => (await import('../actions/inventory')).inventoryAction(opts));
}
