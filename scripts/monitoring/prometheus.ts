/**
 * Prometheus on the monitoring host: its configuration (every host through the inventory's file_sd),
 * retention that fits the disk, the flags k6 needs to push (remote-write receiver, native histograms),
 * the install script and the service. Pure.
 */
import { dump } from 'js-yaml';
import { MONITORING_PORTS } from '../../stacks/engines';
import type { ServiceSpec } from '../engines/types';
import type { HostKind } from '../core/tuning';
import { renderFileSd, type Inventory } from '../core/inventory';
import { monitoringPaths } from './paths';
import type { MonitoringPins } from './pins';
import { installTarball, putFile, q } from './shell';

/** One place for the scrape rhythm: a load test changes in seconds, so 5 s, not Prometheus's 15 s default. */
export const SCRAPE = { intervalSeconds: 5, timeoutSeconds: 4, fileSdRefreshSeconds: 30 } as const;

export interface Retention {
  /** e.g. "8GB": Prometheus deletes the oldest blocks above it (WAL and chunks included). */
  readonly size: string;
  readonly time: string;
}

/**
 * 40 % of the root volume on EC2 leaves the rest to the OS (~2 GB on AL2023), Grafana, the engines and
 * their results. A namespace host shares the machine's disk with the machine itself and every other
 * host, and lives for a test session: 1 GB.
 */
export function retentionFor(kind: HostKind, rootVolumeGb: number): Retention {
  if (kind === 'netns') return { size: '1GB', time: '15d' };
  return { size: `${Math.max(1, Math.floor(rootVolumeGb * 0.4))}GB`, time: '30d' };
}

export interface PrometheusSetup {
  readonly env: string;
  readonly kind: HostKind;
  /** The monitoring host. */
  readonly host: { readonly name: string; readonly privateIp: string };
  readonly rootVolumeGb: number;
  /**
   * An engine pushes its metrics (k6's experimental-prometheus-rw): only then is the remote-write receiver on.
   * It takes unauthenticated writes (anyone reaching 9090 could put any series on the run dashboard).
   */
  readonly remoteWrite: boolean;
}

export const FILE_SD_NAME = 'nodes.json';

/** prometheus.yml: node_exporter of every host from file_sd (labels env/role/group/host), and Prometheus itself. */
export function renderPrometheusConfig(s: PrometheusSetup): string {
  const p = monitoringPaths(s.kind);
  const config = {
    global: { scrape_interval: `${SCRAPE.intervalSeconds}s`, scrape_timeout: `${SCRAPE.timeoutSeconds}s`, evaluation_interval: '15s' },
    scrape_configs: [
      {
        job_name: 'node',
        file_sd_configs: [{ files: [`${p.fileSdDir}/*.json`], refresh_interval: `${SCRAPE.fileSdRefreshSeconds}s` }],
        relabel_configs: [
          // The inventory's file_sd says loadfleet_env (so it cannot clash in someone else's Prometheus); here it is env.
          { source_labels: ['loadfleet_env'], target_label: 'env' },
          { action: 'labeldrop', regex: 'loadfleet_env' },
        ],
      },
      {
        job_name: 'prometheus',
        static_configs: [
          { targets: [`${s.host.privateIp}:${MONITORING_PORTS.prometheus}`], labels: { env: s.env, role: 'monitoring', group: 'monitoring', host: s.host.name } },
        ],
      },
    ],
  };
  return `# written by loadfleet for env ${s.env}; targets come from ${p.fileSdDir}/${FILE_SD_NAME}\n${dump(config, { lineWidth: -1, noRefs: true })}`;
}

/** The file_sd Prometheus reads: exactly the inventory's renderer (`loadfleet inventory -f file_sd`). */
export function renderTargets(inv: Inventory): string {
  return renderFileSd(inv);
}

/** Where Prometheus answers: the monitoring host's private address (the only one it listens on). */
export function prometheusUrl(privateIp: string): string {
  return `http://${privateIp}:${MONITORING_PORTS.prometheus}`;
}

export function prometheusArgs(s: PrometheusSetup): string[] {
  const p = monitoringPaths(s.kind);
  const r = retentionFor(s.kind, s.rootVolumeGb);
  return [
    p.prometheusBin,
    `--config.file=${p.prometheusConfig}`,
    `--storage.tsdb.path=${p.prometheusData}`,
    `--storage.tsdb.retention.size=${r.size}`,
    `--storage.tsdb.retention.time=${r.time}`,
    // The monitoring host's private address only (as node_exporter); its security group admits the agents'
    // group alone, and only for k6 (people use `loadfleet tunnel`). Grafana, doctor, k6 and `tunnel` all use
    // this address (prometheusUrl).
    `--web.listen-address=${s.host.privateIp}:${MONITORING_PORTS.prometheus}`,
    // k6 pushes with experimental-prometheus-rw: the receiver (no login) only then ...
    ...(s.remoteWrite ? ['--web.enable-remote-write-receiver'] : []),
    // ... and its trends as native histograms, which sum across agents (per-instance p99 gauges do not).
    '--enable-feature=native-histograms',
  ];
}

export const PROMETHEUS_SERVICE = 'loadfleet-prometheus';

export function prometheusService(s: PrometheusSetup): ServiceSpec {
  const p = monitoringPaths(s.kind);
  return {
    name: PROMETHEUS_SERVICE,
    argv: prometheusArgs(s),
    workDir: p.prometheusData,
    // Its own user on both targets: on a namespace host root is the machine's root (issue 20.6).
    user: 'prometheus',
    processPattern: `prometheus --config.file=${p.prometheusConfig.replace(/\./g, '\\.')}`,
  };
}

/** Idempotent sh, run as root on the monitoring host: binary, config, file_sd, data folder; promtool checks the config. */
export function prometheusInstallScript(s: PrometheusSetup, inv: Inventory, pins: MonitoringPins): string {
  const p = monitoringPaths(s.kind);
  const binary =
    s.kind === 'ec2'
      ? [
          installTarball({
            name: 'prometheus',
            version: pins.prometheus.version,
            artifacts: pins.prometheus.artifacts,
            binaries: { prometheus: p.prometheusBin, promtool: p.promtoolBin },
            versionOf: `awk 'NR==1 {print $3}'`,
          }),
        ].join('\n')
      : `for b in ${q(p.prometheusBin)} ${q(p.promtoolBin)}; do [ -x "$b" ] || { echo "prometheus: $b is missing on this machine: apt-get install prometheus (scripts/setup.sh installs it)" >&2; exit 1; }; done`;
  return [
    'set -eu',
    binary,
    // Debian's package creates this user on the machine (a namespace host's /etc is an overlay of the machine's).
    'id prometheus >/dev/null 2>&1 || { useradd --system --no-create-home --shell /usr/sbin/nologin prometheus && echo "changed user prometheus"; }',
    putFile(p.prometheusConfig, renderPrometheusConfig(s)),
    putFile(`${p.fileSdDir}/${FILE_SD_NAME}`, renderTargets(inv)),
    `[ -d ${q(p.prometheusData)} ] || { mkdir -p ${q(p.prometheusData)} && echo ${q(`changed ${p.prometheusData}`)}; }`,
    `chown prometheus:prometheus ${q(p.prometheusData)}`,
    `${q(p.promtoolBin)} check config ${q(p.prometheusConfig)} >/dev/null 2>&1 || { ${q(p.promtoolBin)} check config ${q(p.prometheusConfig)} >&2; exit 1; }`,
    '',
  ].join('\n');
}
