/**
 * nGrinder's driver orchestration against a scripted controller: an in-memory SSH session that answers
 * the driver's API calls with the JSON shapes of nGrinder 3.5's controllers (PerfTestApiController,
 * FileEntryApiController, AgentManagerApiController) and walks a test through its statuses. It checks the
 * driver's order of calls, what it sends, how it stops (stop vs delete a queued test) and what it collects.
 * It is a test double: it proves loadfleet's logic, NOT a real controller's behaviour (which cannot run here).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExternalError, UsageError } from '../../scripts/core/errors';
import type { ExecResult, SshSession } from '../../scripts/core/fanout';
import { ngrinderRun } from '../../scripts/drivers/ngrinder';
import { RUN_TIMING, type DriverContext, type Prepared } from '../../scripts/drivers/types';
import { NGRINDER_ADMIN_PASSWORD_FILE } from '../../scripts/engines/ngrinder';
import { resolveLoad } from '../../scripts/run/load';
import { parseThreshold } from '../../scripts/run/thresholds';

const PASSWORD = 'Abcdefghij0123456789XYZ';
const SCRIPT = '@RunWith(GrinderRunner)\nclass TestRunner {\n  @Test\n  public void test() {}\n}\n';
// SingleConsole.writeIntervalCsvData (naver/ngrinder ngrinder-3.5.9-p1-20240613, ngrinder-core/.../net/grinder/SingleConsole.java):
// `DateTime,vuser,<statistics>`, then per Test `Description,<statistic>-i` with i from 1, only when there is more than one Test.
const CSV = [
  'DateTime,vuser,Tests,Errors,Mean_Test_Time_(ms),TPS,Description,Tests-1,Errors-1,Mean_Test_Time_(ms)-1,TPS-1,Description,Tests-2,Errors-2,Mean_Test_Time_(ms)-2,TPS-2',
  '2026-11-25 17:00:01,8,100,1,10,100,GET /,60,1,10,60,GET /a,40,0,10,40',
  '2026-11-25 17:00:02,8,99,0,12,99,GET /,59,0,12,59,GET /a,40,0,12,40',
  '',
].join('\n');

type Route = (method: string, p: string, sh: string) => [number, unknown];

class FakeController {
  calls: string[] = [];
  status = 'READY';
  statusPolls = 0;
  /** Status polls that still answer READY before the scheduler "starts" the test. */
  readyPolls = 1;
  /**
   * What the test walks through when it leaves READY, one status per poll: PerfTestService.prepareTest marks every
   * test PREPARE_DISTRIBUTION first, then PerfTestRunnable START_CONSOLE … START_TESTING, TESTING
   * (naver/ngrinder ngrinder-3.5.9-p1-20240613, ngrinder-controller/.../perftest/service/PerfTestService.java:700,
   * PerfTestRunnable.java). The last one stays.
   */
  walk = ['PREPARE_DISTRIBUTION', 'START_CONSOLE', 'START_CONSOLE_FINISHED', 'START_AGENTS', 'START_AGENTS_FINISHED', 'DISTRIBUTE_FILES', 'DISTRIBUTE_FILES_FINISHED', 'START_TESTING', 'TESTING'];
  set startsAs(s: string) {
    this.walk = [s];
  }
  folder: string | undefined;
  readyAgents = 2;
  posted: Record<string, unknown> | undefined;
  uploaded: string | undefined;
  deleted = false;
  /** What the report CSV holds (nGrinder's writeIntervalCsvData layout by default). */
  csv = CSV;
  /** Status polls after the stop request that still answer TESTING (the console waits for the agents' threads). */
  stoppingPolls = 0;
  scriptDeleted = false;
  override?: Route;

  readonly session: SshSession = { exec: async (_c, o) => this.answer(o?.stdin ?? ''), close: () => undefined };

  private answer(sh: string): ExecResult {
    const m = /-X (\w+) .*'http:\/\/127\.0\.0\.1:\d+([^']*)'/.exec(sh);
    if (m) {
      const [, method, p] = m as unknown as [string, string, string];
      this.calls.push(`${method} ${p}`);
      const [code, body] = this.override?.(method, p, sh) ?? this.route(method, p, sh);
      return { code: 0, stdout: `${typeof body === 'string' ? body : JSON.stringify(body)}\n${code}\n`, stderr: '' };
    }
    if (sh.includes('find ')) return { code: 0, stdout: '/var/lib/loadfleet/ngrinder/perftest/0_999/7\n', stderr: '' };
    if (sh.includes('output.csv')) return { code: 0, stdout: this.csv, stderr: '' };
    if (sh.includes('tar -czf')) return { code: 0, stdout: `${Buffer.from('tgz').toString('base64')}\n`, stderr: '' };
    if (sh.includes('agent.log')) return { code: 0, stdout: 'agent log\n', stderr: '' };
    throw new Error(`unexpected script: ${sh.slice(0, 200)}`);
  }

  private route(method: string, p: string, sh: string): [number, unknown] {
    const b64 = (name: string) => Buffer.from(new RegExp(`printf %s '([A-Za-z0-9+/=]+)' \\| base64 -d > "\\$t/${name}"`).exec(sh)![1]!, 'base64').toString();
    const key = `${method} ${p.replace(/\?.*/, '')}`;
    if (method === 'POST' && p.startsWith('/script/api/new/')) {
      // FileEntryApiController.addFolder(user, path, @RequestBody String folderName) (3.5.9-p1): no body → Spring's 400.
      const body = /"\$t\/body"/.test(sh) ? b64('body') : undefined;
      if (!/[?&]type=folder(&|$)/.test(p) || body === undefined) return [400, { message: 'Required request body is missing' }];
      this.folder = body.trim();
      return [200, ''];
    }
    if (method === 'POST' && p === '/script/api/loadfleet?action=upload') {
      this.uploaded = b64('script');
      return [200, { success: true }];
    }
    if (method === 'GET' && p.endsWith('?action=view')) return [200, { path: p.replace(/^\/script\/api\/|\?.*$/g, ''), revision: 2 }];
    if (key === 'GET /agent/api/availableAgentCount') return [200, { availableAgentCount: this.readyAgents }];
    if (key === 'GET /agent/api/list') return [200, [{ ip: '10.0.1.21', hostName: 'agent-1', state: 'READY', approved: true }]];
    if (key === 'POST /perftest/api') {
      this.posted = JSON.parse(b64('body')) as Record<string, unknown>;
      return [200, { ...this.posted, id: 7 }];
    }
    if (key === 'GET /perftest/api/7/status') {
      if (this.deleted) return [500, { success: false, message: 'no perftest for 7 exits' }];
      if (this.status === 'READY' && ++this.statusPolls > this.readyPolls) this.status = this.walk.shift()!;
      else if (this.walk.length > 0 && this.status !== 'READY' && this.status !== 'STOPPING' && !this.deleted) this.status = this.walk.shift()!;
      if (this.status === 'STOPPING' && this.stoppingPolls-- <= 0) this.status = 'CANCELED';
      if (this.status === 'STOPPING') return [200, { id: 7, status: 'TESTING', message: '' }];
      return [200, { id: 7, status: this.status, message: this.status === 'STOP_BY_ERROR' ? 'Too many errors<br/>agent-1 lost' : '' }];
    }
    if (key === 'GET /perftest/api/7/sample') {
      return [200, { status: this.status, perf: { test_time: 3, totalStatistics: { Tests: 199, Errors: 1, TPS: 100, 'Mean_Test_Time_(ms)': 11 }, process: 2, thread: 8 }, agent: {} }];
    }
    if (method === 'PUT' && p === '/perftest/api/7?action=stop') {
      if (['START_AGENTS', 'TESTING'].includes(this.status)) this.status = this.stoppingPolls > 0 ? 'STOPPING' : 'CANCELED';
      return [200, ''];
    }
    if (key === 'DELETE /perftest/api/7') {
      this.deleted = true;
      return [200, ''];
    }
    if (method === 'DELETE' && p === '/script/api/loadfleet/loadfleet-r1.groovy') {
      this.scriptDeleted = true;
      return [200, { success: true }];
    }
    if (key === 'GET /perftest/api/7') return [200, { id: 7, status: this.status, tests: 199, errors: 1, meanTestTime: 11, samplingInterval: 1 }];
    return [404, { message: `no route ${method} ${p}` }];
  }
}

let envDir: string;
let rawDir: string;
const saved = { ...RUN_TIMING };
beforeEach(() => {
  envDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-ngr-'));
  rawDir = path.join(envDir, 'runs', 'r1', 'raw');
  fs.mkdirSync(rawDir, { recursive: true });
  fs.writeFileSync(path.join(envDir, NGRINDER_ADMIN_PASSWORD_FILE), `${PASSWORD}\n`, { mode: 0o600 });
  // The driver's polls, shrunk for the test (RUN_TIMING: "intervals the tests may shrink").
  Object.assign(RUN_TIMING, { startPollMs: 1, tickMs: 1, stopGraceMs: 200, workersWaitMs: 20 });
});
afterEach(() => {
  Object.assign(RUN_TIMING, saved);
  fs.rmSync(envDir, { recursive: true, force: true });
});

function ctxFor(c: FakeController, over: Partial<Prepared> = {}, agentScripts: string[] = []): DriverContext {
  const host = (name: string, role: string) => ({ name, role, privateIp: '10.0.1.1', publicIp: '' });
  const noop: SshSession = { exec: async (_c, o) => (agentScripts.push(o?.stdin ?? ''), { code: 0, stdout: (o?.stdin ?? '').includes('agent.log') ? 'agent log\n' : '', stderr: '' }), close: () => undefined };
  const p = {
    outputs: { env: 'e', hosts: [host('controller', 'controller'), host('agent-1', 'agent'), host('agent-2', 'agent')] },
    kind: 'ec2', engine: 'ngrinder', scriptPath: '/w/Test.groovy', scriptText: SCRIPT, plan: resolveLoad({ users: 8, durationS: 30 }), thresholds: [],
    hostUrl: 'http://10.0.2.5:8080', passthrough: ['processes=2'], ...over,
  } as unknown as Prepared;
  return {
    p, login: 'root', runId: 'r1', envDir,
    controller: { host: host('controller', 'controller') as never, session: c.session },
    agents: ['agent-1', 'agent-2'].map((n) => ({ host: host(n, 'agent') as never, session: noop })),
  };
}

describe('nGrinder driver against a scripted controller', () => {
  it('uploads, checks agents, starts, samples, collects — and does not stop a test that finished', async () => {
    const c = new FakeController();
    const d = ngrinderRun.create(ctxFor(c));
    await d.prepare();
    expect(c.uploaded).toBe(SCRIPT);
    expect(c.calls.slice(0, 3)).toEqual(['POST /script/api/new/?type=folder', 'POST /script/api/loadfleet?action=upload', 'GET /script/api/loadfleet/loadfleet-r1.groovy?action=view']);
    expect(c.folder).toBe('loadfleet');

    const t0 = await d.start();
    expect(t0).toBeGreaterThan(0);
    expect(c.posted).toMatchObject({ status: 'READY', scriptName: 'loadfleet/loadfleet-r1.groovy', agentCount: 2, processes: 2, threads: 2, vuserPerAgent: 4, duration: 30_000, targetHosts: '10.0.2.5', param: 'http://10.0.2.5:8080' });

    const tick = await d.tick(1);
    expect(tick).toMatchObject({ users: 8, requests: 200, failures: 1, p50: null, p95: null, p99: null, mean: 11, running: ['agent-1', 'agent-2'], finished: false });

    expect(c.status).toBe('TESTING');
    // PerfTestRunnable.doNormalFinish: > 30 % errors or no TPS → FINISHED_WITH_WARNING (category WARNED, ended).
    c.status = 'FINISHED_WITH_WARNING';
    expect((await d.tick(30)).finished).toBe(true);
    const before = c.calls.length;
    await d.stop();
    expect(c.calls.slice(before)).toEqual([]); // ended: known from the tick, no call at all

    const got = await d.collect(rawDir, t0, t0 + 2000, new Map([['agent-1', t0 + 100], ['agent-2', t0 + 100]]));
    expect(got.stats.total).toMatchObject({ requests: 200, failures: 1, rps: 100, mean: 11, p95: null });
    // GET /: (100×10 + 99×12) / 199 successful tests
    // GET /: (60×10 + 59×12) / 119 successful tests; GET /a: (40×10 + 40×12) / 80
    expect(got.stats.endpoints.map((e) => [e.name, e.requests, e.failures, e.mean])).toEqual([['GET /', 120, 1, 10.992], ['GET /a', 80, 0, 11]]);
    expect(got.generators).toEqual([
      // Not measured per agent (a poll is not a first request): no start, so no start spread.
      { name: 'agent-1', startedAtMs: null, rawFile: 'raw/agent-1-ngrinder-agent.log' },
      { name: 'agent-2', startedAtMs: null, rawFile: 'raw/agent-2-ngrinder-agent.log' },
    ]);
    expect(got.merge).toContain('Generator starts not measured (no start spread)');
    expect(got.merge).toContain('+100 ms (agent-1), +100 ms (agent-2) after the release');
    expect(fs.readdirSync(rawDir).sort()).toEqual(['agent-1-ngrinder-agent.log', 'agent-2-ngrinder-agent.log', 'ngrinder-logs-and-report.tgz', 'ngrinder-perftest.json', 'ngrinder-report.csv']);
    expect(got.merge).toContain('No percentiles');
    // The run's uploaded script is removed from admin's script storage once collected.
    expect(c.calls.at(-1)).toBe('DELETE /script/api/loadfleet/loadfleet-r1.groovy');
    expect(got.merge).not.toContain('could not be deleted');
    expect(got.hostFailures).toBeUndefined();
  });

  it('Ctrl-C while waiting for the agents ends prepare with the reason; stop then deletes the uploaded script (no test was created)', async () => {
    const c = new FakeController();
    c.readyAgents = 0;
    Object.assign(RUN_TIMING, { workersWaitMs: 60_000 });
    const d = ngrinderRun.create(ctxFor(c));
    const ac = new AbortController();
    const prepared = d.prepare(ac.signal);
    setTimeout(() => ac.abort(new Error('interrupted by SIGINT')), 20);
    await expect(prepared).rejects.toThrow('interrupted by SIGINT');
    await d.stop();
    expect(c.calls.at(-1)).toBe('DELETE /script/api/loadfleet/loadfleet-r1.groovy');
    expect(c.calls.some((x) => x.startsWith('POST /perftest/api'))).toBe(false);
  });

  it('rounds the live failures per second like rps (one decimal)', async () => {
    const c = new FakeController();
    let errors = 1;
    c.override = (m, p) => (m === 'GET' && p === '/perftest/api/7/sample' ? [200, { status: 'TESTING', perf: { totalStatistics: { Tests: 199, Errors: errors++, TPS: 100, 'Mean_Test_Time_(ms)': 11 }, process: 2, thread: 8 } }] : undefined) as never;
    const d = ngrinderRun.create(ctxFor(c));
    await d.start();
    let clock = 1_000_000;
    const now = vi.spyOn(Date, 'now').mockImplementation(() => clock);
    try {
      await d.tick(1);
      clock += 3000; // one more error in 3 s: 0.333… per second
      expect((await d.tick(4)).failPerS).toBe(0.3);
    } finally {
      now.mockRestore();
    }
  });

  it('waits longer than RUN_TIMING.stopGraceMs for the console to cancel (4×: 60 s by default)', async () => {
    const c = new FakeController();
    const d = ngrinderRun.create(ctxFor(c));
    await d.start();
    // The console takes 6 polls to cancel; the clock moves 50 ms per reading: 300 ms > the shared 200 ms grace.
    c.stoppingPolls = 6;
    let clock = 1_000_000;
    const now = vi.spyOn(Date, 'now').mockImplementation(() => (clock += 50));
    try {
      await d.stop();
    } finally {
      now.mockRestore();
    }
    expect(c.status).toBe('CANCELED');
    expect(clock - 1_000_000).toBeGreaterThan(RUN_TIMING.stopGraceMs);
  });

  it('restarts ngrinder-agent on every agent over SSH when the controller stops answering during stop, and reports the controller', async () => {
    const c = new FakeController();
    const agentScripts: string[] = [];
    const d = ngrinderRun.create(ctxFor(c, {}, agentScripts));
    await d.prepare();
    const t0 = await d.start();
    c.override = () => [0, ''] as never; // curl reaches nothing: HTTP 000 from here on
    await d.stop(); // does not throw: the agents were stopped another way
    const restarts = agentScripts.filter((x) => x.includes('ngrinder-agent') && /restart/.test(x));
    expect(restarts).toHaveLength(2);
    const got = await d.collect(rawDir, t0, t0 + 1000, new Map());
    expect(got.hostFailures).toEqual([{ host: 'controller', error: expect.stringMatching(/^the nGrinder controller on controller did not stop test 7: .*; the agents were restarted over SSH instead$/) }]);
    expect(got.merge).toContain('The uploaded script loadfleet/loadfleet-r1.groovy could not be deleted from the controller (HTTP 0');
    expect(got.generators.every((g) => g.collectionError?.startsWith('controller results:'))).toBe(true);
  });

  it('fails when restarting the agents fails too, naming both', async () => {
    const c = new FakeController();
    const ctx = ctxFor(c);
    const d = ngrinderRun.create({ ...ctx, agents: ctx.agents.map((a) => ({ ...a, session: { exec: async () => ({ code: 255, stdout: '', stderr: 'ssh: connect to host: No route to host' }), close: () => undefined } })) });
    await d.start();
    c.override = () => [0, ''] as never;
    const e = await d.stop().catch((x: Error) => x);
    expect(e).toBeInstanceOf(ExternalError);
    expect((e as Error).message).toMatch(/did not stop test 7: .*restarting the agents failed too: .*No route to host/);
  });

  it('an unreadable report CSV is a collection failure naming the file, not a crash: totals from the test record', async () => {
    const c = new FakeController();
    c.csv = 'DateTime,Vuser,TPS\n2026-11-25 17:00:01,8,100\n';
    const d = ngrinderRun.create(ctxFor(c));
    const t0 = await d.start();
    c.status = 'FINISHED';
    await d.tick(30);
    const got = await d.collect(rawDir, t0, t0 + 2000, new Map());
    expect(got.stats.total).toMatchObject({ requests: 200, failures: 1 });
    for (const g of got.generators) expect(g.collectionError).toMatch(/^controller results: the report CSV \(raw\/ngrinder-report\.csv\) cannot be read: the nGrinder report CSV has no Tests\/Errors columns/);
  });

  it('stops a running test and waits until the controller says it ended; a second stop does nothing', async () => {
    const c = new FakeController();
    const d = ngrinderRun.create(ctxFor(c));
    await d.prepare();
    await d.start();
    await d.stop();
    expect(c.calls).toContain('PUT /perftest/api/7?action=stop');
    expect(c.status).toBe('CANCELED');
    const n = c.calls.length;
    await d.stop();
    expect(c.calls.length).toBe(n);
  });

  it('does not send a stop to an ABNORMAL_TESTING test (not stoppable in 3.5.9-p1): waits for the controller to end it', async () => {
    const c = new FakeController();
    const d = ngrinderRun.create(ctxFor(c));
    await d.start();
    c.status = 'ABNORMAL_TESTING';
    // AgentDieHardListener / TooManyErrorCheckPlugin mark it; PerfTestRunnable then ends it as STOP_BY_ERROR.
    c.walk = ['ABNORMAL_TESTING', 'STOP_BY_ERROR'];
    await d.stop();
    expect(c.calls).not.toContain('PUT /perftest/api/7?action=stop');
    expect(c.status).toBe('STOP_BY_ERROR');
  });

  it('deletes the queued test when the abort signal fires before it runs, and ends with the reason', async () => {
    const c = new FakeController();
    c.readyPolls = 1_000_000;
    const d = ngrinderRun.create(ctxFor(c));
    await d.prepare();
    const ac = new AbortController();
    const started = d.start(ac.signal);
    setTimeout(() => ac.abort(new Error('SIGINT')), 20);
    await expect(started).rejects.toThrow('SIGINT');
    expect(c.calls).toContain('DELETE /perftest/api/7');
    expect(c.calls).not.toContain('PUT /perftest/api/7?action=stop');
    await d.stop(); // idempotent after the delete
  });

  it("fails with nGrinder's own words when the test ends before it runs", async () => {
    const c = new FakeController();
    c.startsAs = 'STOP_BY_ERROR';
    const d = ngrinderRun.create(ctxFor(c));
    await d.prepare();
    const e = await d.start().catch((x: Error) => x);
    expect(e).toBeInstanceOf(ExternalError);
    expect((e as Error).message).toBe('nGrinder test 7 ended as STOP_BY_ERROR before it ran: Too many errors; agent-1 lost');
  });

  it('fails when the controller refuses the test, with its message', async () => {
    const c = new FakeController();
    c.override = (m, p) => (m === 'POST' && p === '/perftest/api' ? [500, { success: false, message: 'vuserPerAgent should be equal to or less than 2000' }] : undefined) as never;
    const d = ngrinderRun.create(ctxFor(c));
    await expect(d.start()).rejects.toThrow('creating the test: HTTP 500: vuserPerAgent should be equal to or less than 2000');
  });

  it('fails as an external error (exit 1), not a bug, when the controller answers something it cannot read', async () => {
    const c = new FakeController();
    c.override = (m, p) => (m === 'GET' && p === '/perftest/api/7/status' ? [200, { id: 7, status: 'RUNNING' }] : undefined) as never;
    const e = await ngrinderRun.create(ctxFor(c)).start().catch((x: Error) => x);
    expect(e).toBeInstanceOf(ExternalError);
    expect((e as Error).message).toBe('nGrinder on controller: unknown nGrinder test status "RUNNING"');
  });

  it('fails when the agents are not ready in time, naming what the controller sees', async () => {
    const c = new FakeController();
    c.readyAgents = 1;
    const d = ngrinderRun.create(ctxFor(c));
    await expect(d.prepare()).rejects.toThrow('only 1 of 2 nGrinder agents are ready and approved after 0.02 s (the controller sees: agent-1 READY)');
  });

  it('fails when the password file is missing, saying to install first', async () => {
    fs.rmSync(path.join(envDir, NGRINDER_ADMIN_PASSWORD_FILE));
    const d = ngrinderRun.create(ctxFor(new FakeController()));
    await expect(d.prepare()).rejects.toThrow(UsageError);
  });

  it('fails when the password file is readable by others', async () => {
    fs.chmodSync(path.join(envDir, NGRINDER_ADMIN_PASSWORD_FILE), 0o644);
    const d = ngrinderRun.create(ctxFor(new FakeController()));
    await expect(d.prepare()).rejects.toThrow('is readable by others (mode 644)');
  });

  it('refuses a percentile threshold before touching any host', () => {
    const c = new FakeController();
    expect(() => ngrinderRun.create(ctxFor(c, { thresholds: [parseThreshold('p95<500ms')] }))).toThrow(UsageError);
    expect(c.calls).toEqual([]);
  });
});
