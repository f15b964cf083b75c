/**
 * `loadfleet run` with Locust on real namespace hosts: a controller (master), 3 agents (workers), a target
 * running Debian's nginx (started by `loadfleet serve`). Real requests, bounded in users and seconds,
 * only to the target host's address; nginx's access log is the independent count.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { BIN } from '../harness/cli';
import { countServed, firstServedByClient, TARGET_SERVER } from '../../scripts/run/target-server';
import type { RunSummary } from '../../scripts/run/summary';
import { runDirOf } from '../harness/run-output';
import { decode } from '../../scripts/run/histogram';

const PREFIX = 'lr';
const SUBNET = '10.231.93.0/24';
let fleet: LocalFleet;

const LOCUSTFILE = `from locust import HttpUser, constant, task

class Web(HttpUser):
    wait_time = constant(0.05)

    @task(3)
    def home(self):
        self.client.get("/")

    @task(1)
    def items(self):
        self.client.get("/api/items")
`;

/** One agent burns CPU in every task (a deliberately expensive task); the others stay light. */
const CPU_BOUND = `import socket, time
from locust import HttpUser, constant, task

BUSY = socket.gethostname() == "agent-2"

class Web(HttpUser):
    wait_time = constant(0 if BUSY else 0.2)

    @task
    def home(self):
        if BUSY:
            end = time.time() + 0.5
            while time.time() < end:
                sum(i * i for i in range(2000))
        self.client.get("/")
`;

/** agent-3's users wait 1.5 s before their first request; the other agents start at once. */
const LATE_AGENT = `import socket, time
from locust import HttpUser, constant, task

LATE = socket.gethostname() == "agent-3"

class Web(HttpUser):
    wait_time = constant(0.1)

    def on_start(self):
        if LATE:
            time.sleep(1.5)

    @task
    def home(self):
        self.client.get("/")
`;

/** Half the requests to nginx (answered), half to a port of the same host where nothing listens (refused). */
const HALF_DEAD = `from locust import HttpUser, constant, task

class Web(HttpUser):
    wait_time = constant(0.1)

    @task
    def home(self):
        self.client.get("/")

    @task
    def dead(self):
        self.client.get(self.host.rsplit(":", 1)[0] + ":9999/dead", name="/dead")
`;

async function served(): Promise<number> {
  const r = await fleet.ssh('app-1', `cat ${TARGET_SERVER.accessLog} 2>/dev/null || true`);
  return countServed(r.stdout);
}


const file = (name: string) => path.join(fleet.ws.dir, name);
const readSummary = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8')) as RunSummary;

beforeAll(async () => {
  fleet = await localFleet('rtest', PREFIX, SUBNET, { agents: { count: 3 }, targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: false } });
  fs.writeFileSync(file('locustfile.py'), LOCUSTFILE);
  fs.writeFileSync(file('cpu.py'), CPU_BOUND);
  fs.writeFileSync(file('late.py'), LATE_AGENT);
  fs.writeFileSync(file('half-dead.py'), HALF_DEAD);
  fs.writeFileSync(file('broken.py'), 'from locust import HttpUser\nclass Web(HttpUser)\n    pass\n');
  expect((await fleet.cli(['install', '-c', fleet.config])).exitCode).toBe(0);
  const s = await fleet.cli(['serve', '-c', fleet.config]);
  expect(s.exitCode).toBe(0);
  expect(s.stdout).toMatch(/app-1: nginx pid=\d+ port=8080 serving http:\/\/10\.231\.93\.\d+:8080/);
});

afterAll(async () => {
  const pids = fleet ? Object.values(await fleet.pids()) : [];
  await fleet?.remove();
  expect(await leftoversOf(PREFIX, pids)).toEqual([]);
});

describe('run with Locust on the local target', () => {
  it('fails with exit 2 before any load for a missing script, a locustfile Python cannot load, bad options', async () => {
    const before = await served();
    const missing = await fleet.cli(['run', '-c', fleet.config, '--script', file('nope.py'), '--skip-doctor']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('nope.py) cannot be read: ENOENT');
    const broken = await fleet.cli(['run', '-c', fleet.config, '--script', file('broken.py'), '--skip-doctor']);
    expect(broken.exitCode).toBe(2);
    expect(broken.stderr).toContain('is not a loadable locustfile: Python says');
    expect(broken.stderr).toContain('SyntaxError');
    const dur = await fleet.cli(['run', '-c', fleet.config, '--script', file('locustfile.py'), '--duration', '10', '--skip-doctor']);
    expect(dur.exitCode).toBe(2);
    expect(dur.stderr).toContain('--duration (10) must be a duration like 10s, 5m, 1h or 1m30s');
    const thr = await fleet.cli(['run', '-c', fleet.config, '--script', file('locustfile.py'), '--threshold', 'p95<5', '--skip-doctor']);
    expect(thr.exitCode).toBe(2);
    expect(thr.stderr).toContain('--threshold (p95<5) needs a unit for p95');
    const st = await fleet.cli(['run', '-c', fleet.config, '--script', file('locustfile.py'), '--stages', '[{"duration":"5s"}]', '--skip-doctor']);
    expect(st.exitCode).toBe(2);
    expect(st.stderr).toContain('item 0 target (undefined) is not a whole number');
    expect(await served()).toBe(before);
  });

  it('merges the 3 agents: the total equals what nginx served (within the in-flight at stop), per-endpoint percentiles, a report naming the run; p95<1ms → exit 3 with the value', async () => {
    const before = await served();
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('locustfile.py'), '--users', '6', '--rate', '6', '--duration', '8s', '--threshold', 'p95<1ms']);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/threshold 'p95<1ms' broken: Total p95 was \d+(\.\d+)?ms/);
    const dir = runDirOf(r.stdout);
    const s = readSummary(dir);
    const servedNow = (await served()) - before;
    expect(s.total.requests).toBeGreaterThan(100);
    // Locust counts a request when its response arrives; nginx when it sends it: at most one in flight per user.
    expect(servedNow - s.total.requests).toBeGreaterThanOrEqual(0);
    // At most one request per user in flight when the users are stopped (6), plus one being recorded per
    // user as its greenlet is killed: seen once as 8 on a loaded machine; a lost worker report would be hundreds.
    expect(servedNow - s.total.requests).toBeLessThanOrEqual(12);
    expect(s.total.failures).toBe(0);
    expect(s.endpoints.map((e) => e.name).sort()).toEqual(['GET /', 'GET /api/items']);
    for (const e of s.endpoints) {
      expect(e.requests).toBeGreaterThan(0);
      expect(e.p95).toBeGreaterThan(0);
      expect(e.p99).toBeGreaterThanOrEqual(e.p50!);
    }
    expect(s.endpoints.reduce((a, e) => a + e.requests, 0)).toBe(s.total.requests);
    expect(s.generators.map((g) => g.name)).toEqual(['agent-1', 'agent-2', 'agent-3']);
    expect(s.generators.every((g) => g.startedAt !== null)).toBe(true);
    expect(s.startSpreadMs).toBeLessThanOrEqual(1000);
    console.log(`Locust start spread, 3 agents, 6 users at 6/s (first request per agent, worker side): ${s.startSpreadMs} ms`);
    expect(s.interrupted).toBe(false);
    expect(s.thresholds).toEqual([expect.objectContaining({ expr: 'p95<1ms', ok: false, endpoint: 'Total', measured: s.total.p95 })]);
    const html = fs.readFileSync(path.join(dir, 'report.html'), 'utf8');
    expect(html).toContain(`<title>loadfleet run ${s.runId} — rtest</title>`);
    expect(html).toContain('GET /api/items');
    expect(fs.readFileSync(path.join(dir, 'stats.csv'), 'utf8')).toContain(`Total,${s.total.requests},`);
    expect(fs.existsSync(path.join(dir, 'raw', 'locust_stats.csv'))).toBe(true);
    // The live timeline: requests per second from the master's totals, one point per step of them (workers
    // report every 3 s) — never Locust's lagging moving average, which read 0 for the first seconds while
    // nginx served from the release. Its area is what the master counted by the last tick.
    const tl = JSON.parse(fs.readFileSync(path.join(dir, 'raw', 'locust_live_timeline.json'), 'utf8')) as { t: number; rps: number }[];
    expect(tl.length).toBeGreaterThan(0);
    // The first step: the workers' first 3 s report, seen by the next tick (one SSH round trip): seen at 4.9 s
    // on a busy machine; the point of the check is that no point before it reads 0.
    expect(tl[0]!.t).toBeLessThanOrEqual(8);
    for (const x of tl) expect(x.rps, JSON.stringify(tl)).toBeGreaterThan(0);
    let area = 0;
    for (let i = 0; i < tl.length; i++) area += tl[i]!.rps * (tl[i]!.t - (i ? tl[i - 1]!.t : 0));
    expect(area).toBeLessThanOrEqual(s.total.requests * 1.02 + 2);
    expect(area).toBeGreaterThanOrEqual(s.total.requests * 0.4);
    expect(s.saturation.map((h) => h.host).sort()).toEqual(['agent-1', 'agent-2', 'agent-3', 'controller'].sort());
  });

  it('measures each generator\'s start at its first request (worker side): a 1.5 s late agent shows as a 1.5 s spread, as nginx saw it', async () => {
    const before = Date.now() / 1000;
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('late.py'), '--users', '6', '--rate', '100', '--duration', '5s', '--skip-doctor', '--json']);
    expect(r.exitCode).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary;
    const start = Object.fromEntries(s.generators.map((g) => [g.name, g.startedAt === null ? null : Date.parse(g.startedAt)]));
    // The independent count: the first request nginx read from each agent's address in this run.
    const ips = Object.fromEntries(fleet.outputs().hosts.filter((h) => h.role === 'agent').map((h) => [h.name, h.privateIp]));
    const nginx = firstServedByClient((await fleet.ssh('app-1', `cat ${TARGET_SERVER.accessLog}`)).stdout, before);
    for (const a of ['agent-1', 'agent-2', 'agent-3']) {
      expect(start[a], a).not.toBeNull();
      // The worker's clock and nginx's are this machine's: the same instant within the request's own time.
      expect(Math.abs(start[a]! - nginx.get(ips[a]!)!), `${a}: worker ${start[a]} nginx ${nginx.get(ips[a]!)}`).toBeLessThanOrEqual(300);
    }
    expect(start['agent-3']! - Math.max(start['agent-1']!, start['agent-2']!)).toBeGreaterThanOrEqual(1400);
    expect(s.startSpreadMs).toBeGreaterThanOrEqual(1400);
    expect(s.startSpreadMs).toBeLessThanOrEqual(3000);
    expect(s.merge).toContain('Generator start = the start of the agent\'s first request, measured by its workers');
    console.log(`Locust start spread with agent-3 late by 1.5 s: ${s.startSpreadMs} ms; worker vs nginx first request: ${['agent-1', 'agent-2', 'agent-3'].map((a) => `${a} ${start[a]! - nginx.get(ips[a]!)!} ms`).join(', ')}`);
  });

  it('exits 0 when every threshold holds, after doctor passed', async () => {
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('locustfile.py'), '--users', '3', '--duration', '4s', '--threshold', 'errors<1%', '--threshold', 'GET /: p95<5s', '--json']);
    expect(r.exitCode).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s.thresholds.map((t) => t.ok)).toEqual([true, true]);
    expect(s.total.requests).toBeGreaterThan(0);
  });

  it('SIGINT mid-run: the load stops on every host, partial results are saved, the run is marked interrupted', async () => {
    const child = execa(process.execPath, [BIN, 'run', '-c', fleet.config, '--script', file('locustfile.py'), '--users', '6', '--duration', '60s', '--skip-doctor'], {
      env: { ...process.env, ...fleet.env }, reject: false, stdin: 'ignore',
    });
    let err = '';
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (/\[\s+([4-9]|1\d)s\/60s\]/.test(err)) resolve();
      });
    });
    // A second run on the same env is refused while this one is going.
    const second = await fleet.cli(['run', '-c', fleet.config, '--script', file('locustfile.py'), '--duration', '5s', '--skip-doctor']);
    expect(second.exitCode).toBe(2);
    expect(second.stderr).toMatch(/run \S+ is still going on this env \(loadfleet pid \d+\)/);
    // And tune (like down/install) refuses too: the run holds the env lock, named in the message.
    const tune = await fleet.cli(['tune', '-c', fleet.config]);
    expect(tune.exitCode).toBe(2);
    expect(tune.stderr).toContain(`is busy: "loadfleet run" (pid ${child.pid})`);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toContain('SIGINT: stopping the test on every host, then collecting what was measured');
    expect(String(r.stderr)).not.toContain('terraform');
    expect(String(r.stderr)).toContain('was interrupted: the partial results are in');
    const s = readSummary(runDirOf(String(r.stdout)));
    expect(s.interrupted).toBe(true);
    expect(s.total.requests).toBeGreaterThan(0);
    // No user left generating load on any agent: the master says stopped, and nginx serves nothing more.
    const m = await fleet.ssh('controller', 'python3 -c "import json,urllib.request; d=json.load(urllib.request.urlopen(\'http://127.0.0.1:8089/stats/requests\')); print(d[\'state\'], d[\'user_count\'], sum(w[\'user_count\'] for w in d[\'workers\']))"');
    expect(m.stdout.trim()).toBe('stopped 0 0');
    const a = await served();
    await new Promise((res) => setTimeout(res, 2000));
    expect(await served()).toBe(a);
    expect((await fleet.ssh('controller', 'pgrep -f "^[a]wk -v iv" || true')).stdout.trim()).toBe('');
  });

  it('an abort-form threshold lost on the live figures stops the test early (dead target, errors<5%:abort=2s): exit 3 naming it, summary says aborted', async () => {
    const target = fleet.outputs().hosts.find((h) => h.role === 'target')!.privateIp;
    const t0 = Date.now();
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('locustfile.py'), '--host', `http://${target}:9999`, '--users', '3', '--duration', '60s', '--threshold', 'errors<5%:abort=2s', '--threshold', 'Total: requests>=1', '--skip-doctor']);
    const tookS = (Date.now() - t0) / 1000;
    expect(r.exitCode).toBe(3);
    expect(tookS).toBeLessThan(45); // 60 s asked: stopped well before
    expect(r.stderr).toMatch(/threshold 'errors<5%:abort=2s' lost at [\d.]+ s \(100%\): aborting the test/);
    expect(r.stderr).toMatch(/threshold 'errors<5%:abort=2s' aborted the run at [\d.]+ s: Total errors was 100% on the live figures/);
    const s = readSummary(runDirOf(r.stdout));
    expect(s.abortedBy).toMatchObject({ expr: 'errors<5%:abort=2s', measured: 100, unit: '%' });
    expect(s.abortedBy!.atS).toBeGreaterThanOrEqual(2);
    expect(s.durationS).toBeLessThan(30);
    expect(r.stdout.split('\n')[0]).toContain("ABORTED by threshold 'errors<5%:abort=2s'");
    // "Total:" is the total (the name stats.csv and the report give it), not an endpoint never requested.
    expect(s.thresholds.map((t) => [t.expr, t.ok, t.endpoint])).toEqual([['errors<5%:abort=2s', false, 'Total'], ['Total: requests>=1', true, 'Total']]);
  });

  it('no response is no latency: against a port where nothing listens every request is counted and failed, the latencies are n/a and p95<500ms breaks "no latency measured" (exit 3)', async () => {
    const target = fleet.outputs().hosts.find((h) => h.role === 'target')!.privateIp;
    const before = await served();
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('locustfile.py'), '--host', `http://${target}:9999`, '--users', '3', '--duration', '5s', '--threshold', 'p95<500ms', '--threshold', 'max<1s', '--skip-doctor']);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/threshold 'p95<500ms' broken: .*no latency measured/);
    expect(r.stderr).toMatch(/threshold 'max<1s' broken: .*no latency measured/);
    expect(r.stdout).toContain('latency ms: p50 n/a  p90 n/a  p95 n/a  p99 n/a  max n/a');
    // The live line too: no tick shows a latency (Locust's own live p95 counted the refused connects' time).
    expect(r.stderr).toContain('p95 n/a');
    expect(r.stderr).not.toMatch(/p95 \d/);
    const dir = runDirOf(r.stdout);
    const s = readSummary(dir);
    expect(s.total.requests).toBeGreaterThan(10);
    expect(s.total.failures).toBe(s.total.requests);
    expect(s.total).toMatchObject({ min: null, mean: null, p50: null, p90: null, p95: null, p99: null, max: null });
    expect(s.endpoints.every((e) => e.p95 === null && e.max === null)).toBe(true);
    expect(s.warnings).toBeUndefined();
    // Nothing reached nginx (the independent count), and the kept histograms count the requests without a latency.
    expect(await served()).toBe(before);
    const index = JSON.parse(fs.readFileSync(path.join(dir, 'hist', 'index.json'), 'utf8')) as { total: { requests: number } };
    expect(index.total.requests).toBe(s.total.requests);
  });

  it('half the requests unanswered: they count as requests and failures, the latencies are those of the answered ones only (as many as nginx served)', async () => {
    const before = await served();
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('half-dead.py'), '--users', '4', '--duration', '6s', '--threshold', 'GET /dead: p95<500ms', '--threshold', 'GET /: p95<5s', '--skip-doctor']);
    expect(r.exitCode, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/threshold 'GET \/dead: p95<500ms' broken: .*no latency measured/);
    expect(r.stderr).not.toContain("'GET /: p95<5s' broken");
    const s = readSummary(runDirOf(r.stdout));
    const servedNow = (await served()) - before;
    const home = s.endpoints.find((e) => e.name === 'GET /')!;
    const dead = s.endpoints.find((e) => e.name === 'GET /dead')!;
    expect(dead.requests).toBeGreaterThan(10);
    expect(dead.failures).toBe(dead.requests);
    expect(dead).toMatchObject({ p50: null, p95: null, max: null });
    expect(home.failures).toBe(0);
    expect(s.total.requests).toBe(home.requests + dead.requests);
    expect(s.total.failures).toBe(dead.requests);
    // The total's latency histogram holds exactly the answered requests, which nginx served (up to the in-flight at stop).
    const totalHdr = decode(s.total.hdr!);
    expect(totalHdr.totalCount).toBe(home.requests);
    expect(servedNow - home.requests).toBeGreaterThanOrEqual(0);
    expect(servedNow - home.requests).toBeLessThanOrEqual(8);
    expect(s.total.p95).not.toBeNull();
    expect(s.total.p95!).toBeLessThanOrEqual(s.total.max!);
    expect(s.merge).toContain('a request without a response (refused, reset, timed out) is counted and failed, never a latency');
    console.log(`Locust half-dead target: ${home.requests} answered (nginx served ${servedNow}), ${dead.requests} refused; Total latency count ${totalHdr.totalCount}, p95 ${s.total.p95} ms`);
  });

  it('a sampler that dies mid-run: that host\'s saturation is unknown (never "not bound") and a collection failure, exit 1', async () => {
    const child = execa(process.execPath, [BIN, 'run', '-c', fleet.config, '--script', file('locustfile.py'), '--users', '3', '--duration', '12s', '--skip-doctor'], {
      env: { ...process.env, ...fleet.env }, reject: false, stdin: 'ignore',
    });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (/\[\s+[2-6]s\/12s\]/.test(err)) resolve();
      });
      void child.then(() => reject(new Error(`the run ended before it was under way:\n${err}`)));
    });
    // The sampler this run started on agent-1 (its own pid namespace holds only this fleet's processes), by pid.
    const pid = (await fleet.sshRoot('agent-1', 'pgrep -f "^[a]wk -v iv"')).stdout.trim();
    expect(pid).toMatch(/^\d+$/);
    expect((await fleet.sshRoot('agent-1', `kill ${pid}`)).exitCode).toBe(0);
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const s = readSummary(runDirOf(String(r.stdout)));
    expect(s.saturation.find((h) => h.host === 'agent-1')).toMatchObject({ bound: null, reason: expect.stringMatching(/^saturation unknown: the CPU samples stop at \d+(\.\d)? s of the run \(the sampler died or stopped answering\)/) });
    expect(s.collectionFailures.map((f) => f.host)).toEqual(['agent-1']);
    for (const h of ['agent-2', 'agent-3', 'controller']) expect(s.saturation.find((x) => x.host === h)!.bound).toBe(false);
    expect(s.total.requests).toBeGreaterThan(0);
  });

  it('flags a CPU-bound generator by name', async () => {
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', file('cpu.py'), '--users', '6', '--duration', '16s', '--skip-doctor', '--json']);
    expect(r.exitCode).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s.saturation.find((h) => h.host === 'agent-2')).toMatchObject({ bound: true }); // shows the measured figures when it fails
    expect(s.generatorBound).toBe(true);
    expect(s.boundBy.some((b) => b.startsWith('agent-2: CPU above 85 %'))).toBe(true);
    expect(s.boundBy.some((b) => b.startsWith('agent-1') || b.startsWith('agent-3'))).toBe(false);
    expect(r.stderr).toContain('generator-bound');
  });

  it('down keeps every run folder', async () => {
    const runs = path.join(fleet.ws.home, 'rtest', 'runs');
    const before = fs.readdirSync(runs).filter((d) => !d.startsWith('.'));
    expect(before.length).toBeGreaterThanOrEqual(3);
    const d = await fleet.cli(['down', '-c', fleet.config, '--yes']);
    expect(d.exitCode).toBe(0);
    expect(fs.readdirSync(runs).filter((x) => !x.startsWith('.'))).toEqual(before);
    for (const r of before) expect(fs.existsSync(path.join(runs, r, 'summary.json'))).toBe(true);
  });
});
