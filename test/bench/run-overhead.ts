/**
 * What `loadfleet run` itself costs around the engine, Locust on 3 and 20 local agents against nginx on the
 * target host (started by `loadfleet serve`): from the command (the CLI process's start) to the first
 * request nginx logged, and from the last request nginx logged to the summary printed (the process's end).
 * Measured against the engine's own time in the same run (last − first request, ≈ --duration), with and
 * without the doctor check `run` does first; plus the start spread the summary reports.
 */
import { execa } from 'execa';
import { localFleet, type LocalFleet } from '../harness/local-fleet';
import { BIN } from '../harness/cli';
import { TARGET_SERVER } from '../../scripts/run/target-server';
import type { RunSummary } from '../../scripts/run/summary';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HOME_LOCUSTFILE } from '../harness/run-output';

const LOCUSTFILE = HOME_LOCUSTFILE;

const DURATION_S = 5;

/** First and last request nginx logged at or after an epoch ms ($msec: when the response was logged). */
async function servedSpan(fleet: LocalFleet, sinceMs: number): Promise<{ first: number; last: number; n: number }> {
  const r = await fleet.ssh('app-1', `cat ${TARGET_SERVER.accessLog}`);
  let first = Infinity;
  let last = -Infinity;
  let n = 0;
  for (const line of r.stdout.split('\n')) {
    const t = Number(line.split(' ', 1)[0]) * 1000;
    if (!line || !Number.isFinite(t) || t < sinceMs) continue;
    n++;
    first = Math.min(first, t);
    last = Math.max(last, t);
  }
  if (n === 0) throw new Error('nginx logged no request for this run');
  return { first, last, n };
}

async function waitDoctorGreen(fleet: LocalFleet): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if ((await fleet.cli(['doctor', '-c', fleet.config, '--json'])).exitCode === 0) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error('doctor never green');
}

async function oneRun(fleet: LocalFleet, agents: number, skipDoctor: boolean): Promise<string> {
  const users = agents * 2;
  const args = ['run', '-c', fleet.config, '--script', path.join(fleet.ws.dir, 'locustfile.py'), '--users', String(users), '--rate', String(users), '--duration', `${DURATION_S}s`, '--json', ...(skipDoctor ? ['--skip-doctor'] : [])];
  // nginx's $msec (ms resolution) is compared with this clock: the namespaces share the machine's clock.
  const start = Date.now();
  const r = await execa(process.execPath, [BIN, ...args], { env: { ...process.env, ...fleet.env }, reject: false, stdin: 'ignore' });
  const end = Date.now();
  if (r.exitCode !== 0) throw new Error(`run failed (${r.exitCode}): ${String(r.stderr)}`);
  const s = JSON.parse(String(r.stdout)) as RunSummary;
  const span = await servedSpan(fleet, start);
  const toFirst = (span.first - start) / 1000;
  const afterLast = (end - span.last) / 1000;
  const engine = (span.last - span.first) / 1000;
  return `  ${String(agents).padStart(2)} agents${skipDoctor ? ', --skip-doctor' : ', with doctor  '}: command → first request ${toFirst.toFixed(2)} s, last request → summary ${afterLast.toFixed(2)} s; ` +
    `engine (first → last request) ${engine.toFixed(2)} s for --duration ${DURATION_S}s → overhead ${((toFirst + afterLast) / engine).toFixed(2)}× the engine's time; ` +
    `start spread ${s.startSpreadMs ?? '?'} ms; ${span.n} served, ${s.total.requests} merged`;
}

export async function benchRunOverhead(): Promise<void> {
  for (const agents of [3, 20]) {
    const fleet = await localFleet(`brun${agents}`, 'br', '10.231.97.0/24', { agents: { count: agents }, targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: false } });
    try {
      fs.writeFileSync(path.join(fleet.ws.dir, 'locustfile.py'), LOCUSTFILE);
      const inst = await fleet.cli(['install', '-c', fleet.config, '--json']);
      if (inst.exitCode !== 0) throw new Error(`install failed: ${inst.stderr}`);
      const srv = await fleet.cli(['serve', '-c', fleet.config]);
      if (srv.exitCode !== 0) throw new Error(`serve failed: ${srv.stderr}`);
      await waitDoctorGreen(fleet);
      for (const skip of [false, true]) {
        console.log(await oneRun(fleet, agents, skip));
      }
    } finally {
      await fleet.remove();
    }
  }
}
