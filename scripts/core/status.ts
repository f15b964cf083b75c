/**
 * What `status` reports, from what it observed live: each host's state against the env's outputs, spot
 * interruptions (an agent in the state whose instance no longer runs), tagged resources that the state
 * does not know, time left before the dead-man switch, and cost. Pure: the action gathers the facts.
 */
import type { FleetOutputs } from './env-record';
import { describeExpiry } from './env-record';
import { costSoFar, usd, type FleetCost } from './cost';
import type { PriceTable } from './prices';
import type { Found } from './sweep';

export interface ObservedInstance {
  readonly id: string;
  /** EC2 state name (pending, running, stopped, terminated, …). */
  readonly state: string;
  readonly instanceType: string;
  readonly launchTime: string;
  readonly spot: boolean;
  /** EC2's state reason code, e.g. Server.SpotInstanceTermination. */
  readonly stateReason?: string;
  readonly tags: Record<string, string>;
  readonly privateIp?: string;
  readonly publicIp?: string;
}

export interface HostStatus {
  readonly name: string;
  readonly role: string;
  readonly id: string;
  /** Live state, or "missing" when nothing with this id exists any more. */
  readonly state: string;
  readonly instanceType?: string;
  readonly spot: boolean;
  /** True when the host is in the state but no longer runs, and EC2 (or its spot capacity) ended it. */
  readonly interrupted: boolean;
  readonly note?: string;
}

export interface StatusReport {
  readonly env: string;
  readonly target: 'aws' | 'local';
  readonly region: string | null;
  /** Every region the env uses, when more than one (agents spread over regions). */
  readonly regions?: readonly string[];
  /** Where the host list came from: the env folder's outputs, or EC2 tags alone. */
  readonly source: 'state' | 'tags';
  readonly status: string;
  /** The next command to run, when the env's record says one (e.g. after a failed clean-up). */
  readonly next?: string;
  /** Why the last up/down failed, when it did. */
  readonly failure?: { readonly reason: string; readonly next: string } | null;
  readonly expiresAt: string | null;
  readonly expiry: string | null;
  readonly secondsLeft: number | null;
  readonly hosts: readonly HostStatus[];
  readonly interruptions: number;
  /** Tagged with the env, but not in its state: left over from a crash, or made by hand. */
  readonly notInState: readonly { kind: string; id: string; name?: string }[];
  readonly cost: {
    readonly usdPerHour: number | null;
    readonly soFarUsd: number | null;
    readonly unknownTypes: readonly string[];
    readonly estimate?: FleetCost;
  };
}

const RUNNING = new Set(['pending', 'running']);

/** AWS: the outputs (when the env folder has them) against what EC2 reports now. */
export function awsStatus(input: {
  readonly env: string;
  readonly region: string;
  readonly status: string;
  readonly outputs?: FleetOutputs;
  readonly expiresAt?: string;
  readonly instances: readonly ObservedInstance[];
  readonly tagged: readonly Found[];
  /** Resource ids the Terraform state holds; undefined when the state is not readable here. */
  readonly stateIds?: ReadonlySet<string>;
  readonly estimate?: FleetCost;
  readonly prices: PriceTable;
  readonly now: Date;
}): StatusReport {
  const byId = new Map(input.instances.map((i) => [i.id, i]));
  let hosts: HostStatus[];
  if (input.outputs) {
    hosts = input.outputs.hosts.map((h) => {
      const i = byId.get(h.id);
      const state = i?.state ?? 'missing';
      const gone = !RUNNING.has(state);
      const spotEnded = i?.stateReason === 'Server.SpotInstanceTermination';
      // In the state but no longer running: a spot reclaim, the dead-man switch, or someone's hand.
      const interrupted = gone;
      return {
        name: h.name, role: h.role, id: h.id, state, instanceType: i?.instanceType, spot: i?.spot ?? false, interrupted,
        ...(gone ? { note: spotEnded ? 'spot capacity reclaimed by EC2' : state === 'missing' ? 'no such instance any more' : `no longer running (${i?.stateReason ?? state})` } : {}),
      };
    });
  } else {
    hosts = input.instances
      .filter((i) => i.state !== 'terminated')
      .map((i) => ({ name: (i.tags.Name ?? i.id).replace(new RegExp(`^${input.env}-`), ''), role: i.tags['loadfleet:role'] ?? 'unknown', id: i.id, state: i.state, instanceType: i.instanceType, spot: i.spot, interrupted: false }));
  }
  const known = input.stateIds ?? new Set(input.outputs?.hosts.map((h) => h.id) ?? []);
  const notInState = (input.stateIds || input.outputs)
    ? input.tagged.filter((f) => !known.has(f.id) && !(f.kind === 'key-pair' && f.name && known.has(f.name))).map((f) => ({ kind: f.kind, id: f.id, ...(f.name ? { name: f.name } : {}) }))
    : [];
  const running = input.instances.filter((i) => RUNNING.has(i.state));
  const soFar = costSoFar(running.map((i) => ({ instanceType: i.instanceType, capacity: i.spot ? 'spot' : 'on-demand', launchTime: i.launchTime })), input.region, input.now, input.prices);
  const hourly = running.reduce<number | null>((s, i) => {
    const p = input.prices.onDemandUsdPerHour[input.region]?.[i.instanceType];
    return s === null || p === undefined ? null : s + p;
  }, 0);
  // A downed env with nothing running has no dead-man switch to count down (issue 22.11): no time left is shown.
  const armed = input.status !== 'down' || running.length > 0;
  const expiresAt = armed ? (input.expiresAt ?? input.outputs?.expiresAt ?? (running.map((i) => i.tags['loadfleet:expires-at']).find(Boolean) || null)) : null;
  return {
    env: input.env, target: 'aws', region: input.region, source: input.outputs ? 'state' : 'tags', status: input.status,
    expiresAt: expiresAt || null,
    expiry: expiresAt ? describeExpiry(expiresAt, input.now) : null,
    secondsLeft: expiresAt ? Math.round((Date.parse(expiresAt) - input.now.getTime()) / 1000) : null,
    hosts, interruptions: hosts.filter((h) => h.interrupted).length, notInState,
    cost: { usdPerHour: hourly === null ? null : Math.round(hourly * 1e6) / 1e6, soFarUsd: soFar.usd, unknownTypes: soFar.unknownTypes, ...(input.estimate ? { estimate: input.estimate } : {}) },
  };
}

/** The local target: each host's process alive or not (no cost: it runs on this machine). */
export function localStatus(input: { readonly env: string; readonly status: string; readonly outputs: FleetOutputs; readonly alive: ReadonlySet<string>; readonly now: Date }): StatusReport {
  const hosts = input.outputs.hosts.map((h): HostStatus => {
    const up = input.alive.has(h.name);
    return { name: h.name, role: h.role, id: h.id, state: up ? 'running' : 'gone', spot: false, interrupted: false, ...(up ? {} : { note: 'its host process no longer runs: run "loadfleet up --target local" again' }) };
  });
  const expiresAt = input.status === 'down' && input.alive.size === 0 ? null : input.outputs.expiresAt || null;
  return {
    env: input.env, target: 'local', region: null, source: 'state', status: input.status, expiresAt,
    expiry: expiresAt ? describeExpiry(expiresAt, input.now) : null,
    secondsLeft: expiresAt ? Math.round((Date.parse(expiresAt) - input.now.getTime()) / 1000) : null,
    hosts, interruptions: 0, notInState: [], cost: { usdPerHour: 0, soFarUsd: 0, unknownTypes: [] },
  };
}

export function formatStatus(r: StatusReport, table: (rows: string[][]) => string): string {
  const out: string[] = [];
  out.push(`env ${r.env}: ${r.status} on ${r.target}${r.regions ? `, ${r.regions.join(' + ')}` : r.region ? `, ${r.region}` : ''}${r.source === 'tags' ? ' (from EC2 tags alone: no env folder here)' : ''}`);
  if (r.failure) out.push(`  ${r.failure.reason}`);
  if (r.next) out.push(`  run: ${r.next}`);
  out.push(r.expiresAt ? `dead-man switch: ${r.expiresAt} (${r.expiry})` : r.status === 'down' && !r.hosts.some((h) => h.state === 'running' || h.state === 'pending') ? 'dead-man switch: none (the env is down, nothing runs)' : 'dead-man switch: unknown (no expiry recorded or tagged)');
  if (r.hosts.length > 0) out.push(table([['HOST', 'ROLE', 'ID', 'STATE', 'NOTE'], ...r.hosts.map((h) => [h.name, h.role, h.id, h.state + (h.spot ? ' (spot)' : ''), h.interrupted ? `INTERRUPTED: ${h.note ?? ''}` : (h.note ?? '')])]));
  else out.push('no hosts');
  if (r.interruptions > 0) out.push(`${r.interruptions} host(s) in the state no longer run: run "loadfleet up" to replace them`);
  if (r.notInState.length > 0) out.push(`tagged with this env but not in its state (${r.notInState.length}): ${r.notInState.map((f) => `${f.kind} ${f.id}`).join(', ')}; "loadfleet sweep --env ${r.env}" removes them`);
  if (r.target === 'aws') {
    out.push(`cost: ${usd(r.cost.usdPerHour)}/h now running; so far ${usd(r.cost.soFarUsd)}${r.cost.unknownTypes.length ? ` (no price for ${r.cost.unknownTypes.join(', ')})` : ''}`);
    if (r.cost.estimate) out.push(`estimate for the config: ${usd(r.cost.estimate.usdPerHour)}/h; at most ${usd(r.cost.estimate.maxUntilDeadmanUsd)} before the dead-man switch${r.cost.estimate.untilDownUsdPerHour > 0 ? `, plus ${usd(r.cost.estimate.untilDownUsdPerHour)}/h until down (NAT gateway, Elastic IP)` : ''}`);
  }
  return out.join('\n');
}
