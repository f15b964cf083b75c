/**
 * What a fleet costs: per role and in total, per hour; the most a forgotten fleet can cost before its
 * dead-man switch terminates it; and what running instances have cost so far. Pure: prices come in as a
 * table (scripts/core/prices.ts offline, or a fresher one from the Pricing API adapter).
 *
 * Spot: the estimate is the ceiling, never a guess at the market price: the config's spotMaxPrice, else
 * the on-demand price (AWS's default maximum for a spot request).
 */
import type { PriceTable } from './prices';
import type { FleetConfig } from '../../stacks/config';
import { hostGroups } from '../../stacks/topology';
import { egressOf } from '../../stacks/private-network';

export type Capacity = 'on-demand' | 'spot';

export interface CostGroup {
  readonly role: string;
  readonly count: number;
  readonly instanceType: string;
  readonly capacity: Capacity;
  /** USD per hour per instance, the spot ceiling; from the config's spotMaxPrice. */
  readonly spotMaxPrice?: number;
  /** Agents in another region than the fleet's (issue 18): priced at that region's rate. @default the fleet's region */
  readonly region?: string;
  /** A price that is not an instance's (the NAT gateway's hourly charge): used as it is. */
  readonly fixedUsdPerHour?: number;
  /** Billed until `down` (or a sweep): the dead-man switch only ends instances, never a NAT gateway or an Elastic IP. */
  readonly untilDown?: boolean;
}

/**
 * Issue 18: a NAT gateway's hourly charge and an Elastic IP's (every public IPv4 address), us-east-1 list prices
 * (aws.amazon.com/vpc/pricing, as quoted in 2026 guides: cloudburn.io, basavytix.com). Data processed by a NAT
 * gateway ($0.045/GB) comes on top and depends on the test: the estimate names it, it cannot count it.
 */
export const NAT_GATEWAY_USD_PER_HOUR = 0.045;
export const EIP_USD_PER_HOUR = 0.005;

export interface GroupCost extends CostGroup {
  /** USD per hour per instance; null when the type's price is unknown. */
  readonly unitUsdPerHour: number | null;
  readonly usdPerHour: number | null;
}

export interface FleetCost {
  readonly region: string;
  readonly groups: readonly GroupCost[];
  /** Sum of the known groups. */
  readonly knownUsdPerHour: number;
  /** Null as soon as one group's price is unknown: a total that leaves a group out would mislead. */
  readonly usdPerHour: number | null;
  readonly unknownTypes: readonly string[];
  readonly ttlHours: number;
  /** What the dead-man switch ends (the instances) × ttlHours: what they cost if nobody runs `down`. */
  readonly maxUntilDeadmanUsd: number | null;
  /** Per hour for what the switch does not end (NAT gateway, Elastic IP): billed until `down`. */
  readonly untilDownUsdPerHour: number;
  readonly source: string;
  readonly date: string;
}

/** The config's hosts as cost groups: one per host group (each target group on its own). */
export function costGroupsOf(config: FleetConfig): CostGroup[] {
  const spot = config.agents.capacity === 'spot';
  const egress = egressOf(config);
  const nat: CostGroup[] =
    egress === 'nat-gateway' ? [{ role: 'nat', count: 1, instanceType: 'nat-gateway', capacity: 'on-demand', fixedUsdPerHour: NAT_GATEWAY_USD_PER_HOUR, untilDown: true }]
    : egress === 'nat-instance' ? [{ role: 'nat', count: 1, instanceType: config.network.natInstanceType, capacity: 'on-demand' }]
    : [];
  const eip: CostGroup[] = egress === 'nat-gateway' || egress === 'nat-instance' ? [{ role: 'egress-ip', count: 1, instanceType: 'elastic-ip', capacity: 'on-demand', fixedUsdPerHour: EIP_USD_PER_HOUR, untilDown: true }] : [];
  return [...hostGroups(config).map((g): CostGroup => ({
    role: g.role === 'target' ? `target:${g.namePrefix}` : g.region ? `${g.role}@${g.region}` : g.role,
    count: g.count,
    ...(g.region ? { region: g.region } : {}),
    instanceType: g.instanceType,
    capacity: g.role === 'agent' && spot ? 'spot' : 'on-demand',
    ...(g.role === 'agent' && spot && config.agents.spotMaxPrice !== undefined ? { spotMaxPrice: Number(config.agents.spotMaxPrice) } : {}),
  })), ...nat, ...eip];
}

export function onDemandPrice(prices: PriceTable, region: string, instanceType: string): number | null {
  return prices.onDemandUsdPerHour[region]?.[instanceType] ?? null;
}

export function unitPrice(prices: PriceTable, region: string, g: Pick<CostGroup, 'instanceType' | 'capacity' | 'spotMaxPrice' | 'fixedUsdPerHour'>): number | null {
  if (g.fixedUsdPerHour !== undefined) return g.fixedUsdPerHour;
  if (g.capacity === 'spot' && g.spotMaxPrice !== undefined) return g.spotMaxPrice;
  return onDemandPrice(prices, region, g.instanceType);
}

export function fleetCost(groups: readonly CostGroup[], region: string, ttlHours: number, prices: PriceTable): FleetCost {
  const priced = groups.map((g): GroupCost => {
    const unit = unitPrice(prices, g.region ?? region, g);
    return { ...g, unitUsdPerHour: unit, usdPerHour: unit === null ? null : round(unit * g.count) };
  });
  const unknownTypes = [...new Set(priced.filter((g) => g.unitUsdPerHour === null).map((g) => g.instanceType))];
  const knownUsdPerHour = round(priced.reduce((s, g) => s + (g.usdPerHour ?? 0), 0));
  const usdPerHour = unknownTypes.length > 0 ? null : knownUsdPerHour;
  const untilDownUsdPerHour = round(priced.reduce((s, g) => s + (g.untilDown ? (g.usdPerHour ?? 0) : 0), 0));
  return {
    region, groups: priced, knownUsdPerHour, usdPerHour, unknownTypes, ttlHours,
    maxUntilDeadmanUsd: usdPerHour === null ? null : round((usdPerHour - untilDownUsdPerHour) * ttlHours),
    untilDownUsdPerHour,
    source: prices.source, date: prices.date,
  };
}

export interface RunningInstance {
  readonly instanceType: string;
  readonly capacity: Capacity;
  /** ISO-8601 launch time. */
  readonly launchTime: string;
}

/** Cost so far of running instances: hours since launch × unit price (per-second billing). */
export function costSoFar(instances: readonly RunningInstance[], region: string, now: Date, prices: PriceTable): { usd: number | null; knownUsd: number; unknownTypes: string[] } {
  let knownUsd = 0;
  const unknown = new Set<string>();
  for (const i of instances) {
    const unit = onDemandPrice(prices, region, i.instanceType);
    const hours = Math.max(0, (now.getTime() - Date.parse(i.launchTime)) / 3_600_000);
    if (unit === null || !Number.isFinite(hours)) unknown.add(i.instanceType);
    else knownUsd += unit * hours;
  }
  knownUsd = round(knownUsd);
  return { usd: unknown.size > 0 ? null : knownUsd, knownUsd, unknownTypes: [...unknown] };
}

/** "$0.3400" or "unknown". Four decimals: small instances cost fractions of a cent. */
export function usd(v: number | null): string {
  return v === null ? 'unknown' : `$${v.toFixed(v < 1 ? 4 : 2)}`;
}

/** The estimate as lines for a terminal: per role, total, the dead-man bound, the source. */
export function formatCost(c: FleetCost): string {
  const lines = c.groups.map((g) => `  ${g.role.padEnd(11)} ${String(g.count).padStart(4)} × ${g.instanceType.padEnd(12)} ${g.capacity === 'spot' ? 'spot (at most)' : 'on-demand     '} ${usd(g.usdPerHour)}/h`);
  lines.push(`  total ${usd(c.usdPerHour)}/h${c.usdPerHour === null ? ` (known part ${usd(c.knownUsdPerHour)}/h; no price for ${c.unknownTypes.join(', ')} in ${c.region})` : ''}`);
  const kept = c.groups.filter((g) => g.untilDown).map((g) => (g.instanceType === 'nat-gateway' ? 'NAT gateway' : g.instanceType === 'elastic-ip' ? 'Elastic IP' : g.role));
  lines.push(`  if forgotten: at most ${usd(c.maxUntilDeadmanUsd)} before the dead-man switch ends it (${c.ttlHours} h)${kept.length > 0 ? `; the ${kept.join(' and ')} (${usd(c.untilDownUsdPerHour)}/h) run on until down: the switch does not end them` : ''}`);
  if (c.groups.some((g) => g.instanceType === 'nat-gateway')) lines.push(`  plus $${NAT_GATEWAY_USD_PER_HOUR}/GB the NAT gateway processes (not in the total: it depends on the test)`);
  lines.push(`  prices: ${c.source}, ${c.date}`);
  return `cost estimate (${c.region}):\n${lines.join('\n')}`;
}

/** Refuses an estimate over the limit; an unknown estimate cannot be shown to be under it. Returns the reason or undefined. */
export function overLimit(c: FleetCost, maxPerHour: number | undefined): string | undefined {
  if (maxPerHour === undefined) return undefined;
  if (c.usdPerHour === null) return `the hourly cost is unknown (no price for ${c.unknownTypes.join(', ')} in ${c.region}), so it cannot be shown to stay under max cost per hour (${maxPerHour}): use instance types from the price table, or drop the limit`;
  if (c.usdPerHour > maxPerHour) return `the fleet costs ${usd(c.usdPerHour)}/h, over the max cost per hour (${maxPerHour}): use fewer or smaller instances, or raise the limit`;
  return undefined;
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
