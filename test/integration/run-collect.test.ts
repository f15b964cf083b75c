/**
 * `loadfleet run` on real namespace hosts, the paths around the happy one: an env that is up but has no
 * engine installed, and a generator that cannot be reached when its results are collected. Locust,
 * controller + 2 agents, nginx on the target (started by `loadfleet serve`); bounded in users and seconds.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { BIN } from '../harness/cli';
import { countServed, TARGET_SERVER } from '../../scripts/run/target-server';
import type { RunSummary } from '../../scripts/run/summary';
import { runDirOf, HOME_LOCUSTFILE } from '../harness/run-output';

const PREFIX = 'lc';
const SUBNET = '10.231.98.0/24';
let fleet: LocalFleet;

const LOCUSTFILE = HOME_LOCUSTFILE;

const file = (name: string) => path.join(fleet.ws.dir, name);


/** pid → [ppid, comm] for every process on the machine. */
function processTable(): Map<number, [number, string]> {
  const t = new Map<number, [number, string]>();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      t.set(Number(d), [ppid, comm]);
    } catch {
      /* gone meanwhile */
    }
  }
  return t;
}

/**
 * Makes a host unreachable over SSH, the way a generator that died or lost its network would be: its sshd
 * stops listening and every open session (the run's own connection among them) is cut. Only processes
 * under this host's init (started by this test's `up`), by PID.
 */
function cutSsh(initPid: number): number[] {
  const t = processTable();
  const under = (pid: number, root: number): boolean => {
    for (let p = pid, i = 0; p > 1 && i < 64; p = t.get(p)?.[0] ?? 0, i++) if (p === root) return true;
    return false;
  };
  const sshd = [...t].filter(([pid, [, comm]]) => comm === 'sshd' && under(pid, initPid)).map(([pid]) => pid);
  for (const pid of sshd) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  return sshd;
}

beforeAll(async () => {
  fleet = await localFleet('rcol', PREFIX, SUBNET, { agents: { count: 2 }, targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: false } });
  fs.writeFileSync(file('locustfile.py'), LOCUSTFILE);
});

afterAll(async () => {
  const pids = fleet ? Object.values(await fleet.pids()) : [];
  await fleet?.remove();
  expect(await leftoversOf(PREFIX, pids)).toEqual([]);
});

describe('run: an env not ready, a host lost before collection', () => {
  it('fails with exit 2 naming `loadfleet install` on an env that is up but not installed (with and without doctor), before any load', async () => {
    const s = await fleet.cli(['serve', '-c', fleet.config]);
    expect(s.exitCode).toBe(0);
    const withDoctor = await fleet.cli(['run', '-c', fleet.config, '--script', file('locustfile.py'), '--users', '2', '--duration', '3s']);
    expect(withDoctor.exitCode).toBe(2);
    expect(withDoctor.stderr).toContain('loadfleet install');
    const skipped = await fleet.cli(['run', '-c', fleet.config, '--script', file('locustfile.py'), '--users', '2', '--duration', '3s', '--skip-doctor']);
    expect(skipped.exitCode).toBe(2);
    expect(skipped.stderr).toMatch(/Locust is not installed on this host .*: run "loadfleet install -c <config>" first/);
    const log = await fleet.ssh('app-1', `cat ${TARGET_SERVER.accessLog} 2>/dev/null || true`);
    expect(countServed(log.stdout)).toBe(0);
  });

  it('names the host whose results could not be collected and exits 1; the other results are kept', async () => {
    expect((await fleet.cli(['install', '-c', fleet.config])).exitCode).toBe(0);
    const child = execa(process.execPath, [BIN, 'run', '-c', fleet.config, '--script', file('locustfile.py'), '--users', '4', '--duration', '8s', '--skip-doctor'], {
      env: { ...process.env, ...fleet.env }, reject: false, stdin: 'ignore',
    });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (/\[\s+[4-7]s\/8s\]/.test(err)) resolve();
      });
      void child.then(() => reject(new Error(`the run ended before it was under way:\n${err}`)));
    });
    // agent-2 becomes unreachable while the load runs: its results cannot be pulled at the end.
    const pids = await fleet.pids();
    const init = Object.entries(pids).find(([ns]) => ns.endsWith('agent-2'))?.[1];
    expect(init).toBeDefined();
    expect(cutSsh(init!).length).toBeGreaterThan(0);
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/collection failed on agent-2: the results in \S+ lack those hosts/);
    const dir = runDirOf(String(r.stdout));
    const s = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
    expect(s.collectionFailures.map((f) => f.host)).toEqual(['agent-2']);
    expect(s.generators.find((g) => g.name === 'agent-1')?.collectionError).toBeUndefined();
    // What could be collected is kept: the master's merged numbers, agent-1's and the controller's raw files.
    expect(s.total.requests).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dir, 'raw', 'locust_stats.csv'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'raw', 'agent-1-cpu.txt'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'raw', 'agent-1-worker.log'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'raw', 'agent-2-cpu.txt'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'report.html'))).toBe(true);
  });
});
