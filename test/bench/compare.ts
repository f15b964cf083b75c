/**
 * compare of two kept runs of 20 endpoints × 1 h of per-second histograms (72,000 .hlog intervals per run,
 * 20 requests per endpoint per second, log-normal latencies): read both run folders (summary, meta, hist/) and
 * judge them. Goal (issue 17): under 1 s. Baseline in the same run: reading the same .hlog files and only
 * base64-decoding and inflating every interval (the least any reader of an interval log does).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { loadRun } from '../../scripts/actions/compare';
import { compareRuns } from '../../scripts/compare/verdict';
import { writeSynthRun } from '../harness/synthetic-runs';

function inflateOnly(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(path.join(dir, 'hist')).filter((x) => x.endsWith('.hlog'))) {
    for (const line of fs.readFileSync(path.join(dir, 'hist', f), 'utf8').split('\n')) {
      if (!line || line.startsWith('#') || line.startsWith('"')) continue;
      const data = Buffer.from(line.split(',')[3]!, 'base64');
      n += inflateSync(data.subarray(8, 8 + data.readInt32BE(4))).length;
    }
  }
  return n;
}

export async function benchCompare(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-bench-compare-'));
  try {
    const t0 = performance.now();
    const a = path.join(root, 'a');
    const b = path.join(root, 'b');
    writeSynthRun(a, { seed: 1, seconds: 3600, rps: 20, endpoints: 20, runId: 'a' });
    writeSynthRun(b, { seed: 2, seconds: 3600, rps: 20, endpoints: 20, runId: 'b', scale: 1.05 });
    const sizeMb = (d: string) => fs.readdirSync(path.join(d, 'hist')).reduce((s, f) => s + fs.statSync(path.join(d, 'hist', f)).size, 0) / 1e6;
    console.log(`compare: two runs of 20 endpoints × 3600 s written in ${((performance.now() - t0) / 1000).toFixed(1)} s (hist/ ${sizeMb(a).toFixed(1)} MB per run)`);
    const times: number[] = [];
    const bases: number[] = [];
    let verdict = '';
    for (let i = 0; i < 3; i++) {
      const t1 = performance.now();
      inflateOnly(a);
      inflateOnly(b);
      bases.push((performance.now() - t1) / 1000);
      const t2 = performance.now();
      const r = compareRuns(await loadRun(a), await loadRun(b));
      times.push((performance.now() - t2) / 1000);
      verdict = `${r.verdict}, ${r.checks.length} checks`;
    }
    const med = (x: number[]) => [...x].sort((p, q) => p - q)[1]!;
    console.log(`compare (read 2 × 75,600 intervals + judge): median of 3 ${med(times).toFixed(3)} s (goal < 1 s) → ${verdict}; baseline (inflate every interval only): ${med(bases).toFixed(3)} s; ratio ${(med(times) / med(bases)).toFixed(2)}×`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
