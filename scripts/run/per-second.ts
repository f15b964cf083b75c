/**
 * Per-second latency counts per endpoint, for the hist/ a run keeps (scripts/compare/hlog.ts: one HdrHistogram
 * interval per second). Filled at collection from the engine's own per-request data — k6's raw points, JMeter's
 * JTL rows (through Merger.perSecond), the Artillery plugin's per-second lines — and, for Locust, by the
 * listener of scripts/run/locust-hist.ts. Pure.
 *
 * Latencies are kept sparse (µs → count), each kept at its 3-digit HdrHistogram bucket (hdrKey), so
 * memory grows with the distinct values per second, never with the request count; histFiles then records them
 * into 3-digit HdrHistograms (each latency within 0.1 %, never finer than the engine measured).
 * A request without a response (refused, reset, timed out) counts as a failed request of its second, with no
 * latency (issue 15: a failed connect's time is not a response time).
 */
import type { SecondCounts } from '../compare/hlog';

interface MutableSecond {
  count: number;
  failures: number;
  us: Map<number, number>;
}

/**
 * µs → the lowest value of its bucket in a 3-significant-digit HdrHistogram (2048 sub-buckets: exact below
 * 2048 µs, then 1 part in 1024–2048): the same value the histogram keeps, so keying by it loses nothing more
 * (rounding to 3 decimal digits would: up to 0.5 % at 100,499 µs).
 */
export function hdrKey(us: number): number {
  const v = Math.max(1, Math.round(us));
  if (v < 2048) return v;
  const shift = Math.floor(Math.log2(v)) - 10;
  const unit = 2 ** shift;
  return Math.floor(v / unit) * unit;
}

export class PerSecond {
  readonly endpoints = new Map<string, Map<number, MutableSecond>>();

  private second(endpoint: string, epochS: number): MutableSecond {
    let e = this.endpoints.get(endpoint);
    if (!e) this.endpoints.set(endpoint, (e = new Map()));
    let s = e.get(epochS);
    if (!s) e.set(epochS, (s = { count: 0, failures: 0, us: new Map() }));
    return s;
  }

  /** One request that ended at atMs: latency in ms, or null when it got no response. */
  record(endpoint: string, atMs: number, latencyMs: number | null, failed: boolean): void {
    const s = this.second(endpoint, Math.floor(atMs / 1000));
    s.count++;
    if (failed || latencyMs === null) s.failures++;
    if (latencyMs !== null && Number.isFinite(latencyMs) && latencyMs >= 0) {
      const k = hdrKey(latencyMs * 1000);
      s.us.set(k, (s.us.get(k) ?? 0) + 1);
    }
  }

  /** A second's counts made elsewhere (a generator's own per-second cell): added, latencies in µs. */
  addCell(endpoint: string, epochS: number, count: number, failures: number, us: Iterable<[number, number]>): void {
    const s = this.second(endpoint, epochS);
    s.count += count;
    s.failures += failures;
    for (const [u, n] of us) {
      const k = hdrKey(u);
      s.us.set(k, (s.us.get(k) ?? 0) + n);
    }
  }

  /** Everything of another accumulator (a generator's, once it was read whole). */
  addAll(other: PerSecond): void {
    for (const [name, secs] of other.endpoints) for (const [t, c] of secs) this.addCell(name, t, c.count, c.failures, c.us);
  }

  get size(): number {
    return this.endpoints.size;
  }

  /** What Collected.perSecond carries. */
  view(): ReadonlyMap<string, ReadonlyMap<number, SecondCounts>> {
    return this.endpoints;
  }
}

/** What each engine's per-second histograms are made of, and how exact they are (hist/index.json's precision). */
export const PER_SECOND_PRECISION = {
  artillery:
    'Artillery: every response time (time to first byte, as Artillery measures it) counted per second and endpoint by loadfleet\'s plugin on each worker, added at collection; Artillery measures whole milliseconds, kept as HdrHistograms of 3 significant digits. Requests that got no response are in the summary\'s counts, not in hist/ (the plugin sees no endpoint for them)',
  k6: 'k6: every http_req_duration point of every instance, bucketed by the point\'s time (the request\'s end) per second and endpoint at collection; k6 measures µs-fractional milliseconds, kept to 3 significant digits (each latency within 0.1 %); a request without a response (status 0) counts as a failed request of its second, with no latency',
  jmeter:
    'JMeter: every JTL row, bucketed by its timeStamp (the sample\'s start, JMeter\'s default sampleresult.timestamp.start=true; as the report\'s timeline) per second and label at collection; JMeter measures whole milliseconds, kept as HdrHistograms of 3 significant digits; a "Non HTTP response code" row counts as a failed request of its second, with no latency',
} as const;

/** compare's note for a run without hist/ (nGrinder: The Grinder keeps count, mean and standard deviation only). */
export const NGRINDER_NO_HIST =
  'nGrinder: no per-second histogram (The Grinder keeps count, mean and standard deviation of test times only; nGrinder\'s workers write no per-request data): compared on totals, precision: requests and errors exact, no percentiles (p95 not compared), rps over the sampled time';
