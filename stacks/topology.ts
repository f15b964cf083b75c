/**
 * The hosts a config asks for, by group. Pure; shared by the AWS stacks and the local target so both
 * name hosts the same way.
 */
import type { FleetConfig, Role } from './config';
import { agentRegions, regionId } from './regions';

export interface HostGroupSpec {
  /** Construct id and Terraform logical id: a contract (renaming it replaces machines). */
  readonly id: string;
  readonly role: Role;
  /** Host names are `<namePrefix>` for singletons, `<namePrefix>-<n>` (1-based) otherwise. */
  readonly namePrefix: string;
  readonly count: number;
  readonly singleton: boolean;
  readonly instanceType: string;
  /** For target groups: the ports generators may reach. */
  readonly ports: readonly number[];
  /** Agents outside the fleet's region: their region. @default the fleet's region */
  readonly region?: string;
  /** Numbering starts after this many (agents spread over regions). @default 0 */
  readonly offset?: number;
}

export function hostGroups(config: FleetConfig): HostGroupSpec[] {
  const groups: HostGroupSpec[] = [
    { id: 'controller', role: 'controller', namePrefix: 'controller', count: 1, singleton: true, instanceType: config.controller.instanceType, ports: [] },
    // One group per region (issue 18); the fleet's own region keeps the id `agents` (a contract).
    ...agentRegions(config).map(
      (r): HostGroupSpec => ({
        id: r.home ? 'agents' : `agents_${regionId(r.region)}`, role: 'agent', namePrefix: 'agent', count: r.count, singleton: false,
        instanceType: config.agents.instanceType, ports: [], ...(r.home ? {} : { region: r.region }), ...(r.offset ? { offset: r.offset } : {}),
      }),
    ),
    ...config.targets.map(
      (t): HostGroupSpec => ({ id: `target_${t.name}`, role: 'target', namePrefix: t.name, count: t.count, singleton: false, instanceType: t.instanceType, ports: t.ports }),
    ),
  ];
  if (config.monitoring.enabled) {
    groups.push({ id: 'monitoring', role: 'monitoring', namePrefix: 'monitoring', count: 1, singleton: true, instanceType: config.monitoring.instanceType, ports: [] });
  }
  return groups;
}

export function hostName(group: Pick<HostGroupSpec, 'namePrefix' | 'singleton' | 'offset'>, index: number): string {
  return group.singleton ? group.namePrefix : `${group.namePrefix}-${index + 1 + (group.offset ?? 0)}`;
}

export function hostCount(config: FleetConfig): number {
  return hostGroups(config).reduce((n, g) => n + g.count, 0);
}

/** All distinct target ports, sorted. */
export function targetPorts(config: FleetConfig): number[] {
  return [...new Set(config.targets.flatMap((t) => t.ports))].sort((a, b) => a - b);
}
