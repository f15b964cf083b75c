/**
 * Private agents, one door (issue 18): which hosts are reached through the controller as a jump host. Pure.
 * A host without a public IP (agents and private targets with network.agents: private, on AWS and on the local
 * target alike) is reached through the controller's public address; every other host directly.
 */
import type { Host } from './env-record';

/** The jump host's address for `address`, or undefined when it is reached directly. */
export function jumpFor(hosts: readonly Host[], address: string): string | undefined {
  const h = hosts.find((x) => x.privateIp === address && x.publicIp === '');
  if (!h || h.role === 'controller') return undefined;
  const door = hosts.find((x) => x.role === 'controller');
  return door && door.publicIp !== '' ? door.publicIp : undefined;
}

/** Where to connect for a host: its public address, else its private one (through the door). */
export function reachOf(h: Pick<Host, 'publicIp' | 'privateIp'>): string {
  return h.publicIp || h.privateIp;
}

/** "egress IPs to allowlist": the NAT's Elastic IPs, else the agents' own public IPs. */
export function egressIps(o: { hosts: readonly Host[]; egress?: { kind: string; ips: readonly string[] } }): { kind: string; ips: string[] } {
  if (o.egress) return { kind: o.egress.kind, ips: [...o.egress.ips] };
  return { kind: 'public', ips: [...new Set(o.hosts.filter((h) => h.role === 'agent').map((h) => h.publicIp).filter((ip) => ip !== ''))] };
}
