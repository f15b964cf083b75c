/**
 * node_exporter on every host: which collectors, where it listens, its install script and its service.
 * Flags checked against node_exporter 1.5 (Debian) and valid for the pinned 1.7 (EC2). Pure.
 */
import { MONITORING_PORTS } from '../../stacks/engines';
import type { Role } from '../../stacks/config';
import type { ServiceSpec } from '../engines/types';
import type { HostKind } from '../core/tuning';
import { LIMITS_METRICS_FILE, monitoringPaths } from './paths';
import type { MonitoringPins } from './pins';
import { installTarball, putFile, q } from './shell';

/** What monitoring needs to know about one host. */
export interface MonitoredHost {
  readonly env: string;
  readonly kind: HostKind;
  readonly role: Role;
  readonly name: string;
  readonly privateIp: string;
  /** The tuned open-files limit (config tuning.nofile), drawn beside the open fds. */
  readonly nofile: number;
}

/**
 * Collectors that answer load-test questions. filefd (open files), sockstat (sockets, TIME-WAIT),
 * netstat (retransmits, listen drops), conntrack (table fill, where the module is loaded: it reports
 * nothing otherwise), processes (threads, forks) are on everywhere; systemd (unit state, restarts) and
 * ethtool (ENA bw/pps/conntrack allowance-exceeded counters) on EC2 only. Debian's build turns systemd on
 * by default, but namespace hosts have no systemd, so it is turned off there explicitly.
 */
export function nodeExporterCollectors(kind: HostKind): string[] {
  const always = ['--collector.filefd', '--collector.sockstat', '--collector.netstat', '--collector.conntrack', '--collector.processes'];
  return kind === 'ec2' ? [...always, '--collector.systemd', '--collector.ethtool'] : [...always, '--no-collector.systemd'];
}

export function nodeExporterArgs(h: MonitoredHost): string[] {
  const p = monitoringPaths(h.kind);
  return [
    p.nodeExporterBin,
    // The private address only: the security group admits the monitoring host alone, and the public side never listens.
    `--web.listen-address=${h.privateIp}:${MONITORING_PORTS.nodeExporter}`,
    `--collector.textfile.directory=${p.textfileDir}`,
    ...nodeExporterCollectors(h.kind),
  ];
}

export const NODE_EXPORTER_SERVICE = 'loadfleet-node-exporter';
/** The unprivileged user node_exporter runs as, on EC2 and on namespace hosts. */
export const NODE_EXPORTER_USER = 'node_exporter';

export function nodeExporterService(h: MonitoredHost): ServiceSpec {
  return {
    name: NODE_EXPORTER_SERVICE,
    argv: nodeExporterArgs(h),
    workDir: '/',
    // Its own unprivileged user (created by the install script; on a namespace host in that host's own /etc), never
    // root: a namespace host shares the machine's user namespace, so root there is root on the machine (issue 20.6).
    user: NODE_EXPORTER_USER,
    processPattern: `node.exporter --web.listen-address=${h.privateIp.replace(/\./g, '\\.')}:${MONITORING_PORTS.nodeExporter}`,
  };
}

/** The textfile that tells dashboards the tuned per-process open-files limit of this host. */
export function limitsMetrics(nofile: number): string {
  return [
    '# HELP loadfleet_nofile_limit Open-files limit (soft = hard) loadfleet tuned for processes on this host.',
    '# TYPE loadfleet_nofile_limit gauge',
    `loadfleet_nofile_limit ${nofile}`,
    '',
  ].join('\n');
}

/** Idempotent sh, run as root: the binary (pinned + checksummed on EC2, Debian's on the local target), the textfile directory. */
export function nodeExporterInstallScript(h: MonitoredHost, pins: MonitoringPins): string {
  const p = monitoringPaths(h.kind);
  const binary =
    h.kind === 'ec2'
      ? [
          installTarball({ name: 'node_exporter', version: pins.nodeExporter.version, artifacts: pins.nodeExporter.artifacts, binaries: { node_exporter: p.nodeExporterBin }, versionOf: `awk 'NR==1 {print $3}'` }),
        ].join('\n')
      : `[ -x ${q(p.nodeExporterBin)} ] || { echo "node_exporter: ${p.nodeExporterBin} is missing on this machine: apt-get install prometheus-node-exporter (scripts/setup.sh installs it)" >&2; exit 1; }`;
  return [
    'set -eu',
    binary,
    `id ${NODE_EXPORTER_USER} >/dev/null 2>&1 || { useradd --system --no-create-home --shell /usr/sbin/nologin ${NODE_EXPORTER_USER} && echo "changed user ${NODE_EXPORTER_USER}"; }`,
    `[ -d ${q(p.textfileDir)} ] || { mkdir -p ${q(p.textfileDir)} && echo ${q(`changed ${p.textfileDir}`)}; }`,
    `chmod 0755 ${q(p.textfileDir)}`,
    putFile(`${p.textfileDir}/${LIMITS_METRICS_FILE}`, limitsMetrics(h.nofile)),
    '',
  ].join('\n');
}
