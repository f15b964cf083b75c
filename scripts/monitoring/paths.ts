/**
 * Where monitoring lives on a host. On the local target every host shares /usr and /var with the
 * machine, so anything per host goes where the host is private: /etc (an overlay), /root and /run.
 */
import type { HostKind } from '../core/tuning';

export interface MonitoringPaths {
  /** node_exporter's textfile collector: run metrics and the tuned limit, one *.prom file each. */
  readonly textfileDir: string;
  readonly prometheusConfigDir: string;
  readonly prometheusConfig: string;
  /** file_sd files Prometheus watches (written from the inventory's renderFileSd). */
  readonly fileSdDir: string;
  readonly prometheusData: string;
  readonly nodeExporterBin: string;
  readonly prometheusBin: string;
  readonly promtoolBin: string;
}

export function monitoringPaths(kind: HostKind): MonitoringPaths {
  const etc = '/etc/loadfleet/prometheus';
  const common = { prometheusConfigDir: etc, prometheusConfig: `${etc}/prometheus.yml`, fileSdDir: `${etc}/file_sd` };
  if (kind === 'netns') {
    return {
      ...common,
      textfileDir: '/run/loadfleet/textfile',
      // The host's own /run (a tmpfs per host): the prometheus user can reach it, unlike root's /root (issue 20.6).
      prometheusData: '/run/loadfleet/prometheus-data',
      nodeExporterBin: '/usr/bin/prometheus-node-exporter',
      prometheusBin: '/usr/bin/prometheus',
      promtoolBin: '/usr/bin/promtool',
    };
  }
  return {
    ...common,
    textfileDir: '/var/lib/loadfleet/textfile',
    prometheusData: '/var/lib/loadfleet/prometheus',
    nodeExporterBin: '/usr/local/bin/node_exporter',
    prometheusBin: '/usr/local/bin/prometheus',
    promtoolBin: '/usr/local/bin/promtool',
  };
}

/** The file run metrics are written to, in the controller's textfile directory (see run-metrics.ts). */
export const RUN_METRICS_FILE = 'loadfleet_run.prom';
/** The tuned open-files limit, written at install so dashboards can draw it beside the open fds. */
export const LIMITS_METRICS_FILE = 'loadfleet_limits.prom';
