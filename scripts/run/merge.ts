/**
 * Merging per-generator raw results: counts are summed, histograms are added (never percentiles
 * averaged). Memory is bounded by endpoints × time buckets × histogram size, whatever the sample count.
 * Pure: callers hand in parsed documents or lines.
 */
import { addEncoded, encode, figures, HDR, newHistogram, percentileLadder, recordMs, type Histogram, type LatencyFigures } from './histogram';
import type { PerSecond } from './per-second';

/** One generator's raw results as written by the Artillery plugin or folded from k6 points. */
export interface GeneratorHdr {
  readonly format: 'loadfleet-hdr/1';
  readonly generator: string;
  readonly unit: 'us';
  /** Width of a timeline bucket, seconds. */
  readonly bucketS: number;
  /** Epoch ms this generator sent its first request (its actual start). */
  readonly firstRequestAtMs?: number | null;
  /** name → totals and base64 compressed HdrHistogram of every latency. */
  readonly endpoints: Readonly<Record<string, { count: number; failures: number; hist: string }>>;
  /** epoch second (bucket start) → totals of all endpoints in that bucket. */
  readonly buckets: Readonly<Record<string, { count: number; failures: number; hist: string }>>;
  /**
   * Errors by kind (Artillery's errors.<code>: no response, failed capture/match). A breakdown only: it adds
   * no request and no failure (a failed capture had a response, counted in its endpoint).
   */
  readonly errors?: Readonly<Record<string, number>>;
  /**
   * Requests sent that never got a response (Artillery: http.requests − http.responses): counted in the
   * total's requests and failures, in no endpoint (no latency was measured). Absent = 0.
   */
  readonly noResponse?: number;
}

export class Cell {
  count = 0;
  failures = 0;
  readonly hist: Histogram;
  constructor(digits?: number) {
    this.hist = newHistogram(digits);
  }
  add(count: number, failures: number, h?: Histogram): void {
    this.count += count;
    this.failures += failures;
    if (h) this.hist.add(h);
  }
  /** Adds a generator's cell: counts, and its base64 histogram straight into ours (no decoded copy). */
  addEncoded(count: number, failures: number, hist: string): void {
    this.count += count;
    this.failures += failures;
    addEncoded(this.hist, hist);
  }
}

/** Accumulates samples (recordSample) or whole generator documents (addGenerator). */
export class Merger {
  readonly endpoints = new Map<string, Cell>();
  readonly buckets = new Map<number, Cell>();
  readonly errors = new Map<string, number>();
  /** Requests sent without a response (in total.count and total.failures, in no endpoint). */
  noResponse = 0;
  readonly total = new Cell();
  readonly generators: string[] = [];
  /** When set, every recorded request is also counted per second and endpoint (hist/ for compare, issue 17). */
  perSecond?: PerSecond;

  /**
   * bucketS: width of a timeline bucket; a long run merges with wider buckets (timelineBucketS) so
   * the timeline stays a few hundred points and a few MB, whatever the duration.
   */
  constructor(readonly bucketS = 1) {}

  private cell<K>(map: Map<K, Cell>, key: K, digits?: number): Cell {
    let c = map.get(key);
    if (!c) map.set(key, (c = new Cell(digits)));
    return c;
  }

  private bucket(epochS: number): Cell {
    return this.cell(this.buckets, Math.floor(epochS / this.bucketS) * this.bucketS, HDR.timelineDigits);
  }

  /** One request: name, epoch ms when it ended (or started), latency ms, failed. */
  recordSample(name: string, atMs: number, latencyMs: number, failed: boolean): void {
    const f = failed ? 1 : 0;
    this.perSecond?.record(name, atMs, latencyMs, failed);
    const e = this.cell(this.endpoints, name);
    e.count++;
    e.failures += f;
    recordMs(e.hist, latencyMs);
    const b = this.bucket(atMs / 1000);
    b.count++;
    b.failures += f;
    recordMs(b.hist, latencyMs);
    this.total.count++;
    this.total.failures += f;
    recordMs(this.total.hist, latencyMs);
  }

  /**
   * One request sent that got no response (refused, reset, timed out): counted and failed on its endpoint, its
   * time bucket and the total, with no latency — a failed connect's time is not a response time (issue 15).
   */
  recordUnanswered(name: string, atMs: number): void {
    this.perSecond?.record(name, atMs, null, true);
    for (const c of [this.cell(this.endpoints, name), this.bucket(atMs / 1000), this.total]) {
      c.count++;
      c.failures++;
    }
  }

  /** An error kind's count: a breakdown only, never an extra request (see recordNoResponse). */
  recordError(kind: string, count = 1): void {
    this.errors.set(kind, (this.errors.get(kind) ?? 0) + count);
  }

  /** Requests that were sent and never answered: failed requests without a latency. */
  recordNoResponse(count: number): void {
    this.noResponse += count;
    this.total.failures += count;
    this.total.count += count;
  }

  addGenerator(doc: GeneratorHdr): void {
    if (doc.format !== 'loadfleet-hdr/1') throw new Error(`unknown raw format ${String((doc as { format?: unknown }).format)} from ${doc.generator}`);
    this.generators.push(doc.generator);
    for (const [name, v] of Object.entries(doc.endpoints)) {
      this.cell(this.endpoints, name).addEncoded(v.count, v.failures, v.hist);
      this.total.addEncoded(v.count, v.failures, v.hist);
    }
    for (const [t, v] of Object.entries(doc.buckets)) {
      // Re-bucket when a generator used a finer width than ours.
      this.bucket(Number(t)).addEncoded(v.count, v.failures, v.hist);
    }
    for (const [kind, n] of Object.entries(doc.errors ?? {})) this.recordError(kind, n);
    if (doc.noResponse) this.recordNoResponse(doc.noResponse);
  }

  /** This merger's state as one generator document (what a generator writes, or a merge of several). */
  toHdr(generator: string): GeneratorHdr {
    const enc = (c: Cell) => ({ count: c.count, failures: c.failures, hist: encode(c.hist) });
    return {
      format: 'loadfleet-hdr/1',
      generator,
      unit: 'us',
      bucketS: this.bucketS,
      endpoints: Object.fromEntries([...this.endpoints].map(([k, c]) => [k, enc(c)])),
      buckets: Object.fromEntries([...this.buckets].map(([k, c]) => [String(k), enc(c)])),
      ...(this.errors.size ? { errors: Object.fromEntries(this.errors) } : {}),
      ...(this.noResponse ? { noResponse: this.noResponse } : {}),
    };
  }
}

/** Timeline bucket width for a run of this length: at most ~600 points. */
export function timelineBucketS(durationS: number): number {
  return Math.max(1, Math.ceil(durationS / 600));
}

// ---- the merged statistics every engine ends up in ----

/**
 * Latencies in ms. null = not measured: the engine does not measure this figure (nGrinder has no percentiles,
 * min or max: see scripts/run/ngrinder-api.ts), or no response was (every request failed without one); never
 * 0 standing in for "unknown".
 */
export type EndpointLatencies = { readonly [K in keyof LatencyFigures]: number | null };

export interface EndpointStats extends EndpointLatencies {
  readonly name: string;
  readonly requests: number;
  readonly failures: number;
  readonly rps: number;
  /**
   * More percentiles (key "99.9" → ms), where the engine gives them: PERCENTILE_LADDER from a histogram, or
   * Locust's own CSV columns. The report's latency-by-percentile chart reads these.
   */
  readonly percentiles?: Readonly<Record<string, number>>;
  /**
   * The merged HdrHistogram itself (µs, compressed base64; decode with histogram.ts decode): any percentile
   * a threshold asks for (p99.95) is read from it exactly. Absent for engines without one (Locust, nGrinder).
   */
  readonly hdr?: string;
}

export interface TimelinePoint {
  /** Seconds since the run's start. */
  readonly t: number;
  readonly rps: number;
  readonly errorsPerS: number;
  /** null when the engine measures no percentiles (nGrinder). */
  readonly p50: number | null;
  readonly p95: number | null;
  /** Mean latency of the interval, where the engine gives only a mean (nGrinder). */
  readonly mean?: number | null;
  readonly users?: number;
}

/** An endpoint's figures from merged histograms (null figures only where no response was measured). */
export type MeasuredStats = EndpointStats;

export interface MergedStats<E extends EndpointStats = EndpointStats> {
  readonly total: E;
  readonly endpoints: readonly E[];
  readonly timeline: readonly TimelinePoint[];
  readonly errors: Readonly<Record<string, number>>;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

function stats(name: string, c: Cell, seconds: number, resolutionMs: number, detail: boolean): MeasuredStats {
  return {
    name, requests: c.count, failures: c.failures, rps: seconds > 0 ? r3(c.count / seconds) : 0, ...figures(c.hist, resolutionMs),
    ...(detail && c.hist.totalCount > 0 ? { percentiles: percentileLadder(c.hist, resolutionMs), hdr: encode(c.hist) } : {}),
  };
}

/**
 * Finished statistics; `seconds` is the measured duration (RPS = requests / seconds). resolutionMs: what the
 * engine times in (1 for Artillery and JMeter, whole ms; k6's fractional ms keep the histogram's 1 µs), so no
 * figure is printed finer than it was measured. detail: also the percentile ladder and the encoded histogram
 * (the summary's `percentiles` and `hdr`); a live tick, which reads only the figures, passes false.
 */
export function finish(m: Merger, seconds: number, startEpochS?: number, resolutionMs = 0.001, detail = true): MergedStats<MeasuredStats> {
  const keys = [...m.buckets.keys()].sort((a, b) => a - b);
  const t0 = startEpochS ?? keys[0] ?? 0;
  return {
    total: stats('Total', m.total, seconds, resolutionMs, detail),
    endpoints: [...m.endpoints].sort(([a], [b]) => a.localeCompare(b)).map(([k, c]) => stats(k, c, seconds, resolutionMs, detail)),
    timeline: keys.map((k) => {
      const c = m.buckets.get(k)!;
      const f = figures(c.hist, resolutionMs);
      return { t: r3(k - t0), rps: r3(c.count / m.bucketS), errorsPerS: r3(c.failures / m.bucketS), p50: f.p50, p95: f.p95 };
    }),
    errors: Object.fromEntries(m.errors),
  };
}
