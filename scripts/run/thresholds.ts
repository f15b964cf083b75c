/**
 * Pass/fail criteria on the merged results: `[ENDPOINT: ]METRIC OP VALUE[:abort[=DELAY]]`, e.g. `p95<500ms`,
 * `p99.9<1s`, `errors<1%`, `rps>200`, `GET /api: p99<=1s`, `errors<5%:abort=10s`. Without an endpoint (or
 * with `Total:`, the name the report and stats.csv give it) the total is judged. Pure.
 *
 * The abort form is k6's `abortOnFail` + `delayAbortEval` (grafana/k6 v2.0.0 metrics/thresholds.go
 * `Thresholds.runAll`: a failing threshold with abortOnFail aborts when it has no delay or the delay is shorter
 * than the time spent in the test; internal/metrics/engine/engine.go `StartThresholdCalculations` evaluates
 * every 2 s on the live figures and ends the run with exit code 99). Here: judged on every live tick (~1 s)
 * on the merged live figures, and the run exits 3 naming the threshold.
 */
import { UsageError } from '../core/errors';
import { decode, percentileMs } from './histogram';
import { parseDuration } from './load';
import type { EndpointStats, MergedStats } from './merge';

export const THRESHOLD_FORM =
  "[ENDPOINT: ]METRIC OP VALUE[:abort[=DELAY]], METRIC one of p50 p90 p95 p99 (or any pNN.N, e.g. p99.9; k6's p(99.9) too) mean min max (ms or s), errors (%), rps, requests; OP one of < <= > >=; e.g. 'p95<500ms', 'p99.9<1s', 'errors<1%', 'rps>200', 'GET /api: p95<300ms', 'errors<5%:abort=10s'";

/** The fixed metrics; a percentile other than p50/p90/p95/p99 is `pNN.N` (Threshold.percentile set). */
type Metric = 'p50' | 'p90' | 'p95' | 'p99' | 'mean' | 'min' | 'max' | 'errors' | 'rps' | 'requests' | `p${string}`;
type Op = '<' | '<=' | '>' | '>=';

export interface Threshold {
  readonly expr: string;
  /** undefined = the total */
  readonly endpoint?: string;
  readonly metric: Metric;
  /** For a percentile metric (p50 … p99.99): the percentile, 0 < p < 100. */
  readonly percentile?: number;
  readonly op: Op;
  /** ms for latencies, percent for errors, per second for rps */
  readonly value: number;
  /** The abort form: stop the test as soon as this threshold is lost on the live figures, after delayS of load. */
  readonly abort?: { readonly delayS: number };
}

export interface ThresholdResult {
  readonly expr: string;
  readonly endpoint: string;
  readonly metric: Metric;
  readonly ok: boolean;
  /** The measured value in the threshold's unit; null when there is nothing to measure (see `missing`). */
  readonly measured: number | null;
  /**
   * Why measured is null: the endpoint was never requested, or it (or the whole run) made no requests, or
   * requests were made but no response was measured (every one failed without one: a dead target), so a
   * latency or error share does not exist and must break the threshold, not read as 0.
   */
  readonly missing?: 'never requested' | 'no requests' | 'no latency measured' | 'not measured by the engine' | 'not collected';
  readonly unit: string;
  /** This threshold stopped the run (its abort form lost on the live figures): when, and what it measured then. */
  readonly abortedRun?: { readonly atS: number; readonly measured: number };
}

const FIXED_LATENCY = new Set(['p50', 'p90', 'p95', 'p99', 'mean', 'min', 'max']);
const isLatency = (m: string) => FIXED_LATENCY.has(m) || /^p\d/.test(m);
const RE = /^(?:(.+?):\s*)?(p\(\s*\d+(?:\.\d+)?\s*\)|p\d+(?:\.\d+)?|mean|min|max|errors|rps|requests)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|%|\/s)?$/;
const ABORT_RE = /^(.*?)\s*:\s*abort(?:\s*=\s*(\S+))?$/;

/** The metrics an abort form can watch live: every engine's tick has them for the total (Tick in drivers/types.ts). */
const LIVE = new Set(['p50', 'p95', 'p99', 'errors', 'requests']);

export function parseThreshold(expr: string): Threshold {
  const bad = (why: string) => new UsageError(`--threshold (${expr}) ${why}; write it as ${THRESHOLD_FORM}`);
  let body = expr.trim();
  let abort: Threshold['abort'];
  const a = ABORT_RE.exec(body);
  if (a) {
    body = a[1]!;
    let delayS = 0;
    if (a[2] !== undefined) {
      try {
        delayS = parseDuration('--threshold abort delay', a[2]);
      } catch {
        throw bad(`has abort delay "${a[2]}", not a duration (e.g. abort=10s, abort=1m)`);
      }
    }
    abort = { delayS };
  }
  const m = RE.exec(body);
  if (!m) throw bad('is not a threshold');
  const [, endpointRaw, metricRaw, op, raw, unit] = m as unknown as [string, string | undefined, string, Op, string, string | undefined];
  // k6 writes p(99.9): the same as p99.9.
  const metricText = metricRaw.replace(/^p\(\s*([\d.]+)\s*\)$/, 'p$1');
  let percentile: number | undefined;
  let metric = metricText as Metric;
  if (/^p\d/.test(metricText)) {
    percentile = Number(metricText.slice(1));
    if (!(percentile > 0 && percentile < 100)) throw bad(`asks for percentile ${percentile}: give one above 0 and below 100 (max for the slowest)`);
    metric = `p${percentile}` as Metric;
  }
  // "Total" is the name the summary, report.html and stats.csv give the whole run.
  const endpoint = endpointRaw?.trim() === 'Total' ? undefined : endpointRaw?.trim();
  let value = Number(raw);
  if (isLatency(metric)) {
    if (unit === undefined) throw bad(`needs a unit for ${metric} (ms or s)`);
    if (unit !== 'ms' && unit !== 's') throw bad(`has unit ${unit}, but ${metric} is a latency (ms or s)`);
    if (unit === 's') value *= 1000;
  } else if (metric === 'errors') {
    if (unit !== '%') throw bad('needs % for errors (a share of all requests)');
    if (value > 100) throw bad('asks for more than 100 % errors');
  } else if (unit !== undefined && !(metric === 'rps' && unit === '/s')) {
    throw bad(`has unit ${unit}, but ${metric} is a count${metric === 'rps' ? ' per second' : ''}`);
  }
  if (abort) {
    if (endpoint !== undefined) throw bad('aborts on an endpoint: the live figures are the total only; drop the endpoint, or drop :abort (judged at the end)');
    if (!LIVE.has(metric)) throw bad(`aborts on ${metric}, which is not watched live; :abort works with ${[...LIVE].join(', ')} on the total (every other threshold is judged at the end)`);
  }
  return { expr: expr.trim(), ...(endpoint !== undefined ? { endpoint } : {}), metric, ...(percentile !== undefined && !FIXED_LATENCY.has(metric) ? { percentile } : {}), op, value, ...(abort ? { abort } : {}) };
}

/**
 * A percentile from the merged histogram (any p, exact to its 3 digits), else from the engine's own list (Locust's
 * CSV columns); null if neither has it. Whole ms when the engine's other figures are (the ladder says so).
 */
function percentileOf(s: EndpointStats, p: number): number | null {
  if (s.hdr) {
    const whole = s.percentiles !== undefined && Object.values(s.percentiles).every((x) => Number.isInteger(x));
    return percentileMs(decode(s.hdr), p, whole ? 1 : 0.001);
  }
  return s.percentiles?.[String(p)] ?? null;
}

function measure(s: EndpointStats, t: Threshold): number | null {
  if (t.metric === 'errors') return s.requests === 0 ? 0 : Math.round((s.failures / s.requests) * 100_000) / 1000;
  if (t.percentile !== undefined) return percentileOf(s, t.percentile);
  return s[t.metric as 'p50' | 'p90' | 'p95' | 'p99' | 'mean' | 'min' | 'max' | 'rps' | 'requests'];
}

const holds = (a: number, op: Op, b: number) => (op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b);
const unitOf = (t: Threshold) => (isLatency(t.metric) ? 'ms' : t.metric === 'errors' ? '%' : t.metric === 'rps' ? '/s' : '');

/**
 * Every threshold judged. An endpoint the run never requested breaks its threshold (measured null):
 * a typo in the name must not pass silently. With 0 requests a latency or error threshold breaks too
 * (measured null, "no requests"): a run that made no requests must not pass. Requests without one measured
 * response (a dead target) break every latency threshold ("no latency measured"): failing fast is not fast.
 */
export function evaluate(thresholds: readonly Threshold[], stats: Pick<MergedStats, 'total' | 'endpoints'>, opts: { partial?: boolean } = {}): ThresholdResult[] {
  return thresholds.map((t) => {
    const s = t.endpoint === undefined ? stats.total : stats.endpoints.find((e) => e.name === t.endpoint);
    const unit = unitOf(t);
    const endpoint = t.endpoint ?? 'Total';
    const base = { expr: t.expr, endpoint, metric: t.metric, unit };
    if (!s) return { ...base, ok: false, measured: null, missing: 'never requested' as const };
    if (s.requests === 0 && (isLatency(t.metric) || t.metric === 'errors')) return { ...base, ok: false, measured: null, missing: 'no requests' as const };
    const measured = measure(s, t);
    if (measured === null) {
      // Partial results (the engine's controller stopped answering): the figure was not collected. No latency at all
      // while requests were made: none was measured (the histogram is empty). A figure missing while others exist:
      // the engine does not give it (nGrinder's percentiles, a percentile Locust does not list).
      const anyLatency = [s.min, s.mean, s.p50, s.p95, s.max].some((x) => x !== null) || Object.keys(s.percentiles ?? {}).length > 0;
      const missing = opts.partial ? 'not collected' : anyLatency ? 'not measured by the engine' : 'no latency measured';
      return { ...base, ok: false, measured: null, missing: missing as NonNullable<ThresholdResult['missing']> };
    }
    return { ...base, ok: holds(measured, t.op, t.value), measured };
  });
}

/** The live figures an abort form is judged on (a driver's Tick: the total so far). */
export interface LiveFigures {
  readonly requests: number;
  readonly failures: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

/**
 * The first abort-form threshold already lost on the live figures, once its delay has passed (k6's abortOnFail
 * with delayAbortEval), or undefined. A figure not measured yet (no request, no response) loses nothing: the
 * end-of-run judgement breaks it if it stays unmeasured.
 */
export function abortingThreshold(thresholds: readonly Threshold[], live: LiveFigures, elapsedS: number): { threshold: Threshold; measured: number } | undefined {
  for (const t of thresholds) {
    if (!t.abort || elapsedS < t.abort.delayS) continue;
    const measured =
      t.metric === 'errors' ? (live.requests === 0 ? null : Math.round((live.failures / live.requests) * 100_000) / 1000)
      : t.metric === 'requests' ? live.requests
      : live[t.metric as 'p50' | 'p95' | 'p99'];
    if (measured === null || measured === undefined) continue;
    if (!holds(measured, t.op, t.value)) return { threshold: t, measured };
  }
  return undefined;
}

export function describeBroken(r: ThresholdResult): string {
  if (r.abortedRun) return `threshold '${r.expr}' aborted the run at ${r.abortedRun.atS} s: ${r.endpoint} ${r.metric} was ${r.abortedRun.measured}${r.unit} on the live figures${r.measured === null ? '' : ` (${r.measured}${r.unit} at the end)`}`;
  if (r.measured === null && r.missing === 'not measured by the engine') return `threshold '${r.expr}' broken: ${r.endpoint} ${r.metric} is not measured by this engine`;
  if (r.measured === null && r.missing === 'not collected') return `threshold '${r.expr}' broken: ${r.endpoint} ${r.metric} was not collected (the results are partial: see the summary's merge note)`;
  if (r.measured === null && r.missing === 'no requests') return `threshold '${r.expr}' broken: ${r.endpoint} ${r.metric} was not measured (no requests)`;
  if (r.measured === null && r.missing === 'no latency measured') return `threshold '${r.expr}' broken: ${r.endpoint} ${r.metric} — no latency measured (requests were made, none got a response)`;
  return r.measured === null
    ? `threshold '${r.expr}' broken: endpoint "${r.endpoint}" was never requested`
    : `threshold '${r.expr}' broken: ${r.endpoint} ${r.metric} was ${r.measured}${r.unit}`;
}
