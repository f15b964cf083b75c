/**
 * Agents spread over several regions (issue 18, part 2): the config's rules and the per-region plan. Pure.
 * The controller and monitoring stay in the fleet's `region`; each other region gets its own provider alias
 * and VPC, and its agents reach the master over the public internet, allowed only from the fleet's own
 * public addresses (never 0.0.0.0/0).
 */
import type { Zod } from './zod';

/** Upper bound for agents.count (and for agents.regions' sum): beyond this one env is the wrong tool (split it, and ask AWS for quota). */
export const MAX_AGENTS = 1000;

/** The default when neither agents.count nor agents.regions is given. */
export const DEFAULT_AGENT_COUNT = 3;

/** Engines whose controller dials the agents (JMeter's RMI): over the internet it would need the agents' private addresses routed. */
const CONTROLLER_DIALS_AGENTS = new Set(['jmeter']);

interface AgentsIn {
  count?: number;
  regions?: Record<string, number>;
}

/** Fills agents.count: the sum of agents.regions when only regions is given, else the default. */
export function withRegionCount<T extends AgentsIn>(a: T): Omit<T, 'count'> & { count: number } {
  const sum = a.regions ? Object.values(a.regions).reduce((n, v) => n + v, 0) : undefined;
  return { ...a, count: a.count ?? sum ?? DEFAULT_AGENT_COUNT };
}

interface RegionsConfig {
  readonly region: string;
  readonly engine: string;
  readonly agents: { readonly count: number; readonly regions?: Readonly<Record<string, number>> };
  readonly ami: { readonly id: string | null; readonly baked: boolean };
}

export function checkRegions(c: RegionsConfig, ctx: Zod.RefinementCtx): void {
  const regions = c.agents.regions;
  if (!regions) return;
  const names = Object.keys(regions);
  if (names.length === 0) {
    ctx.addIssue({ code: 'custom', path: ['agents', 'regions'], message: 'lists no region: name at least one, e.g. { us-east-1: 3 }, or drop agents.regions' });
    return;
  }
  const sum = Object.values(regions).reduce((n, v) => n + v, 0);
  if (sum > MAX_AGENTS) {
    ctx.addIssue({
      code: 'custom',
      path: ['agents', 'regions'],
      message: `adds up to ${sum} agents (${names.map((r) => `${r}: ${regions[r]}`).join(', ')}), more than ${MAX_AGENTS}: lower the counts to at most ${MAX_AGENTS} in all, or split the fleet into several envs`,
    });
    return;
  }
  if (c.agents.count !== sum) {
    ctx.addIssue({
      code: 'custom',
      path: ['agents', 'count'],
      message: `disagrees with agents.regions, whose counts add up to ${sum} (${names.map((r) => `${r}: ${regions[r]}`).join(', ')}): drop agents.count or set it to ${sum}`,
    });
  }
  const away = names.filter((r) => r !== c.region);
  if (away.length > 0 && (c.ami.id !== null || c.ami.baked)) {
    ctx.addIssue({
      code: 'custom',
      path: ['ami', c.ami.id !== null ? 'id' : 'baked'],
      message: `names an image of ${c.region} only, but agents.regions puts agents in ${away.join(', ')} too (AMI ids are regional; those agents use that region's Amazon Linux 2023): drop ami.${c.ami.id !== null ? 'id' : 'baked'}, or keep every agent in ${c.region}`,
    });
  }
  if (CONTROLLER_DIALS_AGENTS.has(c.engine) && names.some((r) => r !== c.region)) {
    ctx.addIssue({
      code: 'custom',
      path: ['agents', 'regions'],
      message: `puts agents outside the fleet's region (${c.region}), which engine ${c.engine} cannot use: its controller connects to the agents' private addresses (RMI), which do not route between regions. Keep every agent in ${c.region}, or use locust, k6, artillery or ngrinder`,
    });
  }
}

/** Agents of one region: where they go and how they are numbered. */
export interface AgentRegion {
  readonly region: string;
  readonly count: number;
  /** agent-(offset+1) … agent-(offset+count): names run on across regions, in the order the config lists them. */
  readonly offset: number;
  /** The fleet's own region (the default provider and VPC). */
  readonly home: boolean;
}

/** Per region, in the config's order; a config without agents.regions is one home region with every agent. */
export function agentRegions(c: Pick<RegionsConfig, 'region' | 'agents'>): AgentRegion[] {
  const entries = c.agents.regions ? Object.entries(c.agents.regions) : [[c.region, c.agents.count] as const];
  let offset = 0;
  return entries.map(([region, count]) => {
    const r = { region, count, offset, home: region === c.region };
    offset += count;
    return r;
  });
}

/** Every region the fleet uses, its own first. */
export function fleetRegions(c: Pick<RegionsConfig, 'region' | 'agents'>): string[] {
  return [...new Set([c.region, ...agentRegions(c).map((r) => r.region)])];
}

/** Whether any agent runs outside the fleet's region (then agents reach the master on its public address). */
export function spansRegions(c: Pick<RegionsConfig, 'region' | 'agents'>): boolean {
  return agentRegions(c).some((r) => !r.home);
}

/** Terraform-safe suffix for a region's resources: eu-west-1 → eu_west_1. */
export function regionId(region: string): string {
  return region.replace(/-/g, '_');
}
