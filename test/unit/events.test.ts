import { describe, expect, it } from 'vitest';
import { foldEvent, NO_PROGRESS, summarizeEvents } from '../../scripts/core/terraform-events';
import { describeExpiry, expiryFor, fromTerraformOutputs } from '../../scripts/core/env-record';
import { expiryFrom, deadmanUserData } from '../../stacks/deadman';
import { parallelismFor } from '../../scripts/core/terraform-events';
import { exitCodeOf } from '../../scripts/cli';
import { ConfigError } from '../../stacks/config';
import { ExternalError, ToolMissingError, UsageError } from '../../scripts/core/errors';

const ev = (o: object) => JSON.stringify(o);

describe('terraform -json events', () => {
  it('counts planned changes and completed applies, ignoring data-source reads', () => {
    const p = summarizeEvents([
      'not json',
      ev({ type: 'planned_change', change: { action: 'create', resource: { addr: 'aws_vpc.vpc' } } }),
      ev({ type: 'planned_change', change: { action: 'create', resource: { addr: 'aws_instance.agents[0]' } } }),
      ev({ type: 'planned_change', change: { action: 'read', resource: { addr: 'data.aws_ami.al2023' } } }),
      ev({ type: 'apply_complete', hook: { action: 'read', resource: { addr: 'data.aws_ami.al2023' } } }),
      ev({ type: 'apply_complete', hook: { action: 'create', resource: { addr: 'aws_vpc.vpc' } } }),
      ev({ type: 'apply_start', hook: { action: 'create', resource: { addr: 'aws_instance.agents[0]' } } }),
    ]);
    expect(p).toEqual({ planned: 2, done: 1, last: 'aws_instance.agents[0]', errors: [] });
  });

  it('folds one line at a time to the same result, and keeps the state object when a line changes nothing', () => {
    const lines = [
      ev({ type: 'planned_change', change: { action: 'create', resource: { addr: 'aws_vpc.vpc' } } }),
      'not json',
      ev({ type: 'version', terraform: '1.11.4' }),
      ev({ type: 'apply_complete', hook: { action: 'create', resource: { addr: 'aws_vpc.vpc' } } }),
    ];
    let state = NO_PROGRESS;
    const seen = [];
    for (const l of lines) {
      const next = foldEvent(state, l);
      seen.push(next === state ? 'same' : 'new');
      state = next;
    }
    expect(seen).toEqual(['new', 'same', 'same', 'new']);
    expect(state).toEqual(summarizeEvents(lines));
    expect(state).toEqual({ planned: 1, done: 1, last: 'aws_vpc.vpc', errors: [] });
  });

  it('collects error diagnostics with their address', () => {
    const p = summarizeEvents([ev({ type: 'diagnostic', diagnostic: { severity: 'error', summary: 'creating EC2 Instance', detail: 'InvalidAMIID.NotFound', address: 'aws_instance.controller' } })]);
    expect(p.errors).toEqual(['aws_instance.controller: creating EC2 Instance — InvalidAMIID.NotFound']);
  });
});

describe('outputs', () => {
  it('turns terraform outputs into the fleet model', () => {
    const o = fromTerraformOutputs(
      {
        hosts: { value: [{ role: 'agent', group: 'agent', name: 'agent-1', id: 'i-1', public_ip: '54.0.0.1', private_ip: '10.42.0.5' }] },
        master: { value: { address: '10.42.0.4', port: 5557 } },
        env: { value: { name: 'demo', engine: 'locust', expires_at: '2026-11-24T04:00:00Z', region: 'us-east-1' } },
      },
      'ec2-user',
    );
    expect(o).toEqual({
      env: 'demo', target: 'aws', engine: 'locust', expiresAt: '2026-11-24T04:00:00Z', sshUser: 'ec2-user',
      hosts: [{ role: 'agent', group: 'agent', name: 'agent-1', id: 'i-1', publicIp: '54.0.0.1', privateIp: '10.42.0.5' }],
      master: { address: '10.42.0.4', port: 5557 },
    });
  });

  it('fails with the reason when outputs are not loadfleet\'s', () => {
    expect(() => fromTerraformOutputs({ hosts: { value: 'x' } }, 'u')).toThrow(/hosts\.value/);
  });
});

describe('expiry', () => {
  it('is now + ttl in ISO-8601 UTC to the second', () => {
    expect(expiryFrom(new Date('2026-11-23T20:00:00.123Z'), 4)).toBe('2026-11-24T00:00:00Z');
    expect(expiryFrom(new Date('2026-11-23T20:00:00Z'), 0.25)).toBe('2026-11-23T20:15:00Z');
  });

  it('is kept across ups unless ttlHours changes or the env was destroyed', () => {
    const now = new Date('2026-11-23T21:00:00Z');
    const record = { name: 'demo', target: 'aws', configPath: '/x', region: 'us-east-1', engine: 'locust', ttlHours: 4, expiresAt: '2026-11-24T00:00:00Z', status: 'up', updatedAt: '' } as const;
    expect(expiryFor(record, 4, now)).toBe('2026-11-24T00:00:00Z');
    expect(expiryFor(record, 2, now)).toBe('2026-11-23T23:00:00Z');
    expect(expiryFor({ ...record, status: 'down' }, 4, now)).toBe('2026-11-24T01:00:00Z');
    expect(expiryFor(undefined, 1, now)).toBe('2026-11-23T22:00:00Z');
  });

  it('is never reused once past: after the switch fired, a new up gets a fresh expiry', () => {
    // GIVEN a record that still says up, whose expiry passed (the hosts shut themselves down)
    const record = { name: 'demo', target: 'aws', configPath: '/x', region: 'us-east-1', engine: 'locust', ttlHours: 4, expiresAt: '2026-11-24T00:00:00Z', status: 'up', updatedAt: '' } as const;
    const later = new Date('2026-11-24T09:30:00Z');
    // THEN the next up's expiry is ttlHours from now, never the past one
    expect(expiryFor(record, 4, later)).toBe('2026-11-24T13:30:00Z');
    expect(expiryFor({ ...record, status: 'failed' }, 4, new Date('2026-11-23T21:00:00Z'))).toBe('2026-11-24T01:00:00Z');
  });

  it('describes time left and time since expiry', () => {
    expect(describeExpiry('2026-11-24T00:00:00Z', new Date('2026-11-23T21:55:00Z'))).toBe('2h 5m left');
    expect(describeExpiry('2026-11-24T00:00:00Z', new Date('2026-11-24T00:10:00Z'))).toBe('expired 0h 10m ago');
  });

  it('refuses a user-data expiry that is not a timestamp', () => {
    expect(() => deadmanUserData('demo', 'tomorrow')).toThrow(/not an ISO-8601 timestamp/);
  });
});

describe('apply width', () => {
  it('runs every instance of a wide fleet at once, within bounds', () => {
    expect(parallelismFor(1)).toBe(31);
    expect(parallelismFor(56)).toBe(86);
    expect(parallelismFor(1000)).toBe(200);
  });
});

describe('exit codes', () => {
  it('maps usage, config, external, missing tools and bugs to 2, 2, 1, 1, 70', () => {
    expect(exitCodeOf(new UsageError('x'))).toBe(2);
    expect(exitCodeOf(new ConfigError('f', []))).toBe(2);
    expect(exitCodeOf(new ExternalError('x'))).toBe(1);
    expect(exitCodeOf(new ToolMissingError('terraform', 'install it'))).toBe(1);
    expect(exitCodeOf(new TypeError('x'))).toBe(70);
  });
});
