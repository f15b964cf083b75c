/**
 * The k6 run driver's ORCHESTRATION on 3 real namespace agents, against a clearly-labelled STAND-IN for k6
 * (test/harness/k6-standin.py, placed at k6's path on each agent), NOT the real k6 — k6 cannot be obtained on
 * this machine. What this proves is loadfleet's side: the script pushed to every agent, one paused instance
 * per agent started as the k6 user under `timeout`, readiness read over SSH from each instance's REST API,
 * one release instant for all (and none after an abort), live metrics, the stop (API, then signals; after a
 * failed start also on agents whose start answered late or not at all, through the pid file), the
 * filtered raw points pulled in chunks and merged (the merged total equals what nginx served; the merged p95
 * is the union's); with a monitoring host, each instance's Prometheus remote write (issue 16.9) received by the real
 * Prometheus 2.42 started with loadfleet's flags, and PromQL over it equal to nginx's count. What it does NOT prove: that the real k6 accepts these command lines, answers its REST
 * API and writes its JSON output exactly as documented (the stand-in follows the docs, see its header), or
 * k6's own split of VUs over execution segments.
 *
 * The driver is called directly (not through the CLI): the local target refuses k6 at install. Each agent gets
 * a private /var/lib/loadfleet and /usr/local/bin (bind mounts in its own mount namespace) and a k6 user in
 * its own /etc overlay, so nothing of this lands on the machine.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSsh, KnownHosts } from '../../scripts/adapters/ssh';
import { K6_TIMING, k6Run } from '../../scripts/drivers/k6';
import { RUN_TIMING, sleep, type DriverContext, type EngineDriver, type HostConn, type Prepared, type Tick } from '../../scripts/drivers/types';
import { resolveLoad } from '../../scripts/run/load';
import { countServed, TARGET_SERVER } from '../../scripts/run/target-server';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { shQuote } from '../../scripts/core/safe-text';
import { k6AgentPaths, k6ChunkScript, k6FilterScript, k6PrepareScript, k6StartScript } from '../../scripts/run/k6-run';
import type { K6Instance } from '../../scripts/run/commands';
import { k6RunFacts } from '../../scripts/engines/k6';
import { machineMountPoint } from '../harness/machine-paths';
import { prometheusArgs } from '../../scripts/monitoring/prometheus';
import { enginePushes } from '../../scripts/actions/monitoring';
import { eventually, promQuery } from '../harness/monitoring';

const PREFIX = 'lk';
const SUBNET = '10.231.96.0/24';
const STANDIN = path.resolve(__dirname, '../harness/k6-standin.py');
const SCRIPT = 'import http from "k6/http";\nexport default function () { http.get(`${__ENV.LOADFLEET_HOST}`); }\n';

let fleet: LocalFleet;
let conns: HostConn[] = [];
let hostUrl = '';
/** The real Prometheus (Debian's 2.42) on the fleet's monitoring host, started with loadfleet's flags for k6. */
let promBase = '';
// /var is shared between the machine and its namespace hosts: the bind mount's mount point must exist on the
// machine, and a fresh machine has no /var/lib/loadfleet (issue 21). Created here, removed in afterAll.
let removeMountPoint: () => void = () => undefined;

const exact = (sorted: number[], p: number) => sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;

beforeAll(async () => {
  removeMountPoint = machineMountPoint('/var/lib/loadfleet');
  fleet = await localFleet('k6t', PREFIX, SUBNET, { engine: 'locust', agents: { count: 3 }, targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: true } });
  expect((await fleet.cli(['serve', '-c', fleet.config])).exitCode).toBe(0);
  const outputs = fleet.outputs();
  hostUrl = `http://${outputs.hosts.find((h) => h.role === 'target')!.privateIp}:8080/`;
  for (const h of outputs.hosts.filter((x) => x.role === 'agent')) {
    // The stand-in at k6's path and k6's state folder, private to this host's mount namespace; the k6 user in its /etc overlay.
    const r = await fleet.sshRoot(h.name, [
      'set -e',
      'id -u k6 >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin k6',
      // As install makes it: the folder of run folders is root's (issue 20.5); each run's out/ is the k6 user's.
      'mkdir -p /tmp/lf-k6/var/runs/k6 /tmp/lf-k6/bin',
      // The content travels in the command: the project may sit under /tmp, which each host has private.
      `printf %s ${shQuote(fs.readFileSync(STANDIN).toString('base64'))} | base64 -d > /tmp/lf-k6/bin/k6 && chmod 0755 /tmp/lf-k6/bin/k6`,
      'mountpoint -q /var/lib/loadfleet || mount --bind /tmp/lf-k6/var /var/lib/loadfleet',
      'mountpoint -q /usr/local/bin || mount --bind /tmp/lf-k6/bin /usr/local/bin',
      'ls -l /usr/local/bin/k6 /var/lib/loadfleet/runs/k6 >/dev/null && echo ok',
    ].join('\n'));
    expect(r.stdout.trim(), r.stderr).toBe('ok');
  }
  // Prometheus as install starts it for a k6 env (prometheusArgs: listening on the host's private address, remote-write
  // receiver on, native histograms); only its config and data live in the host's private /tmp.
  const mon = outputs.hosts.find((h) => h.role === 'monitoring')!;
  const args = prometheusArgs({ env: outputs.env, kind: 'netns', host: { name: mon.name, privateIp: mon.privateIp }, rootVolumeGb: 20, remoteWrite: enginePushes('k6') })
    .map((a) => (a.startsWith('--config.file=') ? '--config.file=/tmp/lf-prom/prometheus.yml' : a.startsWith('--storage.tsdb.path=') ? '--storage.tsdb.path=/tmp/lf-prom/data' : a));
  expect(args).toEqual(expect.arrayContaining(['--web.enable-remote-write-receiver', '--enable-feature=native-histograms', `--web.listen-address=${mon.privateIp}:9090`]));
  const pr = await fleet.sshRoot(mon.name, [
    'set -e',
    'mkdir -p /tmp/lf-prom',
    "echo 'global: { scrape_interval: 15s }' > /tmp/lf-prom/prometheus.yml",
    `cd /tmp/lf-prom; setsid nohup ${args.map(shQuote).join(' ')} > /tmp/lf-prom/log 2>&1 < /dev/null &`,
    'echo ok',
  ].join('\n'));
  expect(pr.stdout.trim(), pr.stderr).toBe('ok');
  promBase = `http://${mon.privateIp}:9090`;
  await eventually('Prometheus ready on the monitoring host', () => fetch(`${promBase}/-/ready`).then((r) => r.status), (st) => st === 200, 60_000, 500);
  const envDir = path.join(fleet.ws.home, fleet.name);
  const knownHosts = new KnownHosts(path.join(envDir, 'known_hosts'));
  conns = await Promise.all(outputs.hosts.filter((x) => x.role === 'agent').map(async (h) => ({ host: h, session: await connectSsh(h.privateIp, { user: outputs.sshUser, privateKeyPath: fleet.ws.privateKeyPath, knownHosts }) })));
});

afterAll(async () => {
  for (const c of conns) c.session.close();
  const pids = fleet ? Object.values(await fleet.pids()) : [];
  await fleet?.remove();
  removeMountPoint(); // after the hosts (and their bind mounts) are gone
  expect(await leftoversOf(PREFIX, pids)).toEqual([]);
});

function driverFor(runId: string, plan = resolveLoad({ users: 6, durationS: 4 }), extra: string[] = [], agents: HostConn[] = conns): EngineDriver {
  const outputs = fleet.outputs();
  const p: Prepared = {
    outputs, kind: 'netns', engine: 'k6', scriptPath: '/tmp/script.js', scriptText: SCRIPT, plan, thresholds: [], hostUrl, passthrough: ['--tag', 'testrun=k6t', ...extra],
  };
  const ctx: DriverContext = { p, controller: undefined, agents, login: outputs.sshUser, runId, envDir: path.join(fleet.ws.home, fleet.name) };
  return k6Run.create(ctx);
}

async function served(): Promise<string> {
  return (await fleet.sshRoot('app-1', `cat ${TARGET_SERVER.accessLog}`)).stdout;
}

async function k6Processes(): Promise<string[]> {
  const left: string[] = [];
  for (const c of conns) {
    const r = await fleet.sshRoot(c.host.name, 'pgrep -u k6 -a || true');
    left.push(...r.stdout.trim().split('\n').filter(Boolean).map((l) => `${c.host.name}: ${l}`));
  }
  return left;
}

async function logOf(runId: string, agent: string): Promise<string> {
  return (await fleet.sshRoot(agent, `cat /var/lib/loadfleet/runs/k6/${runId}/k6.log`)).stdout;
}

describe('k6 driver on 3 agents (stand-in k6: orchestration only)', () => {
  it('fails with exit 2 naming the host when k6 is not installed there, before any load', async () => {
    expect((await fleet.sshRoot('agent-2', 'mv /usr/local/bin/k6 /usr/local/bin/k6.off && echo ok')).stdout.trim()).toBe('ok');
    try {
      const err = await driverFor('k6t-missing').prepare().catch((e: Error & { exitCode?: number }) => e);
      expect((err as Error & { exitCode: number }).exitCode).toBe(2);
      expect((err as Error).message).toBe('agent-2: k6 is not installed on this host (/usr/local/bin/k6 missing): run "loadfleet install -c <config>" first');
    } finally {
      await fleet.sshRoot('agent-2', 'mv /usr/local/bin/k6.off /usr/local/bin/k6');
    }
  });

  it('starts every instance paused, releases them at one instant, watches, collects and merges exactly what nginx served', async () => {
    const runId = 'k6t-full';
    const before = countServed(await served());
    const d = driverFor(runId);
    await d.prepare();
    const at = await d.start();
    const ticks: Tick[] = [];
    const deadline = Date.now() + 60_000; // a bound on the loop, not an assertion
    for (;;) {
      const t = await d.tick((Date.now() - at) / 1000);
      ticks.push(t);
      if (t.finished || Date.now() > deadline) break;
      await sleep(500);
    }
    await d.stop();
    const ended = Date.now();
    const rawDir = path.join(fleet.ws.dir, 'runs', runId, 'raw');
    fs.mkdirSync(rawDir, { recursive: true });
    // Small chunks, so each agent's file comes in several pieces (8 MiB on a real run).
    const savedChunk = K6_TIMING.chunkBytes;
    K6_TIMING.chunkBytes = 1000;
    const got = await d.collect(rawDir, at, ended, new Map()).finally(() => (K6_TIMING.chunkBytes = savedChunk));
    const sizes = got.generators.map((g) => fs.statSync(path.join(rawDir, g.name, 'points-http.json.gz')).size);
    expect(Math.min(...sizes)).toBeGreaterThan(2 * 1000);

    // Watched live, and ended by itself.
    expect(ticks.at(-1)!.finished).toBe(true);
    expect(Math.max(...ticks.map((t) => t.users))).toBeGreaterThan(0);
    expect(Math.max(...ticks.map((t) => t.requests))).toBeGreaterThan(0);
    // Each instance got its own segment, loadfleet's __ENV (target, generator) and the options after --.
    for (const [i, c] of conns.entries()) {
      expect(await logOf(runId, c.host.name)).toContain(`segment ${['0:1/3', '1/3:2/3', '2/3:1'][i]}, target ${hostUrl}, generator ${c.host.name} ${i + 1}/3, tags ['env=${fleet.outputs().env}', 'run_id=${runId}', 'host=${c.host.name}', 'testrun=k6t'], script /var/lib/loadfleet/runs/k6/${runId}/script.js`);
    }
    // One release per instance, all at the agreed instant (each agent's own clock; k6's start spread ≤ 1 s).
    const released: number[] = [];
    for (const c of conns) {
      const log = await logOf(runId, c.host.name);
      const r = [...log.matchAll(/released at (\d+)/g)].map((m) => Number(m[1]));
      expect(r, log).toHaveLength(1);
      released.push(r[0]!);
    }
    expect(Math.min(...released)).toBeGreaterThanOrEqual(at);
    expect(Math.max(...released) - Math.min(...released)).toBeLessThanOrEqual(1000);
    // Every generator collected, its actual start (first request sent) recorded; the spread within 1 s.
    expect(got.generators.map((g) => [g.name, g.collectionError])).toEqual(conns.map((c) => [c.host.name, undefined]));
    const starts = got.generators.map((g) => g.startedAtMs!);
    expect(starts.every((s) => typeof s === 'number')).toBe(true);
    expect(Math.max(...starts) - Math.min(...starts)).toBeLessThanOrEqual(1000);
    // The merged total is what nginx served, and what the raw files hold.
    const servedNow = countServed(await served());
    expect(got.stats.total.requests).toBe(servedNow - before);
    const samples = got.generators.flatMap((g) =>
      gunzipSync(fs.readFileSync(path.join(rawDir, g.name, 'points-http.json.gz'))).toString('utf8').split('\n')
        .filter((l) => l.includes('"metric":"http_req_duration"') && l.includes('"type":"Point"'))
        .map((l) => (JSON.parse(l) as { data: { value: number } }).data.value));
    expect(samples.length).toBe(got.stats.total.requests);
    expect(got.stats.total.failures).toBe(0);
    // Merged percentiles are the union's (HdrHistogram, 3 significant digits).
    const union = samples.sort((a, b) => a - b);
    for (const p of [50, 95, 99] as const) expect(Math.abs(got.stats.total[`p${p}`]! - exact(union, p))).toBeLessThanOrEqual(exact(union, p) * 0.001 + 0.002);
    expect(got.stats.endpoints.map((e) => e.name)).toEqual([`GET ${hostUrl}`]);
    expect(got.merge).toContain('HdrHistogram');
    expect(got.merge).toMatch(/Released at one agreed instant, .*: each agent's PATCH sent \(its own clock\) at \+\d+ ms \(agent-1\)/);
    // Nothing left running on any agent.
    expect(await k6Processes()).toEqual([]);

    // Issue 16.9: every instance pushed to the monitoring host's real Prometheus (remote write, as k6 v2.0.0's
    // experimental-prometheus-rw output does: the stand-in encodes what its remotewrite.go maps), and PromQL over the
    // received series gives the run's figures: requests = nginx's count, the native histograms of all agents summed.
    const sel = `{env="${fleet.outputs().env}",run_id="${runId}"}`;
    const value = async (q: string) => Number((await promQuery(promBase, q))[0]?.value[1] ?? NaN);
    const requests = got.stats.total.requests;
    expect(await eventually('k6_http_reqs_total in Prometheus', () => value(`sum(k6_http_reqs_total${sel})`), (v) => v === requests, 30_000, 1000)).toBe(servedNow - before);
    expect(await value(`histogram_count(sum(k6_http_req_duration_seconds${sel}))`)).toBe(requests);
    expect(await value(`histogram_sum(sum(k6_http_req_duration_seconds${sel}))`)).toBeCloseTo(samples.reduce((a, b) => a + b, 0) / 1000, 6);
    // A quantile of the summed native histogram (schema 3: buckets 2^(1/8) wide) lies in the union's bucket.
    const p95s = await value(`histogram_quantile(0.95, sum(k6_http_req_duration_seconds${sel}))`);
    const ratio = p95s / (exact(union, 95) / 1000);
    expect(ratio).toBeGreaterThanOrEqual(2 ** (-1 / 8) - 1e-9);
    expect(ratio).toBeLessThanOrEqual(2 ** (1 / 8) + 1e-9);
    expect(await value(`sum(k6_http_req_failed_rate${sel})`)).toBe(0);
    // One series per agent (the host tag), each carrying the user's own --tag too; the run dashboard's env filter works.
    const byHost = await promQuery(promBase, `sum by (host, testrun) (k6_http_reqs_total${sel})`);
    expect(byHost.map((r) => [r.metric.host, r.metric.testrun]).sort()).toEqual(conns.map((c) => [c.host.name, 'k6t']));
    expect(byHost.reduce((a, r) => a + Number(r.value[1]), 0)).toBe(requests);
    expect((await promQuery(promBase, `k6_vus${sel}`)).map((r) => r.metric.host).sort()).toEqual(conns.map((c) => c.host.name));
    console.log(`k6 stand-in run: ${got.stats.total.requests} requests merged = served = Prometheus's sum(k6_http_reqs_total); p95 ${got.stats.total.p95} ms, Prometheus's native-histogram p95 ${(p95s * 1000).toFixed(3)} ms; release spread ${Math.max(...released) - Math.min(...released)} ms; first-request spread ${Math.max(...starts) - Math.min(...starts)} ms; p95 ${got.stats.total.p95} ms`);
  });

  it('on an abort before the release, never releases: no request reaches nginx and stop() leaves nothing running', async () => {
    const runId = 'k6t-abort';
    const before = countServed(await served());
    const d = driverFor(runId);
    await d.prepare();
    const ac = new AbortController();
    const started = d.start(ac.signal);
    // Abort once every instance is up and paused: the driver is then polling or sleeping toward the instant.
    const deadline = Date.now() + 30_000;
    let allPaused = false;
    for (;;) {
      const logs = await Promise.all(conns.map((c) => logOf(runId, c.host.name).catch(() => '')));
      allPaused = logs.every((l) => l.includes('paused before the run'));
      if (allPaused || Date.now() > deadline) break;
      await sleep(100);
    }
    expect(allPaused).toBe(true);
    ac.abort(new Error('interrupted by the test'));
    await expect(started).rejects.toThrow('interrupted by the test');
    await d.stop();
    await d.stop(); // idempotent
    for (const c of conns) expect(await logOf(runId, c.host.name)).not.toMatch(/released at/);
    expect(await k6Processes()).toEqual([]);
    expect(countServed(await served())).toBe(before);
  });

  it('when one agent\'s start fails while the others started (one answering late, one whose answer is lost), leaves no k6 running and collects no failure', async () => {
    const runId = 'k6t-failstart';
    const before = countServed(await served());
    // The real start sh runs on every agent; the test only changes when its answer arrives.
    const isStart = (o?: { stdin?: string }) => (o?.stdin ?? '').includes('setsid nohup timeout');
    const wrapped: HostConn[] = conns.map((c) => ({
      host: c.host,
      session: {
        close: () => undefined,
        async exec(command, o) {
          const r = await c.session.exec(command, o);
          if (isStart(o) && c.host.name === 'agent-2') await sleep(1500); // a slow SSH round trip: agent-1 fails first
          if (isStart(o) && c.host.name === 'agent-3') throw new Error('the answer to the start was lost (test)');
          return r;
        },
      },
    }));
    const d = driverFor(runId, undefined, [], wrapped);
    await d.prepare();
    // agent-1's run folder is gone: its start sh fails at `cd` (a real failure on the host).
    expect((await fleet.sshRoot('agent-1', `rm -rf /var/lib/loadfleet/runs/k6/${runId} && echo ok`)).stdout.trim()).toBe('ok');
    await expect(d.start()).rejects.toThrow(/starting k6 on agent-1 failed/);
    // The stand-in really started (and holds its port) on agents 2 and 3.
    for (const name of ['agent-2', 'agent-3']) expect(await fleet.sshRoot(name, `cat /var/lib/loadfleet/runs/k6/${runId}/k6.pid`).then((r) => r.stdout.trim())).toMatch(/^\d+$/);
    await d.stop();
    expect(await k6Processes()).toEqual([]);
    for (const name of ['agent-2', 'agent-3']) expect(await logOf(runId, name)).toContain('stopped while paused: never released');
    // Never released: no request sent, and a missing points file (agent-1) is no collection failure.
    const rawDir = path.join(fleet.ws.dir, 'runs', runId, 'raw');
    fs.mkdirSync(rawDir, { recursive: true });
    const got = await d.collect(rawDir, 0, Date.now(), new Map());
    expect(got.generators.map((g) => [g.name, g.collectionError])).toEqual(conns.map((c) => [c.host.name, undefined]));
    expect(got.stats.total.requests).toBe(0);
    expect(got.merge).toContain('Never released');
    expect(countServed(await served())).toBe(before);
  });

  it('on an abort while the agents wait for the release instant, cancels every release', async () => {
    const runId = 'k6t-cancel';
    const before = countServed(await served());
    const d = driverFor(runId);
    await d.prepare();
    const lead = RUN_TIMING as { startLeadMs: number };
    const saved = lead.startLeadMs;
    lead.startLeadMs = 6000; // a long wait toward the instant, so the abort lands inside it
    try {
      const ac = new AbortController();
      const started = d.start(ac.signal);
      // The release sh is sleeping on every agent once its sleep process is there.
      const deadline = Date.now() + 30_000;
      let allSleeping = false;
      for (;;) {
        const sleeping = await Promise.all(conns.map(async (c) => (await fleet.sshRoot(c.host.name, 'pgrep -x sleep >/dev/null && echo yes || true')).stdout.trim() === 'yes'));
        allSleeping = sleeping.every(Boolean);
        if (allSleeping || Date.now() > deadline) break;
        await sleep(100);
      }
      expect(allSleeping).toBe(true);
      ac.abort(new Error('interrupted while waiting'));
      await expect(started).rejects.toThrow('interrupted while waiting');
    } finally {
      lead.startLeadMs = saved;
    }
    await d.stop();
    for (const c of conns) expect(await logOf(runId, c.host.name)).not.toMatch(/released at/);
    expect(await k6Processes()).toEqual([]);
    expect(countServed(await served())).toBe(before);
  });
});

describe('root never follows a link the k6 user planted in its run folder (issue 20.5)', () => {
  it('k6.exit, the points file and the filtered file as links to root files: no root file is read out or overwritten', async () => {
    const runId = 'k6t-links';
    const dir = k6AgentPaths(runId, '').dir;
    const paths = k6AgentPaths(runId, k6RunFacts.resultsArgs(dir)[1].slice('json='.length));
    const a = conns[0]!.host.name;
    // A root-only file holding a line the filter keeps, and two root files k6 may not write.
    const secretLine = JSON.stringify({ metric: 'http_req_duration', type: 'Point', data: { time: '2026-01-01T00:00:00Z', value: 1, tags: { secret: 'LF-ROOT-SECRET' } } });
    const setup = await fleet.sshRoot(a, [
      'set -e',
      `printf '%s\n' ${shQuote(secretLine)} | gzip -c > /etc/lf-secret.gz && chmod 0600 /etc/lf-secret.gz`,
      'echo intact > /etc/lf-victim-points && echo intact > /etc/lf-victim-exit && chmod 0644 /etc/lf-victim-points /etc/lf-victim-exit',
      k6PrepareScript(paths, SCRIPT),
    ].join('\n'));
    expect(setup.stdout.trim(), setup.stderr).toBe('ready');
    try {
      // The run folder is root's; the k6 user plants links in what it may write.
      expect((await fleet.sshRoot(a, `stat -c '%U %a' ${shQuote(dir)}`)).stdout.trim()).toBe('root 755');
      const plant = await fleet.sshRoot(a, `runuser -u k6 -- sh -c ${shQuote(`ln -s /etc/lf-secret.gz ${shQuote(paths.points)} && ln -s /etc/lf-victim-points ${shQuote(paths.httpPoints)} && ln -s /etc/lf-victim-exit ${shQuote(paths.exit)} && echo planted`)}`);
      expect(plant.stdout.trim(), plant.stderr).toBe('planted');
      // An instance that exits at once: its exit code goes to k6.exit (a link to a root file now).
      const start = await fleet.sshRoot(a, k6StartScript(paths, { argv: ['/bin/sh', '-c', 'exit 7'] } as unknown as K6Instance, 30));
      const pid = Number(/pid (\d+)/.exec(start.stdout)?.[1]);
      expect(pid, start.stderr).toBeGreaterThan(0);
      expect((await fleet.sshRoot(a, `i=0; while kill -0 ${pid} 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; kill -0 ${pid} 2>/dev/null && echo running || echo gone`)).stdout.trim()).toBe('gone');
      // Collection as the driver runs it (as root over SSH): the filter, then the first chunk.
      const filter = await fleet.sshRoot(a, k6FilterScript(paths));
      const chunk = await fleet.sshRoot(a, k6ChunkScript(paths, 0));
      // What the pull would carry off the host: gzip when the filter wrote it, raw bytes otherwise.
      const bytes = Buffer.from(chunk.stdout.trim(), 'base64');
      const pulled = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes).toString('utf8') : bytes.toString('utf8');
      expect(`${filter.stdout}${filter.stderr}${pulled}`).not.toContain('LF-ROOT-SECRET');
      expect((await fleet.sshRoot(a, 'cat /etc/lf-victim-points /etc/lf-victim-exit')).stdout.trim()).toBe('intact\nintact');
    } finally {
      await fleet.sshRoot(a, `rm -rf ${shQuote(dir)} /etc/lf-secret.gz /etc/lf-victim-points /etc/lf-victim-exit`);
    }
  });
});

// Issue 16.10, on the same fleet (its last test: it renames a host's interface). The network allowance counters are
// read on the DEFAULT-ROUTE interface, whatever its name: here a namespace host whose only interface is renamed ens5
// (as AL2023 names it on Nitro; there is no eth0) and given a default route. ENA counters exist only under EC2's ena
// driver, so for the counters themselves a stand-in `ethtool` (private /usr/local/sbin, first on sudo's PATH) prints
// ENA's counter names for ens5 alone; the real ethtool on the veth shows the "no ENA counters" gap.
describe('network counters of the default-route interface (issue 16.10)', () => {
  it('reads ens5 when it carries the default route, flags a counter that grew, and reports a gap when nothing can be read', async () => {
    const { netCountersScript, networkCheck } = await import('../../scripts/run/saturation');
    const outputs = fleet.outputs();
    const mon = outputs.hosts.find((h) => h.role === 'monitoring')!;
    const bridgeIp = SUBNET.replace(/0\/24$/, '1');
    const rename = await fleet.sshRoot(mon.name, `ip link set eth0 down && ip link set eth0 name ens5 && ip link set ens5 up && ip route replace default via ${bridgeIp} dev ens5 && ip -o route show default`);
    expect(rename.stdout, rename.stderr).toContain('dev ens5');
    await eventually('SSH back after the rename', () => fleet.sshRoot(mon.name, 'ip -o link show ens5 >/dev/null && echo up').then((r) => r.stdout.trim()), (v) => v === 'up', 30_000, 500);
    // What the old code read: a fixed eth0, which this host (like AL2023) does not have.
    expect((await fleet.sshRoot(mon.name, 'ethtool -S eth0 >/dev/null 2>&1 && echo read || echo failed')).stdout.trim()).toBe('failed');
    const read = async () => (await fleet.sshRoot(mon.name, netCountersScript())).stdout;

    // The real ethtool on the veth: the default-route interface is found, but it has no ENA counters → a gap on EC2.
    const veth = await read();
    expect(veth).toMatch(/^iface ens5\n/);
    expect(networkCheck(mon.name, veth, veth, true)).toEqual({ flags: [], gap: 'ENA allowance counters unknown: ens5 has none (not the ena driver?)' });

    // ENA's counters (the stand-in answers for ens5 only, as a real ethtool answers only for an existing device).
    const standin = [
      '#!/bin/sh',
      '[ "$1" = -S ] && [ "$2" = ens5 ] || { echo "Cannot get stats strings information: No such device" >&2; exit 1; }',
      'printf "NIC statistics:\\n     tx_timeout: 0\\n     bw_in_allowance_exceeded: 0\\n     bw_out_allowance_exceeded: 0\\n     pps_allowance_exceeded: %s\\n     conntrack_allowance_exceeded: 0\\n     linklocal_allowance_exceeded: 0\\n" "$(cat /tmp/lf-eth/pps)"',
    ].join('\n');
    const put = await fleet.sshRoot(mon.name, [
      'set -e', 'mkdir -p /tmp/lf-eth/sbin', 'echo 3 > /tmp/lf-eth/pps',
      `printf %s ${shQuote(Buffer.from(standin).toString('base64'))} | base64 -d > /tmp/lf-eth/sbin/ethtool`, 'chmod 0755 /tmp/lf-eth/sbin/ethtool',
      'mountpoint -q /usr/local/sbin || mount --bind /tmp/lf-eth/sbin /usr/local/sbin', 'echo ok',
    ].join('\n'));
    expect(put.stdout.trim(), put.stderr).toBe('ok');
    const before = await read();
    await fleet.sshRoot(mon.name, 'echo 8 > /tmp/lf-eth/pps');
    const after = await read();
    expect(before).toContain('pps_allowance_exceeded: 3');
    expect(networkCheck(mon.name, before, after, true)).toEqual({ flags: [{ host: mon.name, counter: 'pps_allowance_exceeded', increase: 5 }] });

    // No default route: nothing to read, said so (a gap), not silence.
    await fleet.sshRoot(mon.name, 'ip route del default');
    const none = await read();
    expect(none.trim()).toBe('gap no default route (/proc/net/route has none), so no interface to read');
    expect(networkCheck(mon.name, none, after, true).gap).toBe('ENA allowance counters unknown: no default route (/proc/net/route has none), so no interface to read');
    await fleet.sshRoot(mon.name, 'umount /usr/local/sbin');
  });
});
