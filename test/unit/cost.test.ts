import { describe, expect, it } from 'vitest';
import { costGroupsOf, costSoFar, fleetCost, formatCost, overLimit, usd } from '../../scripts/core/cost';
import { OFFLINE_PRICES, type PriceTable } from '../../scripts/core/prices';
import { validateFleetConfig } from '../../stacks/config';
import { configInput } from '../harness/fixtures';

const PRICES: PriceTable = { source: 'test table', date: '2026-01-01', onDemandUsdPerHour: { 'us-east-1': { 'c5.large': 0.085, 't3.small': 0.0208 } } };

describe('fleet cost', () => {
  it('prices every role and the total, and bounds a forgotten fleet by the dead-man switch', () => {
    // GIVEN 1 controller + 3 agents (c5.large) and monitoring (t3.small), 4 h ttl
    const config = validateFleetConfig(configInput({ agents: { count: 3 }, ttlHours: 4 }));
    // WHEN
    const c = fleetCost(costGroupsOf(config), 'us-east-1', config.ttlHours, PRICES);
    // THEN
    expect(c.groups.map((g) => [g.role, g.count, g.usdPerHour])).toEqual([['controller', 1, 0.085], ['agent', 3, 0.255], ['monitoring', 1, 0.0208]]);
    expect(c.usdPerHour).toBeCloseTo(0.3608, 6);
    expect(c.maxUntilDeadmanUsd).toBeCloseTo(1.4432, 6);
    expect(formatCost(c)).toContain('test table, 2026-01-01');
  });

  it('leaves the NAT gateway and Elastic IP out of the dead-man bound: they run on until down (issue 18 review, item 9)', () => {
    const config = validateFleetConfig(configInput({ agents: { count: 3 }, ttlHours: 4, network: { agents: 'private', egress: 'nat-gateway' } }));
    const c = fleetCost(costGroupsOf(config), 'us-east-1', config.ttlHours, PRICES);
    // instances: controller 0.085 + agents 3 × 0.085 + monitoring 0.0208 = 0.3608/h; NAT gateway 0.045 + EIP 0.005 = 0.05/h
    expect(c.usdPerHour).toBeCloseTo(0.4108, 6);
    expect(c.untilDownUsdPerHour).toBeCloseTo(0.05, 6);
    expect(c.maxUntilDeadmanUsd).toBeCloseTo(0.3608 * 4, 6);
    expect(formatCost(c)).toContain('if forgotten: at most $1.44 before the dead-man switch ends it (4 h); the NAT gateway and Elastic IP ($0.0500/h) run on until down: the switch does not end them');
  });

  it('shows an unknown instance type as unknown, never as zero, and the total as unknown', () => {
    const config = validateFleetConfig(configInput({ agents: { count: 2, instanceType: 'x9z.huge' } }));
    const c = fleetCost(costGroupsOf(config), 'us-east-1', 4, PRICES);
    expect(c.groups.find((g) => g.role === 'agent')!.usdPerHour).toBeNull();
    expect(c.usdPerHour).toBeNull();
    expect(c.maxUntilDeadmanUsd).toBeNull();
    expect(c.unknownTypes).toEqual(['x9z.huge']);
    expect(c.knownUsdPerHour).toBeCloseTo(0.1058, 6);
    expect(formatCost(c)).toMatch(/total unknown\/h \(known part \$0\.1058\/h; no price for x9z\.huge in us-east-1\)/);
  });

  it('prices a region missing from the table as unknown', () => {
    const c = fleetCost(costGroupsOf(validateFleetConfig(configInput())), 'eu-west-3', 4, PRICES);
    expect(c.usdPerHour).toBeNull();
  });

  it('estimates spot agents at their ceiling: spotMaxPrice, else the on-demand price', () => {
    const withMax = fleetCost(costGroupsOf(validateFleetConfig(configInput({ agents: { count: 10, capacity: 'spot', spotMaxPrice: '0.04' } }))), 'us-east-1', 2, PRICES);
    const agent = withMax.groups.find((g) => g.role === 'agent')!;
    expect([agent.capacity, agent.unitUsdPerHour, agent.usdPerHour]).toEqual(['spot', 0.04, 0.4]);
    const noMax = fleetCost(costGroupsOf(validateFleetConfig(configInput({ agents: { count: 10, capacity: 'spot' } }))), 'us-east-1', 2, PRICES);
    expect(noMax.groups.find((g) => g.role === 'agent')!.unitUsdPerHour).toBe(0.085);
    expect(formatCost(noMax)).toContain('spot (at most)');
  });

  it('refuses an estimate over the limit, and an unknown one, and passes one under it', () => {
    const c = fleetCost(costGroupsOf(validateFleetConfig(configInput({ agents: { count: 3 } }))), 'us-east-1', 4, PRICES);
    expect(overLimit(c, undefined)).toBeUndefined();
    expect(overLimit(c, 1)).toBeUndefined();
    expect(overLimit(c, 0.2)).toMatch(/costs \$0\.3608\/h, over the max cost per hour \(0\.2\)/);
    const unknown = fleetCost(costGroupsOf(validateFleetConfig(configInput({ agents: { count: 1, instanceType: 'x9z.huge' } }))), 'us-east-1', 4, PRICES);
    expect(overLimit(unknown, 100)).toMatch(/unknown \(no price for x9z\.huge/);
  });

  it('adds up what running instances have cost so far, per second', () => {
    const now = new Date('2026-01-01T02:00:00Z');
    const r = costSoFar([{ instanceType: 'c5.large', capacity: 'on-demand', launchTime: '2026-01-01T00:00:00Z' }, { instanceType: 't3.small', capacity: 'on-demand', launchTime: '2026-01-01T01:30:00Z' }], 'us-east-1', now, PRICES);
    expect(r.usd).toBeCloseTo(0.17 + 0.0104, 6);
    const unknown = costSoFar([{ instanceType: 'x9z.huge', capacity: 'on-demand', launchTime: '2026-01-01T00:00:00Z' }], 'us-east-1', now, PRICES);
    expect(unknown.usd).toBeNull();
    expect(usd(unknown.usd)).toBe('unknown');
  });

  it('has a dated, sourced offline table with the config defaults in it', () => {
    expect(OFFLINE_PRICES.date).toMatch(/\d{4}-\d{2}-\d{2}/);
    expect(OFFLINE_PRICES.source).toMatch(/riceissa\/computing-data-project/);
    for (const t of ['c5.large', 't3.small']) expect(OFFLINE_PRICES.onDemandUsdPerHour['us-east-1']![t]).toBeGreaterThan(0);
  });
});
