import { describe, expect, it } from 'vitest';
import { buildSummary, startSpread, statsCsv, summaryText } from '../../scripts/run/summary';
import { lineChart, reportHtml } from '../../scripts/run/report';
import { resolveLoad } from '../../scripts/run/load';
import { parseCsv } from '../../scripts/run/locust-csv';
import type { EndpointStats } from '../../scripts/run/merge';

const e = (name: string, o: Partial<EndpointStats> = {}): EndpointStats => ({
  name, requests: 100, failures: 1, rps: 10, min: 1, mean: 3, p50: 2, p90: 5, p95: 7, p99: 9, max: 12, ...o,
});

function summary(o: { interrupted?: boolean; bound?: boolean } = {}) {
  return buildSummary({
    runId: '20261125-142700-ab12', env: 'demo', engine: 'locust', script: 'locustfile.py',
    startedAtMs: Date.UTC(2026, 10, 25, 14, 27), endedAtMs: Date.UTC(2026, 10, 25, 14, 27, 10, 500),
    plan: resolveLoad({ users: 6, durationS: 10 }),
    stats: {
      total: e('Total', { requests: 300 }), endpoints: [e('GET /'), e('GET /<script>', { p95: 70 }), e('POST /a,"b"')],
      timeline: [{ t: 0, rps: 5, errorsPerS: 0, p50: 2, p95: 6 }, { t: 5, rps: 30, errorsPerS: 1, p50: 3, p95: 9 }], errors: {},
    },
    generators: [
      { name: 'agent-1', startedAtMs: 1000, rawFile: 'raw/agent-1.json' },
      { name: 'agent-2', startedAtMs: 1450, rawFile: null, collectionError: 'ssh: connection refused' },
      { name: 'agent-3', startedAtMs: 1200, rawFile: 'raw/agent-3.json' },
    ],
    interrupted: o.interrupted ?? false,
    saturation: [{ host: 'agent-3', role: 'agent', secondsAbove: o.bound ? 14 : 0, maxCpuPct: 99, busiestThread: 'locust', maxRunQueue: 2, maxTcpSockets: 10, bound: !!o.bound, ...(o.bound ? { reason: 'CPU above 85 % for 14 s' } : {}) }],
    network: [],
    thresholds: [{ expr: 'p95<1ms', endpoint: 'Total', metric: 'p95', ok: false, measured: 7, unit: 'ms' }],
    merge: 'Locust master (merged buckets)',
  });
}

describe('summary.json', () => {
  it('has the fields the issue asks for, the start spread and each generator’s offset', () => {
    const s = summary();
    expect(s.total).toMatchObject({ requests: 300, failures: 1, rps: 10, p50: 2, p90: 5, p95: 7, p99: 9 });
    expect(s.endpoints.map((x) => x.name)).toEqual(['GET /', 'GET /<script>', 'POST /a,"b"']);
    expect(s.startSpreadMs).toBe(450);
    expect(s.generators.map((g) => g.startOffsetMs)).toEqual([0, 450, 200]);
    expect(s.durationS).toBe(10.5);
    expect(s.collectionFailures).toEqual([{ host: 'agent-2', error: 'ssh: connection refused' }]);
    expect(s).toMatchObject({ interrupted: false, generatorBound: false, boundBy: [] });
  });
  it('is generator-bound when a host was saturated or a network allowance was exceeded, naming them', () => {
    expect(summary({ bound: true })).toMatchObject({ generatorBound: true, boundBy: ['agent-3: CPU above 85 % for 14 s'] });
  });
  it('start spread is null without any known start', () => {
    expect(startSpread([null, null])).toEqual({ spreadMs: null, offsets: [null, null] });
  });
});

describe('stats.csv and the printed summary', () => {
  it('one row per endpoint and a Total row, quoting names that need it', () => {
    const rows = parseCsv(statsCsv(summary()));
    expect(rows[0]).toEqual(['name', 'requests', 'failures', 'rps', 'min_ms', 'mean_ms', 'p50_ms', 'p90_ms', 'p95_ms', 'p99_ms', 'max_ms']);
    expect(rows.map((r) => r[0])).toEqual(['name', 'GET /', 'GET /<script>', 'POST /a,"b"', 'Total']);
    expect(rows[4]).toEqual(['Total', '300', '1', '10', '1', '3', '2', '5', '7', '9', '12']);
  });
  it('prints the totals, the spread, the verdicts and the folder', () => {
    const t = summaryText(summary({ interrupted: true, bound: true }), '/x/runs/r1');
    expect(t).toContain('run 20261125-142700-ab12 on demo (locust, 3 generators) — INTERRUPTED');
    expect(t).toContain('p95 7');
    expect(t).toContain('start spread across generators: 450 ms');
    expect(t).toContain('GENERATOR-BOUND (the load asked for was not the load made): agent-3: CPU above 85 % for 14 s');
    expect(t).toContain('collection FAILED on agent-2: ssh: connection refused');
    expect(t).toContain('/x/runs/r1');
  });
});

describe('report.html', () => {
  const html = reportHtml(summary({ interrupted: true, bound: true }));
  it('names the run and shows both charts and the endpoint table, escaped', () => {
    expect(html).toContain('<title>loadfleet run 20261125-142700-ab12 — demo</title>');
    expect(html).toContain('Latency over time');
    expect(html).toContain('Throughput over time');
    expect(html.match(/<polyline/g)).toHaveLength(4);
    expect(html).toContain('<td>GET /&lt;script&gt;</td>');
    expect(html).not.toContain('<script');
    expect(html).toContain('Interrupted');
    expect(html).toContain('Generator-bound');
    expect(html).toContain('✘ p95&lt;1ms');
  });
  it('is self-contained: nothing fetched', () => {
    expect(html).not.toMatch(/\b(src|href)=|@import|url\(/);
  });
  it('says so when there are no samples over time', () => {
    expect(lineChart('x', 'ms', [], [])).toContain('no samples');
  });
});

describe('report.html shows what the run did (issue 15 item 12)', () => {
  const pct = { 0: 1, 50: 2, 75: 4, 90: 5, 95: 7, 99: 9, 99.9: 40, 99.99: 80, 100: 120 };
  function artillery() {
    const s = summary();
    return {
      ...s, engine: 'artillery', load: { users: 300, rate: 6, durationS: 8, stages: [{ durationS: 8, target: 300 }] },
      total: { ...s.total, percentiles: pct },
      errors: { ECONNREFUSED: 12, 'GET /api: HTTPError 500': 3 },
      stopFailures: [{ host: 'agent-2', error: 'ssh: timed out' }],
      abortedBy: { expr: 'errors<5%:abort', atS: 3.2, measured: 9.1, unit: '%' },
    };
  }

  it('renders the errors by type and endpoint, the stop failures and the abort', () => {
    const html = reportHtml(artillery());
    expect(html).toContain('<table class="errors"><thead><tr><th>type</th><th>endpoint</th><th>count</th></tr></thead><tbody><tr><td>ECONNREFUSED</td><td>—</td><td>12</td></tr><tr><td>HTTPError 500</td><td>GET /api</td><td>3</td></tr></tbody></table>');
    expect(html).toContain('<p class="bad">Stop failed on agent-2 (it may still be sending): ssh: timed out</p>');
    expect(html).toContain('<p class="bad">Aborted by threshold errors&lt;5%:abort at 3.2 s (9.1% on the live figures)</p>');
  });

  it('shows the load the engine ran: Artillery\'s arrival phases per agent, not Locust-style users and stages', () => {
    const html = reportHtml(artillery());
    expect(html).toMatch(/<p>load: Artillery phases (on each of 3 agent\(s\)|agent 1)[^<]*arrivals\/s[^<]*— 8 s<\/p>/);
    expect(html).not.toContain('300 users');
    expect(reportHtml(summary())).toContain('<p>load: locust: 6 users');
  });

  it('draws latency by percentile on a log scale up to p99.99, max named beside it', () => {
    const html = reportHtml(artillery());
    expect(html.match(/<circle class="pct-point"/g)).toHaveLength(8); // p0 … p99.99 (p100 is the max label)
    expect(html).toContain('<title>p99.99 80 ms</title>');
    expect(html).toContain('· max 120 ms');
    for (const p of ['p90', 'p99', 'p99.9', 'p99.99']) expect(html).toContain(`>${p}</text>`);
    // Evenly spaced nines: p90 → p99 and p99 → p99.9 are the same width.
    const xs = ['p90', 'p99', 'p99.9'].map((p) => Number(new RegExp(`<text x="([\\d.]+)" y="\\d+" text-anchor="middle">${p.replace('.', '\\.')}</text>`).exec(html)![1]));
    expect(Math.abs((xs[1]! - xs[0]!) - (xs[2]! - xs[1]!))).toBeLessThan(0.2);
  });

  it('says no latency was measured instead of drawing zeros, and a mean-only engine (nGrinder) has no percentiles', () => {
    const none = summary();
    expect(reportHtml({ ...none, total: { ...none.total, min: null, mean: null, p50: null, p90: null, p95: null, p99: null, max: null } })).toContain('<figure class="pct"><figcaption>Latency by percentile</figcaption><p class="empty">no latency measured</p></figure>');
    expect(reportHtml(summary())).toContain('no percentiles: the engine gives a mean only (3 ms)');
  });
});
