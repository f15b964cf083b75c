/**
 * Pass/fail criteria on the merged results: `[ENDPOINT: ]METRIC OP VALUE`, e.g. `p95<500ms`,
 * `errors<1%`, `rps>200`, `GET /api: p99<=1s`. Without an endpoint the total is judged. Pure.
 */
import { UsageError } from '../core/errors';
import type { EndpointStats, MergedStats } from './merge';

export const THRESHOLD_FORM =
  "[ENDPOINT: ]METRIC OP VALUE, METRIC one of p50 p90 p95 p99 mean min max (ms or s), errors (%), rps, requests; OP one of < <= > >=; e.g. 'p95<500ms', 'errors<1%', 'rps>200', 'GET /api: p95<300ms'";

type Metric = 'p50' | 'p90' | 'p95' | 'p99' | 'mean' | 'min' | 'max' | 'errors' | 'rps' | 'requests';
type Op = '<' | '<=' | '>' | '>=';

export interface Threshold {
  readonly expr: string;
  /** undefined = the total */
  readonly endpoint?: string;
  readonly metric: Metric;
  readonly op: Op;
  /** ms for latencies, percent for errors, per second for rps */
  readonly value: number;
}

export interface ThresholdResult {
  readonly expr: string;
  readonly endpoint: string;
  readonly metric: Metric;
  readonly ok: boolean;
  /** The measured value in the threshold's unit; null when there is nothing to measure (see `missing`). */
  readonly measured: number | null;
  /**
   * Why measured is null: the endpoint was never requested, or it (or the whole run) made no requests, so
   * a latency or error share does not exist (Locust writes N/A) and must break the threshold, not read as 0.
   */
  readonly missing?: 'never requested' | 'no requests' | 'not measured by the engine';
  readonly unit: string;
}

const LATENCY = new Set(['p50', 'p90', 'p95', 'p99', 'mean', 'min', 'max']);
const RE = /^(?:(.+?):\s*)?(p50|p90|p95|p99|mean|min|max|errors|rps|requests)\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*(ms|s|%|\/s)?$/;

export function parseThreshold(expr: string): Threshold {
  const m = RE.exec(expr.trim());
  const bad = (why: string) => new UsageError(`--threshold (${expr}) ${why}; write it as ${THRESHOLD_FORM}`);
  if (!m) throw bad('is not a threshold');
  const [, endpoint, metric, op, raw, unit] = m as unknown as [string, string | undefined, Metric, Op, string, string | undefined];
  let value = Number(raw);
  if (LATENCY.has(metric)) {
    if (unit === undefined) throw bad(`needs a unit for ${metric} (ms or s)`);
    if (unit !== 'ms' && unit !== 's') throw bad(`has unit ${unit}, but ${metric} is a latency (ms or s)`);
    if (unit === 's') value *= 1000;
  } else if (metric === 'errors') {
    if (unit !== '%') throw bad('needs % for errors (a share of all requests)');
    if (value > 100) throw bad('asks for more than 100 % errors');
  } else if (unit !== undefined && !(metric === 'rps' && unit === '/s')) {
    throw bad(`has unit ${unit}, but ${metric} is a count${metric === 'rps' ? ' per second' : ''}`);
  }
  return { expr: expr.trim(), ...(endpoint ? { endpoint: endpoint.trim() } : {}), metric, op, value };
}

function measure(s: EndpointStats, metric: Metric): number | null {
  if (metric === 'errors') return s.requests === 0 ? 0 : Math.round((s.failures / s.requests) * 100_000) / 1000;
  return s[metric];
}

const holds = (a: number, op: Op, b: number) => (op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b);

/**
 * Every threshold judged. An endpoint the run never requested breaks its threshold (measured null):
 * a typo in the name must not pass silently. With 0 requests a latency or error threshold breaks too
 * (measured null, "no requests"): a run that made no requests must not pass.
 */
export function evaluate(thresholds: readonly Threshold[], stats: Pick<MergedStats, 'total' | 'endpoints'>): ThresholdResult[] {
  return thresholds.map((t) => {
    const s = t.endpoint === undefined ? stats.total : stats.endpoints.find((e) => e.name === t.endpoint);
    const unit = LATENCY.has(t.metric) ? 'ms' : t.metric === 'errors' ? '%' : t.metric === 'rps' ? '/s' : '';
    const endpoint = t.endpoint ?? 'Total';
    if (!s) return { expr: t.expr, endpoint, metric: t.metric, ok: false, measured: null, unit, missing: 'never requested' };
    if (s.requests === 0 && (LATENCY.has(t.metric) || t.metric === 'errors')) {
      return { expr: t.expr, endpoint, metric: t.metric, ok: false, measured: null, unit, missing: 'no requests' };
    }
    const measured = measure(s, t.metric);
    // An engine without this figure (nGrinder's percentiles): the threshold cannot hold, it breaks.
    if (measured === null) return { expr: t.expr, endpoint, metric: t.metric, ok: false, measured: null, unit, missing: 'not measured by the engine' };
    return { expr: t.expr, endpoint, metric: t.metric, ok: holds(measured, t.op, t.value), measured, unit };
  });
}

export function describeBroken(r: ThresholdResult): string {
  if (r.measured === null && r.missing === 'not measured by the engine') return `threshold '${r.expr}' broken: ${r.endpoint} ${r.metric} is not measured by this engine`;
  if (r.measured === null && r.missing === 'no requests') return `threshold '${r.expr}' broken: ${r.endpoint} ${r.metric} was not measured (no requests)`;
  return r.measured === null
    ? `threshold '${r.expr}' broken: endpoint "${r.endpoint}" was never requested`
    : `threshold '${r.expr}' broken: ${r.endpoint} ${r.metric} was ${r.measured}${r.unit}`;
}
