import { Option, type Command } from 'commander';
import { envOptions, jsonOption } from './common';

export function register(program: Command): void {
  envOptions(program.command('serve').description("local target: start Debian's nginx on every target host (the server `run` loads), with an access log"))
    .addOption(new Option('--stop', 'stop it (by its PID)').default(false))
    .addOption(jsonOption())
    .action(async (opts) => (await import('../actions/serve')).serveAction(opts));
}
