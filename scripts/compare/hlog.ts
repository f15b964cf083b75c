/**
 * The histograms a run keeps (runs/<id>/hist/): one HdrHistogram interval log (.hlog) per endpoint and one for
 * the total, one interval per second, in HdrHistogram's own log format (V1.3, as HistogramLogWriter writes it:
 * `#[StartTime: …]`, a legend, then `start,length,max,base64` lines), so HdrHistogram's log tools
 * (HistogramLogProcessor, hdr-plot, this library's HistogramLogReader) read them. hist/index.json names each
 * file's endpoint and its request / failure counts (an hlog holds latencies only).
 *
 * Pure: text in, text out. The reader here is a fast path for compare — per interval it decodes the counts
 * (zig-zag LEB128, as addEncoded in scripts/run/histogram.ts) to its count and percentiles and adds them into one
 * whole-run histogram, without allocating a histogram per second.
 */
import { inflateSync } from 'node:zlib';
import * as hdr from 'hdr-histogram-js';
import { addEncoded, decode, encode, forEachCount, HDR, newHistogram, type Histogram } from '../run/histogram';

export const HIST_FORMAT = 'loadfleet-hist/1';

/** One endpoint's per-second latencies, sparse: epoch second → (latency µs → count), with per-second failures. */
export interface SecondCounts {
  readonly count: number;
  readonly failures: number;
  /** latency in µs → how many requests took it */
  readonly us: ReadonlyMap<number, number>;
  /** Requests in count without a latency (no response: refused, reset, timed out); absent = 0. */
  readonly unanswered?: number;
}

export interface HistIndex {
  readonly format: typeof HIST_FORMAT;
  /** Epoch ms the log's timestamps count from (the run's release). */
  readonly startMs: number;
  readonly intervalS: 1;
  /** How exact the latencies are and where they came from (per engine). */
  readonly precision: string;
  readonly total: { readonly file: string; readonly requests: number; readonly failures: number };
  readonly endpoints: readonly { readonly name: string; readonly file: string; readonly requests: number; readonly failures: number; readonly perSecond: boolean }[];
}

/** An interval log of per-second histograms, via hdr-histogram-js's own HistogramLogWriter. */
export function writeHlog(startMs: number, intervals: Iterable<{ startS: number; lengthS: number; hist: Histogram }>, comment: string): string {
  let out = '';
  const w = new hdr.HistogramLogWriter((s) => (out += s));
  w.outputComment(comment);
  w.outputLogFormatVersion();
  w.outputStartTime(startMs);
  w.outputLegend();
  // Values are µs; the max column in ms (maxValueUnitRatio 1000), as HdrHistogram's own tools expect by default.
  for (const i of intervals) w.outputIntervalHistogram(i.hist, i.startS, i.startS + i.lengthS, 1000);
  return out;
}

/**
 * Per-second sparse counts of every endpoint → hist/ files (name → text) and the index. One scratch histogram
 * is reused for every interval (a 1 h run of 20 endpoints is 72,000 intervals).
 */
export function histFiles(releaseMs: number, endpoints: ReadonlyMap<string, ReadonlyMap<number, SecondCounts>>, precision: string): { files: Map<string, string>; index: HistIndex } {
  // The log's StartTime: the whole second the release fell in, so every interval starts at ≥ 0 (HdrHistogram's
  // HistogramLogReader skips intervals before its range start, 0 by default).
  const startMs = Math.floor(releaseMs / 1000) * 1000;
  const files = new Map<string, string>();
  const scratch = newHistogram(HDR.digits);
  const whole = newHistogram(HDR.digits);
  const series: Record<string, SeriesJson> = {};
  /** Per interval: count and percentiles of that interval's own histogram; the whole run's histogram. */
  // count: the second's REQUESTS, answered or not (a request without a response has no latency, so the
  // histogram's own size would leave it out: a target that never answers would look like a run without load).
  const track = (key: string, startS: number, requests: number) => {
    const s = (series[key] ??= { startS: [], count: [], latencies: [], p50: [], p95: [], p99: [], whole: '' });
    s.startS.push(startS);
    s.count.push(requests);
    s.latencies!.push(scratch.totalCount);
    s.p50.push(scratch.getValueAtPercentile(50) / 1000);
    s.p95.push(scratch.getValueAtPercentile(95) / 1000);
    s.p99.push(scratch.getValueAtPercentile(99) / 1000);
  };
  const closeWhole = (key: string) => {
    if (series[key]) series[key].whole = encode(whole);
    whole.reset();
  };
  const startS = startMs / 1000;
  const totals = new Map<number, Map<number, number>>();
  const totalRequests = new Map<number, number>();
  const entries: { name: string; file: string; requests: number; failures: number; perSecond: boolean }[] = [];
  let allReq = 0;
  let allFail = 0;
  const names = [...endpoints.keys()].sort();
  names.forEach((name, i) => {
    const secs = [...endpoints.get(name)!].sort(([a], [b]) => a - b);
    let requests = 0;
    let failures = 0;
    const intervals = function* () {
      for (const [sec, c] of secs) {
        requests += c.count;
        failures += c.failures;
        const t = totals.get(sec) ?? new Map<number, number>();
        totals.set(sec, t);
        totalRequests.set(sec, (totalRequests.get(sec) ?? 0) + c.count);
        scratch.reset();
        for (const [us, n] of c.us) {
          const v = Math.min(HDR.highestUs, Math.max(HDR.lowest, Math.round(us)));
          scratch.recordValueWithCount(v, n);
          whole.recordValueWithCount(v, n);
          t.set(v, (t.get(v) ?? 0) + n);
        }
        const at = Math.round((sec - startS) * 1000) / 1000;
        track(name, at, c.count);
        yield { startS: at, lengthS: 1, hist: scratch };
      }
    };
    const file = `e${String(i + 1).padStart(2, '0')}.hlog`;
    files.set(file, writeHlog(startMs, intervals(), `loadfleet: endpoint ${JSON.stringify(name)}; latencies in µs, one interval per second`));
    closeWhole(name);
    entries.push({ name, file, requests, failures, perSecond: true });
    allReq += requests;
    allFail += failures;
  });
  const totalIntervals = function* () {
    for (const [sec, t] of [...totals].sort(([a], [b]) => a - b)) {
      scratch.reset();
      for (const [v, n] of t) {
        scratch.recordValueWithCount(v, n);
        whole.recordValueWithCount(v, n);
      }
      const at = Math.round((sec - startS) * 1000) / 1000;
      track(TOTAL_KEY, at, totalRequests.get(sec) ?? 0);
      yield { startS: at, lengthS: 1, hist: scratch };
    }
  };
  files.set('total.hlog', writeHlog(startMs, totalIntervals(), 'loadfleet: all endpoints; latencies in µs, one interval per second'));
  closeWhole(TOTAL_KEY);
  files.set('series.json', JSON.stringify({ format: 'loadfleet-series/1', series }));
  return { files, index: { format: HIST_FORMAT, startMs, intervalS: 1, precision, total: { file: 'total.hlog', requests: allReq, failures: allFail }, endpoints: entries } };
}

/** The key of the total in series.json (no endpoint is named so: endpoint names have a method and a space). */
const TOTAL_KEY = '*total*';

interface SeriesJson {
  startS: number[];
  /** Per interval: requests (answered or not). */
  count: number[];
  /** Per interval: requests with a latency (the interval histogram's size); absent in files written before it was kept, whose count was this. */
  latencies?: number[];
  p50: number[];
  p95: number[];
  p99: number[];
  /** The whole run's histogram, compressed base64. */
  whole: string;
}

/**
 * hist/series.json: what compare reads of the logs, computed once when they are written — per interval its count
 * and percentiles, from that interval's own histogram, and the whole run's histogram. A cache: the .hlog files
 * are the record, and readHlog gives the same from them (a unit test checks it); inflating 150,000 intervals
 * costs seconds, this file milliseconds.
 */
export function readSeries(json: string): { total: LogSeries; endpoints: Map<string, LogSeries> } | null {
  const doc = JSON.parse(json) as { format?: string; series?: Record<string, SeriesJson> };
  if (doc.format !== 'loadfleet-series/1' || !doc.series?.[TOTAL_KEY]) return null;
  const of = (s: SeriesJson): LogSeries => ({ startS: s.startS, count: s.count, latencies: s.latencies ?? s.count, p50: s.p50, p95: s.p95, p99: s.p99, whole: s.whole ? decode(s.whole) : newHistogram(HDR.digits) });
  const endpoints = new Map<string, LogSeries>();
  for (const [k, v] of Object.entries(doc.series)) if (k !== TOTAL_KEY) endpoints.set(k, of(v));
  return { total: of(doc.series[TOTAL_KEY]!), endpoints };
}

/** What compare needs of one log: per interval its start, count and percentiles (ms); the whole-run histogram. */
export interface LogSeries {
  readonly startS: readonly number[];
  /**
   * Per interval: requests, answered or not (series.json). From an .hlog alone (readHlog) only latencies are
   * known, so there it equals latencies.
   */
  readonly count: readonly number[];
  /** Per interval: requests with a latency (the interval histogram's size). */
  readonly latencies: readonly number[];
  readonly p50: readonly number[];
  readonly p95: readonly number[];
  readonly p99: readonly number[];
  /** Every interval added together (the whole run's histogram). */
  readonly whole: Histogram;
}

const COMPRESSED_COOKIE_BASE = 0x1c849304;

interface Layout {
  subBucketHalfCountMagnitude: number;
  subBucketHalfCount: number;
  subBucketMask: number;
  unitMagnitude: number;
  subBucketCount: number;
}

/** JsHistogram's index → value (the lowest value of a bucket, as valueFromIndex in hdr-histogram-js 3.0.1 JsHistogram.ts). */
function valueAt(l: Layout, index: number): number {
  let bucketIndex = Math.floor(index / l.subBucketHalfCount) - 1;
  let subBucketIndex = (index % l.subBucketHalfCount) + l.subBucketHalfCount;
  if (bucketIndex < 0) {
    subBucketIndex -= l.subBucketHalfCount;
    bucketIndex = 0;
  }
  return subBucketIndex * Math.pow(2, bucketIndex + l.unitMagnitude);
}

function layoutOf(digits: number, lowest: number): Layout {
  const largestValueWithSingleUnitResolution = 2 * Math.pow(10, digits);
  const unitMagnitude = Math.floor(Math.log2(lowest));
  const subBucketCountMagnitude = Math.ceil(Math.log2(largestValueWithSingleUnitResolution));
  const subBucketHalfCountMagnitude = (subBucketCountMagnitude > 1 ? subBucketCountMagnitude : 1) - 1;
  const subBucketCount = Math.pow(2, subBucketHalfCountMagnitude + 1);
  return { subBucketHalfCountMagnitude, subBucketHalfCount: subBucketCount / 2, subBucketMask: (subBucketCount - 1) * Math.pow(2, unitMagnitude), unitMagnitude, subBucketCount };
}

/** The highest value equivalent to a bucket's lowest (what getValueAtPercentile returns), as JsHistogram does. */
function highestEquivalent(l: Layout, index: number): number {
  const v = valueAt(l, index);
  // sizeOfEquivalentValueRange: 2^(bucketIndex + unitMagnitude), +1 when the sub-bucket is the bucket's top half boundary.
  const pow2ceiling = Math.floor(Math.log2(v || 1));
  const bucketIndex = Math.max(0, pow2ceiling - l.unitMagnitude - l.subBucketHalfCountMagnitude);
  const size = Math.pow(2, l.unitMagnitude + bucketIndex);
  return v + size - 1;
}

/**
 * Reads an .hlog (interval lines `[Tag=…,]start,length,max,base64`): per interval its count and p50/p95/p99 (ms,
 * HdrHistogram's getValueAtPercentile semantics), and every interval added into one histogram.
 */
export function readHlog(text: string): LogSeries {
  const startS: number[] = [];
  const count: number[] = [];
  const p50: number[] = [];
  const p95: number[] = [];
  const p99: number[] = [];
  const whole = newHistogram(HDR.digits);
  const layouts = new Map<string, Layout>();
  let idx = new Int32Array(0);
  let cnt = new Float64Array(0);
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#') || line.startsWith('"')) continue;
    const fields = line.split(',');
    if (fields[0]!.startsWith('Tag=')) fields.shift();
    if (fields.length < 4) continue;
    const b64 = fields[3]!.trim();
    const data = Buffer.from(b64, 'base64');
    if (data.length < 8 || (data.readInt32BE(0) & ~0xf0) !== COMPRESSED_COOKIE_BASE) throw new Error(`not a compressed HdrHistogram at interval ${startS.length + 1}`);
    const raw = inflateSync(data.subarray(8, 8 + data.readInt32BE(4)));
    const payloadLength = raw.readInt32BE(4);
    const digits = raw.readInt32BE(12);
    const lowest = Number(raw.readBigInt64BE(16));
    const key = `${digits}/${lowest}`;
    let l = layouts.get(key);
    if (!l) layouts.set(key, (l = layoutOf(digits, lowest)));
    // Sparse counts of this interval.
    let k = 0;
    let total = 0;
    forEachCount(raw, 40, 40 + payloadLength, (index, n) => {
      if (k >= idx.length) {
        const ni = new Int32Array(Math.max(64, idx.length * 2));
        ni.set(idx);
        idx = ni;
        const nc = new Float64Array(ni.length);
        nc.set(cnt);
        cnt = nc;
      }
      idx[k] = index;
      cnt[k] = n;
      k++;
      total += n;
    });
    const pct = (p: number) => {
      if (total === 0) return 0;
      // getValueAtPercentile: the smallest value with at least ceil(p% of total) at or below it (≥ 1).
      const target = Math.max(1, Math.ceil((p / 100) * total));
      let acc = 0;
      for (let j = 0; j < k; j++) {
        acc += cnt[j]!;
        if (acc >= target) return highestEquivalent(l!, idx[j]!) / 1000;
      }
      return highestEquivalent(l!, idx[k - 1]!) / 1000;
    };
    startS.push(Number(fields[0]));
    count.push(total);
    p50.push(pct(50));
    p95.push(pct(95));
    p99.push(pct(99));
    addEncoded(whole, b64);
  }
  return { startS, count, latencies: count, p50, p95, p99, whole };
}
