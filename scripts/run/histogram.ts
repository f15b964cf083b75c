/**
 * Latency histograms that merge exactly: HdrHistogram in microseconds with 3 significant digits, so any
 * recorded value is known to within 0.1 % (1 µs below 1 ms), at any count — the size depends on the
 * value range, never on how many samples were recorded. Adding two histograms gives exactly the
 * histogram of the union of their samples, which is what makes a merged percentile correct.
 *
 * This is also the wire format of per-generator raw results ("loadfleet-hdr/1", see GeneratorHdr):
 * the Artillery plugin (artillery-plugin/index.js) writes it, k6's raw points are folded into it.
 */
import { inflateSync } from 'node:zlib';
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** 1 µs … 1 h: a response slower than an hour is clamped (recorded as 1 h). */
export const HDR = { lowest: 1, highestUs: 3_600_000_000, digits: 3, timelineDigits: 2 } as const;
export const ACCURACY =
  'HdrHistogram: totals and endpoints with 3 significant digits (every percentile within 0.1 % of the exact value over all samples of all generators, never finer than what the engine measured: whole ms for Artillery and JMeter); the over-time chart with 2 (within 1 %)';

/**
 * 32-bit counts in plain JS: ~95 KB at 3 digits, ~14 KB at 2, fixed whatever the sample count.
 * ('packed' is 20× smaller when sparse but 10–50× slower to add and query; WebAssembly needs explicit
 * destroy() calls. Measured in test/bench.)
 */
export function newHistogram(digits: number = HDR.digits): Histogram {
  return hdr.build({
    lowestDiscernibleValue: HDR.lowest,
    highestTrackableValue: HDR.highestUs,
    numberOfSignificantValueDigits: digits as 3,
    bitBucketSize: 32,
    useWebAssembly: false,
  });
}

/** Records a latency given in milliseconds (engines report ms, often fractional). */
export function recordMs(h: Histogram, ms: number, count = 1): void {
  if (!Number.isFinite(ms) || ms < 0) return;
  const us = Math.min(HDR.highestUs, Math.max(HDR.lowest, Math.round(ms * 1000)));
  h.recordValueWithCount(us, count);
}

export function encode(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decode(base64: string): Histogram {
  // The decoded histogram gets its own bounds from the payload; adding it into ours checks them.
  return hdr.decodeFromCompressedBase64(base64, 32, false);
}

/**
 * The JsHistogram internals addEncoded needs: not in the library's public type, but present in the
 * pinned hdr-histogram-js 3.0.1 (a unit test checks addEncoded against decode + add, so an upgrade
 * that changes them fails there, not in a user's run).
 */
interface JsInternals {
  readonly numberOfSignificantValueDigits: number;
  readonly lowestDiscernibleValue: number;
  readonly highestTrackableValue: number;
  readonly countsArrayLength: number;
  readonly minNonZeroValue: number;
  readonly maxValue: number;
  addToCountAtIndex(index: number, count: number): void;
  setTotalCount(n: number): void;
  updatedMaxValue(v: number): void;
  updateMinNonZeroValue(v: number): void;
  valueFromIndex(index: number): number;
  highestEquivalentValue(v: number): number;
}

const COMPRESSED_COOKIE_BASE = 0x1c849304;
const COOKIE_BASE = 0x1c849303;

/**
 * target += the histogram encoded in base64 (what `decode(base64)` then `target.add(...)` gives, to
 * the count), without building the decoded histogram: when the payload has target's layout (same
 * digits and range — every loadfleet-hdr/1 writer's case) its zig-zag LEB128 counts are added
 * straight into target's counts array by index. Merging 20 generators × 300 one-second timeline
 * histograms was dominated by allocating and zero-filling 6,000 throw-away histograms; this is the
 * same arithmetic without them. Any other layout falls back to decode + add (value by value).
 */
export function addEncoded(target: Histogram, base64: string): void {
  const data = Buffer.from(base64.trim(), 'base64');
  if (data.length < 8 || (data.readInt32BE(0) & ~0xf0) !== COMPRESSED_COOKIE_BASE) throw new Error('not a compressed HdrHistogram (V2 cookie missing)');
  const raw = inflateSync(data.subarray(8, 8 + data.readInt32BE(4)));
  if ((raw.readInt32BE(0) & ~0xf0) !== COOKIE_BASE) throw new Error('not an HdrHistogram V2 payload');
  const payloadLength = raw.readInt32BE(4);
  const digits = raw.readInt32BE(12);
  const lowest = Number(raw.readBigInt64BE(16));
  const highest = Number(raw.readBigInt64BE(24));
  const t = target as unknown as JsInternals;
  if (digits !== t.numberOfSignificantValueDigits || lowest !== t.lowestDiscernibleValue || highest !== t.highestTrackableValue) {
    target.add(decode(base64));
    return;
  }
  let total = 0;
  let minIndex = -1;
  let maxIndex = -1;
  forEachCount(raw, 40, 40 + payloadLength, (index, n) => {
    if (index >= t.countsArrayLength) throw new Error('HdrHistogram payload has counts beyond its own range');
    t.addToCountAtIndex(index, n);
    total += n;
    maxIndex = index;
    if (minIndex === -1 && index !== 0) minIndex = index;
  });
  // The same bookkeeping as JsHistogram's decode followed by add().
  t.setTotalCount(target.totalCount + total);
  if (maxIndex >= 0) t.updatedMaxValue(Math.max(t.maxValue, t.highestEquivalentValue(t.valueFromIndex(maxIndex))));
  if (minIndex >= 0) t.updateMinNonZeroValue(Math.min(t.minNonZeroValue, t.valueFromIndex(minIndex)));
}

/**
 * The non-zero counts of an HdrHistogram V2 payload's counts array (raw[pos..end)), as (index, count):
 * ZigZag LEB128, at most 9 bytes; multiplication (not shifts) keeps values above 2^31 exact; a negative value is
 * a run of that many empty counts. Shared by the merge (addEncoded) and the .hlog reader (compare/hlog.ts).
 */
export function forEachCount(raw: Uint8Array, pos: number, end: number, each: (index: number, count: number) => void): void {
  let index = 0;
  while (pos < end) {
    let b = raw[pos++]!;
    let v = b & 0x7f;
    let scale = 128;
    while (b & 0x80) {
      b = raw[pos++]!;
      v += (b & 0x7f) * scale;
      scale *= 128;
    }
    const n = v % 2 === 0 ? v / 2 : -(v + 1) / 2;
    if (n < 0) {
      index -= n;
      continue;
    }
    if (n > 0) each(index, n);
    index++;
  }
}

/** p in 0..100 → milliseconds; null for an empty histogram (no response measured is not a latency of 0). */
export function percentileMs(h: Histogram, p: number, resolutionMs = 0.001): number | null {
  if (h.totalCount === 0) return null;
  // Within [min, max] as measured (see orderedFigures).
  const at = (us: number) => atResolution(h, us, resolutionMs);
  return Math.min(at(h.maxValue), Math.max(at(h.minNonZeroValue), at(h.getValueAtPercentile(p))));
}

/** The percentiles the summary keeps for the latency-by-percentile chart (log scale up to p99.99). */
export const PERCENTILE_LADDER = [0, 50, 75, 90, 95, 99, 99.9, 99.99, 100] as const;

/**
 * A value HdrHistogram reports (the highest equivalent of its bucket, e.g. 88063 µs for a recorded 88 ms)
 * turned back into a value the engine could have measured: the largest multiple of the engine's resolution
 * inside the bucket. Below ~1 s a bucket is at most 512 µs wide, so for a whole-ms engine (Artillery, JMeter)
 * this is the exact recorded value; above, it is within the bucket (0.1 %). Without a multiple inside the
 * bucket (a clamped 0 ms recorded as 1 µs) the nearest one. Result in ms, rounded to 3 decimals.
 */
function atResolution(h: Histogram, us: number, resolutionMs: number): number {
  const res = Math.max(1, Math.round(resolutionMs * 1000));
  if (res <= 1) return round3(us / 1000);
  const j = h as unknown as { lowestEquivalentValue(v: number): number; highestEquivalentValue(v: number): number };
  const lo = j.lowestEquivalentValue(us);
  const hi = j.highestEquivalentValue(us);
  const inside = Math.floor(hi / res) * res;
  return round3((inside >= lo ? inside : Math.round(hi / res) * res) / 1000);
}

/** null = not measured: an empty histogram (no response), or an engine without that figure (nGrinder). */
export interface LatencyFigures {
  readonly min: number | null;
  readonly mean: number | null;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * The latency figures of a histogram, in ms at the engine's resolution (resolutionMs: 1 for engines that time
 * in whole ms, so a bucket edge such as 88.063 is never printed as measured). An empty histogram — no
 * response was measured (a dead target: every request failed without one) — has null figures, never 0.
 */
export function figures(h: Histogram, resolutionMs = 0.001): LatencyFigures {
  if (h.totalCount === 0) return { min: null, mean: null, p50: null, p90: null, p95: null, p99: null, max: null };
  const at = (us: number) => atResolution(h, us, resolutionMs);
  return orderedFigures({
    min: at(h.minNonZeroValue),
    mean: round3(h.mean / 1000),
    p50: at(h.getValueAtPercentile(50)),
    p90: at(h.getValueAtPercentile(90)),
    p95: at(h.getValueAtPercentile(95)),
    p99: at(h.getValueAtPercentile(99)),
    max: at(h.maxValue),
  });
}

/**
 * Figures as measured values can be: every percentile and the mean within [min, max], percentiles non-decreasing.
 * A histogram reports a percentile as its bucket's highest equivalent value (88.063 ms for a recorded 88.001,
 * whose max stays 88.001) and Locust rounds its percentiles (147 ms is reported in the 150 bucket, its max is
 * 147): printed as they come, p99 would read above max. Clamping moves a figure by at most its bucket's width.
 */
export function orderedFigures<T extends LatencyFigures>(f: T): T {
  const lo = f.min ?? -Infinity;
  const hi = f.max ?? Infinity;
  const clamp = (x: number | null) => (x === null ? null : Math.min(hi, Math.max(lo, x)));
  let floor = lo;
  const rising = (x: number | null) => (x === null ? null : (floor = Math.max(floor, clamp(x)!)));
  return { ...f, mean: clamp(f.mean), p50: rising(f.p50), p90: rising(f.p90), p95: rising(f.p95), p99: rising(f.p99) };
}

/** A percentile ladder ("0" … "100" → ms) within its own 0 and 100 entries, non-decreasing (see orderedFigures). */
export function orderedLadder(ladder: Readonly<Record<string, number>>): Record<string, number> {
  const keys = Object.keys(ladder).sort((a, b) => Number(a) - Number(b));
  const lo = ladder['0'] ?? -Infinity;
  const hi = ladder['100'] ?? Infinity;
  let floor = lo;
  return Object.fromEntries(keys.map((k) => [k, (floor = Math.max(floor, Math.min(hi, Math.max(lo, ladder[k]!))))]));
}

/** PERCENTILE_LADDER → ms (keys "50", "99.9", …); empty for an empty histogram. */
export function percentileLadder(h: Histogram, resolutionMs = 0.001): Record<string, number> {
  if (h.totalCount === 0) return {};
  return orderedLadder(Object.fromEntries(PERCENTILE_LADDER.map((p) => [String(p), p === 0 ? atResolution(h, h.minNonZeroValue, resolutionMs) : p === 100 ? atResolution(h, h.maxValue, resolutionMs) : atResolution(h, h.getValueAtPercentile(p), resolutionMs)])));
}
