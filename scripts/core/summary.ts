/** Human-readable summaries. Pure. */
import type { FleetOutputs } from './env-record';
import { describeExpiry } from './env-record';
import { egressIps } from './door';

export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n');
}

export function formatOutputs(o: FleetOutputs, now: Date): string {
  const head = [
    `env ${o.env} (${o.target}, ${o.engine}) — ${o.hosts.length} hosts, expires ${o.expiresAt} (${describeExpiry(o.expiresAt, now)})`,
    o.master ? `master: ${o.master.address}:${o.master.port}` : 'master: none (this engine has no master)',
  ];
  const rows = [['ROLE', 'NAME', 'ID', 'PUBLIC IP', 'PRIVATE IP'], ...o.hosts.map((h) => [h.role, h.name, h.id, h.publicIp || '-', h.privateIp])];
  return `${head.join('\n')}\n${table(rows)}\n${egressLine(egressIps(o))}`;
}

/** Issue 18: the one line a target's firewall owner needs. */
export function egressLine(e: { kind: string; ips: readonly string[] }): string {
  const how: Record<string, string> = { 'nat-gateway': 'NAT gateway, Elastic IP', 'nat-instance': 'NAT instance, Elastic IP', public: "the agents' own public IPs", routed: 'private agents routed by the controller, no NAT (local target)', none: 'no egress' };
  return `egress IPs to allowlist: ${e.ips.length ? e.ips.join(', ') : 'none'} (${how[e.kind] ?? e.kind})`;
}

/** A one-line description of what `up` will create, for the confirmation question. */
export function describePlan(c: {
  name: string;
  region: string;
  engine: string;
  agents: { count: number; instanceType: string; capacity: string };
  controller: { instanceType: string };
  targets: readonly { name: string; count: number; instanceType: string }[];
  monitoring: { enabled: boolean; instanceType: string };
}, where: string): string {
  const parts = [
    `1 controller (${c.controller.instanceType})`,
    `${c.agents.count} ${c.engine} agent${c.agents.count === 1 ? '' : 's'} (${c.agents.instanceType}, ${c.agents.capacity})`,
    ...c.targets.map((t) => `${t.count} × ${t.name} (${t.instanceType})`),
    ...(c.monitoring.enabled ? [`monitoring (${c.monitoring.instanceType})`] : []),
  ];
  return `env ${c.name} in ${where}: ${parts.join(', ')}`;
}
