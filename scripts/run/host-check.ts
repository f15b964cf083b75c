/**
 * Where `run` may send load, and what a run that got no successful response says (issue 22). Pure.
 */
import type { FleetOutputs } from '../core/env-record';

/**
 * A --host that is not one of the fleet's target hosts: the problem to show (undefined when it is a target).
 * Load goes only to the fleet's own targets unless --allow-external-host says otherwise: a typo or a
 * copied URL would otherwise send a test's worth of requests to someone else's server.
 */
export function externalHostProblem(hostUrl: string, outputs: Pick<FleetOutputs, 'env' | 'hosts'>): string | undefined {
  let hostname: string;
  try {
    hostname = new URL(hostUrl).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return `--host (${hostUrl}) must be a URL like http://10.0.0.5:8080`;
  }
  const targets = outputs.hosts.filter((h) => h.role === 'target');
  if (targets.some((h) => h.privateIp === hostname || h.publicIp === hostname)) return undefined;
  const list = targets.length ? `its targets: ${targets.map((h) => `${h.name} ${h.privateIp}`).join(', ')}` : 'it has no target hosts';
  return `--host (${hostUrl}) is not a target host of env ${outputs.env} (${list}): pass --allow-external-host to load a server outside the fleet (one you may load), or leave --host out to use the first target`;
}

/**
 * `run` with no --host on a fleet whose agents span regions (issue 18 review item 8): the default URL is the
 * target's private address, which agents in other regions cannot reach (each region's VPC reuses the same
 * CIDR, and nothing routes between them). Until per-region addressing exists, such a run needs an explicit
 * --host every agent can reach: the problem to show, or undefined for a one-region fleet.
 */
export function multiRegionHostProblem(outputs: Pick<FleetOutputs, 'env' | 'hosts'>, port: number | undefined): string | undefined {
  const regions = [...new Set(outputs.hosts.filter((h) => h.role === 'agent').map((h) => h.region).filter((r): r is string => r !== undefined))];
  if (regions.length < 2) return undefined;
  const target = outputs.hosts.find((h) => h.role === 'target');
  const hint = target && target.publicIp ? `, e.g. --host http://${target.publicIp}${port ? `:${port}` : ''} (${target.name}'s public address, which its security group opens to every agent's public address)` : '';
  return `env ${outputs.env} has agents in several regions (${regions.join(', ')}): the default --host, the target's private address, does not route from the other regions' VPCs. Pass --host with an address every agent can reach${hint}`;
}

/** The n most frequent error messages, most frequent first (ties by message), as [message, count]. */
export function topErrors(errors: Readonly<Record<string, number>>, n: number): [string, number][] {
  return Object.entries(errors)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, n);
}

/** "503 ×12; ECONNREFUSED ×3", or what to read when the engine reported no messages. */
export function describeTopErrors(errors: Readonly<Record<string, number>>, n: number): string {
  const top = topErrors(errors, n);
  return top.length ? top.map(([m, c]) => `${m} ×${c}`).join('; ') : 'the engine reported no error messages (see the raw results and the engine log)';
}
