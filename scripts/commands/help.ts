/**
 * The examples and exit codes each command's --help ends with (issue 22.13). One table, so a test can check
 * every command has both; the codes are those of scripts/core/errors.ts, per command.
 */
export interface CommandHelp {
  /** [command line, what it does] */
  readonly examples: readonly (readonly [string, string])[];
  readonly exitCodes: string;
}

const USAGE = '2 a bad option or config (named, with the fix; nothing was changed)';

export const HELP: Record<string, CommandHelp> = {
  version: { examples: [['loadfleet version', 'print the version (also -v, --version)']], exitCodes: '0' },
  synth: {
    examples: [['loadfleet synth -c loadfleet.yaml', "write the Terraform JSON to the env folder's synth/"], ['loadfleet synth -o /tmp/tf', 'write it elsewhere (config found as ./loadfleet.yaml)']],
    exitCodes: `0 written · ${USAGE}`,
  },
  up: {
    examples: [['loadfleet up', 'create the env of ./loadfleet.yaml on its target (asks first)'], ['loadfleet up --target local --yes', 'namespace hosts on this machine, without asking'], ['loadfleet up -c fleet.yaml --max-cost-per-hour 2', 'refuse when the estimate is over $2/h']],
    exitCodes: `0 up · 1 AWS, terraform or a host said no, interrupted, or the confirmation was answered "no" · ${USAGE}; also no or refused AWS credentials, an estimate over the cost limit, or no terminal and no --yes`,
  },
  down: {
    examples: [['loadfleet down', 'destroy the env of ./loadfleet.yaml (asks first)'], ['loadfleet down --env demo --yes', 'by name, without asking'], ['loadfleet down --env demo --keep-ami --yes', 'keep its baked AMIs']],
    exitCodes: `0 gone (also when it was already gone) · 1 AWS or terraform said no, something is left (named), interrupted, or the confirmation was answered "no" · ${USAGE}; also no terminal and no --yes`,
  },
  status: {
    examples: [['loadfleet status', 'the env of ./loadfleet.yaml, asked live'], ['loadfleet status --env demo --json', 'by name, as JSON']],
    exitCodes: `0 · 1 AWS or a host could not be asked · ${USAGE}`,
  },
  inventory: {
    examples: [['loadfleet inventory > hosts.ini', 'Ansible INI'], ['loadfleet inventory -f ssh -o ssh_config && ssh -F ssh_config agent-1', 'ssh to a host with its pinned key'], ['loadfleet inventory --from-tags --env demo', 'rebuilt from EC2 tags when the state is lost']],
    exitCodes: `0 · 1 AWS said no (--from-tags) · ${USAGE}`,
  },
  tune: {
    examples: [['loadfleet tune', 'raise the limits on every host, then verify them'], ['loadfleet tune --verify-only --json', 'only compare the effective values'], ['loadfleet tune --hosts agent-1,target', 'only these hosts or roles']],
    exitCodes: `0 every host tuned and verified · 1 a host failed (each named with its step) · ${USAGE}`,
  },
  sweep: {
    examples: [['loadfleet sweep --env demo --dry-run', 'list what is tagged loadfleet:env=demo'], ['loadfleet sweep --env demo --yes', 'delete it, round after round until nothing is left'], ['loadfleet sweep --expired --yes', 'every env whose expiry has passed']],
    exitCodes: `0 nothing left · 1 AWS said no, something is left, or the confirmation was answered "no" · ${USAGE}; also no terminal and no --yes`,
  },
  bake: {
    examples: [['loadfleet bake --role agent', 'bake the agent image (a temporary builder, always cleaned up)'], ['loadfleet bake --role all --yes', 'agent and target images, without asking']],
    exitCodes: `0 image available · 1 AWS or the builder said no, or the confirmation was answered "no" · ${USAGE}; also no terminal and no --yes`,
  },
  install: {
    examples: [['loadfleet install', "the config's engine on the controller and agents (a rerun: 0 changed)"], ['loadfleet install --hosts agent-3', 'one host only']],
    exitCodes: `0 installed and running everywhere · 1 a host failed (named) · ${USAGE}`,
  },
  doctor: {
    examples: [['loadfleet doctor', 'one round of checks'], ['loadfleet doctor --wait 60', 'keep re-checking for up to 60 s while a check fails']],
    exitCodes: '0 every check passed · 1 a check failed (its row says why) · 2 nothing, or another version, installed: run loadfleet install first (or a bad option)',
  },
  serve: {
    examples: [['loadfleet serve', "local target: start nginx on every target host"], ['loadfleet serve --stop', 'stop it']],
    exitCodes: `0 · 1 a host failed · ${USAGE}; also an AWS env (serve is for the local target)`,
  },
  run: {
    examples: [
      ['loadfleet run --script locustfile.py -u 50 -r 10 -t 2m', '50 users, 10 started per second, for 2 minutes (-d 2m also works)'],
      ["loadfleet run --script test.yml -u 20 -d 30s --threshold 'p95<300ms' --threshold 'errors<1%'", 'fail the run (exit 3) when a threshold breaks'],
      ['loadfleet run --script locustfile.py --baseline latest', 'judge against the last kept run'],
      ['loadfleet run --script locustfile.py -- --tags api', "the engine's own options after --"],
    ],
    exitCodes: `0 finished, thresholds met · 1 a host or the engine failed, no request succeeded (top errors named), or interrupted · ${USAGE}, the script did not load (file and line), or the engine is not installed (run loadfleet install first) · 3 a --threshold broke, or --baseline found a regression · 4 --baseline inconclusive`,
  },
  runs: { examples: [['loadfleet runs', "the env's kept runs"], ['loadfleet runs --json', 'as JSON']], exitCodes: `0 · ${USAGE}` },
  compare: {
    examples: [['loadfleet compare nightly latest', 'the run labelled nightly against the latest'], ['loadfleet compare RUN1 RUN2 --max-p95-increase 5% --junit compare.xml', 'stricter, with a JUnit report']],
    exitCodes: `0 pass · 3 regression · 4 inconclusive (says why) · ${USAGE}; also a run that cannot be found`,
  },
  tunnel: {
    examples: [['loadfleet tunnel prometheus', "Prometheus's UI on this machine, until Ctrl-C"], ['loadfleet tunnel controller --local-port 8090', "the engine's UI on port 8090"]],
    exitCodes: `0 ended with Ctrl-C · 1 ssh failed · ${USAGE}`,
  },
  prices: {
    examples: [['loadfleet prices', 'the price table in use, its source and date'], ['loadfleet prices --refresh --region eu-west-1', 'ask the AWS Price List API']],
    exitCodes: `0 · 1 the Price List API said no · ${USAGE}`,
  },
  init: {
    examples: [['loadfleet init --target local myfleet', 'a local fleet in ./myfleet (Linux, root)'], ['loadfleet init --target aws --engine k6', 'an EC2 fleet here, with a k6 script']],
    exitCodes: '0 written · 1 ssh-keygen failed · 2 a config exists already, or a bad option',
  },
};

/** The text after a command's options. */
export function helpAfter(h: CommandHelp): string {
  const width = Math.max(...h.examples.map(([c]) => c.length));
  const lines = h.examples.map(([c, what]) => (c.length > 60 ? `  ${c}\n      ${what}` : `  ${c.padEnd(Math.min(width, 60))}   ${what}`));
  return `\nExamples:\n${lines.join('\n')}\n\nExit codes: ${h.exitCodes}`;
}
