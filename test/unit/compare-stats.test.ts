/**
 * compare's statistics on synthetic histograms (log-normal latencies, per-second HdrHistograms written and read
 * as run keeps them): the stated false-alarm rate on equal distributions, a 10 % p95 shift found with enough
 * samples and inconclusive with too few; the hlog reader against hdr-histogram-js's own.
 */
import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { histFiles, readHlog, readSeries } from '../../scripts/compare/hlog';
import { mannWhitneyGreater, mulberry32, normalUpper, proportionGreater } from '../../scripts/compare/stats';
import { compareRuns, DEFAULT_TOLERANCES } from '../../scripts/compare/verdict';
import { synthRun } from '../harness/synthetic-runs';

describe('the rank test', () => {
  it('normal tail matches known values', () => {
    expect(normalUpper(0)).toBeCloseTo(0.5, 6);
    expect(normalUpper(1.6449)).toBeCloseTo(0.05, 4);
    expect(normalUpper(-1.96)).toBeCloseTo(0.975, 4);
  });
  it('Mann–Whitney: p small when y is clearly larger, ≈ uniform under H0 (rate of p<0.05 ≈ 5 %)', () => {
    expect(mannWhitneyGreater([1, 2, 3, 4, 5, 6, 7, 8], [11, 12, 13, 14, 15, 16, 17, 18]).p).toBeLessThan(0.001);
    expect(mannWhitneyGreater([11, 12, 13, 14, 15], [1, 2, 3, 4, 5]).p).toBeGreaterThan(0.99);
    const rnd = mulberry32(7);
    let hits = 0;
    const trials = 2000;
    for (let t = 0; t < trials; t++) {
      const x = Array.from({ length: 20 }, () => rnd());
      const y = Array.from({ length: 30 }, () => rnd());
      if (mannWhitneyGreater(x, y).p < 0.05) hits++;
    }
    // Binomial(2000, 0.05): mean 100, sd ≈ 9.7.
    expect(hits).toBeGreaterThan(65);
    expect(hits).toBeLessThan(135);
  });
});

describe('hlog kept per second', () => {
  it('is read back by hdr-histogram-js HistogramLogReader, and the fast reader gives its percentiles exactly', () => {
    const rnd = mulberry32(3);
    const secs = new Map<number, { count: number; failures: number; us: Map<number, number> }>();
    for (let s = 0; s < 5; s++) {
      const us = new Map<number, number>();
      for (let i = 0; i < 300; i++) {
        const v = Math.round(1000 + rnd() * rnd() * 2_000_000);
        us.set(v, (us.get(v) ?? 0) + 1);
      }
      secs.set(1_700_000_000 + s, { count: 300, failures: 1, us });
    }
    const { files, index } = histFiles(1_700_000_000_000, new Map([['GET /a', secs]]), 'test');
    expect(index.endpoints).toEqual([{ name: 'GET /a', file: 'e01.hlog', requests: 1500, failures: 5, perSecond: true }]);
    const text = files.get('e01.hlog')!;
    expect(text).toContain('#[StartTime: 1700000000');
    const reader = new hdr.HistogramLogReader(text);
    const fast = readHlog(text);
    expect(fast.count).toEqual([300, 300, 300, 300, 300]);
    for (let i = 0; i < 5; i++) {
      const h = reader.nextIntervalHistogram()!;
      expect(h.totalCount).toBe(300);
      expect(fast.p95[i]).toBe(h.getValueAtPercentile(95) / 1000);
      expect(fast.p50[i]).toBe(h.getValueAtPercentile(50) / 1000);
      expect(fast.p99[i]).toBe(h.getValueAtPercentile(99) / 1000);
    }
    expect(reader.nextIntervalHistogram()).toBeNull();
    expect(fast.whole.totalCount).toBe(1500);
    expect(readHlog(files.get('total.hlog')!).whole.getValueAtPercentile(95)).toBe(fast.whole.getValueAtPercentile(95));
    // series.json (what compare reads) is what the logs give.
    const cached = readSeries(files.get('series.json')!)!;
    const fromLog = (x: ReturnType<typeof readHlog>) => ({ startS: x.startS, count: x.count, p50: x.p50, p95: x.p95, p99: x.p99, n: x.whole.totalCount, max: x.whole.maxValue });
    expect(fromLog(cached.endpoints.get('GET /a')!)).toEqual(fromLog(fast));
    expect(fromLog(cached.total)).toEqual(fromLog(readHlog(files.get('total.hlog')!)));
  });
});

describe('the error-rate test on small counts', () => {
  it('one failed request against a clean base is no evidence (the plain Wald test said p = 0)', () => {
    expect(proportionGreater(0, 3, 1, 1, 0.005)).toBeGreaterThan(0.05);
    expect(proportionGreater(0, 3, 2, 3, 0.005)).toBeGreaterThan(0.01);
  });
  it('a large, well-sampled rise is found', () => {
    expect(proportionGreater(10, 10_000, 300, 10_000, 0.005)).toBeLessThan(1e-6);
  });
});

describe('verdicts on synthetic runs', () => {
  it('equal distributions of different sizes: regressions at most at the stated alpha (tolerance 0, so only the test guards)', () => {
    const tol = { ...DEFAULT_TOLERANCES, maxP95Increase: 0, maxRpsDrop: 1, maxErrorIncreasePp: 100 };
    let regressions = 0;
    let passes = 0;
    const trials = 40;
    for (let t = 0; t < trials; t++) {
      const base = synthRun({ seed: 1000 + t, seconds: 20, rps: 100 });
      const cand = synthRun({ seed: 5000 + t, seconds: 45, rps: 100 });
      const r = compareRuns(base, cand, tol);
      if (r.verdict === 'regression') regressions++;
      if (r.verdict === 'pass') passes++;
    }
    // alpha 0.05 over 6 tests per comparison (p95, rps, errors of the endpoint and the total): the p95 of the
    // endpoint and of the total each false-alarm at ≤ 0.05/6, together ≤ 1.7 % — 40 trials: P(≥ 4) < 1 %.
    expect(regressions).toBeLessThanOrEqual(3);
    // With the default tolerance every one of them passes outright.
    expect(compareRuns(synthRun({ seed: 1, seconds: 30, rps: 100 }), synthRun({ seed: 2, seconds: 60, rps: 100 })).verdict).toBe('pass');
    // Most of them pass (the rest are inconclusive: beyond the zero tolerance, not supported by the test).
    expect(passes).toBeGreaterThan(trials / 2);
  }, 60_000);

  it('a 10 % shift in p95 with enough samples is a regression naming the endpoint and figure (tolerance 5 %)', () => {
    const tol = { ...DEFAULT_TOLERANCES, maxP95Increase: 0.05 };
    const base = synthRun({ seed: 11, seconds: 60, rps: 200, endpoints: 2 });
    const cand = synthRun({ seed: 12, seconds: 60, rps: 200, endpoints: 2, scale: 1.1 });
    const r = compareRuns(base, cand, tol);
    expect(r.verdict).toBe('regression');
    expect(r.exitCode).toBe(3);
    expect(r.reasons.join('\n')).toMatch(/GET \/e[01]: p95 [\d.]+ ms → [\d.]+ ms \(\+\d+\.\d%\), beyond \+5\.0%; supported by the per-second p95s \(p=/);
    const c = r.checks.find((x) => x.endpoint === 'Total' && x.figure === 'p95')!;
    // The whole-run p95 of 12,000 log-normal samples has a ~3 % standard error: the shift is seen as 10 ± 6 %.
    expect(c.change).toBeGreaterThan(0.05);
    expect(c.change).toBeLessThan(0.16);
  });

  it('the same shift with too few samples is inconclusive, saying why', () => {
    const tol = { ...DEFAULT_TOLERANCES, maxP95Increase: 0.05 };
    // Enough seconds but few requests per second: the per-second p95s are too noisy to tell.
    const base = synthRun({ seed: 21, seconds: 6, rps: 20 });
    const cand = synthRun({ seed: 22, seconds: 6, rps: 20, scale: 1.1 });
    const r = compareRuns(base, cand, tol);
    expect(r.verdict).toBe('inconclusive');
    expect(r.exitCode).toBe(4);
    expect(r.reasons.join('\n')).toMatch(/within the run-to-run noise|too few samples/);
    // Fewer seconds than the comparison needs: says the counts.
    const r2 = compareRuns(synthRun({ seed: 23, seconds: 3, rps: 200 }), synthRun({ seed: 24, seconds: 3, rps: 200, scale: 1.1 }), tol);
    expect(r2.verdict).toBe('inconclusive');
    expect(r2.reasons.join('\n')).toContain('too few samples in the base run (3 s with requests, 600 requests; the comparison needs ≥ 5 s and ≥ 100 requests)');
  });

  it('runs that differ or were interrupted are inconclusive naming the difference', () => {
    const base = synthRun({ seed: 31, seconds: 20, rps: 50 });
    const r = compareRuns(base, synthRun({ seed: 32, seconds: 20, rps: 50, summary: { engine: 'artillery', interrupted: true }, meta: { agents: { count: 3, instanceType: 'c5.large' } } }));
    expect(r.verdict).toBe('inconclusive');
    expect(r.reasons).toEqual(expect.arrayContaining(['different engine: base locust, candidate artillery', 'different agent count: base 1, candidate 3', 'candidate run synthetic was interrupted']));
  });
});
