/**
 * Locust's own merged results, read into the common model. The master adds the workers' bucketed
 * response-time counts (StatsEntry.extend), so the percentiles in its CSVs are merged ones; nothing here
 * recomputes them. Accuracy is Locust's: exact below 100 ms, 10 ms steps below 1 s, 100 ms below 10 s.
 */
import { orderedFigures, orderedLadder } from './histogram';
import type { EndpointStats, MergedStats, TimelinePoint } from './merge';

/** RFC 4180 CSV (quotes, doubled quotes, commas and newlines inside quotes). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

function records(text: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(text);
  if (!header) return [];
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}

const num = (v: string | undefined): number => {
  const n = Number(v);
  return v === undefined || v === '' || v === 'N/A' || !Number.isFinite(n) ? 0 : n;
};
const r3 = (x: number) => Math.round(x * 1000) / 1000;
/** A latency: null where Locust writes N/A (nothing measured), never 0. */
const lat = (v: string | undefined): number | null => (v === undefined || v === '' || v === 'N/A' || !Number.isFinite(Number(v)) ? null : r3(Number(v)));

function entry(name: string, r: Record<string, string>): EndpointStats {
  // Locust's own percentile columns (50%, 66%, … 99.99%, 100%; locust/stats.py PERCENTILES_TO_REPORT), for
  // percentile thresholds (p99.9) and the report's latency-by-percentile chart; 0 = its min.
  const percentiles: Record<string, number> = {};
  for (const [k, v] of Object.entries(r)) {
    const m = /^(\d+(?:\.\d+)?)%$/.exec(k);
    const x = lat(v);
    if (m && x !== null) percentiles[String(Number(m[1]))] = x;
  }
  const min = lat(r['Min Response Time']);
  const max = lat(r['Max Response Time']);
  if (min !== null && Object.keys(percentiles).length) percentiles['0'] = min;
  // Locust rounds its percentiles to its buckets (2 significant digits above 100 ms) and keeps min/max exact:
  // p99 150 over a max of 147 is clamped to 147 (orderedFigures).
  return orderedFigures({
    name,
    requests: num(r['Request Count']),
    failures: num(r['Failure Count']),
    rps: r3(num(r['Requests/s'])),
    min,
    mean: lat(r['Average Response Time']),
    p50: lat(r['50%']),
    p90: lat(r['90%']),
    p95: lat(r['95%']),
    p99: lat(r['99%']),
    max,
    ...(Object.keys(percentiles).length ? { percentiles: orderedLadder({ ...percentiles, ...(max !== null ? { 100: max } : {}) }) } : {}),
  });
}

export class LocustCsvError extends Error {}

/**
 * Seconds Locust's master measured its Requests/s over: Locust computes it as requests ÷ (last request −
 * the stats' start), the start being the stats cleared when the swarm began (locust/stats.py total_rps,
 * runners.py MasterRunner.start → clear_all; StatsEntry.extend keeps the earliest start and the latest
 * request across workers). Read back from the Aggregated row (requests ÷ Requests/s, unrounded); null when
 * there were no requests.
 */
export function locustRpsSeconds(statsCsv: string): number | null {
  const agg = records(statsCsv).find((r) => r.Name === 'Aggregated' && r.Type === '');
  const n = num(agg?.['Request Count']);
  const rps = num(agg?.['Requests/s']);
  return n > 0 && rps > 0 ? n / rps : null;
}

/**
 * `/stats/requests/csv` (= `--csv` _stats.csv) → total + endpoints ("GET /path"); the Aggregated row is
 * the total. `history` (_stats_history.csv, optional) → timeline relative to `startEpochS`.
 */
export function parseLocustStats(statsCsv: string, historyCsv?: string, startEpochS?: number): MergedStats {
  const rows = records(statsCsv);
  if (rows.length === 0 || !('Request Count' in rows[0]!)) throw new LocustCsvError('not a Locust stats CSV (no "Request Count" column)');
  const agg = rows.find((r) => r.Name === 'Aggregated' && r.Type === '');
  if (!agg) throw new LocustCsvError('Locust stats CSV has no Aggregated row');
  const endpoints = rows.filter((r) => r !== agg).map((r) => entry(`${r.Type} ${r.Name}`.trim(), r));
  let timeline: TimelinePoint[] = [];
  if (historyCsv) {
    const hist = records(historyCsv).filter((r) => r.Name === 'Aggregated');
    const t0 = startEpochS ?? (hist.length ? num(hist[0]!.Timestamp) : 0);
    timeline = hist.map((r) => ({
      t: num(r.Timestamp) - t0,
      rps: r3(num(r['Requests/s'])),
      errorsPerS: r3(num(r['Failures/s'])),
      p50: num(r['50%']),
      p95: num(r['95%']),
      users: num(r['User Count']),
    }));
  }
  return { total: entry('Total', agg), endpoints, timeline, errors: {} };
}

/** `/stats/failures/csv` → "Method Name: Error" → occurrences. */
export function parseLocustFailures(csv: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records(csv)) out[`${r.Method} ${r.Name}: ${r.Error}`] = num(r.Occurrences);
  return out;
}

/** The live numbers of GET /stats/requests that progress and the timeline need. */
export interface LocustLive {
  readonly state: string;
  readonly users: number;
  readonly rps: number;
  readonly failRatio: number;
  /** null: nothing measured in Locust's window (no response yet). */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly requests: number;
  readonly failures: number;
  readonly workers: readonly { id: string; state: string; users: number; cpu: number }[];
}

export function parseLocustLive(json: unknown): LocustLive {
  const j = json as {
    state?: string; user_count?: number; total_rps?: number; fail_ratio?: number;
    current_response_time_percentile_50?: number | null; current_response_time_percentile_95?: number | null;
    stats?: { name: string; num_requests: number; num_failures: number }[];
    workers?: { id: string; state: string; user_count: number; cpu_usage: number }[];
  };
  const total = j.stats?.find((s) => s.name === 'Aggregated');
  return {
    state: j.state ?? 'unknown',
    users: j.user_count ?? 0,
    rps: r3(j.total_rps ?? 0),
    failRatio: j.fail_ratio ?? 0,
    p50: j.current_response_time_percentile_50 ?? null,
    p95: j.current_response_time_percentile_95 ?? null,
    requests: total?.num_requests ?? 0,
    failures: total?.num_failures ?? 0,
    workers: (j.workers ?? []).map((w) => ({ id: w.id, state: w.state, users: w.user_count, cpu: w.cpu_usage })),
  };
}

/**
 * Stats from the master's last GET /stats/requests answer, for a run whose master stopped answering before
 * its CSV could be pulled (a partial summary). Cumulative per endpoint: count, failures, min, mean, median,
 * 90th and 99th percentiles, max (locust/web.py request_stats). That answer holds no cumulative 95th
 * percentile: p95 is null (n/a in the output), never a guess. rps is left 0 (run recomputes it).
 */
export function locustPartialStats(json: unknown): MergedStats {
  const opt = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? r3(x) : null);
  const j = json as { stats?: { method?: string | null; name: string; num_requests?: number; num_failures?: number; avg_response_time?: number; min_response_time?: number; max_response_time?: number; median_response_time?: number; ninetieth_response_time?: number; ninety_ninth_response_time?: number }[] };
  const one = (name: string, s: NonNullable<typeof j.stats>[number]): EndpointStats => ({
    name,
    requests: s.num_requests ?? 0,
    failures: s.num_failures ?? 0,
    rps: 0,
    // null where the answer has no figure (nothing measured yet), never 0.
    min: opt(s.min_response_time),
    mean: opt(s.avg_response_time),
    p50: opt(s.median_response_time),
    p90: opt(s.ninetieth_response_time),
    p95: null,
    p99: opt(s.ninety_ninth_response_time),
    max: opt(s.max_response_time),
  });
  const stats = j.stats ?? [];
  const agg = stats.find((s) => s.name === 'Aggregated' && !s.method);
  const endpoints = stats.filter((s) => s !== agg).map((s) => one(`${s.method ?? ''} ${s.name}`.trim(), s));
  const total = agg ? one('Total', agg) : one('Total', { name: 'Total', num_requests: endpoints.reduce((a, e) => a + e.requests, 0), num_failures: endpoints.reduce((a, e) => a + e.failures, 0) });
  return { total, endpoints, timeline: [], errors: {} };
}
