/**
 * The sh the JMeter driver runs on the controller and the agents: every script passes shellcheck, and the
 * ones that need no JMeter are run for real here through a local `sh -s` session (what runAsRoot does over
 * SSH for a root login): the tick's status (live percentiles from the JTL's tail, per-agent rows, the
 * client's milestone lines), packing and the chunked pull of the JTL, ending a process group, and the start
 * script's client.pid (with `sleep` for the client).
 * Not run here (no JMeter on this machine, notes/engines.md): the start script with the launcher,
 * bin/shutdown.sh / stoptest.sh, systemctl on the agents. An integration test: it starts processes.
 */
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import type { SshSession } from '../../scripts/core/fanout';
import { runAsRoot } from '../../scripts/core/privilege';
import { jmeterAgents, mergeJtlFile, parseStatus, pullFile } from '../../scripts/drivers/jmeter';
import type { HostConn } from '../../scripts/drivers/types';
import {
  jmeterChunkScript, jmeterKillScript, jmeterLogsScript, jmeterPackScript, jmeterPidScript, jmeterPrepareScript, jmeterServerRestartScript, jmeterServerStateScript,
  jmeterSignalScript, jmeterStarted, jmeterStartScript, jmeterStatusScript, jmeterUdpPort, JMETER_RUN,
} from '../../scripts/run/jmeter';
import { summariserState } from '../../scripts/run/jtl';
import { shellcheck } from '../harness/shellcheck';

/** runAsRoot's side of an SSH session, on this machine (the tests run as root). */
const local: SshSession = {
  async exec(command, o = {}) {
    const r = await execa('sh', ['-c', command], { input: o.stdin ?? '', reject: false, timeout: o.timeoutMs ?? 60_000 });
    return { code: r.exitCode ?? null, stdout: String(r.stdout), stderr: String(r.stderr) };
  },
  close() {},
};
const conn = { host: { name: 'controller' }, session: local } as unknown as HostConn;
const AGENTS = jmeterAgents([{ name: 'agent-1', privateIp: '10.0.1.21' }, { name: 'agent-2', privateIp: '10.0.1.22' }]);
const HEADER = 'timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect';

const dirs: string[] = [];
const pids: number[] = [];
afterEach(() => {
  for (const pid of pids.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-jmeter-sh-'));
  dirs.push(d);
  return d;
};
/** A process group of our own (sh with two sleeping children), as setsid gives the client. */
/** A process group shaped like the client's: `timeout` leading it (the start runs `setsid nohup timeout …`). */
function group(leader: 'timeout' | 'sh' = 'timeout'): number {
  const argv = leader === 'timeout' ? ['timeout', '300', 'sh', '-c', 'sleep 300 & sleep 300; wait'] : ['sh', '-c', 'sleep 300 & sleep 300; wait'];
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: 'ignore' });
  child.unref();
  pids.push(child.pid!);
  return child.pid!;
}

describe('the JMeter driver\'s sh', () => {
  it('passes shellcheck', () => {
    const runDir = '/var/lib/loadfleet/jmeter/runs/20261125-170000-ab12';
    const scripts = [
      ['prepare', jmeterPrepareScript(runDir, '<jmeterTestPlan/>\n\'quotes\' $x `y`')],
      ['server state', jmeterServerStateScript()],
      ['server restart', jmeterServerRestartScript()],
      ['start', jmeterStartScript({ runDir, argv: ['/opt/loadfleet/jmeter/apache-jmeter-5.6.3/bin/jmeter', '-n', '-t', `${runDir}/plan.jmx`, '-Gthreads_schedule=spawn(5,0s,10s,60s,0s) spawn(5,10s,10s,50s,0s)', "-Jname=it's"], timeoutS: 900 })],
      ['pid', jmeterPidScript(runDir)],
      ['status', jmeterStatusScript({ runDir, pid: 1234, remotes: AGENTS.map((a) => a.remote) })],
      ['shutdown', jmeterSignalScript('5.6.3', 4445, 'Shutdown')],
      ['stoptest', jmeterSignalScript('5.6.3', 4445, 'StopTestNow')],
      ['kill', jmeterKillScript(1234)],
      ['pack', jmeterPackScript(runDir)],
      ['chunk', jmeterChunkScript(`${runDir}/res.jtl.gz`, 2)],
      ['logs', jmeterLogsScript(runDir)],
    ] as const;
    expect(shellcheck(scripts.map(([label, text]) => ({ label, text })))).toEqual({});
  });

  it('status: client alive, its milestone lines, live percentiles of the last window and rows per agent', async () => {
    // GIVEN a run folder with the client's stdout and a JTL whose recent rows have known latencies.
    const runDir = tmp();
    fs.writeFileSync(path.join(runDir, 'client.out'), [
      'Creating summariser <summary>',
      'Starting distributed test with remote engines:[10.0.1.21:1099, 10.0.1.22:1099] @ Wed Nov 25 17:00:00 UTC 2026 (1764090000000)',
      'Remote engines have been started:{…}',
      'Waiting for possible Shutdown/StopTestNow/HeapDump/ThreadDump message on port 4445',
      'some other line',
      'summary +     46 in 00:00:05 =    9.2/s Avg:   109 Min:   101 Max:   122 Err:     0 (0.00%) Active: 5 Started: 5 Finished: 0',
    ].join('\n'));
    const now = Date.now();
    const recent: number[] = [];
    const lines = [HEADER];
    for (let i = 0; i < 100; i++) lines.push(`${now - 60_000 + i},5000,old,200,OK,10.0.1.21:1099-TG 1-1,text,true,,1,1,1,1,u,1,0,0`);
    for (let i = 0; i < 200; i++) {
      const ms = 10 + (i % 50) * (i % 7 === 0 ? 20 : 1);
      recent.push(ms);
      const remote = i % 4 === 0 ? '10.0.1.22:1099' : '10.0.1.21:1099';
      // Some thread names quoted by JMeter (a comma in the group's name).
      const thread = i % 8 === 0 ? `"${remote}-TG, A 1-${i % 3}"` : `${remote}-TG 1-${i % 3}`;
      lines.push(`${now - 3000 + i},${ms},"GET /a, b",200,"multi\nline",${thread},text,true,,1,1,1,1,u,1,0,0`);
    }
    fs.writeFileSync(path.join(runDir, 'res.jtl'), `${lines.join('\n')}\n`);
    const pid = group();
    // WHEN the tick's status script runs.
    const r = await runAsRoot(local, 'root', jmeterStatusScript({ runDir, pid, remotes: AGENTS.map((a) => a.remote) }), 'status');
    const s = parseStatus(r.stdout);
    // THEN it sees the client, its lines, the nearest-rank percentiles of the last window only, and the rows per agent.
    expect(s.state).toBe('alive');
    expect(s.out.split('\n')).toHaveLength(4);
    expect(s.out).not.toContain('some other line');
    const sorted = [...recent].sort((a, b) => a - b);
    const rank = (p: number) => sorted[Math.ceil((p / 100) * sorted.length) - 1];
    expect(s.window).toEqual({ n: 200, p50: rank(50), p95: rank(95), p99: rank(99) });
    expect(s.seen.get('10.0.1.21:1099')).toBe(100 + 150);
    expect(s.seen.get('10.0.1.22:1099')).toBe(50);
    process.kill(-pid, 'SIGKILL');
    await new Promise((res) => setTimeout(res, 200));
    expect(parseStatus((await runAsRoot(local, 'root', jmeterStatusScript({ runDir, pid, remotes: [] }), 'status')).stdout).state).toBe('exited');
    expect(parseStatus((await runAsRoot(local, 'root', jmeterStatusScript({ runDir: path.join(runDir, 'gone'), pid, remotes: [] }), 'status')).stdout).state).toBe('gone');
  });

  it('status after a long run: every milestone line is still there behind thousands of Summariser lines, so stop() can ask the client', async () => {
    // GIVEN a client that has printed its milestones, then 2 Summariser lines every 5 s for an hour (1440 lines).
    const runDir = tmp();
    const lines = [
      'Creating summariser <summary>',
      'Starting distributed test with remote engines:[10.0.1.21:1099, 10.0.1.22:1099] @ Wed Nov 25 17:00:00 UTC 2026 (1764090000000)',
      'Remote engines have been started:{…}',
      'Waiting for possible Shutdown/StopTestNow/HeapDump/ThreadDump message on port 4447',
    ];
    let total = 0;
    for (let i = 1; i <= 720; i++) {
      total += 46;
      lines.push(`summary +     46 in 00:00:05 =    9.2/s Avg:   109 Min:   101 Max:   122 Err:     0 (0.00%) Active: 5 Started: 5 Finished: 0`);
      lines.push(`summary = ${String(total).padStart(6)} in 00:${String(Math.floor((i * 5) / 60)).padStart(2, '0')}:${String((i * 5) % 60).padStart(2, '0')} =    9.2/s Avg:   109 Min:   101 Max:   122 Err:     0 (0.00%)`);
    }
    expect(lines.length - 4).toBeGreaterThan(JMETER_RUN.summaryLines);
    fs.writeFileSync(path.join(runDir, 'client.out'), `${lines.join('\n')}\n`);
    const pid = group();
    // WHEN the tick's status script runs.
    const s = parseStatus((await runAsRoot(local, 'root', jmeterStatusScript({ runDir, pid, remotes: [] }), 'status')).stdout);
    // THEN the started line and the UDP port are still read (the old `| tail -n 400` over all lines lost them),
    // the Summariser's lines are bounded, and its totals are the last `=` line's.
    expect(jmeterStarted(s.out).started).toBe(true);
    expect(jmeterUdpPort(s.out)).toBe(4447);
    expect(s.out).toMatch(/^Waiting for possible Shutdown/m);
    expect(s.out.split('\n').filter((l) => l.startsWith('summary ')).length).toBe(JMETER_RUN.summaryLines);
    expect(summariserState(s.out).requests).toBe(total);
  });

  it('the start script leaves the client\'s pid in client.pid, which the pid script reads back (a start whose output is lost)', async () => {
    // The client here is `sleep 1` (no JMeter on this machine; if runuser finds no jmeter user it exits at once):
    // what is proven is the pid bookkeeping, not the launcher.
    const runDir = tmp();
    fs.writeFileSync(path.join(runDir, 'client.pid'), '999999\n');
    const r = await runAsRoot(local, 'root', jmeterStartScript({ runDir, argv: ['sleep', '1'], timeoutS: 5 }), 'start');
    const pid = Number(/^pid (\d+)$/m.exec(r.stdout)![1]);
    pids.push(pid);
    expect(pid).toBeGreaterThan(0);
    expect((await runAsRoot(local, 'root', jmeterPidScript(runDir), 'pid')).stdout.trim()).toBe(String(pid));
    expect((await runAsRoot(local, 'root', jmeterPidScript(path.join(runDir, 'gone')), 'pid')).stdout).toBe('');
  });

  it('pack, pull in chunks and merge: the JTL arrives whole and merges to its rows', async () => {
    const runDir = tmp();
    const rows = [HEADER];
    for (let i = 0; i < 5000; i++) rows.push(`${1764090000000 + i},${1 + (i % 100)},"GET /x, y",200,OK,${AGENTS[i % 2]!.remote}-TG 1-1,text,${i % 50 !== 0},,1,1,1,1,u,1,0,0`);
    fs.writeFileSync(path.join(runDir, 'res.jtl'), `${rows.join('\n')}\n`);
    fs.mkdirSync(path.join(runDir, 'dashboard'));
    fs.writeFileSync(path.join(runDir, 'dashboard', 'index.html'), '<html></html>');
    const packed = (await runAsRoot(local, 'root', jmeterPackScript(runDir), 'pack')).stdout;
    const m = /^jtl (\d+) ([0-9a-f]{64})/m.exec(packed)!;
    expect(Number(/^dashboard (\d+)/m.exec(packed)![1])).toBeGreaterThan(0);
    const out = tmp();
    const dest = path.join(out, 'res.jtl.gz');
    expect(await pullFile(conn, 'root', `${runDir}/res.jtl.gz`, Number(m[1]), dest)).toBe(m[2]);
    const jm = await mergeJtlFile(dest, AGENTS, 1);
    expect(jm.samples).toBe(5000);
    expect(jm.merger.total.failures).toBe(100);
    expect(jm.samplesByAgent.get('agent-2')).toBe(2500);
  });

  it('pulls a file larger than one chunk byte for byte', async () => {
    const dir = tmp();
    const file = path.join(dir, 'big.bin');
    const data = crypto.randomBytes(JMETER_RUN.chunkBytes * 2 + 12345);
    fs.writeFileSync(file, data);
    const dest = path.join(dir, 'copy.bin');
    const sha = await pullFile(conn, 'root', file, data.length, dest);
    expect(sha).toBe(crypto.createHash('sha256').update(data).digest('hex'));
    expect(fs.readFileSync(dest).equals(data)).toBe(true);
  });

  it('packing fails with a message when the client wrote no JTL', async () => {
    await expect(runAsRoot(local, 'root', jmeterPackScript(tmp()), 'packing the JTL')).rejects.toThrow(/wrote no res\.jtl/);
  });

  it('the kill script ends the whole process group', async () => {
    const pid = group();
    const kids = (await execa('pgrep', ['-g', String(pid)], { reject: false })).stdout.split('\n').filter(Boolean);
    expect(kids.length).toBeGreaterThanOrEqual(3);
    await runAsRoot(local, 'root', jmeterKillScript(pid), 'kill');
    await new Promise((res) => setTimeout(res, 300));
    // What is left of the group are zombies waiting for init to reap them: nothing runs.
    const states = (await execa('ps', ['-o', 'stat=', '-g', String(pid)], { reject: false })).stdout.split('\n').map((x) => x.trim()).filter(Boolean);
    expect(states.filter((st) => !st.startsWith('Z'))).toEqual([]);
  });

  it('the kill and status scripts leave a pid alone that is no longer the client (a reused pid)', async () => {
    const pid = group('sh');
    await runAsRoot(local, 'root', jmeterKillScript(pid), 'kill');
    expect(parseStatus((await runAsRoot(local, 'root', jmeterStatusScript({ runDir: tmp(), pid, remotes: [] }), 'status')).stdout).state).toBe('exited');
    await new Promise((res) => setTimeout(res, 300));
    expect((await execa('ps', ['-o', 'stat=', '-p', String(pid)], { reject: false })).stdout.trim()).toMatch(/^S/);
    process.kill(-pid, 'SIGKILL');
  });
});
