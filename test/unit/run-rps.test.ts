import { describe, expect, it } from 'vitest';
import { buildSummary, rpsOver, rpsWindowOf, statsCsv, summaryText } from '../../scripts/run/summary';
import { locustRpsSeconds } from '../../scripts/run/locust-csv';
import { reportHtml } from '../../scripts/run/report';
import { resolveLoad } from '../../scripts/run/load';
import type { EndpointStats, MergedStats } from '../../scripts/run/merge';

const e = (name: string, requests: number, rps = 0): EndpointStats => ({ name, requests, failures: 0, rps, min: 1, mean: 2, p50: 2, p90: 3, p95: 4, p99: 5, max: 6 });
const stats = (): MergedStats => ({ total: e('Total', 1500, 75.8), endpoints: [e('GET /', 1000, 50.5), e('GET /api', 500, 25.3)], timeline: [], errors: {} });
const T0 = Date.UTC(2026, 10, 25, 17, 0);

describe('rps over the time load was really sent', () => {
  it('GIVEN a 15 s send window inside a 19.8 s run WHEN rps is recomputed THEN every rps is requests ÷ 15 s, not ÷ 19.8 s', () => {
    const w = rpsWindowOf({ fromMs: T0 + 400, toMs: T0 + 15_400, basis: 'first request → last response' }, T0, T0 + 19_800);
    expect(w.seconds).toBe(15);
    const s = rpsOver(stats(), w.seconds);
    expect(s.total.rps).toBe(100);
    expect(s.endpoints.map((x) => x.rps)).toEqual([66.667, 33.333]);
    expect(s.total.requests).toBe(1500); // nothing else changes
  });
  it('falls back to the release → stop wall time when the engine reported no window (or an empty one), saying so', () => {
    expect(rpsWindowOf(undefined, T0, T0 + 19_800)).toMatchObject({ seconds: 19.8, basis: expect.stringContaining('wall time from the release to the stop') });
    expect(rpsWindowOf({ fromMs: T0, toMs: T0, basis: 'x' }, T0, T0 + 2000).seconds).toBe(2);
  });
  it('gives 0 rps for an empty window instead of dividing by zero', () => {
    expect(rpsOver(stats(), 0).total.rps).toBe(0);
  });
  it('summary.json carries the window and the printed summary says what rps divides by', () => {
    const w = rpsWindowOf({ fromMs: T0 + 400, toMs: T0 + 15_400, basis: 'Artillery: first request → last response' }, T0, T0 + 19_800);
    const s = buildSummary({
      runId: 'r1', env: 'demo', engine: 'artillery', script: 's.yml', startedAtMs: T0, endedAtMs: T0 + 19_800, plan: resolveLoad({ users: 5, durationS: 15 }),
      stats: rpsOver(stats(), w.seconds), generators: [], interrupted: false, saturation: [], network: [], thresholds: [], merge: 'hdr', rpsWindow: w,
    });
    expect(s.rpsWindow).toEqual({ from: '2026-11-25T17:00:00.400Z', to: '2026-11-25T17:00:15.400Z', seconds: 15, basis: 'Artillery: first request → last response' });
    expect(s.durationS).toBe(19.8);
    expect(summaryText(s, '/x')).toContain('requests 1500, failures 0, 100 req/s over the 15 s load was sent (run took 19.8 s)');
    expect(reportHtml(s)).toContain('<p>rps = requests ÷ 15 s, the time load was sent: Artillery: first request → last response</p>');
  });
});

describe('locustRpsSeconds (Locust: requests ÷ (last request − stats start), locust/stats.py total_rps)', () => {
  // Columns as Locust 2.12.1 writes /stats/requests/csv (stats.py requests_csv), Requests/s unrounded.
  const csv = (count: number, rps: string) => `Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%
GET,/,${count},0,2,2.1,1,9,42,${rps},0.0,2,2,2,2,3,4,5,6,9,9,9
,Aggregated,${count},0,2,2.1,1,9,42,${rps},0.0,2,2,2,2,3,4,5,6,9,9,9
`;
  it('reads back the seconds Locust divided by', () => {
    expect(locustRpsSeconds(csv(1432, String(1432 / 14.73)))).toBeCloseTo(14.73, 9);
  });
  it('is null without requests', () => {
    expect(locustRpsSeconds(csv(0, '0.0'))).toBeNull();
  });
});

describe('locustPartialStats (the master stopped answering: its last GET /stats/requests, locust/web.py request_stats)', () => {
  // The fields Locust 2.12.1's /stats/requests gives per entry; the total is the entry named "Aggregated" with no method.
  const live = {
    stats: [
      { method: 'GET', name: '/', num_requests: 90, num_failures: 1, avg_response_time: 2.5, min_response_time: 1, max_response_time: 40, median_response_time: 2, ninetieth_response_time: 4, ninety_ninth_response_time: 30 },
      { method: 'GET', name: '/api/items', num_requests: 10, num_failures: 0, avg_response_time: 3, min_response_time: 2, max_response_time: 9, median_response_time: 3, ninetieth_response_time: 5, ninety_ninth_response_time: 9 },
      { method: '', name: 'Aggregated', num_requests: 100, num_failures: 1, avg_response_time: 2.55, min_response_time: 1, max_response_time: 40, median_response_time: 2, ninetieth_response_time: 4, ninety_ninth_response_time: 30 },
    ],
  };
  it('keeps the cumulative counts and percentiles it has, and p95 unknown (null), never a guess', async () => {
    const { locustPartialStats } = await import('../../scripts/run/locust-csv');
    const s = locustPartialStats(live);
    expect(s.total).toMatchObject({ name: 'Total', requests: 100, failures: 1, p50: 2, p90: 4, p99: 30, max: 40, rps: 0 });
    expect(s.endpoints.map((e) => [e.name, e.requests])).toEqual([['GET /', 90], ['GET /api/items', 10]]);
    expect(s.total.p95).toBeNull();
    expect(JSON.parse(JSON.stringify(s.total)).p95).toBeNull();
    const sum = buildSummary({
      runId: 'r2', env: 'demo', engine: 'locust', script: 'l.py', startedAtMs: T0, endedAtMs: T0 + 5000, plan: resolveLoad({ users: 2, durationS: 5 }),
      stats: s, generators: [], interrupted: false, saturation: [], network: [], thresholds: [], merge: 'PARTIAL', hostFailures: [{ host: 'controller', error: 'the master stopped answering' }],
    });
    expect(sum.collectionFailures).toEqual([{ host: 'controller', error: 'the master stopped answering' }]);
    expect(summaryText(sum, '/x')).toContain('p95 n/a');
    expect(statsCsv(sum).split('\n').at(-2)).toBe('Total,100,1,0,1,2.55,2,4,,30,40');
  });
  it('sums the endpoints when there is no Aggregated entry, and is empty without any answer', async () => {
    const { locustPartialStats } = await import('../../scripts/run/locust-csv');
    expect(locustPartialStats({ stats: live.stats.slice(0, 2) }).total).toMatchObject({ requests: 100, failures: 1 });
    expect(locustPartialStats({}).total.requests).toBe(0);
  });
});
