/**
 * Issue 17: per-second histograms (hist/*.hlog) for k6 and JMeter, built at collection from their per-request
 * data, read back with hdr-histogram-js's own HistogramLogReader and checked against an independent count of the
 * raw samples; compare's totals path (nGrinder), its target matching and its between-run noise.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { histFiles, type SecondCounts } from '../../scripts/compare/hlog';
import { mulberry32 } from '../../scripts/compare/stats';
import { betweenRunNoise, compareRuns, DEFAULT_TOLERANCES, type RunData } from '../../scripts/compare/verdict';
import { compareText } from '../../scripts/compare/render';
import { mergeJtlFile } from '../../scripts/drivers/jmeter';
import { K6PointReader } from '../../scripts/run/k6-output';
import { Merger } from '../../scripts/run/merge';
import { hdrKey, PerSecond } from '../../scripts/run/per-second';
import { perSecondOfLines } from '../../scripts/run/artillery-files';
import type { RunSummary } from '../../scripts/run/summary';
import { fromSparse, synthRun, writeSynthRun } from '../harness/synthetic-runs';
import { judgeBaseline } from '../../scripts/actions/compare';

/** Raw samples: endpoint, end epoch ms, latency ms (null = no response). */
interface Raw {
  name: string;
  atMs: number;
  ms: number | null;
  /** A response that failed (a status ≥ 400); a sample without a response always fails. */
  failed?: boolean;
}

function rawSamples(seed: number, seconds: number, perS: number, wholeMs: boolean): Raw[] {
  const rnd = mulberry32(seed);
  const out: Raw[] = [];
  const t0 = 1_764_090_000_000;
  for (let i = 0; i < seconds * perS; i++) {
    const atMs = t0 + Math.floor(rnd() * seconds * 1000);
    const name = rnd() < 0.3 ? '/b' : '/a';
    const v = 1 + rnd() * rnd() * 400;
    out.push({ name, atMs, ms: rnd() < 0.02 ? null : wholeMs ? Math.round(v) : Math.round(v * 1000) / 1000 });
  }
  return out;
}

/** Reads every interval of an .hlog with HdrHistogram's own reader: start second → its histogram. */
function readWithHdr(text: string): Map<number, hdr.Histogram> {
  const reader = new hdr.HistogramLogReader(text);
  const out = new Map<number, hdr.Histogram>();
  for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) out.set(Math.round(h.startTimeStampMsec / 1000), h);
  return out;
}

/** For each endpoint: per second, the .hlog's count = the answered raw samples of that second, and p95 within 0.1 %. */
function expectLogsMatchRaw(per: PerSecond, raw: Raw[], bucketOf: (r: Raw) => number) {
  const releaseMs = Math.min(...raw.map(bucketOf)) * 1000;
  const { files, index } = histFiles(releaseMs, per.view(), 'test');
  expect(index.total.requests).toBe(raw.length);
  expect(index.total.failures).toBe(raw.filter((r) => r.ms === null || r.failed).length);
  for (const e of index.endpoints) {
    const mine = raw.filter((r) => `GET ${r.name}` === e.name || r.name === e.name);
    expect(mine.length).toBeGreaterThan(0);
    expect(e.requests).toBe(mine.length);
    const logged = readWithHdr(files.get(e.file)!);
    const bySecond = new Map<number, number[]>();
    for (const r of mine) if (r.ms !== null) (bySecond.get(bucketOf(r)) ?? bySecond.set(bucketOf(r), []).get(bucketOf(r))!).push(r.ms);
    expect(logged.size).toBe(bySecond.size);
    for (const [sec, values] of bySecond) {
      const h = logged.get(sec)!;
      expect(h, `second ${sec} of ${e.name}`).toBeDefined();
      expect(h.totalCount).toBe(values.length);
      values.sort((a, b) => a - b);
      const exact = values[Math.max(0, Math.ceil(0.95 * values.length) - 1)]! * 1000;
      // A 3-digit HdrHistogram: within 0.1 % (its getValueAtPercentile is the bucket's highest equivalent value).
      expect(Math.abs(h.getValueAtPercentile(95) - exact)).toBeLessThanOrEqual(exact * 0.001 + 1);
    }
  }
}

describe('per-second histograms built at collection', () => {
  it('k6: bucketed by each point\'s time; HdrHistogram\'s reader sees, per second and endpoint, exactly the raw points (status 0 counted, no latency)', () => {
    const raw = rawSamples(5, 8, 120, false).map((r) => ({ ...r, name: `http://t/${r.name.slice(1)}` }));
    const lines: string[] = [];
    for (const r of raw) {
      const time = new Date(r.atMs).toISOString();
      const tags = { method: 'GET', name: r.name, status: r.ms === null ? '0' : '200', expected_response: r.ms === null ? 'false' : 'true' };
      lines.push(JSON.stringify({ type: 'Point', metric: 'http_req_duration', data: { time, value: r.ms ?? 3, tags } }));
      lines.push(JSON.stringify({ type: 'Point', metric: 'http_req_failed', data: { time, value: r.ms === null ? 1 : 0, tags } }));
    }
    const m = new Merger();
    m.perSecond = new PerSecond();
    const reader = new K6PointReader(m);
    for (const l of lines) reader.line(l);
    reader.end();
    expect(m.total.count).toBe(raw.length);
    expectLogsMatchRaw(m.perSecond, raw, (r) => Math.floor(r.atMs / 1000));
  });

  it('JMeter: every JTL row through the driver\'s own merge (mergeJtlFile), bucketed by timeStamp; "Non HTTP response code" counted, no latency', async () => {
    const raw = rawSamples(6, 8, 90, true);
    const rows = raw.map((r, i) =>
      r.ms === null
        ? `${r.atMs},2001,GET ${r.name},Non HTTP response code: java.net.SocketTimeoutException,Read timed out,10.0.1.21:1099-Thread Group 1-${i % 4},text,false,,0,0,1,1,http://t${r.name},0,0,0`
        : `${r.atMs},${r.ms},GET ${r.name},200,OK,10.0.1.21:1099-Thread Group 1-${i % 4},text,true,,615,118,1,1,http://t${r.name},${r.ms},0,1`,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-jtl-'));
    try {
      const file = path.join(dir, 'res.jtl.gz');
      fs.writeFileSync(file, gzipSync(`timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n${rows.join('\n')}\n`));
      const jm = await mergeJtlFile(file, [{ name: 'agent-1', remote: '10.0.1.21:1099' }], 1);
      expect(jm.merger.perSecond).toBeDefined();
      expectLogsMatchRaw(jm.merger.perSecond!, raw, (r) => Math.floor(r.atMs / 1000));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Artillery plugin: each finished second\'s line holds its counts per endpoint (capped names share "(other)"), what the hlog needs', () => {
    const req = createRequire(import.meta.url);
    const plugin = req('../../scripts/run/artillery-plugin/artillery-plugin-loadfleet-hdr/index.js') as { createRecorder(o: Record<string, unknown>): { record(n: string, ms: number, f: boolean): void; flush(final: boolean): void } };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-plugin-e-'));
    try {
      const clock = { t: 1_800_000_000_000 };
      const files = { file: path.join(dir, 'hdr.json'), liveFile: path.join(dir, 'live.json'), bucketsFile: path.join(dir, 'b.ndjson') };
      const rec = plugin.createRecorder({ hdr: req('hdr-histogram-js'), now: () => clock.t, generator: 'agent-1', maxEndpoints: 2, ...files });
      const raw: Raw[] = [];
      const rnd = mulberry32(4);
      for (let i = 0; i < 600; i++) {
        clock.t += Math.floor(rnd() * 10);
        const name = ['GET /a', 'GET /b', 'GET /c', 'GET /d'][Math.floor(rnd() * 4)]!;
        const ms = 1 + Math.floor(rnd() * 3000);
        rec.record(name, ms, ms > 2900);
        raw.push({ name: name === 'GET /a' || name === 'GET /b' ? name : '(other)', atMs: clock.t, ms, failed: ms > 2900 });
        if (i % 50 === 0) rec.flush(false);
      }
      rec.flush(true);
      const per = perSecondOfLines(fs.readFileSync(files.bucketsFile, 'utf8'));
      expect([...per.view().keys()].sort()).toEqual(['(other)', 'GET /a', 'GET /b']);
      expectLogsMatchRaw(per, raw, (r) => Math.floor(r.atMs / 1000));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Artillery: the plugin\'s per-second lines (`e`: endpoint → [requests, failures, {µs: n}]) of every worker add up; a line cut by a KILL is skipped', () => {
    const lines = [
      JSON.stringify({ t: 100, count: 3, failures: 1, hist: '', e: { 'GET /a': [2, 1, { 2000: 1, 5000: 1 }], 'GET /b': [1, 0, { 3000: 1 }] } }),
      JSON.stringify({ t: 101, count: 1, failures: 0, hist: '', e: { 'GET /a': [1, 0, { 2000: 1 }] } }),
      '{"t":102,"count":1,"fail',
    ].join('\n');
    const per = perSecondOfLines(lines);
    perSecondOfLines(JSON.stringify({ t: 100, count: 1, failures: 0, hist: '', e: { 'GET /a': [1, 0, { 2000: 1 }] } }), per);
    const a = per.view().get('GET /a')!;
    expect([...a.keys()]).toEqual([100, 101]);
    expect(a.get(100)).toEqual({ count: 3, failures: 1, us: new Map([[2000, 2], [5000, 1]]) });
    expect(per.view().get('GET /b')!.get(100)!.count).toBe(1);
  });

  it('hdrKey is the bucket a 3-digit HdrHistogram keeps the value in (its lowestEquivalentValue)', () => {
    const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, bitBucketSize: 32, useWebAssembly: false }) as unknown as { lowestEquivalentValue(v: number): number };
    const rnd = mulberry32(9);
    for (let i = 0; i < 2000; i++) {
      const v = 1 + Math.floor(rnd() ** 3 * 3_000_000_000);
      expect(hdrKey(v)).toBe(h.lowestEquivalentValue(v));
    }
    expect(hdrKey(0)).toBe(1);
  });
});

function summaryOf(run: RunData, p95: number, rps: number): RunSummary {
  return { ...run.summary, total: { ...run.summary.total, p95, rps }, endpoints: run.summary.endpoints.map((e) => ({ ...e, p95, rps })) };
}

describe('compare without per-second histograms (nGrinder): on totals, saying so', () => {
  const ng = (runId: string, requests: number, failures: number, rps: number): RunData => {
    const s = synthRun({ seed: 1, seconds: 10, rps: 10, runId, summary: { engine: 'ngrinder' } });
    const row = (name: string) => ({ name, requests, failures, rps, min: null, mean: 20, p50: null, p90: null, p95: null, p99: null, max: null });
    return { ...s, hist: null, summary: { ...s.summary, total: row('Total'), endpoints: [row('Test1')] } as unknown as RunSummary };
  };
  it('same totals: pass (exit 0), with the note "no per-second histogram: compared on totals, precision …" and p95 not compared', () => {
    const r = compareRuns(ng('a', 5000, 0, 100), ng('b', 5000, 0, 99));
    expect(r.verdict).toBe('pass');
    expect(r.notes.join('\n')).toContain('nGrinder: no per-second histogram');
    expect(r.notes.join('\n')).toContain('compared on totals, precision:');
    expect(r.notes).toContain('Total: p95 not measured in either run (ngrinder): not compared');
    expect(compareText(r)).toContain('note: base run a: nGrinder: no per-second histogram');
  });
  it('an error rise on totals is tested (regression, exit 3); an rps drop cannot be tested without seconds (inconclusive, exit 4)', () => {
    const err = compareRuns(ng('a', 5000, 0, 100), ng('b', 5000, 250, 100));
    expect(err.verdict).toBe('regression');
    expect(err.reasons.join('\n')).toMatch(/Total: errors 0% → 5% \(\+5pp\), beyond \+0\.5pp/);
    const slow = compareRuns(ng('a', 5000, 0, 100), ng('b', 4000, 0, 80));
    expect(slow.verdict).toBe('inconclusive');
    expect(slow.reasons.join('\n')).toContain('Total: rps 100 → 80 (-20.0%) drops beyond -5.0%; Total: no per-second histogram in either run to test it (compared on totals)');
  });
});

describe('compare counts requests without a response (issue 17 review)', () => {
  it('a candidate whose target never answers (30 s × 50 req/s, all failed, no latency) is a regression naming the error rate, not "too few samples"', () => {
    const base = synthRun({ seed: 61, seconds: 30, rps: 50, runId: 'base' });
    const eps = new Map([['GET /e0', new Map<number, SecondCounts>()]]);
    const t0 = Math.floor(Date.parse(base.summary.startedAt) / 1000);
    for (let s = 0; s < 30; s++) eps.get('GET /e0')!.set(t0 + s, { count: 50, failures: 50, us: new Map(), unanswered: 50 });
    const made = fromSparse({ runId: 'cand', seconds: 30 }, eps).run;
    // As run writes it: no latency measured, so no percentiles.
    const noLat = <T extends object>(row: T) => ({ ...row, min: null, mean: null, p50: null, p90: null, p95: null, p99: null, max: null });
    const cand: RunData = { ...made, summary: { ...made.summary, total: noLat(made.summary.total), endpoints: made.summary.endpoints.map(noLat) } as unknown as RunSummary };
    expect(cand.hist!.total.count.filter((n) => n > 0)).toHaveLength(30);
    expect(cand.hist!.total.count.reduce((a, b) => a + b, 0)).toBe(1500);
    const r = compareRuns(base, cand);
    expect(r.verdict).toBe('regression');
    expect(r.exitCode).toBe(3);
    expect(r.reasons.join('\n')).toMatch(/Total: errors 0% → 100% \(\+100pp\), beyond \+0\.5pp/);
    expect(r.reasons.join('\n')).not.toContain('too few samples');
    // The rps of the requests sent is unchanged: not a drop.
    expect(r.checks.find((c) => c.endpoint === 'Total' && c.figure === 'rps')!.verdict).toBe('pass');
  });
});

describe('run --baseline writes its verdict atomically (issue 17 review)', () => {
  it('judgeBaseline replaces meta.json (writeFileAtomic: temp file + rename), never writes through what is there', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-judge-'));
    try {
      const baseDir = path.join(root, 'runs', 'base');
      const candDir = path.join(root, 'runs', 'cand');
      writeSynthRun(baseDir, { seed: 81, seconds: 20, rps: 50, runId: 'base' });
      writeSynthRun(candDir, { seed: 82, seconds: 20, rps: 50, runId: 'cand' });
      // meta.json as a link to a file elsewhere: a plain fs.writeFile writes into that file.
      const outside = path.join(root, 'outside.json');
      fs.renameSync(path.join(candDir, 'meta.json'), outside);
      const before = fs.readFileSync(outside, 'utf8');
      fs.symlinkSync(outside, path.join(candDir, 'meta.json'));
      const r = await judgeBaseline(candDir, path.join(root, 'runs'), baseDir, { say: () => {} });
      expect(fs.readFileSync(outside, 'utf8')).toBe(before);
      expect(fs.lstatSync(path.join(candDir, 'meta.json')).isSymbolicLink()).toBe(false);
      expect(JSON.parse(fs.readFileSync(path.join(candDir, 'meta.json'), 'utf8')).baseline).toMatchObject({ runId: 'base', verdict: r.verdict });
      expect(fs.readdirSync(candDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('compare matches the target as asked, not its address', () => {
  it('the same name behind changing IPs compares (pass); a different host is inconclusive: different target', () => {
    const base = synthRun({ seed: 41, seconds: 20, rps: 50, meta: { target: 'https://shop.example.com', targetAddress: '203.0.113.5' } });
    const same = synthRun({ seed: 42, seconds: 20, rps: 50, meta: { target: 'https://shop.example.com', targetAddress: '203.0.113.77' } });
    expect(compareRuns(base, same).reasons.join('\n')).not.toContain('different target');
    const other = synthRun({ seed: 43, seconds: 20, rps: 50, meta: { target: 'https://staging.example.com', targetAddress: '203.0.113.5' } });
    const r = compareRuns(base, other);
    expect(r.verdict).toBe('inconclusive');
    expect(r.reasons).toContain('different target: base https://shop.example.com (203.0.113.5), candidate https://staging.example.com (203.0.113.5)');
    // The env's own target host by name, across two `up`s (new private IPs): comparable.
    const envA = synthRun({ seed: 44, seconds: 20, rps: 50, meta: { target: "the env's target target-1, port 8080", targetAddress: '10.0.2.10' } });
    const envB = synthRun({ seed: 45, seconds: 20, rps: 50, meta: { target: "the env's target target-1, port 8080", targetAddress: '10.0.2.99' } });
    expect(compareRuns(envA, envB).reasons.join('\n')).not.toContain('different target');
  });
});

describe('between-run noise', () => {
  const tol = { ...DEFAULT_TOLERANCES, maxP95Increase: 0.1 };
  // A candidate 25 % slower over a long run: the seconds alone call it a regression.
  const base = synthRun({ seed: 51, seconds: 60, rps: 200, runId: 'base', meta: { label: 'good' } });
  const cand = synthRun({ seed: 52, seconds: 60, rps: 200, runId: 'cand', scale: 1.25 });
  it('without repeated baselines the per-second test decides (regression, exit 3)', () => {
    expect(compareRuns(base, cand, tol).verdict).toBe('regression');
  });
  it('a change within the spread of the base label\'s repeated runs is not a regression (inconclusive, naming the noise); beyond it, it is', () => {
    const noisy = betweenRunNoise('good', [summaryOf(base, 20, 200), summaryOf(base, 26, 195), summaryOf(base, 22, 200)])!;
    expect(noisy.runs).toBe(3);
    expect(noisy.p95.get('Total')).toBeCloseTo(0.3, 6);
    const r = compareRuns(base, cand, tol, noisy);
    expect(r.verdict).toBe('inconclusive');
    expect(r.exitCode).toBe(4);
    expect(r.reasons.join('\n')).toMatch(/Total: p95 .* is beyond \+10\.0% but within the between-run noise of 3 kept runs labelled good \(their p95 spread \+30\.0%\)/);
    const quiet = betweenRunNoise('good', [summaryOf(base, 20, 200), summaryOf(base, 21, 200)])!;
    expect(compareRuns(base, cand, tol, quiet).verdict).toBe('regression');
    expect(betweenRunNoise('good', [summaryOf(base, 20, 200)])).toBeNull();
  });
});
