import { Option, type Command } from 'commander';

/** -c / --env / --home, shared by every verb that works on an env. */
export function envOptions(cmd: Command, configRequired = false): Command {
  return cmd
    .option('-c, --config <file>', `fleet config (YAML or JSON); default: $LOADFLEET_CONFIG, else ./loadfleet.yaml${configRequired ? '' : '; or name the env with --env'}`)
    .option('--env <name>', 'env name, when the env folder already exists (no config needed)')
    .option('--home <dir>', 'folder of env folders (default: $LOADFLEET_HOME, else .loadfleet beside the config)');
}

export const yesOption = () => new Option('-y, --yes', 'do not ask; required when there is no terminal').default(false);
export const jsonOption = () => new Option('--json', 'machine-readable output on stdout').default(false);
