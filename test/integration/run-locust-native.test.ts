/**
 * `loadfleet run` with Locust on real namespace hosts (controller + 2 agents + an nginx target): the engine's
 * own options after `--` (written to locust.conf on every host, never leaking into the next run), and what a
 * run does when a host fails. Real requests, bounded in users and seconds, only to the target's address.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN } from '../harness/cli';
import { runDirOf } from '../harness/run-output';
import { controlScript, SV } from '../../scripts/core/supervise';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { TARGET_SERVER } from '../../scripts/run/target-server';
import type { RunSummary } from '../../scripts/run/summary';
import { LOCUST_OWNER, LOCUST_WATCHDOG_LOG } from '../../scripts/run/locust-control';


const PREFIX = 'ln';
const SUBNET = '10.231.97.0/24';
let fleet: LocalFleet;

/** The folder is listed (the locustfile is there: a missing folder cannot pass) and holds no locust.conf. */
async function expectNoLocustConf(host: string): Promise<void> {
  const r = await fleet.sshRoot(host, 'ls /etc/loadfleet/locust/');
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toContain('locustfile.py');
  expect(r.stdout).not.toContain('locust.conf');
}

/** Two endpoints; only /api/items is tagged "api". */
const TAGGED = `from locust import HttpUser, constant, tag, task

class Web(HttpUser):
    wait_time = constant(0.1)

    @task
    def home(self):
        self.client.get("/")

    @tag("api")
    @task
    def items(self):
        self.client.get("/api/items")
`;

const file = (name: string) => path.join(fleet.ws.dir, name);
const readSummary = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;
const served = async () => Object.values(await servedByPath()).reduce((a, b) => a + b, 0);

/** Requests nginx served per path so far. */
async function servedByPath(): Promise<Record<string, number>> {
  const r = await fleet.ssh('app-1', `cat ${TARGET_SERVER.accessLog} 2>/dev/null || true`);
  const out: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    const uri = line.split(' ')[3];
    if (uri) out[uri] = (out[uri] ?? 0) + 1;
  }
  return out;
}
/** Every Locust worker service's pid on both agents ("agent-1 locust-worker@1" → pid). */
async function workerPids(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const a of ['agent-1', 'agent-2']) {
    const r = await fleet.sshRoot(a, `for f in ${SV.run}/locust-worker@*/pid; do echo "$(basename "$(dirname "$f")") $(cat "$f")"; done`);
    for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
      const [name, pid] = line.split(' ');
      out[`${a} ${name}`] = pid!;
    }
  }
  return out;
}
const delta = (a: Record<string, number>, b: Record<string, number>, k: string) => (b[k] ?? 0) - (a[k] ?? 0);

beforeAll(async () => {
  fleet = await localFleet('rnative', PREFIX, SUBNET, { agents: { count: 2 }, targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: false } });
  fs.writeFileSync(file('tagged.py'), TAGGED);
  expect((await fleet.cli(['install', '-c', fleet.config])).exitCode).toBe(0);
  expect((await fleet.cli(['serve', '-c', fleet.config])).exitCode).toBe(0);
});

afterAll(async () => {
  const pids = fleet ? Object.values(await fleet.pids()) : [];
  await fleet?.remove();
  expect(await leftoversOf(PREFIX, pids)).toEqual([]);
});

describe('Locust options after --', () => {
  it('fails with exit 2 naming an option loadfleet owns, before any host is touched (no locust.conf written)', async () => {
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('tagged.py'), '--duration', '3s', '--skip-doctor', '--', '--tags', 'api', '--run-time', '5s']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("Locust option --run-time is loadfleet's to set: the load comes from --users, --rate, --duration or --stages");
    for (const h of ['controller', 'agent-1']) await expectNoLocustConf(h);
  });

  it('fails with exit 2 and Locust\'s own words for an option Locust does not know, before any load', async () => {
    const before = await servedByPath();
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('tagged.py'), '--duration', '3s', '--skip-doctor', '--', '--no-such-option', '1']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('Locust refused the options after --: locust: error: unrecognized arguments: --no-such-option=1');
    expect(await servedByPath()).toEqual(before);
    await expectNoLocustConf('agent-1');
  });

  it('--tags api reaches every worker: only the tagged endpoint gets requests (summary and nginx agree); the next run without it hits both', async () => {
    const before = await servedByPath();
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('tagged.py'), '--users', '4', '--rate', '4', '--duration', '4s', '--skip-doctor', '--json', '--', '--tags', 'api', '--loglevel', 'DEBUG']);
    expect(r.exitCode).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary & { dir: string };
    // The workers read their own locust.conf: --loglevel is not forwarded by the master, yet both agents' workers log at DEBUG.
    for (const a of ['agent-1', 'agent-2']) expect(fs.readFileSync(path.join(s.dir, 'raw', `${a}-worker.log`), 'utf8')).toMatch(new RegExp(`${a}/DEBUG/`));
    const cores = Number((await fleet.ssh('agent-1', 'nproc')).stdout.trim());
    expect(s.endpoints.map((e) => e.name)).toEqual(['GET /api/items']);
    expect(s.total.requests).toBeGreaterThan(20);
    // rps over Locust's own window (the release to the last request), not the run's wall time with the stop.
    expect(s.rpsWindow.basis).toContain('Locust: the release');
    expect(s.rpsWindow.seconds).toBeLessThan(s.durationS);
    // summary.json keeps the window's seconds to the ms: compare within that rounding, relative to the rate.
    expect(Math.abs(s.total.rps - s.total.requests / s.rpsWindow.seconds)).toBeLessThanOrEqual(s.total.rps * 0.001 + 0.002);
    const mid = await servedByPath();
    expect(delta(before, mid, '/')).toBe(0);
    expect(delta(before, mid, '/api/items')).toBeGreaterThanOrEqual(s.total.requests);
    // Every worker read it (only the tagged task ran on both agents); the file is removed once the run is collected.
    for (const h of ['controller', 'agent-1', 'agent-2']) await expectNoLocustConf(h);

    const next = await fleet.cli(['run', '-c', fleet.config, '--script', file('tagged.py'), '--users', '4', '--rate', '4', '--duration', '4s', '--skip-doctor', '--json']);
    expect(next.exitCode).toBe(0);
    const s2 = JSON.parse(next.stdout) as RunSummary;
    expect(s2.endpoints.map((e) => e.name)).toEqual(['GET /', 'GET /api/items']);
    // raw/<agent>-worker.log holds this run's lines only: one start per worker (restarted for this run), none of
    // the DEBUG lines the previous run wrote to the same service log, none of install's.
    for (const a of ['agent-1', 'agent-2']) {
      const log = fs.readFileSync(path.join((s2 as RunSummary & { dir: string }).dir, 'raw', `${a}-worker.log`), 'utf8');
      expect(log.match(/Starting Locust/g)?.length, log.slice(0, 2000)).toBe(cores);
      expect(log).not.toMatch(new RegExp(`${a}/DEBUG/`));
      expect(log).toMatch(new RegExp(`loadfleet-first-request run=${s2.runId} at_ms=\\d+`));
    }
    expect(delta(mid, await servedByPath(), '/')).toBeGreaterThan(0);
    for (const h of ['controller', 'agent-1', 'agent-2']) await expectNoLocustConf(h);
  });
});

describe('a locustfile that does not load (issue 22.4)', () => {
  const live = async (h: string) => (await fleet.sshRoot(h, 'sha256sum /etc/loadfleet/locust/locustfile.py')).stdout.split(' ')[0];

  it('fails with exit 2 and Python\'s words (file, line, error) for a bad import, before any host changes', async () => {
    const bad = file('badimport.py');
    fs.writeFileSync(bad, 'from locust import HttpUser, task\nimport no_such_module_lf\n\nclass Web(HttpUser):\n    @task\n    def index(self):\n        self.client.get("/")\n');
    const before = { controller: await live('controller'), agent: await live('agent-1') };
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', bad, '--duration', '3s', '--skip-doctor']);
    expect(r.stderr).toContain(`--script (${bad}) does not load in Locust on controller; Python says:`);
    expect(r.stderr).toContain(`File "${bad}", line 2, in <module>`);
    expect(r.stderr).toContain("ModuleNotFoundError: No module named 'no_such_module_lf'");
    expect(r.exitCode).toBe(2);
    expect({ controller: await live('controller'), agent: await live('agent-1') }).toEqual(before);
    expect((await fleet.cli(['doctor', '-c', fleet.config])).exitCode).toBe(0);
  });

  it('a failed start (workers that cannot load it) puts the previous locustfile back and Locust runs again on it', async () => {
    // Loads on the controller (the import check, the master); raises in every worker, so no worker connects.
    const workerless = file('workerless.py');
    fs.writeFileSync(workerless, 'import sys\nfrom locust import HttpUser, task\nif "--worker" in sys.argv:\n    raise RuntimeError("this locustfile refuses to run in a worker")\n\nclass Web(HttpUser):\n    @task\n    def index(self):\n        self.client.get("/")\n');
    const before = { controller: await live('controller'), agent: await live('agent-1'), other: await live('agent-2') };
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', workerless, '--duration', '3s', '--skip-doctor']);
    expect(r.stderr).toMatch(/Locust workers connected to the master within/);
    expect(r.stderr).toContain('the previous locustfile is back on every host and Locust restarted on it');
    expect(r.exitCode).toBe(1);
    expect({ controller: await live('controller'), agent: await live('agent-1'), other: await live('agent-2') }).toEqual(before);
    expect((await fleet.cli(['doctor', '-c', fleet.config, '--wait', '40'])).exitCode).toBe(0);
  }, 300_000);
});

describe('nobody but the run drives the fleet', () => {
  it('the master\'s web UI answers on the controller\'s 127.0.0.1 only: not from another host, not from an unprivileged user of this machine', async () => {
    const ctl = fleet.outputs().hosts.find((h) => h.name === 'controller')!.privateIp;
    const ss = await fleet.sshRoot('controller', 'ss -ltnH');
    expect(ss.stdout).toMatch(/127\.0\.0\.1:8089\b/);
    expect(ss.stdout).not.toMatch(/(0\.0\.0\.0|\*|\[::\]):8089\b/);
    // Another host of the fleet: refused (curl exit 7, nothing listens there).
    const fromAgent = await fleet.ssh('agent-1', `curl -sS -m 5 -X POST -d user_count=1 -d spawn_rate=1 -d host=http://10.0.0.1 http://${ctl}:8089/swarm; echo "exit $?"`);
    expect(fromAgent.stdout).toMatch(/exit 7$/m);
    // An unprivileged user of this machine (which reaches the hosts' network): refused too.
    const nobody = await execa('runuser', ['-u', 'nobody', '--', 'curl', '-sS', '-m', '5', `http://${ctl}:8089/stats/requests`], { reject: false });
    expect(nobody.exitCode, nobody.stderr).toBe(7);
  });

  it('kill -9 of loadfleet mid-run: the watchdog on the controller stops the load by itself within its bound (nginx goes quiet)', async () => {
    const child = execa(process.execPath, [BIN, 'run', '-c', fleet.config, '--script', file('tagged.py'), '--users', '4', '--rate', '4', '--duration', '120s', '--skip-doctor'], {
      env: { ...process.env, ...fleet.env }, reject: false, stdin: 'ignore',
    });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (/\[\s+([4-9]|1\d)s\/120s\]/.test(err)) resolve();
      });
      void child.then(() => reject(new Error(`the run ended before it was under way:\n${err}`)));
    });
    const killedAt = await served();
    const killedMs = Date.now();
    child.kill('SIGKILL');
    await child;
    // The load outlives the owner for at most staleS (+1 s of the watchdog's sleep, + the workers' stop).
    await new Promise((res) => setTimeout(res, (LOCUST_OWNER.staleS + 6) * 1000));
    const a = await served();
    expect(a).toBeGreaterThan(killedAt); // it was sending when loadfleet died
    await new Promise((res) => setTimeout(res, 4000));
    expect(await served()).toBe(a);
    const log = await fleet.sshRoot('controller', `cat ${LOCUST_WATCHDOG_LOG}`);
    expect(log.stdout).toMatch(/: no word from loadfleet for \d+ s \(more than 15 s\): stopped the load \(GET \/stop: 200\)/);
    const last = (await fleet.ssh('app-1', `tail -n 1 ${TARGET_SERVER.accessLog}`)).stdout.split(' ')[0];
    console.log(`kill -9 at ${new Date(killedMs).toISOString()}; nginx's last request ${((Number(last) * 1000 - killedMs) / 1000).toFixed(1)} s later; watchdog: ${log.stdout.trim().split('\n').at(-1)}`);
    // The next run is not held up by the dead one (its lock names a dead pid) and runs normally.
    const next = await fleet.cli(['run', '-c', fleet.config, '--script', file('tagged.py'), '--users', '2', '--duration', '3s', '--skip-doctor', '--json']);
    expect(next.exitCode, next.stderr).toBe(0);
  });
});

describe('a host failing mid-way', () => {
  it('a worker service down: doctor inside run fails with exit 1 (a host said no, not a usage error), naming the host; nothing is sent', async () => {
    const stop = await fleet.sshRoot('agent-2', controlScript('stop', ['locust-worker@1'], 'netns'));
    expect(stop.exitCode, stop.stderr).toBe(0);
    try {
      const before = await served();
      const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('tagged.py'), '--users', '2', '--duration', '3s']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain('doctor failed, so the run did not start');
      expect(r.stderr).toMatch(/agent-2 service locust-worker@1: not running/);
      expect(r.stderr).toContain('(fix the hosts named, or pass --skip-doctor)');
      expect(await served()).toBe(before);
    } finally {
      expect((await fleet.sshRoot('agent-2', controlScript('start', ['locust-worker@1'], 'netns'))).exitCode).toBe(0);
    }
    expect((await fleet.cli(['doctor', '-c', fleet.config, '--wait', '30'])).exitCode).toBe(0);
  });

  it('the master hangs mid-run: the workers are restarted over SSH on every agent (new pids), nginx goes quiet, a partial summary names the controller, exit 1', async () => {
    const child = execa(process.execPath, [BIN, 'run', '-c', fleet.config, '--script', file('tagged.py'), '--users', '4', '--rate', '4', '--duration', '60s', '--skip-doctor'], {
      env: { ...process.env, ...fleet.env }, reject: false, stdin: 'ignore',
    });
    let err = '';
    let master = '';
    try {
      await new Promise<void>((resolve, reject) => {
        child.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          if (/\[\s+4s\/60s\]/.test(err)) resolve();
        });
        void child.then(() => reject(new Error(`the run ended before it was under way:\n${err}`)));
      });
      const before = await workerPids();
      // Hang the master rather than stop it: a stopped master (SIGTERM) sends `quit` to every worker itself
      // (MasterRunner.quit), so nginx would go quiet whatever the driver did. SIGSTOP does not end the process,
      // so the supervise loop (scripts/core/supervise.ts: it restarts only after `wait` returns) leaves it hung,
      // and Locust 2.12.1's workers have no master-heartbeat timeout: they keep their users until restarted.
      master = (await fleet.sshRoot('controller', `cat ${SV.run}/locust-master/pid`)).stdout.trim();
      expect(master).toMatch(/^\d+$/);
      expect((await fleet.sshRoot('controller', `kill -STOP ${master}`)).exitCode).toBe(0);
      const r = await child;
      expect(r.exitCode).toBe(1);
      expect(String(r.stderr)).toMatch(/run \S+ failed: the Locust master on controller stopped answering: .*; what was measured is in \S+/);
      expect(String(r.stderr)).not.toContain('stopping its workers over SSH failed');
      // The fallback ran: every worker service on both agents is a new process.
      const after = await workerPids();
      expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
      for (const [k, pid] of Object.entries(after)) expect(pid, k).not.toBe(before[k]);
      const s = readSummary(runDirOf(String(r.stdout)));
      expect(s.collectionFailures.map((f) => f.host)).toEqual(['controller']);
      expect(s.stopFailures).toEqual([]);
      expect(s.merge).toMatch(/^PARTIAL — the Locust master on controller stopped answering/);
      expect(s.total.requests).toBeGreaterThan(0);
      expect(s.total.p95).toBeNull(); // the live answer holds no cumulative p95: null, never a guess
      expect(s.endpoints.map((e) => e.name).sort()).toEqual(['GET /', 'GET /api/items']);
      // The hung master was KILLed (a resumed one would hand its users to the new workers): its supervisor runs a new one.
      await expect.poll(async () => (await fleet.sshRoot('controller', `cat ${SV.run}/locust-master/pid`)).stdout.trim(), { timeout: 10_000 }).not.toBe(master);
      // No user traffic left: nginx serves nothing more.
      const a = await served();
      await new Promise((res) => setTimeout(res, 3000));
      expect(await served()).toBe(a);
    } finally {
      // Should the KILL not have happened, let the hung master run again so the fleet can be torn down.
      if (master) await fleet.sshRoot('controller', `kill -CONT ${master} 2>/dev/null || true`);
      child.kill('SIGINT');
      await child;
    }
    // The fleet is usable again once the master runs again: the restarted workers connect to it.
    expect((await fleet.cli(['doctor', '-c', fleet.config, '--wait', '40'])).exitCode).toBe(0);
  });

  it('Ctrl-C while the run prepares: stopped cleanly, nothing released, no locust.conf left, summary marked interrupted, exit 1', async () => {
    const before = await served();
    const child = execa(process.execPath, [BIN, 'run', '-c', fleet.config, '--script', file('tagged.py'), '--users', '4', '--rate', '4', '--duration', '30s', '--skip-doctor', '--', '--tags', 'api'], {
      env: { ...process.env, ...fleet.env }, reject: false, stdin: 'ignore',
    });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        // Printed right before prepare (locust.conf, the services' restart, the wait for the workers).
        if (/^run \S+: locust on 2 agents/m.test(err)) resolve();
      });
      void child.then(() => reject(new Error(`the run ended before it prepared:\n${err}`)));
    });
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/run \S+ was interrupted before the load was released: nothing was sent/);
    for (const h of ['controller', 'agent-1', 'agent-2']) await expectNoLocustConf(h);
    const s = readSummary(runDirOf(String(r.stdout)));
    expect(s.interrupted).toBe(true);
    expect(s.total.requests).toBe(0);
    // No user was started: nginx served nothing then or since.
    await new Promise((res) => setTimeout(res, 2000));
    expect(await served()).toBe(before);
    expect((await fleet.cli(['doctor', '-c', fleet.config, '--wait', '40'])).exitCode).toBe(0);
  });
});
