import { describe, expect, it } from 'vitest';
import { finish, Merger } from '../../scripts/run/merge';
import { addEncoded, decode, encode, figures, newHistogram, recordMs } from '../../scripts/run/histogram';
import { parseCsv, parseLocustFailures, parseLocustLive, parseLocustStats } from '../../scripts/run/locust-csv';

/** Exact percentile over raw samples, same definition as HdrHistogram (smallest value with ≥ p% at or below). */
function exact(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** Deterministic pseudo-random numbers so the cases are the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function generator(samples: number[], t0 = 1_700_000_000_000): Merger {
  const m = new Merger();
  samples.forEach((ms, i) => m.recordSample('GET /', t0 + i, ms, false));
  return m;
}

describe('merging generators', () => {
  it('gives the percentiles of the union of all samples, within 0.1 %', () => {
    const r = rng(7);
    const per = [0, 1, 2].map((g) => Array.from({ length: 20_000 + g * 5_000 }, () => (g + 1) * 3 + r() ** 3 * 400 * (g + 1)));
    const merged = new Merger();
    per.forEach((s, i) => merged.addGenerator(generator(s).toHdr(`agent-${i + 1}`)));
    const all = per.flat().sort((a, b) => a - b);
    const st = finish(merged, 10);
    expect(st.total.requests).toBe(all.length);
    for (const [k, p] of [['p50', 50], ['p90', 90], ['p95', 95], ['p99', 99]] as const) {
      expect(Math.abs(st.total[k]! - exact(all, p)) / exact(all, p)).toBeLessThanOrEqual(0.001);
    }
    expect(st.total.max).toBeCloseTo(all.at(-1)!, 0);
    expect(merged.generators).toEqual(['agent-1', 'agent-2', 'agent-3']);
  });

  it('differs from the average of per-generator percentiles when the generators see different latencies', () => {
    // GIVEN one generator with 9,000 fast requests (~2 ms) and two with 500 slow ones (~200 ms) each
    const fast = Array.from({ length: 9000 }, (_, i) => 2 + (i % 10) / 10);
    const slow = Array.from({ length: 500 }, (_, i) => 200 + (i % 50));
    const gens = [generator(fast), generator(slow), generator(slow)];
    const merged = new Merger();
    gens.forEach((g, i) => merged.addGenerator(g.toHdr(String(i))));
    const truth = exact([...fast, ...slow, ...slow].sort((a, b) => a - b), 95);
    const averaged = gens.map((g) => finish(g, 1).total.p95!).reduce((a, b) => a + b, 0) / 3;
    const got = finish(merged, 1).total.p95!;
    // THEN merged p95 is the true one (a slow request: 10 % of all are slow), the average is far off
    expect(Math.abs(got - truth) / truth).toBeLessThanOrEqual(0.001);
    expect(truth).toBeGreaterThan(200);
    expect(Math.abs(averaged - truth) / truth).toBeGreaterThan(0.2);
  });

  it('sums counts and failures per endpoint and per time bucket, and keeps requests without a response', () => {
    const a = new Merger();
    a.recordSample('GET /a', 1_000_500, 5, false);
    a.recordSample('GET /a', 1_001_200, 7, true);
    a.recordNoResponse(3);
    a.recordError('ECONNREFUSED', 3);
    const b = new Merger();
    b.recordSample('GET /a', 1_000_100, 9, false);
    b.recordSample('POST /b', 1_001_900, 11, false);
    const m = new Merger();
    m.addGenerator(a.toHdr('a'));
    m.addGenerator(b.toHdr('b'));
    const st = finish(m, 2, 1000);
    expect(st.endpoints.map((e) => [e.name, e.requests, e.failures])).toEqual([['GET /a', 3, 1], ['POST /b', 1, 0]]);
    expect(st.total).toMatchObject({ requests: 7, failures: 4, rps: 3.5 });
    expect(st.errors).toEqual({ ECONNREFUSED: 3 });
    expect(st.timeline.map((p) => [p.t, p.rps, p.errorsPerS])).toEqual([[0, 2, 0], [1, 2, 1]]);
  });

  it('counts errors by kind as a breakdown only: a failed capture adds no request and no failure', () => {
    // GIVEN Artillery's case: 60 responses (200) whose capture failed — errors.Failed capture or match = 60
    const g = new Merger();
    for (let i = 0; i < 60; i++) g.recordSample('GET /x', 1_000_000 + i * 100, 3, false);
    g.recordError('Failed capture or match', 60);
    const m = new Merger();
    m.addGenerator(g.toHdr('agent-1'));
    const st = finish(m, 10, 1000);
    // THEN the requests are the 60 sent, none failed, and the errors are listed
    expect(st.total).toMatchObject({ requests: 60, failures: 0, rps: 6 });
    expect(st.errors).toEqual({ 'Failed capture or match': 60 });
  });

  it('keeps the histogram size independent of the sample count', () => {
    const h1 = newHistogram();
    const h2 = newHistogram();
    const r = rng(3);
    for (let i = 0; i < 20_000; i++) recordMs(h1, 1 + r() * 100);
    for (let i = 0; i < 200_000; i++) recordMs(h2, 1 + r() * 100);
    // Same value range → the same memory, whatever the count (bounded by the buckets).
    expect(h2.estimatedFootprintInBytes).toBe(h1.estimatedFootprintInBytes);
    expect(decode(encode(h2)).totalCount).toBe(200_000);
  });

  it('adds an encoded histogram exactly as decode + add does, without decoding it (same layout, other layout, empty)', () => {
    const r = rng(11);
    for (const [digits, srcDigits] of [[2, 2], [3, 3], [2, 3]] as const) {
      const viaDecode = newHistogram(digits);
      const direct = newHistogram(digits);
      for (let g = 0; g < 4; g++) {
        const src = newHistogram(srcDigits);
        // Values from 1 µs up to 3,000 s (counts above 127 and runs of empty buckets in the payload), one of them empty.
        if (g !== 2) for (let i = 0; i < 5_000; i++) recordMs(src, r() < 0.01 ? r() * 3_000_000 : 0.001 + r() ** 4 * 900, 1 + Math.floor(r() * 300));
        viaDecode.add(decode(encode(src)));
        addEncoded(direct, encode(src));
      }
      expect(direct.totalCount).toBe(viaDecode.totalCount);
      expect(figures(direct)).toEqual(figures(viaDecode));
      for (const p of [0.1, 1, 25, 50, 75, 90, 99, 99.9, 99.99]) expect(direct.getValueAtPercentile(p)).toBe(viaDecode.getValueAtPercentile(p));
    }
  });

  it('fails when an encoded histogram is not one', () => {
    expect(() => addEncoded(newHistogram(), Buffer.from('not a histogram at all').toString('base64'))).toThrow('not a compressed HdrHistogram');
  });

  it('fails when a generator document has an unknown format', () => {
    expect(() => new Merger().addGenerator({ format: 'x' } as never)).toThrow('unknown raw format');
  });
});

// Columns exactly as Locust 2.12 writes them (locust/stats.py StatsCSV.requests_csv_columns).
const STATS = `Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
GET,/,1200,3,4,5.2,1.1,120,615,40.0,0.1,4,5,6,6,8,11,20,35,110,120,120
GET,"/a,b",300,0,9,10.5,2,210,12,10.0,0.0,9,10,11,12,15,19,40,80,210,210,210
,Aggregated,1500,3,5,6.26,1.1,210,494.4,50.0,0.1,5,6,7,8,10,13,25,40,150,210,210
`;
const HISTORY = `Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size
1700000000,0,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0.0,0,0,0
1700000010,10,,Aggregated,48.5,0.1,5,6,7,8,10,13,25,40,150,210,210,480,1,5,6.1,1.1,200,494
`;

describe('Locust results', () => {
  it('reads the master’s merged stats: endpoints by "METHOD name", Aggregated as the total', () => {
    const st = parseLocustStats(STATS, HISTORY, 1_700_000_000);
    expect(st.total).toEqual({
      name: 'Total', requests: 1500, failures: 3, rps: 50, min: 1.1, mean: 6.26, p50: 5, p90: 10, p95: 13, p99: 40, max: 210,
      // Locust's own percentile columns, for p99.9 thresholds and the latency-by-percentile chart
      percentiles: { 0: 1.1, 50: 5, 66: 6, 75: 7, 80: 8, 90: 10, 95: 13, 98: 25, 99: 40, 99.9: 150, 99.99: 210, 100: 210 },
    });
    expect(st.endpoints.map((e) => [e.name, e.requests, e.p95])).toEqual([['GET /', 1200, 11], ['GET /a,b', 300, 19]]);
    expect(st.timeline).toEqual([
      { t: 0, rps: 0, errorsPerS: 0, p50: 0, p95: 0, users: 0 },
      { t: 10, rps: 48.5, errorsPerS: 0.1, p50: 5, p95: 13, users: 10 },
    ]);
  });
  it('fails when the CSV is not Locust’s', () => {
    expect(() => parseLocustStats('a,b\n1,2\n')).toThrow('not a Locust stats CSV');
    expect(() => parseLocustStats(STATS.split('\n').slice(0, 3).join('\n'))).toThrow('no Aggregated row');
  });
  it('reads failures and the live /stats/requests document', () => {
    expect(parseLocustFailures('Method,Name,Error,Occurrences\nGET,/,"HTTPError(\'500 Server Error\')",3\n')).toEqual({ "GET /: HTTPError('500 Server Error')": 3 });
    const live = parseLocustLive({
      state: 'running', user_count: 12, total_rps: 41.25, fail_ratio: 0.01, current_response_time_percentile_95: 17, current_response_time_percentile_50: 4,
      stats: [{ name: '/', num_requests: 10, num_failures: 0 }, { name: 'Aggregated', num_requests: 99, num_failures: 1 }],
      workers: [{ id: 'w1', state: 'running', user_count: 4, cpu_usage: 12.5 }],
    });
    expect(live).toEqual({ state: 'running', users: 12, rps: 41.25, failRatio: 0.01, p50: 4, p95: 17, requests: 99, failures: 1, workers: [{ id: 'w1', state: 'running', users: 4, cpu: 12.5 }] });
  });
  it('parses quoted CSV fields with commas, quotes and newlines', () => {
    expect(parseCsv('a,"b,c","d""e","f\ng"\r\n1,2,3,4')).toEqual([['a', 'b,c', 'd"e', 'f\ng'], ['1', '2', '3', '4']]);
  });
});
