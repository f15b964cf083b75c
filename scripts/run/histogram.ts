/**
 * Latency histograms that merge exactly: HdrHistogram in microseconds with 3 significant digits, so any
 * recorded value is known to within 0.1 % (1 µs below 1 ms), at any count — the size depends on the
 * value range, never on how many samples were recorded. Adding two histograms gives exactly the
 * histogram of the union of their samples, which is what makes a merged percentile correct.
 *
 * This is also the wire format of per-generator raw results ("loadfleet-hdr/1", see GeneratorHdr):
 * the Artillery plugin (artillery-plugin/index.js) writes it, k6's raw points are folded into it.
 */
import * as hdr from 'hdr-histogram-js';

export type Histogram = hdr.Histogram;

/** 1 µs … 1 h: a response slower than an hour is clamped (recorded as 1 h). */
export const HDR = { lowest: 1, highestUs: 3_600_000_000, digits: 3, timelineDigits: 2 } as const;
export const ACCURACY =
  'HdrHistogram: totals and endpoints with 3 significant digits (every percentile within 0.1 % of the exact value over all samples of all generators, 1 µs resolution); the over-time chart with 2 (within 1 %)';

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

/** p in 0..100 → milliseconds (0 for an empty histogram). */
export function percentileMs(h: Histogram, p: number): number {
  return h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1000;
}

export interface LatencyFigures {
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function figures(h: Histogram): LatencyFigures {
  if (h.totalCount === 0) return { min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
  return {
    min: round3(h.minNonZeroValue / 1000),
    mean: round3(h.mean / 1000),
    p50: round3(percentileMs(h, 50)),
    p90: round3(percentileMs(h, 90)),
    p95: round3(percentileMs(h, 95)),
    p99: round3(percentileMs(h, 99)),
    max: round3(h.maxValue / 1000),
  };
}
