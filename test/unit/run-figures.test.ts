/**
 * Figures that never lie (issue 15): no response is no latency (null, not 0), figures at the engine's
 * resolution, percentile thresholds on any p, `Total:` as the total, and the abort form judged on live figures.
 */
import { describe, expect, it } from 'vitest';
import { figures, newHistogram } from '../../scripts/run/histogram';
import { Merger, finish } from '../../scripts/run/merge';
import { abortingThreshold, describeBroken, evaluate, parseThreshold } from '../../scripts/run/thresholds';
import { parseLocustStats } from '../../scripts/run/locust-csv';
import { statsCsv, summaryText, type RunSummary } from '../../scripts/run/summary';
import { UsageError } from '../../scripts/core/errors';

/** A merger fed as the Artillery plugin feeds it against a dead target: 60 sent, no response, errors as a breakdown. */
function deadTarget(): Merger {
  const m = new Merger();
  m.recordNoResponse(60);
  m.recordError('ECONNREFUSED', 60);
  return m;
}

describe('no response is no latency', () => {
  it('an empty histogram has null figures, never 0', () => {
    expect(figures(newHistogram())).toEqual({ min: null, mean: null, p50: null, p90: null, p95: null, p99: null, max: null });
  });

  it('a run whose every request failed without a response has requests but null latencies', () => {
    const st = finish(deadTarget(), 10);
    expect(st.total.requests).toBe(60);
    expect(st.total.failures).toBe(60);
    expect([st.total.p50, st.total.p95, st.total.max, st.total.mean]).toEqual([null, null, null, null]);
  });

  it('fails when latency thresholds are judged against a dead target: broken, "no latency measured"', () => {
    const st = finish(deadTarget(), 10);
    const r = evaluate(['p95<500ms', 'max<1s', 'p99.9<1s', 'requests>=1'].map(parseThreshold), st);
    expect(r.map((x) => [x.ok, x.measured, x.missing])).toEqual([
      [false, null, 'no latency measured'],
      [false, null, 'no latency measured'],
      [false, null, 'no latency measured'],
      [true, 60, undefined],
    ]);
    expect(describeBroken(r[0]!)).toBe("threshold 'p95<500ms' broken: Total p95 — no latency measured (requests were made, none got a response)");
  });

  it('shows n/a in the text summary and an empty CSV field for a latency nothing measured', () => {
    const st = finish(deadTarget(), 10);
    expect(statsCsv({ total: st.total, endpoints: [] }).split('\n')[1]).toBe('Total,60,60,6,,,,,,,');
    const s = { runId: 'r', env: 'e', engine: 'artillery', generators: [], interrupted: false, total: st.total, endpoints: [], rpsWindow: { seconds: 10 }, durationS: 10, startSpreadMs: null, generatorBound: false, boundBy: [], collectionFailures: [], stopFailures: [] } as unknown as RunSummary;
    expect(summaryText(s, '/d')).toContain('latency ms: p50 n/a  p90 n/a  p95 n/a  p99 n/a  max n/a');
  });
});

describe('precision: figures at the resolution the engine measured', () => {
  it('whole-ms engines (Artillery, JMeter) never show a bucket edge (88.063) nor the 1 µs floor (0.001) as measured', () => {
    const m = new Merger();
    for (const [ms, n] of [[0, 3], [88, 50], [412, 40], [2500, 7]] as const) for (let i = 0; i < n; i++) m.recordSample('GET /', 1_700_000_000_000, ms, false);
    const whole = finish(m, 1, undefined, 1).total;
    expect(whole.min).toBe(0);
    expect(whole.p50).toBe(88);
    expect(whole.p90).toBe(412);
    expect(whole.max).toBe(2500);
    for (const v of Object.values(whole.percentiles!)) expect(Number.isInteger(v)).toBe(true);
    // The histogram's own view (1 µs resolution: k6's fractional ms) is the bucket's highest equivalent value.
    const fine = finish(m, 1).total;
    expect(fine.p50).toBe(88.063);
    expect(fine.min).toBe(0.001);
    // The summary keeps the merged histogram (any percentile later); a live tick does not pay for encoding it.
    expect(typeof whole.hdr).toBe('string');
    expect(finish(m, 1, undefined, 1, false).total).not.toHaveProperty('hdr');
  });
});

describe('any percentile, and Total by name', () => {
  const m = new Merger();
  for (let i = 1; i <= 10_000; i++) m.recordSample('GET /', 1_700_000_000_000, i <= 9_990 ? 10 : 900 + i - 9_990, false);
  const st = finish(m, 10, undefined, 1);

  it.each([
    ['p99.9<1s', { metric: 'p99.9', percentile: 99.9, value: 1000 }],
    ['p(99.99) < 2s', { metric: 'p99.99', percentile: 99.99, value: 2000 }],
    ['p75<=20ms', { metric: 'p75', percentile: 75, value: 20 }],
    ['p(95)<300ms', { metric: 'p95', value: 300 }],
    ['Total: p95<1s', { metric: 'p95', value: 1000 }],
    ['errors<5%:abort', { metric: 'errors', abort: { delayS: 0 } }],
    ['p95<500ms:abort=10s', { metric: 'p95', abort: { delayS: 10 } }],
  ])('parses %s', (expr, want) => expect(parseThreshold(expr)).toMatchObject(want));

  it('reads Total: as the total (the name the report and stats.csv show), not as an endpoint never requested', () => {
    expect(parseThreshold('Total: p95<1s').endpoint).toBeUndefined();
    const [r] = evaluate([parseThreshold('Total: p95<1s')], st);
    expect(r).toMatchObject({ ok: true, endpoint: 'Total', measured: 10 });
  });

  it('judges a percentile outside p50/p90/p95/p99 exactly from the merged histogram', () => {
    // 10 of 10,000 requests are slow (901 … 910 ms): p99.9 is the 9,990th value (10 ms), p99.95 the 9,995th (905 ms), p99.99 the 9,999th (909 ms).
    const r = evaluate(['p99.9<=10ms', 'p99.95<900ms', 'GET /: p99.99<909ms'].map(parseThreshold), st);
    expect(r.map((x) => [x.ok, x.measured])).toEqual([[true, 10], [false, 905], [false, 909]]);
  });

  it('uses Locust\'s own percentile columns, and says which percentiles Locust does not give', () => {
    const csv = 'Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%\n,Aggregated,1500,3,5,6.26,1.1,210,5,50,0.1,5,6,7,8,10,13,25,40,150,210,210\n';
    const loc = parseLocustStats(csv);
    const r = evaluate(['p99.9<100ms', 'p99.5<1s'].map(parseThreshold), loc);
    expect(r.map((x) => [x.ok, x.measured, x.missing])).toEqual([[false, 150, undefined], [false, null, 'not measured by the engine']]);
  });

  it('says "not collected", not "not measured by this engine", for a figure a partial summary lacks', () => {
    const partial = { total: { ...st.total, p95: null, percentiles: undefined, hdr: undefined }, endpoints: [] };
    const [r] = evaluate([parseThreshold('p95<1s')], partial, { partial: true });
    expect(r!.missing).toBe('not collected');
    expect(describeBroken(r!)).toContain('was not collected (the results are partial');
  });

  it.each([
    ['GET /: errors<5%:abort', 'aborts on an endpoint'],
    ['p90<1s:abort', 'aborts on p90, which is not watched live'],
    ['errors<5%:abort=soon', 'abort delay "soon"'],
    ['p0<1s', 'asks for percentile 0'],
  ])('fails when the threshold is %j', (expr, why) => {
    expect(() => parseThreshold(expr)).toThrow(UsageError);
    expect(() => parseThreshold(expr)).toThrow(why);
  });
});

describe('the abort form (k6 abortOnFail + delayAbortEval)', () => {
  const live = (requests: number, failures: number, p95: number | null = 5) => ({ requests, failures, p50: 1, p95, p99: 9 });
  const ts = ['errors<5%:abort=10s', 'p95<100ms:abort', 'p99<1ms'].map(parseThreshold);

  it('aborts on the first abort-form threshold already lost, once its delay has passed', () => {
    expect(abortingThreshold(ts, live(100, 50), 3)).toBeUndefined(); // errors lost, but within its 10 s delay
    expect(abortingThreshold(ts, live(100, 50), 10)).toMatchObject({ threshold: { expr: 'errors<5%:abort=10s' }, measured: 50 });
    expect(abortingThreshold(ts, live(100, 0, 250), 1)).toMatchObject({ threshold: { expr: 'p95<100ms:abort' }, measured: 250 });
  });

  it('never aborts on a threshold without :abort, nor on a figure not measured yet', () => {
    expect(abortingThreshold(ts, live(100, 0), 60)).toBeUndefined(); // p99 9 ms breaks p99<1ms, but it has no :abort
    expect(abortingThreshold(ts, live(0, 0, null), 60)).toBeUndefined();
  });
});

describe('messages that say what happened', () => {
  const base = { runId: 'r', env: 'e', engine: 'locust', generators: [], interrupted: true, endpoints: [], rpsWindow: { seconds: 0 }, durationS: 4.2, startSpreadMs: null, generatorBound: false, boundBy: [], collectionFailures: [], stopFailures: [] };
  const none = { name: 'Total', requests: 0, failures: 0, rps: 0, min: null, mean: null, p50: null, p90: null, p95: null, p99: null, max: null };

  it('an interrupt before the release says nothing was sent, not "(locust measures no percentiles)" nor "0 req/s"', () => {
    const text = summaryText({ ...base, released: false, total: none } as unknown as RunSummary, '/d');
    expect(text).toContain('nothing was sent: the run was interrupted before the load was released');
    expect(text).not.toContain('measures no percentiles');
    expect(text).not.toContain('req/s');
  });

  it('an engine with a mean and no distribution (nGrinder) still says it measures no percentiles', () => {
    const text = summaryText({ ...base, engine: 'ngrinder', interrupted: false, released: true, total: { ...none, requests: 5, mean: 12 } } as unknown as RunSummary, '/d');
    expect(text).toContain('latency ms: mean 12 (ngrinder measures no percentiles)');
  });

  it('an aborted run says which threshold stopped it', () => {
    const text = summaryText({ ...base, interrupted: false, released: true, total: none, abortedBy: { expr: 'errors<5%:abort', atS: 3.1, measured: 100, unit: '%' } } as unknown as RunSummary, '/d');
    expect(text.split('\n')[0]).toContain("ABORTED by threshold 'errors<5%:abort' at 3.1 s (100% on the live figures)");
  });
});
