/**
 * Live stats of a run in node_exporter's textfile format, for engines without a Prometheus output of
 * their own (Locust, Artillery, and JMeter through its client's merged results). `loadfleet run` calls
 * `renderRunMetrics` from its watch loop with the engine's MERGED stats (Locust master's aggregated
 * entry, Artillery's merged sketches, the JMeter client's JTL) and writes the text on the controller with
 * `runMetricsWriteCommand` (stdin → temp file → rename: node_exporter never reads half a file). The
 * controller's node_exporter serves it; Prometheus adds env/role/host. Pure.
 */
import type { HostKind } from '../core/tuning';
import { monitoringPaths, RUN_METRICS_FILE } from './paths';
import { q } from './shell';

export interface RunSnapshot {
  /** The run's id (what `run` prints and names its results folder after). */
  readonly runId: string;
  readonly engine: string;
  /** Unix ms when the load started. */
  readonly startedAtMs: number;
  /** Unix ms when the run ended; null while it runs. A final snapshot with this set marks the run inactive. */
  readonly endedAtMs: number | null;
  /** Users (Locust) / virtual users / threads running now, over all generators. */
  readonly users: number;
  /** Requests completed since the start, over all generators (cumulative: Prometheus derives the rate). */
  readonly requests: number;
  /** Failed requests since the start (cumulative). */
  readonly failures: number;
  /** The engine's own current throughput, requests/s (Locust current_rps). */
  readonly currentRps: number;
  readonly currentFailuresPerSecond: number;
  /**
   * Response-time percentiles in milliseconds from the merged histogram (never averaged per generator); null =
   * nothing measured (no response yet, or an engine without percentiles): that quantile is not published at all.
   */
  readonly percentilesMs: { readonly p50: number | null; readonly p95: number | null; readonly p99: number | null };
}

const LABEL_NAME_OK = /^[A-Za-z0-9_.:-]{1,128}$/;

function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function num(field: string, v: number): string {
  if (!Number.isFinite(v) || v < 0) throw new Error(`run metrics: ${field} (${v}) must be a finite number ≥ 0`);
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(12)));
}

/** The metric names dashboards use (ami/monitoring/dashboards/run.json). */
export const RUN_METRICS = {
  active: 'loadfleet_run_active',
  start: 'loadfleet_run_start_time_seconds',
  end: 'loadfleet_run_end_time_seconds',
  users: 'loadfleet_run_users',
  requests: 'loadfleet_run_requests_total',
  failures: 'loadfleet_run_failures_total',
  rps: 'loadfleet_run_requests_per_second',
  failRps: 'loadfleet_run_failures_per_second',
  latency: 'loadfleet_run_response_time_seconds',
} as const;

export function renderRunMetrics(s: RunSnapshot): string {
  if (!LABEL_NAME_OK.test(s.runId)) throw new Error(`run metrics: runId (${JSON.stringify(s.runId)}) must be 1-128 letters, digits, or . _ : -`);
  if (s.endedAtMs !== null && s.endedAtMs < s.startedAtMs) throw new Error(`run metrics: endedAtMs (${s.endedAtMs}) is before startedAtMs (${s.startedAtMs})`);
  const l = `run_id="${labelValue(s.runId)}",engine="${labelValue(s.engine)}"`;
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, samples: [string, string][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map(([labels, v]) => `${name}{${labels}} ${v}`));
  };
  metric(RUN_METRICS.active, 'gauge', 'Whether this loadfleet run is generating load now (1) or has ended (0).', [[l, s.endedAtMs === null ? '1' : '0']]);
  metric(RUN_METRICS.start, 'gauge', 'When the run started, unix seconds.', [[l, num('startedAtMs', s.startedAtMs / 1000)]]);
  if (s.endedAtMs !== null) metric(RUN_METRICS.end, 'gauge', 'When the run ended, unix seconds.', [[l, num('endedAtMs', s.endedAtMs / 1000)]]);
  metric(RUN_METRICS.users, 'gauge', 'Simulated users running now, over all generators.', [[l, num('users', s.endedAtMs === null ? s.users : 0)]]);
  metric(RUN_METRICS.requests, 'counter', 'Requests completed since the run started, over all generators.', [[l, num('requests', s.requests)]]);
  metric(RUN_METRICS.failures, 'counter', 'Failed requests since the run started, over all generators.', [[l, num('failures', s.failures)]]);
  metric(RUN_METRICS.rps, 'gauge', "The engine's own current requests per second, over all generators.", [[l, num('currentRps', s.currentRps)]]);
  metric(RUN_METRICS.failRps, 'gauge', "The engine's own current failures per second, over all generators.", [[l, num('currentFailuresPerSecond', s.currentFailuresPerSecond)]]);
  metric(
    RUN_METRICS.latency,
    'gauge',
    'Response-time percentiles of the merged histogram of all generators, seconds.',
    ([['p50', '0.5'], ['p95', '0.95'], ['p99', '0.99']] as const).flatMap(([p, quantile]): [string, string][] => {
      const v = s.percentilesMs[p];
      return v === null ? [] : [[`${l},quantile="${quantile}"`, num(`percentilesMs.${p}`, v / 1000)]];
    }),
  );
  return `${out.join('\n')}\n`;
}

/** Where the controller's node_exporter reads run metrics. */
export function runMetricsPath(kind: HostKind): string {
  return `${monitoringPaths(kind).textfileDir}/${RUN_METRICS_FILE}`;
}

/** Remote command (run as root on the controller) that installs stdin as the run-metrics file atomically. */
export function runMetricsWriteCommand(kind: HostKind): string {
  const f = runMetricsPath(kind);
  return `sh -c ${q(`mkdir -p "$(dirname ${q(f)})" && cat > ${q(`${f}.tmp`)} && mv ${q(`${f}.tmp`)} ${q(f)}`)}`;
}

/**
 * The same as a script for runAsRoot-style execution (`sh -s` on stdin): the metrics text travels inside
 * a quoted here-document, then temp file → rename.
 */
export function runMetricsWriteScript(kind: HostKind, text: string): string {
  const f = runMetricsPath(kind);
  return [
    'set -eu',
    // Only where install set up the textfile collector (monitoring.enabled: false leaves no directory).
    `[ -d "$(dirname ${q(f)})" ] || exit 0`,
    `cat > ${q(`${f}.tmp`)} <<'LOADFLEET_RUN_METRICS'`,
    text.endsWith('\n') ? text.slice(0, -1) : text,
    'LOADFLEET_RUN_METRICS',
    `mv ${q(`${f}.tmp`)} ${q(f)}`,
    '',
  ].join('\n');
}
