/**
 * The k6 driver's own decisions over SSH, with a scripted in-memory session per agent (no sockets, no
 * processes): which step gets which timeout, what start() waits for before it fails, what stop() sends to an
 * agent whose start answered late or not at all, and how collect() reads a missing points file. The sh itself
 * runs on real agents in test/integration/run-k6-standin.test.ts (against a stand-in, not the real k6).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExecResult, SshSession } from '../../scripts/core/fanout';
import { K6_TIMING, k6Run } from '../../scripts/drivers/k6';
import type { DriverContext, HostConn, Prepared } from '../../scripts/drivers/types';
import { resolveLoad } from '../../scripts/run/load';

type Reply = (stdin: string, timeoutMs: number | undefined) => Promise<ExecResult>;

interface Call {
  readonly agent: string;
  readonly stdin: string;
  readonly timeoutMs: number | undefined;
}

const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' });

/** One fake agent: `reply` answers each sh the driver sends (matched by what it contains). */
function fakeAgents(replies: Record<string, Reply>, calls: Call[]): HostConn[] {
  return Object.entries(replies).map(([name, reply], i) => {
    const session: SshSession = {
      async exec(_command, o = {}) {
        calls.push({ agent: name, stdin: o.stdin ?? '', timeoutMs: o.timeoutMs });
        return reply(o.stdin ?? '', o.timeoutMs);
      },
      close() {},
    };
    return { host: { name, privateIp: `10.0.1.${21 + i}`, role: 'agent' }, session } as unknown as HostConn;
  });
}

function driver(agents: HostConn[]) {
  const p = {
    engine: 'k6', kind: 'ec2', scriptPath: '/tmp/t.js', scriptText: 'export default function () {}\n', plan: resolveLoad({ users: 4, durationS: 10 }),
    thresholds: [], hostUrl: 'http://10.0.2.5/', passthrough: [], outputs: { env: 'e', hosts: [] },
  } as unknown as Prepared;
  const ctx = { p, controller: undefined, agents, login: 'root', runId: 'r1', envDir: '/tmp' } as unknown as DriverContext;
  return k6Run.create(ctx);
}

const isStart = (s: string) => s.includes('setsid nohup timeout');
const isStop = (s: string) => s.includes('echo stopped');
const isFilter = (s: string) => s.includes('gzip -dc');
const isLog = (s: string) => s.includes('tail -n 200');
const NO_POINTS: ExecResult = { code: 43, stdout: '', stderr: 'no points file (/var/lib/loadfleet/runs/k6/r1/points.json.gz): did k6 start?' };

const tmp: string[] = [];
afterEach(() => {
  for (const d of tmp.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function rawDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-k6-unit-'));
  tmp.push(d);
  return path.join(d, 'raw');
}

describe('k6 driver: a failed start leaves nothing running', () => {
  it('waits for every agent\'s start before failing, so stop() signals each started instance by its pid', async () => {
    const calls: Call[] = [];
    let lateAnswered = false;
    const agents = fakeAgents({
      // agent-1's start fails at once; agent-2's answers later (a slower SSH round trip).
      'agent-1': async (s) => (isStart(s) ? { code: 2, stdout: '', stderr: 'cd: can\'t cd to /var/lib/loadfleet/runs/k6/r1' } : ok('stopped')),
      'agent-2': async (s) => {
        if (isStart(s)) {
          await new Promise((r) => setTimeout(r, 200));
          lateAnswered = true;
          return ok('pid 4242\n');
        }
        return ok('stopped');
      },
    }, calls);
    const d = driver(agents);
    await expect(d.start()).rejects.toThrow(/starting k6 on agent-1 failed \(exit 2\)/);
    expect(lateAnswered).toBe(true);
    await d.stop();
    const stop2 = calls.find((c) => c.agent === 'agent-2' && isStop(c.stdin))!.stdin;
    expect(stop2).toContain('pid=4242');
    expect(stop2).toContain('kill -TERM -"$pid"');
  });

  it('an agent in another region pushes remote write to the monitoring host\'s public address, a home one to its private (issue 18 review, item 7)', async () => {
    const calls: Call[] = [];
    const fail = async (): Promise<ExecResult> => ({ code: 2, stdout: '', stderr: 'stopped here' });
    const agents = fakeAgents({ 'agent-1': fail, 'agent-2': fail }, calls).map((a, i) => ({ ...a, host: { ...a.host, region: i === 0 ? 'us-east-1' : 'eu-west-1' } }) as HostConn);
    const mon = { role: 'monitoring', group: 'monitoring', name: 'monitoring', id: 'i-m', publicIp: '198.51.100.9', privateIp: '10.0.1.9', region: 'us-east-1' };
    const p = {
      engine: 'k6', kind: 'ec2', scriptPath: '/tmp/t.js', scriptText: 'export default function () {}\n', plan: resolveLoad({ users: 4, durationS: 10 }),
      thresholds: [], hostUrl: 'http://10.0.2.5/', passthrough: [], outputs: { env: 'e', hosts: [mon] },
    } as unknown as Prepared;
    const d = k6Run.create({ p, controller: undefined, agents, login: 'root', runId: 'r1', envDir: '/tmp' } as unknown as DriverContext);
    await expect(d.start()).rejects.toThrow(/starting k6/);
    const start = (agent: string) => calls.find((c) => c.agent === agent && isStart(c.stdin))!.stdin;
    expect(start('agent-1')).toContain('http://10.0.1.9:9090/');
    expect(start('agent-1')).not.toContain('198.51.100.9');
    expect(start('agent-2')).toContain('http://198.51.100.9:9090/');
    expect(start('agent-2')).not.toContain('10.0.1.9');
  });

  it('reads the pid file on an agent whose start answer was lost, and ends that instance too', async () => {
    const calls: Call[] = [];
    const agents = fakeAgents({
      'agent-1': async (s) => (isStart(s) ? ok('pid 5151\n') : ok('stopped')),
      // The start ran there, but its answer never came back (the session dropped).
      'agent-2': async (s) => {
        if (isStart(s)) throw new Error('remote command on 10.0.1.22 timed out');
        return ok('stopped');
      },
    }, calls);
    const d = driver(agents);
    await expect(d.start()).rejects.toThrow('timed out');
    await d.stop();
    const stop1 = calls.find((c) => c.agent === 'agent-1' && isStop(c.stdin))!.stdin;
    const stop2 = calls.find((c) => c.agent === 'agent-2' && isStop(c.stdin))!.stdin;
    expect(stop1).toContain('pid=5151');
    expect(stop2).toContain("pid=$(cat '/var/lib/loadfleet/runs/k6/r1/k6.pid' 2>/dev/null || true)");
    expect(stop2).toContain('kill -TERM -"$pid"');
    // The start sh writes that file.
    const start = calls.find((c) => c.agent === 'agent-2' && isStart(c.stdin))!.stdin;
    expect(start).toContain("echo $! > '/var/lib/loadfleet/runs/k6/r1/k6.pid'");
  });
});

describe('k6 driver: collection', () => {
  it('gives the points filter its own long timeout (it reads the whole file), not the 2-minute step default, and gzips with -1', async () => {
    const calls: Call[] = [];
    const agents = fakeAgents({ 'agent-1': async (s) => (isLog(s) ? ok('log\n') : isFilter(s) ? ok('0\n') : ok('')) }, calls);
    await driver(agents).collect(rawDir(), 0, 0, new Map());
    const filter = calls.find((c) => isFilter(c.stdin))!;
    expect(filter.timeoutMs).toBe(K6_TIMING.filterMs);
    expect(K6_TIMING.filterMs).toBeGreaterThanOrEqual(600_000);
    expect(filter.stdin).toContain('| gzip -1 -c >');
  });

  it('after a run never released, a missing points file is no collection failure; an unreachable host still is', async () => {
    const calls: Call[] = [];
    const agents = fakeAgents({
      'agent-1': async (s) => (isLog(s) ? ok('log\n') : isFilter(s) ? NO_POINTS : ok('')),
      'agent-2': async (s) => {
        if (isLog(s)) return ok('log\n');
        if (isFilter(s)) throw new Error('cannot connect to 10.0.1.22:22: connect ECONNREFUSED');
        return ok('');
      },
    }, calls);
    const got = await driver(agents).collect(rawDir(), 0, 0, new Map());
    expect(got.generators.map((g) => [g.name, g.collectionError])).toEqual([
      ['agent-1', undefined],
      ['agent-2', 'cannot connect to 10.0.1.22:22: connect ECONNREFUSED'],
    ]);
    expect(got.stats.total.requests).toBe(0);
    expect(got.merge).toContain('Never released: the run stopped before the release instant, so no instance sent a request');
  });

  it('after a release, a missing points file is still a collection failure', async () => {
    const calls: Call[] = [];
    const at = { v: 0 };
    const agents = fakeAgents({
      'agent-1': async (s) => {
        if (isStart(s)) return ok('pid 4242\n');
        if (s.includes('/v1/status') && s.includes('echo alive')) return ok('alive\n{"data":{"type":"status","id":"default","attributes":{"status":4,"paused":true,"vus":2,"running":false,"stopped":false}}}');
        if (s.includes('"paused":false')) {
          at.v = Date.now();
          return ok(`released ${at.v}\n{"data":{"type":"status","id":"default","attributes":{"status":7,"paused":false,"vus":2,"running":true,"stopped":false}}}`);
        }
        if (isLog(s)) return ok('log\n');
        if (isFilter(s)) return NO_POINTS;
        return ok('');
      },
    }, calls);
    const d = driver(agents);
    const started = await d.start();
    const got = await d.collect(rawDir(), started, started + 1000, new Map());
    expect(got.generators[0]!.collectionError).toMatch(/filtering k6's points on agent-1 failed \(exit 43\): no points file/);
    expect(got.merge).toContain('Released at one agreed instant');
  });
});
