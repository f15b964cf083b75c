/** Issue 19: what the local target does past ~1,000 hosts, decided before anything is made. */
import { describe, expect, it } from 'vitest';
import { MAX_BRIDGE_PORTS, macOf, planLocal, staticNeighbours } from '../../scripts/core/local-plan';
import { validateFleetConfig } from '../../stacks/config';
import { configInput } from '../harness/fixtures';

describe('local plan at 1,000 agents', () => {
  it('GIVEN 1,000 agents (1,003 hosts) WHEN planned THEN one bridge port each, unique fixed MACs', () => {
    const plan = planLocal(validateFleetConfig(configInput({ agents: { count: 1000 }, local: { subnet: '10.236.0.0/21', prefix: 'lfk' } })));
    expect(plan.hosts.length).toBeLessThanOrEqual(MAX_BRIDGE_PORTS);
    expect(new Set([plan.bridgeMac, ...plan.hosts.map((h) => h.mac)]).size).toBe(plan.hosts.length + 1);
    expect(plan.hosts[0]).toMatchObject({ name: 'controller', ip: '10.236.0.10', mac: '02:4c:46:ec:00:0a' });
    expect(plan.bridgeMac).toBe(macOf('10.236.0.1'));
  });
  it('fails when the fleet needs more bridge ports than a Linux bridge has (BR_MAX_PORTS), naming the count and the fix', () => {
    const big = validateFleetConfig(configInput({ agents: { count: 1000 }, targets: [{ name: 'app', count: 30, ports: [8080] }], local: { subnet: '10.236.0.0/20', prefix: 'lfk' } }));
    expect(() => planLocal(big)).toThrow(/the fleet has 1032 hosts; the local target puts them all on one Linux bridge, which takes at most 1023 .*BR_MAX_PORTS.*agents\.count/);
  });
  it('static neighbours: an agent knows the bridge and the hubs (controller, targets, monitoring) only; a hub knows every host', () => {
    const plan = planLocal(validateFleetConfig(configInput({ agents: { count: 1000 }, local: { subnet: '10.236.0.0/21', prefix: 'lfk' } })));
    const byName = new Map(plan.hosts.map((h) => [h.name, h]));
    const hubs = plan.hosts.filter((h) => h.role !== 'agent');
    expect(hubs.map((h) => h.name)).toContain('controller');
    const agent = staticNeighbours(plan, byName.get('agent-500')!);
    expect(agent).toEqual([{ ip: plan.bridgeIp, mac: plan.bridgeMac }, ...hubs.map((h) => ({ ip: h.ip, mac: h.mac }))]);
    const controller = staticNeighbours(plan, byName.get('controller')!);
    expect(controller).toHaveLength(plan.hosts.length); // the bridge and every other host
    expect(controller).toContainEqual({ ip: byName.get('agent-1000')!.ip, mac: byName.get('agent-1000')!.mac });
    // what the whole fleet adds to the machine's one neighbour table: linear in the hosts
    const total = plan.hosts.reduce((n, h) => n + staticNeighbours(plan, h).length, 0);
    expect(total).toBeLessThanOrEqual(plan.hosts.length * (2 + 2 * hubs.length));
  });
});
