import type { Command } from 'commander';
import { envOptions } from './common';

export function register(program: Command): void {
  envOptions(program.command('tunnel').description('forward a UI of the fleet to this machine over SSH (pinned host key), until Ctrl-C'))
    .argument('[target]', 'grafana | prometheus | controller (default: grafana on AWS, prometheus on the local target)')
    .option('--local-port <n>', 'local port to listen on (default: the UI\'s own port)')
    .action(async (target, opts) => (await import('../actions/tunnel')).tunnelAction(target, opts));
}
