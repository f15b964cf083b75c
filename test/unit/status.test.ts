import { describe, expect, it } from 'vitest';
import { awsStatus, formatStatus, localStatus, type ObservedInstance } from '../../scripts/core/status';
import { table } from '../../scripts/core/summary';
import type { FleetOutputs } from '../../scripts/core/env-record';
import type { PriceTable } from '../../scripts/core/prices';

const PRICES: PriceTable = { source: 't', date: '2026-01-01', onDemandUsdPerHour: { 'us-east-1': { 'c5.large': 0.1 } } };
const NOW = new Date('2026-01-01T01:00:00Z');
const outputs: FleetOutputs = {
  env: 'e', target: 'aws', engine: 'locust', expiresAt: '2026-01-01T03:00:00Z', sshUser: 'ec2-user', master: null,
  hosts: [
    { role: 'controller', group: 'controller', name: 'controller', id: 'i-1', publicIp: '', privateIp: '10.0.0.1' },
    { role: 'agent', group: 'agent', name: 'agent-1', id: 'i-2', publicIp: '', privateIp: '10.0.0.2' },
    { role: 'agent', group: 'agent', name: 'agent-2', id: 'i-3', publicIp: '', privateIp: '10.0.0.3' },
  ],
};
const inst = (id: string, state: string, extra: Partial<ObservedInstance> = {}): ObservedInstance => ({ id, state, instanceType: 'c5.large', launchTime: '2026-01-01T00:00:00Z', spot: false, tags: { 'loadfleet:env': 'e' }, ...extra });

describe('status', () => {
  it('marks an agent in the state that no longer runs as interrupted, and says when spot capacity was reclaimed', () => {
    const r = awsStatus({
      env: 'e', region: 'us-east-1', status: 'up', outputs, prices: PRICES, now: NOW, tagged: [], stateIds: new Set(['i-1', 'i-2', 'i-3']),
      instances: [inst('i-1', 'running'), inst('i-2', 'terminated', { spot: true, stateReason: 'Server.SpotInstanceTermination' })],
    });
    expect(r.hosts.map((h) => [h.name, h.state, h.interrupted])).toEqual([['controller', 'running', false], ['agent-1', 'terminated', true], ['agent-2', 'missing', true]]);
    expect(r.hosts[1]!.note).toBe('spot capacity reclaimed by EC2');
    expect(r.interruptions).toBe(2);
    expect(r.cost.usdPerHour).toBeCloseTo(0.1, 6);
    expect(r.cost.soFarUsd).toBeCloseTo(0.1, 6);
    expect(r.secondsLeft).toBe(7200);
    expect(formatStatus(r, table)).toMatch(/2 host\(s\) in the state no longer run/);
  });

  it('lists tagged resources the state does not hold', () => {
    const r = awsStatus({
      env: 'e', region: 'us-east-1', status: 'up', outputs, prices: PRICES, now: NOW, stateIds: new Set(['i-1', 'i-2', 'i-3', 'vpc-1']),
      instances: [inst('i-1', 'running'), inst('i-2', 'running'), inst('i-3', 'running')],
      tagged: [{ kind: 'vpc', id: 'vpc-1', env: 'e' }, { kind: 'security-group', id: 'sg-9', env: 'e' }, { kind: 'instance', id: 'i-3', env: 'e' }],
    });
    expect(r.notInState).toEqual([{ kind: 'security-group', id: 'sg-9' }]);
  });

  it('works from tags alone: hosts and expiry from the instances, cost unknown for an unpriced type', () => {
    const r = awsStatus({
      env: 'e', region: 'us-east-1', status: 'up (tags)', prices: PRICES, now: NOW, tagged: [],
      instances: [inst('i-1', 'running', { tags: { 'loadfleet:env': 'e', 'loadfleet:role': 'agent', Name: 'e-agent-1', 'loadfleet:expires-at': '2026-01-01T02:00:00Z' } }), inst('i-2', 'running', { instanceType: 'x9.odd' })],
    });
    expect(r.source).toBe('tags');
    expect(r.hosts[0]).toMatchObject({ name: 'agent-1', role: 'agent', state: 'running' });
    expect(r.expiresAt).toBe('2026-01-01T02:00:00Z');
    expect(r.cost.usdPerHour).toBeNull();
    expect(r.cost.soFarUsd).toBeNull();
    expect(formatStatus(r, table)).toMatch(/cost: unknown\/h now running; so far unknown \(no price for x9\.odd\)/);
  });

  it('reports local hosts whose process is gone', () => {
    const r = localStatus({ env: 'e', status: 'up', outputs: { ...outputs, target: 'local' }, alive: new Set(['controller', 'agent-1']), now: NOW });
    expect(r.hosts.map((h) => h.state)).toEqual(['running', 'running', 'gone']);
    expect(r.cost).toMatchObject({ usdPerHour: 0, soFarUsd: 0 });
  });

  it('shows no dead-man time left for a downed env with nothing running (issue 22.11)', () => {
    // A downed AWS env: its record still carries the old expiry; nothing runs.
    const aws = awsStatus({ env: 'e', region: 'us-east-1', status: 'down', expiresAt: '2026-01-01T03:00:00Z', instances: [inst('i-1', 'terminated')], tagged: [], prices: PRICES, now: NOW });
    expect(aws).toMatchObject({ expiresAt: null, expiry: null, secondsLeft: null });
    expect(formatStatus(aws, table)).toContain('dead-man switch: none (the env is down, nothing runs)');
    const local = localStatus({ env: 'e', status: 'down', outputs: { ...outputs, target: 'local', hosts: [] }, alive: new Set(), now: NOW });
    expect(local.secondsLeft).toBeNull();
    expect(formatStatus(local, table)).not.toMatch(/in \d|left/);
    // Something still running under a down record (a stray): its expiry still counts.
    expect(awsStatus({ env: 'e', region: 'us-east-1', status: 'down', expiresAt: '2026-01-01T03:00:00Z', instances: [inst('i-1', 'running')], tagged: [], prices: PRICES, now: NOW }).secondsLeft).toBe(7200);
    // A stray running with no expiry anywhere: never "nothing runs".
    const stray = awsStatus({ env: 'e', region: 'us-east-1', status: 'down', instances: [inst('i-1', 'running')], tagged: [], prices: PRICES, now: NOW });
    expect(formatStatus(stray, table)).not.toContain('nothing runs');
  });
});
