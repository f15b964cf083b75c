import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { envOptions, jsonOption } from './common';
import { UsageError } from '../core/errors';

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function register(program: Command): void {
  envOptions(program.command('run').description('run one distributed headless test on the fleet; results merged and kept in .loadfleet/<env>/runs/<run-id>/'))
    .option('--script <file>', 'the test: a locustfile (Locust), an Artillery YAML, a k6 script, a JMeter plan (.jmx) or an nGrinder script')
    // Short flags as Locust (-u -r -t) and k6 (-u -d) spell them (issue 22.13).
    .option('-u, --users <n>', 'users / virtual users at peak, whole fleet (default 10)')
    .option('-r, --rate <r>', 'users started per second (Locust) or arrivals per second (Artillery), whole fleet (default: --users)')
    .option('-d, --duration <d>', 'how long: 10s, 5m, 1h, 1m30s (default 1m); also -t, as Locust\'s --run-time')
    .addOption(new Option('-t <d>', 'same as --duration').hideHelp())
    .option('--stages <json|file>', 'load profile instead of --users/--duration: [{"duration":"30s","target":10},…] inline or in a file')
    .option('--threshold <expr>', "pass/fail criterion, repeatable: 'p95<500ms', 'errors<1%', 'rps>200', 'GET /api: p95<300ms' (broken → exit 3)", collect)
    .option('--label <name>', 'a name for this run, to find it by in runs / compare / --baseline')
    .option('--baseline <ref>', 'judge this run against a kept run (id, label, latest, folder) like compare: regression → exit 3, inconclusive → exit 4')
    .option('--max-p95-increase <pct>', 'with --baseline: as compare (default 10%)')
    .option('--max-rps-drop <pct>', 'with --baseline: as compare (default 5%)')
    .option('--max-error-increase <pp>', 'with --baseline: as compare (default 0.5pp)')
    .option('--junit <file>', 'with --baseline: JUnit XML, one testcase per threshold and per compared figure')
    .option('--markdown <file>', 'with --baseline: a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when set)')
    .option('--host <url>', 'where the load goes (default http://<first target host>:<its first port>); a fleet target unless --allow-external-host')
    .addOption(new Option('--allow-external-host', '--host may be a server outside the fleet (one you may load)').default(false))
    .addOption(new Option('--raw-samples', 'Artillery: also keep every latency per agent (raw/<agent>/samples.txt), to audit the merge').default(false))
    .addOption(new Option('--skip-doctor', 'start even when `loadfleet doctor` fails').default(false))
    .addOption(jsonOption())
    .hook('preAction', (cmd) => {
      const o = cmd.opts();
      if (o.t === undefined) return;
      if (o.duration !== undefined) throw new UsageError(`-t (${o.t}) and --duration (${o.duration}) both say how long: give one`);
      cmd.setOptionValue('duration', o.t);
      cmd.setOptionValue('t', undefined);
    })
    .argument('[native...]', "the engine's own options, after --: passed through as they are (see the README)")
    // Monitoring (issue 10): the live merged stats go to the controller's node_exporter textfile directory.
    // The env lock (as up/down/tune/install/bake): a down/install/tune during a run refuses, naming the run.
    // A second run is refused first by run's own runs/.lock, whose message names the run going on.
    .action(async (native: string[], opts) => {
      if (native.length > 0 && !process.argv.includes('--')) {
        const { UsageError } = await import('../core/errors');
        throw new UsageError(`run takes no argument (${native[0]}): the engine's own options go after --, e.g. loadfleet run -c F --script S -- ${native.join(' ')}`);
      }
      opts.passthrough = native;
      if (opts.baseline === undefined && (opts.junit || opts.markdown || opts.maxP95Increase || opts.maxRpsDrop || opts.maxErrorIncrease)) {
        const { UsageError } = await import('../core/errors');
        throw new UsageError('--junit, --markdown and the --max-… tolerances of run go with --baseline <ref>');
      }
      opts.compare = { junit: opts.junit, markdown: opts.markdown, maxP95Increase: opts.maxP95Increase, maxRpsDrop: opts.maxRpsDrop, maxErrorIncrease: opts.maxErrorIncrease };
      const { locked } = await import('./locked');
      const run = await import('../actions/run');
      const onLive = (await import('../actions/monitoring')).publishRunMetrics;
      return locked(opts, 'run', async () => run.runAction(opts, { onLive }), async (envDir) => run.assertNoRunGoing(path.join(envDir, 'runs')));
    });
}
