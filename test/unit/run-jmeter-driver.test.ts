/**
 * The JMeter driver's control flow against a scripted controller and agents: SSH sessions that answer each
 * script the driver sends the way the hosts would (the client's stdout as JMeter.java / DistributedRunner
 * print it, a JTL in JMeter 5.6.3's format). What this proves: the order of the steps, the waits, the stop
 * escalation and the collection. What it does not: that a real JMeter prints and writes exactly this (it
 * cannot run on this machine); the sh itself runs in test/integration/run-jmeter-sh.test.ts.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExternalError, UsageError } from '../../scripts/core/errors';
import type { ExecResult, SshSession } from '../../scripts/core/fanout';
import { jmeterRun } from '../../scripts/drivers/jmeter';
import { RUN_TIMING, type DriverContext, type HostConn, type Prepared } from '../../scripts/drivers/types';
import { JMETER_RUN } from '../../scripts/run/jmeter';
import { resolveLoad } from '../../scripts/run/load';

const JTL = gzipSync(fs.readFileSync(path.join(__dirname, 'fixtures', 'jmeter', 'res.jtl')));
const PLAN = fs.readFileSync(path.join(__dirname, 'fixtures', 'jmeter', 'plan.jmx'), 'utf8');
const STARTED = [
  'Creating summariser <summary>',
  'Starting distributed test with remote engines:[10.0.1.21:1099, 10.0.1.22:1099] @ Wed Nov 25 17:00:00 UTC 2026 (1764090000000)',
  'Remote engines have been started:{…}',
  'Waiting for possible Shutdown/StopTestNow/HeapDump/ThreadDump message on port 4446',
];
const SUMMARY = 'summary +      5 in 00:00:05 =    1.0/s Avg:   448 Min:     9 Max:  2001 Err:     2 (40.00%) Active: 4 Started: 4 Finished: 0';
const TIDY = 'Tidying up remote @ Wed Nov 25 17:01:00 UTC 2026 (1764090060000)';

/** The controller as the driver sees it: a client that moves through JMeter's phases as it is polled. */
class Controller {
  scripts: string[] = [];
  out: string[] = [];
  alive = false;
  /** Status polls before the client says the servers started. */
  startAfter = 2;
  /** What the client does with a Shutdown: end the test (true) or hang (false). */
  obeys = true;
  notInstalled = false;
  /** The controller stops answering (its host gone, SSH dropped): every script fails to run. */
  down = false;
  /** The start script spawns the client but then fails (its `pid N` line never arrives). */
  startFails = false;
  /** What client.pid holds ('' when the start script spawned nothing). */
  pidFile = '4242';
  /** The gzipped JTL the client wrote. */
  jtl = JTL;
  polls = 0;
  exec(script: string): ExecResult {
    this.scripts.push(script);
    if (this.down) throw new Error('ssh: connect to host 10.0.1.10 port 22: Connection timed out');
    const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' });
    if (script.includes('echo "version $v"')) return this.notInstalled ? { code: 42, stdout: '', stderr: 'JMeter is not installed' } : ok('version 5.6.3\n');
    if (script.includes('reach()')) return ok('ok jmeter-server RMI ports: 4 endpoint(s) reachable\n');
    if (script.includes('setsid nohup timeout')) {
      this.alive = true;
      this.out = ['Creating summariser <summary>'];
      if (this.startFails) return { code: 255, stdout: '', stderr: 'Connection to 10.0.1.10 closed by remote host.' };
      return ok('pid 4242\n');
    }
    if (script.startsWith('cat ') && script.includes('client.pid')) return ok(this.pidFile ? `${this.pidFile}\n` : '');
    if (script.includes('state gone')) {
      this.polls++;
      if (this.alive && this.polls === this.startAfter) this.out = [...STARTED];
      const remotes = ['10.0.1.21:1099', '10.0.1.22:1099'];
      return ok([`state ${this.alive ? 'alive' : 'exited'}`, ...this.out.map((l) => `out ${l}`), 'window 12 9 2001 2001', ...remotes.map((r, i) => `seen ${r} ${i === 0 ? 3 : 0}`)].join('\n'));
    }
    if (script.includes('shutdown.sh') || script.includes('stoptest.sh')) {
      if (this.obeys) this.out.push(TIDY);
      return ok('');
    }
    if (script.includes('kill -TERM -')) {
      this.alive = false;
      return ok('');
    }
    if (script.includes('== client.out')) return ok(`== client.out\n${this.out.join('\n')}\n== jmeter.log\n`);
    if (script.includes('gzip -1')) return ok(`jtl ${this.jtl.length} ${createHash('sha256').update(this.jtl).digest('hex')}\ndashboard 0\n`);
    if (script.includes('dd if=')) {
      const skip = Number(/skip=(\d+)/.exec(script)![1]);
      return ok(this.jtl.subarray(skip * JMETER_RUN.chunkBytes, (skip + 1) * JMETER_RUN.chunkBytes).toString('base64'));
    }
    throw new Error(`unexpected script on the controller: ${script.slice(0, 120)}`);
  }
}

class Agent {
  scripts: string[] = [];
  state = 'active';
  exec(script: string): ExecResult {
    this.scripts.push(script);
    if (script.includes('systemctl is-active')) return { code: 0, stdout: `state ${this.state}\n`, stderr: '' };
    if (script.includes('systemctl restart')) return { code: 0, stdout: '', stderr: '' };
    throw new Error(`unexpected script on an agent: ${script.slice(0, 120)}`);
  }
}

const session = (h: { exec(s: string): ExecResult }): SshSession => ({ exec: async (_cmd, o) => h.exec(o?.stdin ?? ''), close() {} });

let saved: Record<string, number>;
let rawDir: string;
beforeEach(() => {
  saved = { ...JMETER_RUN, ...RUN_TIMING } as unknown as Record<string, number>;
  Object.assign(JMETER_RUN, { stopPollMs: 5, stopNowWaitMs: 30, interruptedDashboardMs: 30, serverBackMs: 30 });
  Object.assign(RUN_TIMING, { startPollMs: 5, stopGraceMs: 30, workersWaitMs: 500 });
  rawDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-jmeter-driver-'));
});
afterEach(() => {
  for (const k of ['stopPollMs', 'stopNowWaitMs', 'interruptedDashboardMs', 'serverBackMs']) (JMETER_RUN as Record<string, unknown>)[k] = saved[k];
  for (const k of ['startPollMs', 'stopGraceMs', 'workersWaitMs']) (RUN_TIMING as Record<string, unknown>)[k] = saved[k];
  fs.rmSync(rawDir, { recursive: true, force: true });
});

function setup(passthrough: string[] = []) {
  const controller = new Controller();
  const agents = [new Agent(), new Agent()];
  const host = (name: string, ip: string) => ({ name, role: 'agent', privateIp: ip, publicIp: '' });
  const ctx = {
    p: { outputs: { env: 'demo' }, kind: 'ec2', engine: 'jmeter', scriptPath: '/tmp/plan.jmx', scriptText: PLAN, plan: resolveLoad({ users: 4, durationS: 60 }), thresholds: [], hostUrl: 'http://10.0.2.10:8080', passthrough } as unknown as Prepared,
    controller: { host: { ...host('controller', '10.0.1.10'), role: 'controller' }, session: session(controller) } as unknown as HostConn,
    agents: [
      { host: host('agent-1', '10.0.1.21'), session: session(agents[0]!) },
      { host: host('agent-2', '10.0.1.22'), session: session(agents[1]!) },
    ] as unknown as HostConn[],
    login: 'root',
    runId: '20261125-170000-ab12',
    envDir: '/tmp',
  } satisfies DriverContext;
  return { controller, agents, ctx };
}

describe('the JMeter driver against a scripted controller', () => {
  it('runs a test that ends by itself: start waits for the servers, ticks read progress, stop waits for the client, collect merges the JTL', async () => {
    const { controller, agents, ctx } = setup(['-Gtarget_path=/api']);
    const d = jmeterRun.create(ctx);
    await d.prepare();
    expect(agents.every((a) => a.scripts.some((s) => s.includes('systemctl is-active')))).toBe(true);
    expect(controller.scripts[0]).toContain('/var/lib/loadfleet/jmeter/runs/20261125-170000-ab12/plan.jmx');
    const at = await d.start();
    expect(at).toBeGreaterThan(0);
    expect(controller.polls).toBe(2);
    const start = controller.scripts.find((s) => s.includes('setsid nohup timeout'))!;
    expect(start).toContain("'-R' '10.0.1.21:1099,10.0.1.22:1099'");
    expect(start).toContain("'-Gthreads=2'");
    expect(start).toMatch(/'-Jsummariser\.interval=5' '-Gtarget_path=\/api'\s*> client\.out/);
    controller.out.push(SUMMARY);
    const t = await d.tick(5);
    expect(t).toMatchObject({ users: 4, requests: 5, failures: 2, rps: 1, p50: 9, p95: 2001, running: ['agent-1'], finished: false });
    controller.out.push(TIDY);
    expect((await d.tick(60)).finished).toBe(true);
    // The dashboard is being written: stop waits for the client to exit by itself.
    setTimeout(() => (controller.alive = false), 20);
    await d.stop();
    await d.stop();
    expect(controller.scripts.filter((s) => s.includes('shutdown.sh') || s.includes('kill -TERM')).length).toBe(0);
    expect(agents.some((a) => a.scripts.some((s) => s.includes('restart')))).toBe(false);
    const c = await d.collect(rawDir, at, at + 60_000, new Map());
    expect(c.stats.total).toMatchObject({ requests: 5, failures: 2 });
    expect(c.generators).toEqual([
      { name: 'agent-1', startedAtMs: 1764090000000, rawFile: `${path.basename(rawDir)}/res.jtl.gz` },
      { name: 'agent-2', startedAtMs: 1764090000004, rawFile: `${path.basename(rawDir)}/res.jtl.gz` },
    ]);
    expect(c.merge).toMatch(/received every sample from every server .* one JTL/);
    expect(Object.values(c.stats.errors).reduce((a, b) => a + b, 0)).toBe(2);
    expect(fs.readFileSync(path.join(rawDir, 'res.jtl.gz')).equals(JTL)).toBe(true);
  });

  it('stops a running test through the client: Shutdown to the port it printed, once however often stop() is called', async () => {
    const { controller, agents, ctx } = setup();
    const d = jmeterRun.create(ctx);
    await d.prepare();
    const abort = new AbortController();
    await d.start(abort.signal);
    abort.abort(new Error('interrupted'));
    setTimeout(() => (controller.alive = false), 20);
    await Promise.all([d.stop(), d.stop()]);
    const signals = controller.scripts.filter((s) => /shutdown\.sh|stoptest\.sh/.test(s));
    expect(signals).toHaveLength(1);
    expect(signals[0]).toMatch(/bin\/shutdown\.sh' 4446/);
    expect(agents.some((a) => a.scripts.some((s) => s.includes('restart')))).toBe(false);
  });

  it('escalates on a client that does not stop: StopTestNow, then the process group, then the servers restarted', async () => {
    const { controller, agents, ctx } = setup();
    controller.obeys = false;
    const d = jmeterRun.create(ctx);
    await d.prepare();
    await d.start();
    // A killed client is said in the merge text; only a server that could not be restarted fails the stop.
    await expect(d.stop()).resolves.toBeUndefined();
    expect(controller.scripts.filter((s) => s.includes('shutdown.sh'))).toHaveLength(1);
    expect(controller.scripts.filter((s) => s.includes('stoptest.sh'))).toHaveLength(1);
    expect(controller.scripts.some((s) => s.includes('kill -TERM -4242'))).toBe(true);
    expect(agents.every((a) => a.scripts.some((s) => s.includes('systemctl restart jmeter-server.service')))).toBe(true);
  });

  it('restarts every jmeter-server when the controller stops answering during stop(), and reports the controller as a failed host', async () => {
    const { controller, agents, ctx } = setup();
    const d = jmeterRun.create(ctx);
    await d.prepare();
    const at = await d.start();
    // The controller's host dies mid-run: its client can no longer be asked, so its servers would keep the plan running.
    controller.down = true;
    // Every server was restarted: nothing may still send, so the stop holds; the controller is a host failure.
    await expect(d.stop()).resolves.toBeUndefined();
    expect(agents.every((a) => a.scripts.some((s) => s.includes('systemctl restart jmeter-server.service')))).toBe(true);
    const c = await d.collect(rawDir, at, at + 60_000, new Map());
    expect(c.hostFailures).toEqual([{ host: 'controller', error: expect.stringMatching(/could not be stopped \(the controller did not answer: .*Connection timed out/) }]);
    expect(c.generators.every((g) => g.collectionError)).toBe(true);
  });

  it('a start that fails after spawning the client: stop() ends the group from client.pid and restarts the servers', async () => {
    const { controller, agents, ctx } = setup();
    controller.startFails = true;
    const d = jmeterRun.create(ctx);
    await d.prepare();
    await expect(d.start()).rejects.toThrow(/starting the JMeter client on controller failed/);
    expect(controller.alive).toBe(true);
    await d.stop();
    expect(controller.scripts.some((s) => s.includes('kill -TERM -4242'))).toBe(true);
    expect(controller.alive).toBe(false);
    expect(agents.every((a) => a.scripts.some((s) => s.includes('systemctl restart jmeter-server.service')))).toBe(true);
  });

  it('a start that failed before spawning anything (no client.pid): stop() has nothing to end', async () => {
    const { controller, agents, ctx } = setup();
    controller.startFails = true;
    controller.pidFile = '';
    const d = jmeterRun.create(ctx);
    await d.prepare();
    await expect(d.start()).rejects.toThrow(/failed/);
    await d.stop();
    expect(controller.scripts.some((s) => s.includes('kill -TERM'))).toBe(false);
    expect(agents.some((a) => a.scripts.some((s) => s.includes('restart')))).toBe(false);
  });

  it('an unreadable JTL (a header without the success column) is a collection failure of every agent naming the file, not a crash', async () => {
    const { controller, ctx } = setup();
    // JMeter wrote the JTL with jmeter.save.saveservice.successful=false (say, a plan's own listener config).
    controller.jtl = gzipSync('timeStamp,elapsed,label,responseCode,threadName\n1764090000000,12,GET /,200,10.0.1.21:1099-TG 1-1\n');
    const d = jmeterRun.create(ctx);
    await d.prepare();
    const at = await d.start();
    controller.out.push(TIDY);
    controller.alive = false;
    await d.stop();
    const c = await d.collect(rawDir, at, at + 60_000, new Map());
    expect(c.stats.total.requests).toBe(0);
    expect(c.generators.map((g) => g.name)).toEqual(['agent-1', 'agent-2']);
    for (const g of c.generators) {
      expect(g.rawFile).toBe(`${path.basename(rawDir)}/res.jtl.gz`);
      expect(g.collectionError).toMatch(/res\.jtl\.gz \(the JMeter client's JTL from controller\) could not be read: the JTL has no success column/);
    }
    expect(c.merge).toMatch(/no sample was merged/);
  });

  it('fails when JMeter is not installed on the controller, naming the host (exit 2)', async () => {
    const { controller, ctx } = setup();
    controller.notInstalled = true;
    const e = await jmeterRun.create(ctx).prepare().catch((x: Error) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toMatch(/^controller: JMeter is not installed on this host: run "loadfleet install/);
  });

  it('fails when an agent\'s jmeter-server is not active, naming it', async () => {
    const { agents, ctx } = setup();
    agents[1]!.state = 'failed';
    const e = await jmeterRun.create(ctx).prepare().catch((x: Error) => x);
    expect(e).toBeInstanceOf(ExternalError);
    expect((e as Error).message).toMatch(/jmeter-server is not running on agent-2 \(failed\)/);
  });

  it('refuses an option loadfleet owns before touching any host', () => {
    const { controller, ctx } = setup(['-l', 'mine.jtl']);
    expect(() => jmeterRun.create(ctx)).toThrow(UsageError);
    expect(controller.scripts).toEqual([]);
  });

  it('fails the start with the client\'s own words when it exits before the servers start', async () => {
    const { controller, ctx } = setup();
    controller.startAfter = 99;
    const d = jmeterRun.create(ctx);
    await d.prepare();
    const orig = controller.exec.bind(controller);
    controller.exec = (s: string) => {
      const r = orig(s);
      if (s.includes('state gone') && controller.polls === 1) {
        controller.alive = false;
        controller.out.push('Error in NonGUIDriver java.lang.RuntimeException: Following remote engines could not be configured:[10.0.1.22:1099]');
        return orig(s);
      }
      return r;
    };
    await expect(d.start()).rejects.toThrow(/exited before the test started on controller: Error in NonGUIDriver .*could not be configured/);
  });

  it('ends the start wait with the signal\'s reason on Ctrl-C, and stop() then ends the client without asking it (it listens only once the servers run)', async () => {
    const { controller, agents, ctx } = setup();
    controller.startAfter = 99;
    const d = jmeterRun.create(ctx);
    await d.prepare();
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('interrupted by SIGINT')), 20);
    await expect(d.start(abort.signal)).rejects.toThrow('interrupted by SIGINT');
    await d.stop();
    expect(controller.scripts.some((s) => /shutdown\.sh|stoptest\.sh/.test(s))).toBe(false);
    expect(controller.scripts.some((s) => s.includes('kill -TERM -4242'))).toBe(true);
    expect(agents.every((a) => a.scripts.some((s) => s.includes('systemctl restart jmeter-server.service')))).toBe(true);
  });

  it('fails a tick when JMeter says a server did not start', async () => {
    const { controller, ctx } = setup();
    const d = jmeterRun.create(ctx);
    await d.prepare();
    await d.start();
    controller.out.push('The following remote engines have not started:[10.0.1.22:1099]');
    await expect(d.tick(1)).rejects.toThrow(/could not start the test on agent-2/);
  });
});
