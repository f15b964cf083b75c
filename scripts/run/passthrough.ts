/**
 * The engines' own options given after `--` (`loadfleet run … -- <options>`): checked before any host is
 * touched, and turned into what each engine reads. Pure. Options loadfleet owns (the topology, the load,
 * the result files, the target) are refused with a UsageError naming the option and what to use instead.
 */
import { UsageError } from '../core/errors';

/** One option as given: `--name v1 v2`, `--name=v`, `-x v`, or a flag without values. */
export interface GivenOption {
  /** As written (`--tags`, `-T`). */
  readonly given: string;
  /** The long name without dashes (`tags`), or the short letter for a short option (`T`). */
  readonly name: string;
  readonly long: boolean;
  readonly values: readonly string[];
}

/** A token that is a value, not an option: anything not starting with "-", negative numbers, a lone "-". */
const isValue = (t: string) => !t.startsWith('-') || /^-\d/.test(t) || t === '-';

/**
 * Splits argv into options with the values that follow them (up to the next option). `--name=v` takes
 * exactly that one value. Arity is not known here: callers that know it (Artillery) check it.
 * Throws on a leading value (a positional argument) and on `--` itself.
 */
export function splitOptions(engine: string, args: readonly string[], positionalWhy: string): GivenOption[] {
  const out: { given: string; name: string; long: boolean; values: string[] }[] = [];
  for (const t of args) {
    if (t === '--') throw new UsageError(`the ${engine} options after -- hold a second "--": give each option once, e.g. loadfleet run … -- --tags api`);
    const cur = out[out.length - 1];
    if (isValue(t)) {
      if (!cur || cur.given.includes('=')) throw new UsageError(`${engine} option list: "${t}" is not an option (it follows no option that takes a value): ${positionalWhy}`);
      cur.values.push(t);
      continue;
    }
    const long = t.startsWith('--');
    const eq = t.indexOf('=');
    const given = long && eq > 0 ? t.slice(0, eq) : t;
    const name = long ? given.slice(2) : t.slice(1, 2);
    if (!long && t.length > 2) throw new UsageError(`${engine} option "${t}": give a short option and its value apart (-${name} VALUE) or use the long form`);
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(name)) throw new UsageError(`${engine} option "${t}" is not an option name`);
    out.push({ given: long && eq > 0 ? t : given, name, long, values: long && eq > 0 ? [t.slice(eq + 1)] : [] });
  }
  return out.map((o) => ({ ...o, given: o.given.includes('=') ? o.given.slice(0, o.given.indexOf('=')) : o.given }));
}

// ---- Artillery ----

/**
 * `artillery run` 2.0.21's own flags (lib/cli/common-flags.js and lib/cmds/run.js of the pinned version):
 * the ones passed through, with whether they take a value.
 */
const ARTILLERY_ALLOWED: Readonly<Record<string, { short?: string; value: boolean }>> = {
  // Safe with the gate and the load split: an environment is merged into config first (lib/util.js
  // checkConfig), then loadfleet's --overrides replace config.target and config.phases (addOverrides: arrays
  // replaced, not merged) — prepare-test-execution-plan.js calls them in that order.
  environment: { short: 'e', value: true },
  'scenario-name': { value: true },
  variables: { short: 'v', value: true },
  insecure: { short: 'k', value: false },
  quiet: { short: 'q', value: false },
  name: { value: true },
  tags: { value: true },
  note: { value: true },
};

/** Flags loadfleet owns or that cannot work on the agents: why, and what to use instead. */
const ARTILLERY_REFUSED: Readonly<Record<string, { short?: string; why: string }>> = {
  target: { short: 't', why: 'the target comes from loadfleet run --host (or the env\'s first target)' },
  output: { short: 'o', why: 'loadfleet writes and collects each agent\'s report itself' },
  overrides: { why: 'loadfleet overrides config.target and config.phases to split the load and hold every agent at one start gate' },
  config: { short: 'c', why: 'only the --script file is pushed to the agents: put the configuration in the script' },
  dotenv: { why: 'only the --script file is pushed to the agents' },
  input: { short: 'i', why: 'the script is loadfleet run --script' },
  payload: { short: 'p', why: 'only the --script file is pushed to the agents' },
  count: { why: 'the number of agents is the fleet\'s (agents.count)' },
  solo: { short: 's', why: 'the load comes from --users/--rate/--duration/--stages' },
  platform: { why: 'loadfleet runs Artillery locally on every agent' },
  'platform-opt': { why: 'loadfleet runs Artillery locally on every agent' },
  record: { why: 'a run\'s results stay on this machine (no upload to Artillery Cloud)' },
  key: { why: 'a run\'s results stay on this machine (no upload to Artillery Cloud)' },
};

const byShort = <T extends { short?: string }>(table: Readonly<Record<string, T>>, s: string) => Object.entries(table).find(([, v]) => v.short === s)?.[0];

/**
 * Checks the options for `artillery run` and returns them, normalised to `--name value` pairs, to be put
 * before the script path on every agent. UsageError naming the option for anything refused or unknown.
 */
export function artilleryPassthrough(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const o of splitOptions('Artillery', args, 'only the --script file is run (one script per run)')) {
    const long = o.long ? o.name : byShort(ARTILLERY_ALLOWED, o.name) ?? byShort(ARTILLERY_REFUSED, o.name);
    const refused = long ? ARTILLERY_REFUSED[long] : undefined;
    if (refused) throw new UsageError(`Artillery option ${o.given} is loadfleet's to set: ${refused.why}`);
    const allowed = long ? ARTILLERY_ALLOWED[long] : undefined;
    if (!long || !allowed) {
      throw new UsageError(`${o.given} is not an option loadfleet passes to artillery run 2.0.21; these are: ${Object.entries(ARTILLERY_ALLOWED).map(([k, v]) => `--${k}${v.short ? `/-${v.short}` : ''}`).join(', ')}`);
    }
    if (allowed.value && o.values.length !== 1) throw new UsageError(`Artillery option ${o.given} takes one value (${o.values.length} given)`);
    if (!allowed.value && o.values.length !== 0) throw new UsageError(`Artillery option ${o.given} takes no value ("${o.values[0]}" given)`);
    out.push(`--${long}`, ...o.values);
  }
  return out;
}

/**
 * Artillery's `ensure` checks (config.ensure or config.plugins.ensure, also inside config.environments.<name>)
 * judge each agent's share alone and only set that agent's exit code (artillery-plugin-ensure 2.0.21 index.js:
 * `global.artillery.suggestedExitCode = 1` in a beforeExit hook), which loadfleet does not read: they would
 * pass or fail nothing. Refused before any host is touched, pointing to --threshold (judged on the merged run).
 */
export function refuseArtilleryEnsure(file: string, doc: unknown): void {
  const config = (doc as { config?: Record<string, unknown> } | null)?.config;
  if (!config || typeof config !== 'object') return;
  const places: [string, Record<string, unknown> | undefined][] = [
    ['config', config],
    ...Object.entries((config.environments as Record<string, Record<string, unknown>> | undefined) ?? {}).map(([k, v]): [string, Record<string, unknown>] => [`config.environments.${k}`, v]),
  ];
  for (const [where, c] of places) {
    if (!c || typeof c !== 'object') continue;
    const at = c.ensure !== undefined ? `${where}.ensure` : (c.plugins as Record<string, unknown> | undefined)?.ensure !== undefined ? `${where}.plugins.ensure` : undefined;
    if (at) {
      throw new UsageError(
        `--script (${file}) has ${at}: Artillery's ensure checks judge each agent's share alone and only set that agent's exit code, which would decide nothing; ` +
          "use loadfleet's --threshold, judged on the merged results of every agent (ensure p95: 500 → --threshold 'p95<500ms'; maxErrorRate: 1 → --threshold 'errors<=1%')",
      );
    }
  }
}

// ---- Locust ----

/** Locust options loadfleet owns (long names, locust/argument_parser.py), with why and what instead. */
const LOCUST_REFUSED: readonly [RegExp, string][] = [
  [/^locustfile$/, 'the locustfile is loadfleet run --script (pushed to one fixed path on every host)'],
  [/^(master|master-.*|worker|expect-workers|expect-workers-max-wait)$/, 'the master on the controller and the workers on the agents are set up by loadfleet install'],
  [/^(headless|headful|autostart|autoquit|web-.*|tls-cert|tls-key|class-picker|modern-ui|legacy-ui)$/, 'loadfleet drives the master through its web API (web-UI mode, plain http)'],
  [/^(users|spawn-rate|hatch-rate|run-time)$/, 'the load comes from --users, --rate, --duration or --stages'],
  [/^host$/, 'the target comes from loadfleet run --host (or the env\'s first target)'],
  [/^(csv|csv-full-history|html|json|json-file|logfile|print-stats|only-summary)$/, 'loadfleet collects the results and the logs itself'],
  [/^config$/, 'loadfleet writes the config file the master and workers read (locust.conf) itself'],
  [/^(list|show-task-ratio|show-task-ratio-json|version|help|processes)$/, 'it makes Locust print and exit, or fork, instead of running the test'],
  // The verdict and the numbers: Locust's exit code is not run's, and reset stats would drop the ramp-up's requests
  // from the summary while the target served them (locust/argument_parser.py --exit-code-on-error, --reset-stats).
  [/^exit-code-on-error$/, "run's exit code comes from its thresholds, judged on the merged results; for any failure to fail the run use --threshold 'errors<=0%' (exit 3)"],
  [/^reset-stats$/, 'the summary must count every request the target served; it would drop those sent while users were spawning'],
];
/** Locust's short options (argument_parser.py) → long names. */
const LOCUST_SHORT: Readonly<Record<string, string>> = {
  f: 'locustfile', u: 'users', r: 'spawn-rate', t: 'run-time', H: 'host', l: 'list', V: 'version', h: 'help',
  T: 'tags', E: 'exclude-tags', L: 'loglevel', i: 'iterations', s: 'stop-timeout',
};

/**
 * One value in DefaultConfigFileParser's syntax (configargparse.py): it strips one pair of matching quotes and
 * does not unescape, so a single value is quoted with a quote it does not hold; several values are a JSON list
 * (parsed with json.loads). A single value that looks like a list would be read as one: refused.
 */
function confValue(given: string, values: readonly string[]): string {
  if (values.length === 0) return 'true';
  if (values.length > 1) return JSON.stringify(values);
  const v = values[0]!;
  if (/^\[.*\]$/.test(v)) throw new UsageError(`Locust option ${given}: a value written like a list (${v}) would be read as one from the config file; give its items as separate values`);
  if (!v.includes('"')) return `"${v}"`;
  if (!v.includes("'")) return `'${v}'`;
  throw new UsageError(`Locust option ${given}: a value cannot hold both kinds of quote`);
}

/** The file Locust's master and workers read from their working directory (configargparse's default_config_files). */
export const LOCUST_CONF_NAME = 'locust.conf';

/**
 * Checks the options for Locust and renders them as a locust.conf (ConfigArgParse's DefaultConfigFileParser
 * syntax: `key = value`, a flag as `key = true`, several values as a JSON list). Empty args → ''.
 * Only what is well-formed is checked here; whether Locust knows an option is asked of Locust itself
 * (the driver runs `locust --list` against the file before the run).
 */
export function locustConf(args: readonly string[]): string {
  if (args.length === 0) return '';
  const lines: string[] = [];
  for (const o of splitOptions('Locust', args, 'Locust\'s config file cannot hold positional arguments (user classes): pick the classes in the locustfile')) {
    const key = o.long ? o.name : LOCUST_SHORT[o.name];
    if (!key) throw new UsageError(`Locust option ${o.given}: give its long form (--name), loadfleet writes options to Locust's config file by their long names`);
    const refused = LOCUST_REFUSED.find(([re]) => re.test(key));
    if (refused) throw new UsageError(`Locust option ${o.given} is loadfleet's to set: ${refused[1]}`);
    for (const v of o.values) if (/[\r\n]/.test(v)) throw new UsageError(`Locust option ${o.given}: a value cannot hold a line break`);
    lines.push(`${key} = ${confValue(o.given, o.values)}`);
  }
  return `# written by loadfleet run from the options after --; removed or replaced at the start of every run\n${lines.join('\n')}\n`;
}
