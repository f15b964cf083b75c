/**
 * `loadfleet tunnel`: which host and port a UI lives on, and the OpenSSH command that forwards it
 * through the env's pinned host key (StrictHostKeyChecking=yes, the env's own known_hosts). Pure.
 */
import { MONITORING_PORTS, engineOf, type EngineName } from '../../stacks/engines';
import type { FleetOutputs } from '../core/env-record';
import { UsageError } from '../core/errors';
import { sshConfigValue } from '../core/safe-text';
import { jumpFor } from '../core/door';
import { proxyCommand } from '../core/inventory';

/**
 * The page of Prometheus's targets, by the Prometheus that runs there (issue 22.11). The local target runs Debian's
 * prometheus 2.42.0+ds, built without the React UI: /targets is a 404 there and the classic UI's /classic/targets
 * answers (measured on this machine: 404 / 200). EC2 runs the pinned upstream 2.51.1 tarball (ami/engines/
 * monitoring.json), whose React UI serves /targets.
 */
export function prometheusTargetsPath(target: FleetOutputs['target']): string {
  return target === 'local' ? '/classic/targets' : '/targets';
}

export const TUNNEL_TARGETS = ['grafana', 'prometheus', 'controller'] as const;
export type TunnelTarget = (typeof TUNNEL_TARGETS)[number];

export interface TunnelPlan {
  readonly target: TunnelTarget;
  readonly host: string;
  readonly address: string;
  readonly remote: { readonly host: string; readonly port: number };
  readonly localPort: number;
  /** Whether the local port was given (--local-port), the UI's own, or a high one instead of a privileged one. */
  readonly localPortFrom: 'given' | 'same' | 'high';
  readonly argv: readonly string[];
  readonly url: string;
}

/** Linux's default net.ipv4.ip_unprivileged_port_start: below it, listening needs root (CAP_NET_BIND_SERVICE). */
export const PRIVILEGED_PORTS_BELOW = 1024;

/** The local port a tunnel to a UI on `port` listens on by default: the same, or 8000 + port for a privileged one. */
export function defaultLocalPort(port: number): number {
  return port < PRIVILEGED_PORTS_BELOW ? 8000 + port : port;
}

export function defaultTunnelTarget(outputs: Pick<FleetOutputs, 'target'>): TunnelTarget {
  // Grafana exists on EC2 only; the local target's Prometheus is the next best screen.
  return outputs.target === 'aws' ? 'grafana' : 'prometheus';
}

export function planTunnel(
  outputs: FleetOutputs,
  opts: { target: string; localPort?: number; monitoringEnabled: boolean; privateKeyPath: string; knownHostsFile: string },
): TunnelPlan {
  if (!(TUNNEL_TARGETS as readonly string[]).includes(opts.target)) {
    throw new UsageError(`tunnel target "${opts.target}" is unknown: use one of ${TUNNEL_TARGETS.join(', ')}`);
  }
  const target = opts.target as TunnelTarget;
  let role: 'monitoring' | 'controller';
  let port: number;
  let urlPath = '/';
  let loopback = false;
  if (target === 'controller') {
    role = 'controller';
    const engine = engineOf(outputs.engine as EngineName);
    const ui = engine.uiPort;
    if (ui === null) throw new UsageError(`engine ${outputs.engine} has no web UI on the controller: tunnel to grafana or prometheus instead`);
    port = ui;
    // Locust's UI listens on the controller's 127.0.0.1 only (no other host reaches it): the far end is there.
    loopback = engine.uiReach === 'loopback';
  } else {
    if (!opts.monitoringEnabled) throw new UsageError(`monitoring.enabled is false in this env's config, so there is no ${target}: set it to true, then run "loadfleet up" and "loadfleet install"`);
    if (target === 'grafana' && outputs.target === 'local') throw new UsageError('Grafana is not installed on the local target (only Prometheus is): use "loadfleet tunnel prometheus"');
    role = 'monitoring';
    port = target === 'grafana' ? MONITORING_PORTS.grafana : MONITORING_PORTS.prometheus;
    urlPath = target === 'grafana' ? '/dashboards' : prometheusTargetsPath(outputs.target);
  }
  const host = outputs.hosts.find((h) => h.role === role);
  if (!host) throw new UsageError(`env ${outputs.env} has no ${role} host: run "loadfleet up" first`);
  // Ports below 1024 need root to listen on (nGrinder's 80): by default the tunnel listens on 8000 + port instead
  // (80 → 8080), so it works as an ordinary user; the action picks another free high port if that one is taken.
  const localPortFrom = opts.localPort !== undefined ? 'given' : port < PRIVILEGED_PORTS_BELOW ? 'high' : 'same';
  const localPort = opts.localPort ?? defaultLocalPort(port);
  const address = host.publicIp || host.privateIp;
  const jump = jumpFor(outputs.hosts, address);
  return {
    target,
    host: host.name,
    address,
    // The far end connects to the service on the host's private address (every UI listens there; not all on 127.0.0.1).
    remote: { host: loopback ? '127.0.0.1' : host.privateIp, port },
    localPort,
    localPortFrom,
    argv: [
      'ssh', '-N',
      '-o', 'ExitOnForwardFailure=yes',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=yes',
      // ssh splits an -o value like a config line (a space would name a second file) and expands %-tokens
      // in both files: quoted and %-escaped, the path is read as it is.
      '-o', `UserKnownHostsFile=${sshConfigValue(opts.knownHostsFile, { percentTokens: true })}`,
      '-o', 'GlobalKnownHostsFile=/dev/null',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'ServerAliveInterval=30',
      '-o', 'ServerAliveCountMax=3',
      '-o', `IdentityFile=${sshConfigValue(opts.privateKeyPath, { percentTokens: true })}`,
      // Issue 18: a private host (monitoring beside private agents) through the controller, its key pinned too.
      ...(jump ? ['-o', `ProxyCommand=${proxyCommand({ sshUser: outputs.sshUser, privateKeyPath: opts.privateKeyPath, knownHostsFile: opts.knownHostsFile }, jump)}`] : []),
      '-L', `127.0.0.1:${localPort}:${loopback ? '127.0.0.1' : host.privateIp}:${port}`,
      `${outputs.sshUser}@${address}`,
    ],
    url: `http://127.0.0.1:${localPort}${urlPath}`,
  };
}
