/**
 * What listens where, as whom, reachable from whom (issue 20): the one list behind the README's table and the
 * local fleet's `ss -ltnp` audit (test/integration/monitoring.test.ts), so neither can drift from the other.
 * Pure data. EC2 users and addresses come from the installers (scripts/engines/*.ts, scripts/monitoring/*.ts);
 * what reaches them from the security groups (stacks/constructs/security.ts).
 */
import { JMETER_PORTS, MONITORING_PORTS, NGRINDER_PORTS, type EngineName } from '../../stacks/engines';
import type { Role } from '../../stacks/config';
import { K6_API_PORT } from '../run/commands';

export type ListenAddress = 'private' | 'loopback' | 'any';

export interface ListenerRow {
  readonly roles: readonly Role[];
  readonly what: string;
  /** A port or, for the targets, the config's `targets[].ports`. */
  readonly port: number | 'target ports' | readonly [number, number];
  readonly address: ListenAddress;
  /** Who owns the socket: on EC2, and on the local target (null: not there). */
  readonly user: { readonly aws: string; readonly local: string | null };
  /** 'always' once installed; 'run' only while `run` runs. */
  readonly when: 'always' | 'run';
  readonly engines?: readonly EngineName[];
  /** Only with monitoring.enabled. */
  readonly monitoring?: true;
  readonly reach: string;
}

const ALL: readonly Role[] = ['controller', 'agent', 'target', 'monitoring'];

export const LISTENERS: readonly ListenerRow[] = [
  { roles: ALL, what: 'sshd', port: 22, address: 'any', user: { aws: 'root', local: 'root' }, when: 'always', reach: 'access.sshCidrs (local: the machine; sshd listens on the host\'s own address)' },
  { roles: ALL, what: 'node_exporter', port: MONITORING_PORTS.nodeExporter, address: 'private', user: { aws: 'node_exporter', local: 'node_exporter' }, when: 'always', monitoring: true, reach: 'the monitoring host\'s group' },
  { roles: ['monitoring'], what: 'Prometheus', port: MONITORING_PORTS.prometheus, address: 'private', user: { aws: 'prometheus', local: 'prometheus' }, when: 'always', monitoring: true, reach: 'the monitoring host itself; the agents\' group for k6\'s remote write; people: `loadfleet tunnel prometheus`' },
  { roles: ['monitoring'], what: 'Grafana', port: MONITORING_PORTS.grafana, address: 'any', user: { aws: 'grafana', local: null }, when: 'always', monitoring: true, reach: 'no rule: `loadfleet tunnel grafana` only' },
  { roles: ['controller'], what: 'Locust master (workers connect)', port: 5557, address: 'any', user: { aws: 'loadfleet', local: 'root' }, when: 'always', engines: ['locust'], reach: 'the agents\' group' },
  { roles: ['controller'], what: 'Locust web UI and API', port: 8089, address: 'loopback', user: { aws: 'loadfleet', local: 'root' }, when: 'always', engines: ['locust'], reach: 'the controller itself: `run` over SSH, people through `loadfleet tunnel controller`' },
  { roles: ['controller'], what: 'nGrinder web UI, REST API, agent package', port: NGRINDER_PORTS.ui, address: 'any', user: { aws: 'ngrinder', local: null }, when: 'always', engines: ['ngrinder'], reach: 'the agents\' group; people: `loadfleet tunnel controller` (local 8080)' },
  { roles: ['controller'], what: 'nGrinder agent controller', port: NGRINDER_PORTS.agentController, address: 'any', user: { aws: 'ngrinder', local: null }, when: 'always', engines: ['ngrinder'], reach: 'the agents\' group' },
  { roles: ['controller'], what: 'nGrinder test consoles', port: [NGRINDER_PORTS.consoleBase, NGRINDER_PORTS.consoleBase + NGRINDER_PORTS.maxConcurrentTests - 1], address: 'any', user: { aws: 'ngrinder', local: null }, when: 'run', engines: ['ngrinder'], reach: 'the agents\' group' },
  { roles: ['agent'], what: 'jmeter-server RMI registry', port: JMETER_PORTS.registry, address: 'any', user: { aws: 'jmeter', local: null }, when: 'always', engines: ['jmeter'], reach: 'the controller\'s group' },
  { roles: ['agent'], what: 'jmeter-server engine (server.rmi.localport)', port: JMETER_PORTS.serverLocal, address: 'any', user: { aws: 'jmeter', local: null }, when: 'always', engines: ['jmeter'], reach: 'the controller\'s group' },
  { roles: ['controller'], what: 'JMeter client callbacks', port: [JMETER_PORTS.clientBase + 1, JMETER_PORTS.clientBase + 2], address: 'any', user: { aws: 'jmeter', local: null }, when: 'run', engines: ['jmeter'], reach: 'the agents\' group' },
  { roles: ['agent'], what: 'k6 REST API (paused start, live metrics, stop)', port: K6_API_PORT, address: 'loopback', user: { aws: 'k6', local: null }, when: 'run', engines: ['k6'], reach: 'the agent itself: `run` over SSH' },
  { roles: ['target'], what: 'nginx (`loadfleet serve`) or your own service', port: 'target ports', address: 'any', user: { aws: 'yours', local: 'root, nobody' }, when: 'always', reach: 'the agents\' and the controller\'s groups' },
];

/** One expected socket on a local host: address (an IP, 0.0.0.0 or 127.0.0.1), port, owning users. */
export interface ExpectedSocket {
  readonly address: string;
  readonly port: number;
  readonly users: readonly string[];
  readonly what: string;
}

/** What a local host of `role` listens on once installed (and served, for targets). */
export function expectedLocalListeners(o: { role: Role; engine: EngineName; monitoring: boolean; privateIp: string; targetPorts: readonly number[] }): ExpectedSocket[] {
  const out: ExpectedSocket[] = [];
  for (const r of LISTENERS) {
    if (r.when !== 'always' || r.user.local === null || !r.roles.includes(o.role)) continue;
    if (r.engines && !r.engines.includes(o.engine)) continue;
    if (r.monitoring && !o.monitoring) continue;
    // sshd on a local host listens on that host's address (scripts/core/local-plan.ts sshdConfig: ListenAddress).
    const address = r.what === 'sshd' || r.address === 'private' ? o.privateIp : r.address === 'loopback' ? '127.0.0.1' : '0.0.0.0';
    const ports = r.port === 'target ports' ? o.targetPorts : typeof r.port === 'number' ? [r.port] : [];
    for (const port of ports) out.push({ address, port, users: r.user.local.split(', '), what: r.what });
  }
  return out;
}

const portText = (p: ListenerRow['port']) => (typeof p === 'number' ? String(p) : p === 'target ports' ? '`targets[].ports`' : `${p[0]}–${p[1]}`);
const addressText: Record<ListenAddress, string> = { private: 'private IP', loopback: '127.0.0.1', any: 'all (0.0.0.0)' };

/** The README's table (a unit test checks the README holds exactly this). */
export function listenersTable(): string {
  const rows = LISTENERS.map((r) => `| ${r.roles.length === ALL.length ? 'every host' : r.roles.join(', ')} | ${r.what}${r.engines ? ` (${r.engines.join(', ')})` : ''}${r.monitoring ? ' (monitoring)' : ''} | ${portText(r.port)} | ${addressText[r.address]} | ${r.when === 'run' ? 'during `run`' : 'installed'} | ${r.user.aws} | ${r.user.local ?? '—'} | ${r.reach} |`);
  return ['| host | what | port | listens on | when | user (EC2) | user (local) | reachable from |', '| --- | --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}
