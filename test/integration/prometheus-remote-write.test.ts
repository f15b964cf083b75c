/**
 * The real Prometheus, started with exactly the flags loadfleet gives it (prometheusArgs), on loopback in this
 * test's private network namespace: a hand-built remote write is refused unless an engine pushes (k6). With the
 * receiver on, the same write reaches the handler (it answers about the body, not about the route).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { prometheusArgs } from '../../scripts/monitoring/prometheus';
import { enginePushes } from '../../scripts/actions/monitoring';
import { requireTool } from '../harness/tools';
import { eventually } from '../harness/monitoring';

const started: { proc: ResultPromise; dir: string }[] = [];
afterEach(async () => {
  for (const s of started.splice(0)) {
    s.proc.kill('SIGTERM'); // our own child, by its handle
    await s.proc.catch(() => undefined);
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
});

/** Prometheus with loadfleet's flags for `engine`, its config and data in a temporary folder; returns its base URL. */
async function startPrometheus(engine: string, port: number): Promise<string> {
  const bin = requireTool('prometheus', 'apt-get install prometheus');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-prom-'));
  fs.writeFileSync(path.join(dir, 'prometheus.yml'), 'global: { scrape_interval: 15s }\n');
  const args = prometheusArgs({ env: 'e', kind: 'netns', host: { name: 'monitoring', privateIp: '127.0.0.1' }, rootVolumeGb: 20, remoteWrite: enginePushes(engine) })
    .slice(1)
    .map((a) => (a.startsWith('--config.file=') ? `--config.file=${dir}/prometheus.yml` : a.startsWith('--storage.tsdb.path=') ? `--storage.tsdb.path=${dir}/data` : a))
    .map((a) => (a.startsWith('--web.listen-address=') ? `--web.listen-address=127.0.0.1:${port}` : a));
  const proc = execa(bin, args, { reject: false, stdin: 'ignore' });
  started.push({ proc, dir });
  const base = `http://127.0.0.1:${port}`;
  await eventually('Prometheus ready', () => fetch(`${base}/-/ready`).then((r) => r.status), (s) => s === 200, 60_000, 500);
  return base;
}

/** A hand-built remote write, as anyone reaching 9090 could send (the body need not decode to be refused). */
async function remoteWrite(base: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`${base}/api/v1/write`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'snappy', 'X-Prometheus-Remote-Write-Version': '0.1.0' },
    body: Buffer.from('loadfleet_run_requests_total 999999'),
  });
  return { status: r.status, body: await r.text() };
}

describe('Prometheus remote write', () => {
  it('is refused when no engine pushes (locust): the route is not there', async () => {
    const w = await remoteWrite(await startPrometheus('locust', 19091));
    expect(w.status).toBe(404);
    expect(w.body).toMatch(/remote write receiver needs to be enabled/);
  });

  it('reaches the receiver for k6 only (which the security group opens to the agents alone)', async () => {
    const w = await remoteWrite(await startPrometheus('k6', 19092));
    expect(w.status).toBe(400); // the handler itself: the body is no snappy protobuf
  });
});
