/**
 * How each engine's own metrics reach the fleet's Prometheus: config facts `run` and the engine files
 * use. Pure.
 *
 * - k6: pushes with `-o experimental-prometheus-rw` to the monitoring host's remote-write receiver, trends
 *   as native histograms (K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM): histograms of all agents SUM into
 *   fleet-wide percentiles within one schema-3 bucket (~9 %), where the default per-instance p99 gauges cannot be combined.
 * - Locust, Artillery: no Prometheus output worth having (locust_exporter scrapes the web UI, averages
 *   only); `run` publishes the merged stats through the controller's textfile collector (run-metrics.ts).
 * - JMeter: the client on the controller already receives every sample of every server (StrippedBatch),
 *   so `run` reads that merged stream from the client's own results file (built-in listener, CSV JTL,
 *   autoflushed) and publishes it through the same textfile writer. Chosen over the third-party
 *   jmeter-prometheus-plugin (a jar with no checksum published where we could check it, a second scrape
 *   endpoint per node) and over the Backend Listener (its built-in client speaks InfluxDB/Graphite, not
 *   Prometheus).
 */
import { MONITORING_PORTS, type EngineName } from '../../stacks/engines';

export type EngineMetricsRoute = 'remote-write' | 'textfile';

export function metricsRoute(engine: EngineName | 'artillery'): EngineMetricsRoute | null {
  switch (engine) {
    case 'k6':
      return 'remote-write';
    case 'locust':
    case 'artillery':
    case 'jmeter':
      return 'textfile';
    default:
      return null; // nGrinder keeps its own statistics in its controller UI
  }
}

export interface K6Output {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

/**
 * Flags and environment of `k6 run` on every agent: remote write to the monitoring host, native histograms, env/run labels.
 * Read in grafana/k6 v2.0.0: the output is built in as `experimental-prometheus-rw` (internal/cmd/outputs.go,
 * builtin_output_gen.go); K6_PROMETHEUS_RW_SERVER_URL, _TREND_AS_NATIVE_HISTOGRAM, _PUSH_INTERVAL (default 5s) in
 * internal/output/prometheusrw/remotewrite/config.go. What it pushes (remotewrite.go, prometheus.go, trend.go): every
 * series prefixed `k6_`, counters as `<name>_total`, rates as `<name>_rate`, gauges as they are, and with native
 * histograms each trend as ONE native histogram `<name>_seconds` (time values /1000, bucket factor 1.1 → schema 3);
 * labels are the sample's tags (empty values dropped) — so the `--tag`s below land on every series. Without
 * _TREND_AS_NATIVE_HISTOGRAM a trend would be gauges of its trend stats (default only `p99`, per instance:
 * they cannot be summed over agents). A last push happens when k6 stops (output/helpers.go PeriodicFlusher).
 */
export function k6PrometheusOutput(o: { monitoringIp: string; env: string; runId: string; host: string }): K6Output {
  return {
    // Global tags become labels on every series: the dashboards filter on env, and a run is one run_id.
    args: ['-o', 'experimental-prometheus-rw', '--tag', `env=${o.env}`, '--tag', `run_id=${o.runId}`, '--tag', `host=${o.host}`],
    env: {
      K6_PROMETHEUS_RW_SERVER_URL: `http://${o.monitoringIp}:${MONITORING_PORTS.prometheus}/api/v1/write`,
      K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM: 'true',
      K6_PROMETHEUS_RW_PUSH_INTERVAL: '5s',
    },
  };
}

/** JMeter properties (-J) that make the client's results file readable while the test runs. */
export const JMETER_LIVE_RESULTS_PROPERTIES: Readonly<Record<string, string>> = {
  'jmeter.save.saveservice.output_format': 'csv',
  'jmeter.save.saveservice.autoflush': 'true',
  'jmeter.save.saveservice.timestamp_format': 'ms',
};
