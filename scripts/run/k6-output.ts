/**
 * k6's own output formats, read by the k6 run driver (scripts/drivers/k6.ts). Pure: lines and JSON in,
 * numbers out.
 *
 * - `--out json=F` writes NDJSON (k6 docs, "Results output › JSON"): `{"type":"Metric",…}` declarations and
 *   one `{"type":"Point","metric":NAME,"data":{"time":RFC3339,"value":V,"tags":{…}}}` per sample, times in ms.
 *   Every HTTP request is one trail (k6 lib/netext/httpext/tracer.go `Trail.SaveSamples`): http_reqs,
 *   http_req_duration, the timing parts, then (transport.go, when a response callback is set, the default)
 *   http_req_failed with value 1 when the response was not the expected one — all with the same tags and the
 *   same time (the request's end), written one after the other. The default callback expects 2xx/3xx and also
 *   tags every sample `expected_response:"true"|"false"`.
 * - The REST API (`--address`), k6 docs "k6 REST API": GET /v1/status → `{"data":{"attributes":{"status":N,
 *   "paused":…,"vus":…,"stopped":…,"running":…}}}` (status 4 = paused before the run, 9 ended, 10 interrupted);
 *   GET /v1/metrics → `{"data":[{"id":"http_reqs","attributes":{"type":"counter","sample":{"count":…}}},…]}`.
 *
 * Everything here follows those documented shapes; none of it has been run against a real k6 on this
 * machine (k6 is not obtainable here), see the README's k6 section.
 */
import type { Merger } from './merge';

// ---- raw points (--out json) → the merger ----

/** The agent filters its points file with this (grep -E) so only what the merge needs is transferred. */
export const K6_POINT_FILTER = '"metric":"http_req_(duration|failed)"';

interface K6Line {
  type?: string;
  metric?: string;
  data?: { time?: string; value?: number; tags?: Record<string, string> | null };
}

/** The endpoint a request belongs to: "METHOD name" (k6's `name` tag defaults to the URL), as Artillery's are named. */
export function k6Endpoint(tags: Readonly<Record<string, string>> | null | undefined): string {
  const t = tags ?? {};
  return `${t.method ?? 'GET'} ${t.name || t.url || '?'}`;
}

/** Without an http_req_failed point: the expected_response tag when k6 wrote it, else the status (0 = no response). */
function failedByTags(tags: Readonly<Record<string, string>>): boolean {
  if (tags.expected_response !== undefined) return tags.expected_response === 'false';
  const status = Number(tags.status ?? 0);
  return !(status >= 200 && status < 400);
}

interface Pending {
  readonly time: string;
  readonly name: string;
  readonly atMs: number;
  readonly ms: number;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * Folds one generator's points into a merger, line by line (memory does not grow with the file). A request is
 * its http_req_duration point; it failed when the http_req_failed point right after it (same time and tags) is
 * 1, or — when k6 wrote none (a script that set no response callback) — by the expected_response tag or status.
 * Lines that are not JSON (a file cut off when k6 was killed) are counted in `skipped`, not fatal.
 */
export class K6PointReader {
  /** Requests folded in. */
  requests = 0;
  failures = 0;
  skipped = 0;
  /** Epoch ms this generator sent its first request: the earliest (end time − duration). */
  firstRequestAtMs: number | null = null;
  lastResponseAtMs: number | null = null;
  private pending: Pending | undefined;

  constructor(private readonly merger: Merger) {}

  line(text: string): void {
    if (!text.includes('"http_req_')) return;
    if (this.pending && this.failedOfPending(text)) return;
    let p: K6Line;
    try {
      p = JSON.parse(text) as K6Line;
    } catch {
      this.skipped++;
      return;
    }
    if (p.type !== 'Point' || !p.data) return;
    const tags = p.data.tags ?? {};
    if (p.metric === 'http_req_duration') {
      this.flush();
      const atMs = p.data.time ? Date.parse(p.data.time) : NaN;
      const ms = Number(p.data.value);
      if (!Number.isFinite(atMs) || !Number.isFinite(ms)) {
        this.skipped++;
        return;
      }
      this.pending = { time: p.data.time!, name: k6Endpoint(tags), atMs, ms, tags };
    } else if (p.metric === 'http_req_failed') {
      const q = this.pending;
      if (q && q.time === p.data.time && q.name === k6Endpoint(tags)) {
        this.pending = undefined;
        this.record(q, Number(p.data.value) !== 0);
      }
      // An http_req_failed with no duration before it belongs to no request we saw: ignored.
    }
  }

  /**
   * The common case without JSON.parse (half the reading time): the http_req_failed point right after its
   * request's duration, recognised by its time and tags as they appear in the line. Anything unexpected
   * returns false and the line is parsed in full.
   */
  private failedOfPending(text: string): boolean {
    const q = this.pending!;
    if (!text.includes('"metric":"http_req_failed"') || !text.includes('"type":"Point"') || !text.includes(`"time":"${q.time}"`)) return false;
    for (const k of ['method', 'name', 'url'] as const) {
      if (q.tags[k] !== undefined && !text.includes(`"${k}":${JSON.stringify(q.tags[k])}`)) return false;
    }
    const vi = text.indexOf('"value":');
    if (vi < 0) return false;
    const c = text.charCodeAt(vi + 8);
    if (c !== 48 && c !== 49) return false; // "0…" or "1…"
    const value = Number(/^[0-9.eE+-]+/.exec(text.slice(vi + 8, vi + 40))?.[0]);
    if (!Number.isFinite(value)) return false;
    this.pending = undefined;
    this.record(q, value !== 0);
    return true;
  }

  /** Call once after the last line. */
  end(): void {
    this.flush();
  }

  private flush(): void {
    const q = this.pending;
    if (!q) return;
    this.pending = undefined;
    this.record(q, failedByTags(q.tags));
  }

  private record(q: Pending, failed: boolean): void {
    // No response at all (refused, reset, timed out): k6 tags the request status 0 (grafana/k6 v2.0.0,
    // lib/netext/httpext/request.go: the response's Status stays 0 when the request errored). Its duration is
    // the time to the error, not a response time: counted and failed, with no latency.
    if (q.tags.status === '0') this.merger.recordUnanswered(q.name, q.atMs);
    else this.merger.recordSample(q.name, q.atMs, q.ms, failed);
    this.requests++;
    if (failed) this.failures++;
    const sent = q.atMs - q.ms;
    if (this.firstRequestAtMs === null || sent < this.firstRequestAtMs) this.firstRequestAtMs = Math.round(sent);
    if (this.lastResponseAtMs === null || q.atMs > this.lastResponseAtMs) this.lastResponseAtMs = q.atMs;
  }
}

/** Splits a stream of text chunks into lines for a reader (keeps the partial last line until the next chunk). */
export function lineSplitter(onLine: (line: string) => void): { push(chunk: string): void; end(): void } {
  let rest = '';
  return {
    push(chunk) {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const l of parts) onLine(l);
    },
    end() {
      if (rest) onLine(rest);
      rest = '';
    },
  };
}

// ---- the REST API, read live ----

export interface K6Status {
  /** k6's execution state number (4 = paused before the run, 9 = ended, 10 = interrupted); null when absent. */
  readonly status: number | null;
  readonly paused: boolean;
  readonly running: boolean;
  readonly stopped: boolean;
  readonly vus: number;
}

/** GET /v1/status's body; undefined when it is not k6's status document. */
export function parseK6Status(body: string): K6Status | undefined {
  let doc: { data?: { type?: string; attributes?: Record<string, unknown> } };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch {
    return undefined;
  }
  const a = doc?.data?.attributes;
  if (!a || typeof a !== 'object') return undefined;
  return {
    status: typeof a.status === 'number' ? a.status : null,
    paused: a.paused === true,
    running: a.running === true,
    stopped: a.stopped === true,
    vus: typeof a.vus === 'number' ? a.vus : 0,
  };
}

/** Paused before the run, VUs initialised: the instance waits only for the release. */
export function k6ReadyToRelease(s: K6Status): boolean {
  return s.paused && (s.status === null || s.status === 4);
}

export interface K6Live {
  readonly requests: number;
  readonly failures: number;
  readonly vus: number;
  /** This instance's own percentiles (k6's live trend sink), ms; null when not reported. */
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/** GET /v1/metrics's body → this instance's live counts; undefined when it is not k6's metrics list. */
export function parseK6Metrics(body: string): K6Live | undefined {
  let doc: { data?: { id?: string; attributes?: { sample?: Record<string, number> } }[] };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch {
    return undefined;
  }
  if (!doc || !Array.isArray(doc.data)) return undefined;
  const sample = (id: string) => doc.data!.find((m) => m.id === id)?.attributes?.sample ?? {};
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  const requests = num(sample('http_reqs').count) ?? 0;
  const failed = sample('http_req_failed');
  // A Rate's "passes" are its non-zero values (failed requests); older k6 gives only the rate.
  const failures = num(failed.passes) ?? Math.round((num(failed.rate) ?? 0) * requests);
  const d = sample('http_req_duration');
  return { requests, failures, vus: num(sample('vus').value) ?? 0, p50: num(d.med), p95: num(d['p(95)']), p99: num(d['p(99)']) };
}

/**
 * Live numbers of the whole fleet from each instance's own: counts add up; a percentile cannot be merged from
 * per-instance percentiles, so the live p50/p95/p99 shown are the highest instance's — an upper bound of the
 * fleet's (if every instance has 95 % of its requests at or below its p95, the union has 95 % at or below the
 * largest). Live only and approximate: the summary's percentiles come from merging every raw point.
 * A percentile no instance reports is null, not 0: k6 v2.0.0's REST API formats every trend with a fixed set,
 * min, max, avg, med, p(90), p(95) (grafana/k6 v2.0.0 metrics/sink.go, TrendSink.Format: "TODO: respect the
 * summaryTrendStats for REST API"), whatever the script's summaryTrendStats: the live p99 is always null.
 */
export function combineK6Live(lives: readonly K6Live[]): { requests: number; failures: number; vus: number; p50: number | null; p95: number | null; p99: number | null } {
  const hi = (f: (l: K6Live) => number | null): number | null => {
    // Only instances that measured something count (a percentile of no request is no figure).
    const known = lives.filter((l) => l.requests > 0).map(f).filter((x): x is number => x !== null);
    return known.length ? Math.round(Math.max(...known) * 1000) / 1000 : null;
  };
  return {
    requests: lives.reduce((a, l) => a + l.requests, 0),
    failures: lives.reduce((a, l) => a + l.failures, 0),
    vus: lives.reduce((a, l) => a + l.vus, 0),
    p50: hi((l) => l.p50),
    p95: hi((l) => l.p95),
    p99: hi((l) => l.p99),
  };
}
