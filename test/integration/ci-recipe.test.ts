/**
 * The README's CI recipe (Comparing runs: "A CI job …"), taken from the README as written and run as a script.
 * Under bash and dash, `loadfleet` is a recorder on PATH that logs each step and answers the exit code the case
 * asks for — the recipe's own control flow is under test: the job's exit code is run's (0 pass, 3 regression,
 * 4 inconclusive), a failed step stops the job before run, and down runs on every exit path.
 * Then once under bash for real, on a local fleet, with the clone's CLI first on PATH as setup.sh puts it there.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../harness/cli';
import { leftoversOf, requireLocalTools } from '../harness/local-fleet';
import { HOME_LOCUSTFILE, runDirOf } from '../harness/run-output';
import { workspace, type Workspace } from '../harness/workspace';
import { LocalHosts } from '../../scripts/adapters/local-hosts';

const README = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
const RECIPE = /A CI job \(teardown on every exit path[^\n]*\n\n```sh\n([\s\S]*?)```/.exec(README)?.[1];

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-recipe-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  // The recorder: one line per call ("<verb> <args…>"), then the exit code STUB_<VERB> asks for (default 0);
  // STUB_RUN_SLEEP makes run wait (to send the job a signal meanwhile).
  fs.writeFileSync(
    path.join(dir, 'bin', 'loadfleet'),
    `#!/bin/sh
echo "$*" >> "$STUB_LOG"
case "$1" in
  up) exit "\${STUB_UP:-0}" ;;
  install) exit "\${STUB_INSTALL:-0}" ;;
  doctor) exit "\${STUB_DOCTOR:-0}" ;;
  run) [ -n "\${STUB_RUN_SLEEP:-}" ] && sleep "$STUB_RUN_SLEEP"; exit "\${STUB_RUN:-0}" ;;
  down) exit 0 ;;
esac
exit 98
`,
    { mode: 0o755 },
  );
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function job(shell: string, env: Record<string, string>, name: string) {
  const log = path.join(dir, `${name}.log`);
  fs.writeFileSync(path.join(dir, 'recipe.sh'), RECIPE!);
  const r = await execa(shell, [path.join(dir, 'recipe.sh')], { cwd: dir, reject: false, env: { PATH: `${dir}/bin:${process.env.PATH}`, STUB_LOG: log, BUILD_ID: '42', ...env }, extendEnv: false });
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  return { exitCode: r.exitCode, verbs: calls.map((c) => c.split(' ')[0]), calls, stderr: r.stderr };
}

describe('the README\'s CI recipe, run as a script', () => {
  it('is in the README, as a sh block that brings the fleet up, judges against a baseline and tears down', () => {
    expect(RECIPE, 'README lacks the "A CI job (teardown on every exit path" sh block').toBeDefined();
    expect(RECIPE).toContain('--baseline last-good');
  });

  for (const shell of ['bash', 'dash']) {
    it(`${shell}: the job's exit code is run's — 0 pass, 3 regression, 4 inconclusive — and down runs last every time`, async () => {
      for (const code of [0, 3, 4]) {
        const r = await job(shell, { STUB_RUN: String(code) }, `${shell}-run-${code}`);
        expect(r.exitCode, r.stderr).toBe(code);
        expect(r.verbs).toEqual(['up', 'install', 'doctor', 'run', 'down']);
        expect(r.calls[3]).toContain('--label build-42 --baseline last-good --junit junit.xml --markdown summary.md');
      }
    });

    it(`${shell}: a failed up or doctor ends the job with its code before run, and down still runs`, async () => {
      const up = await job(shell, { STUB_UP: '1' }, `${shell}-up`);
      expect(up.exitCode).toBe(1);
      expect(up.verbs).toEqual(['up', 'down']);
      const doctor = await job(shell, { STUB_DOCTOR: '1' }, `${shell}-doctor`);
      expect(doctor.exitCode).toBe(1);
      expect(doctor.verbs).toEqual(['up', 'install', 'doctor', 'down']);
    });

    it(`${shell}: a SIGTERM to the job during run (a cancelled CI job) still runs down`, async () => {
      const log = path.join(dir, `${shell}-int.log`);
      fs.writeFileSync(path.join(dir, 'recipe.sh'), RECIPE!);
      const child = execa(shell, [path.join(dir, 'recipe.sh')], { cwd: dir, reject: false, detached: true, env: { PATH: `${dir}/bin:${process.env.PATH}`, STUB_LOG: log, BUILD_ID: '42', STUB_RUN_SLEEP: '30' }, extendEnv: false });
      const t0 = Date.now();
      while (!(fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('run ')) && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 50));
      // The whole process group, as a CI runner's cancel does (SIGTERM; a SIGINT is handled alike by the recipe's
      // trap, but a test runner may start its children with SIGINT ignored, so the recorder's sleep would not end).
      process.kill(-child.pid!, 'SIGTERM');
      const r = await child;
      expect(r.exitCode === 0).toBe(false);
      expect(Date.now() - t0).toBeLessThan(20_000);
      expect(fs.readFileSync(log, 'utf8').trim().split('\n').map((c) => c.split(' ')[0])).toEqual(['up', 'install', 'doctor', 'run', 'down']);
    }, 40_000);
  }
});

// One small real fleet (controller, 1 agent, a target with nginx), its state beside its config as for a user.
const PREFIX = 'cr';
const NAME = 'cirec';
// The README's load (50 users for 5 minutes) made a few seconds; everything else in the recipe is as written.
const README_LOAD = '--users 50 --duration 5m';
const TEST_LOAD = '--users 4 --duration 5s';

describe('the README\'s CI recipe, run for real under bash on a local fleet', () => {
  let ws: Workspace;
  let config = '';
  let env: Record<string, string> = {};
  const pids: number[] = [];
  const envDir = () => path.join(ws.dir, '.loadfleet', NAME);
  const cli = (args: string[]) => execa('loadfleet', args, { cwd: ws.dir, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 300_000 });
  const hostPids = async () => pids.push(...Object.values(await new LocalHosts(path.join(envDir(), 'local')).pids()));
  /** Anything of this workspace still on the machine: a process naming its folder, a mount under it. */
  const leftovers = async () => [
    ...(await leftoversOf(PREFIX, pids)),
    ...fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(ws.dir);
      } catch {
        return false;
      }
    }).map((p) => `process ${p}`),
    ...fs.readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(ws.dir)).map((l) => `mount ${l.split(' ')[1]}`),
  ];
  const recipeJob = async (text: string) => {
    fs.writeFileSync(path.join(ws.dir, 'job.sh'), text);
    const t0 = Date.now();
    const r = await execa('bash', ['job.sh'], { cwd: ws.dir, env: { ...env, BUILD_ID: '7' }, extendEnv: false, reject: false, stdin: 'ignore', all: true, timeout: 300_000 });
    return { exitCode: r.exitCode, all: String(r.all), seconds: (Date.now() - t0) / 1000 };
  };

  beforeAll(async () => {
    requireLocalTools();
    ws = workspace('lf-cirec-');
    config = ws.writeConfig('fleet.yaml', {
      name: NAME, target: 'local', local: { prefix: PREFIX, subnet: '10.231.123.0/24' }, tuning: { nofile: 16384 },
      agents: { count: 1 }, targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: false },
    });
    fs.writeFileSync(path.join(ws.dir, 'locustfile.py'), HOME_LOCUSTFILE);
    // `loadfleet` on PATH as scripts/setup.sh makes it for users: a link to this clone's entry point, first on PATH.
    fs.mkdirSync(path.join(ws.dir, 'bin'));
    fs.symlinkSync(BIN, path.join(ws.dir, 'bin', 'loadfleet'));
    env = { PATH: `${ws.dir}/bin:${process.env.PATH}`, HOME: process.env.HOME ?? '/root' };
    // An earlier job: the fleet up with nginx serving, and a good build's run kept as last-good.
    for (const args of [['up', '-c', 'fleet.yaml', '--yes'], ['install', '-c', 'fleet.yaml'], ['serve', '-c', 'fleet.yaml']]) {
      const r = await cli(args);
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    await hostPids();
    const good = await cli(['run', '-c', 'fleet.yaml', '--script', 'locustfile.py', ...TEST_LOAD.split(' '), '--label', 'last-good']);
    expect(good.exitCode, good.stderr).toBe(0);
  }, 300_000);

  afterAll(async () => {
    if (!ws) return;
    await cli(['down', '-c', config, '--yes']).catch(() => undefined);
    await new LocalHosts(path.join(envDir(), 'local')).destroy().catch(() => undefined);
    const left = await leftovers();
    ws.remove();
    expect(left).toEqual([]);
  });

  it('up → install → doctor → run --baseline last-good → down: the job exits with run\'s code, as its summary says, and leaves nothing', async () => {
    expect(RECIPE).toContain(README_LOAD);
    const job = await recipeJob(RECIPE!.replace(README_LOAD, TEST_LOAD));
    console.log(`ci recipe job (re-up, install, doctor, ${TEST_LOAD} run, down): ${job.seconds.toFixed(1)} s, exit ${job.exitCode}`);
    // The run's own verdict: a broken threshold is 3; else the baseline verdict's code (pass 0, regression 3,
    // inconclusive 4). On this shared machine a same-script compare may honestly say pass or inconclusive.
    const summary = JSON.parse(fs.readFileSync(path.join(runDirOf(job.all), 'summary.json'), 'utf8')) as { label: string; thresholds: { ok: boolean }[]; baseline: { ref: string; verdict: string; exitCode: number } };
    expect(summary.thresholds.map((t) => t.ok)).toEqual([true]);
    expect(summary.baseline).toMatchObject({ ref: 'last-good' });
    expect([0, 3, 4]).toContain(job.exitCode);
    expect(job.exitCode, job.all).toBe(summary.baseline.exitCode);
    expect(job.all).toContain(`verdict: ${summary.baseline.verdict.toUpperCase()} (exit ${job.exitCode})`);
    // The CI outputs, written where the job ran.
    expect(fs.readFileSync(path.join(ws.dir, 'summary.md'), 'utf8')).toContain(`(exit ${job.exitCode})`);
    expect(fs.readFileSync(path.join(ws.dir, 'junit.xml'), 'utf8')).toContain('<testsuite');
    // down ran (the trap) and left nothing; the runs survive it.
    const status = await cli(['status', '-c', 'fleet.yaml', '--json']);
    expect(JSON.parse(status.stdout).status).toBe('down');
    expect(await leftovers()).toEqual([]);
    const runs = await cli(['runs', '-c', 'fleet.yaml']);
    expect(runs.stdout).toMatch(/last-good\s/);
    expect(runs.stdout).toMatch(/build-7\s/);
  }, 300_000);

  it('a fresh fleet whose install was skipped: doctor fails, the job ends with its code before run, and down still runs', async () => {
    const install = 'loadfleet install -c fleet.yaml\n';
    expect(RECIPE).toContain(install);
    expect(RECIPE).toContain('--wait 60');
    // doctor --wait retries until green: a failing one would wait the whole minute, so 5 s here.
    const runsBefore = fs.readdirSync(path.join(envDir(), 'runs')).length;
    const job = await recipeJob(RECIPE!.replace(install, '').replace('--wait 60', '--wait 5').replace(README_LOAD, TEST_LOAD));
    console.log(`ci recipe job without install (up, doctor --wait 5, down): ${job.seconds.toFixed(1)} s, exit ${job.exitCode}`);
    // doctor's documented code for an engine not installed is 2, and the job ends with it.
    expect(job.exitCode, job.all).toBe(2);
    expect(job.all).toContain('loadfleet: nothing is installed yet on controller, agent-1: run "loadfleet install" first');
    expect(job.all).not.toContain('results: ');
    const status = await cli(['status', '-c', 'fleet.yaml', '--json']);
    expect(JSON.parse(status.stdout).status).toBe('down');
    expect(await leftovers()).toEqual([]);
    expect(fs.readdirSync(path.join(envDir(), 'runs'))).toHaveLength(runsBefore);
  }, 300_000);
});
