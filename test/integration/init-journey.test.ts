/**
 * Issue 22's acceptance: `init --target local` in an empty folder, then up → tune → install → serve → doctor →
 * run → down with the written config unchanged, each command run in that folder with no -c and no
 * LOADFLEET_HOME (config discovery, the env folder beside the config). Real namespace hosts.
 * On the way, the newcomer's mistakes the issue saw: doctor and run before install (exit 2, "run loadfleet
 * install first"), -c from another folder reaching the same env.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadfleet } from '../harness/cli';
import { leftoversOf, requireLocalTools } from '../harness/local-fleet';
import { LocalHosts } from '../../scripts/adapters/local-hosts';
import { countServed, TARGET_SERVER } from '../../scripts/run/target-server';

requireLocalTools();
const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lf-init-')), 'first-fleet');
const NAME = 'first-fleet';
// Nothing from the runner's environment may point the CLI elsewhere: the folder alone must do.
const env = { LOADFLEET_HOME: undefined, LOADFLEET_CONFIG: undefined };
const inDir = (args: string[], cwd = dir) => loadfleet(args, env, { cwd, timeoutMs: 300_000 });
const envDir = path.join(dir, '.loadfleet', NAME);
let prefix = 'lf';

afterAll(async () => {
  await inDir(['down', '--yes']).catch(() => undefined);
  await new LocalHosts(path.join(envDir, 'local')).destroy().catch(() => undefined);
  fs.rmSync(path.dirname(dir), { recursive: true, force: true });
  expect(await leftoversOf(prefix, [])).toEqual([]);
});

describe('a newcomer\'s first hour (issue 22)', () => {
  it('fails with exit 2 for an engine the local target cannot run, writing nothing', async () => {
    const other = path.join(path.dirname(dir), 'k6-local');
    const r = await inDir(['init', '--target', 'local', '--engine', 'k6', other], '/');
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/engine \(k6\) cannot run on the local target/);
    expect(fs.existsSync(path.join(other, 'loadfleet.yaml'))).toBe(false);
  });

  it('init writes a config that works as written, and the journey runs on it unchanged', async () => {
    const init = await inDir(['init', '--target', 'local', dir], '/');
    expect(init.exitCode, init.stderr).toBe(0);
    const configFile = path.join(dir, 'loadfleet.yaml');
    const written = fs.readFileSync(configFile, 'utf8');
    prefix = /^ {2}prefix: (\S+)/m.exec(written)![1]!;
    expect(written).toMatch(/^target: local\b/m);
    expect(written).toMatch(/^ {2}nofile: \d+ /m);
    expect(fs.statSync(path.join(dir, 'keys', 'id_ed25519')).mode & 0o777).toBe(0o600);
    expect(fs.existsSync(path.join(dir, 'locustfile.py'))).toBe(true);
    // The next three commands, as printed.
    expect(init.stdout).toContain(`cd ${dir}`);
    expect(init.stdout).toMatch(/^ {2}loadfleet up\b/m);
    expect(init.stdout).toMatch(/^ {2}loadfleet tune && loadfleet install && loadfleet serve\b/m);
    expect(init.stdout).toMatch(/^ {2}loadfleet run --script locustfile\.py /m);
    // A second init refuses to overwrite it.
    const again = await inDir(['init', '--target', 'local']);
    expect(again.exitCode).toBe(2);
    expect(again.stderr).toMatch(/loadfleet\.yaml exists already: edit it, or pass --force/);

    const up = await inDir(['up', '--yes']); // target: local from the config, no --target
    expect(up.exitCode, up.stderr).toBe(0);
    expect(fs.existsSync(path.join(envDir, 'outputs.json'))).toBe(true); // beside the config, not in the cwd

    // -c from another folder and from a subfolder reach the same env (the issue saw "run up first" and EC2 asked).
    const tune = await inDir(['tune', '-c', configFile], '/');
    expect(tune.exitCode, tune.stderr).toBe(0);
    fs.mkdirSync(path.join(dir, 'sub'));
    const st = await inDir(['status', '-c', '../loadfleet.yaml', '--json'], path.join(dir, 'sub'));
    expect(st.exitCode, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ status: 'up' });

    // Before install: doctor and run say what to do first, exit 2 (README's promise).
    const early = await inDir(['doctor']);
    expect(early.exitCode, early.stdout + early.stderr).toBe(2);
    expect(early.stderr).toMatch(/^loadfleet: nothing is installed yet on .*: run "loadfleet install" first/m);
    const earlyRun = await inDir(['run', '--script', 'locustfile.py', '--users', '2', '--duration', '3s']);
    expect(earlyRun.exitCode, earlyRun.stderr).toBe(2);
    expect(earlyRun.stderr).toMatch(/run "loadfleet install" first/);

    for (const verb of ['install', 'serve']) {
      const r = await inDir([verb]);
      expect(r.exitCode, `${verb}: ${r.stderr}`).toBe(0);
    }
    const doctor = await inDir(['doctor', '--wait', '60']);
    expect(doctor.exitCode, doctor.stdout + doctor.stderr).toBe(0);
    const run = await inDir(['run', '--script', 'locustfile.py', '--users', '4', '--rate', '4', '--duration', '5s', '--json']);
    expect(run.exitCode, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout) as { total: { requests: number; failures: number } };
    // What the target saw, counted in nginx's own access log on the target host (its /var/log is <host dir>/log).
    const log = fs.readFileSync(path.join(envDir, 'local', 'app-1', 'log', TARGET_SERVER.accessLog.replace('/var/log/', '')), 'utf8');
    expect(summary.total.requests).toBeGreaterThan(0);
    expect(summary.total.failures).toBe(0);
    expect(summary.total.requests).toBe(countServed(log));

    const down = await inDir(['down', '--yes']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(fs.readFileSync(configFile, 'utf8')).toBe(written); // unchanged, start to end
    expect(await leftoversOf(prefix, [])).toEqual([]);
  });
});
