import { describe, expect, it } from 'vitest';
import { validateFleetConfig } from '../../stacks/config';
import { configInput, problemsOf } from '../harness/fixtures';


describe('FleetConfig', () => {
  it('fills documented defaults', () => {
    const c = validateFleetConfig(configInput());
    expect(c.region).toBe('us-east-1');
    expect(c.engine).toBe('locust');
    expect(c.agents).toEqual({ count: 3, instanceType: 'c5.large', capacity: 'on-demand' });
    expect(c.monitoring).toEqual({ enabled: true, instanceType: 't3.small' });
    expect(c.ami.id).toBeNull();
    expect(c.ttlHours).toBe(4);
    expect(c.access.allowWorld).toBe(false);
    expect(c.tuning.nofile).toBe(1_048_576);
    expect(c.state).toEqual({ backend: 'local' });
  });

  it('fails when agents.count is 0, naming the field, the value and the fix', () => {
    const [p] = problemsOf(configInput({ agents: { count: 0 } }));
    expect(p).toMatchObject({ path: 'agents.count', value: 0 });
    expect(p!.message).toMatch(/at least 1/);
  });

  it('fails when agents.count is absurdly large', () => {
    const [p] = problemsOf(configInput({ agents: { count: 50_000 } }));
    expect(p).toMatchObject({ path: 'agents.count', value: 50_000 });
    expect(p!.message).toMatch(/at most 1000/);
  });

  it('fails when a CIDR is malformed', () => {
    const [p] = problemsOf(configInput({ access: { sshCidrs: ['203.0.113.300/32'] } }));
    expect(p).toMatchObject({ path: 'access.sshCidrs[0]', value: '203.0.113.300/32' });
    expect(p!.message).toMatch(/a\.b\.c\.d\/n/);
  });

  it('fails on prefixes wider than /8 unless allowWorld is set: [0.0.0.0/1, 128.0.0.0/1] is the world too', () => {
    const problems = problemsOf(configInput({ access: { sshCidrs: ['0.0.0.0/1', '128.0.0.0/1'] } }));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatchObject({ path: 'access.sshCidrs[0]', value: '0.0.0.0/1' });
    expect(problems[1]).toMatchObject({ path: 'access.sshCidrs[1]', value: '128.0.0.0/1' });
    expect(problems[0]!.message).toMatch(/2147483648 addresses \(wider than \/8\).*allowWorld: true/);
    expect(problemsOf(configInput({ access: { sshCidrs: ['100.0.0.0/7'] } }))[0]).toMatchObject({ path: 'access.sshCidrs[0]', value: '100.0.0.0/7' });
    expect(validateFleetConfig(configInput({ access: { sshCidrs: ['0.0.0.0/1', '128.0.0.0/1'], allowWorld: true } })).access.sshCidrs).toHaveLength(2);
  });

  it('fails on sets of /8s that together cover more than two /8s unless allowWorld is set; overlaps count once', () => {
    const eights = Array.from({ length: 128 }, (_, i) => `${i + 1}.0.0.0/8`);
    const [p, ...rest] = problemsOf(configInput({ access: { sshCidrs: eights } }));
    expect(rest).toEqual([]);
    expect(p).toMatchObject({ path: 'access.sshCidrs', value: eights });
    expect(p!.message).toMatch(/together open SSH and the UIs to 2147483648 addresses.*allowWorld: true/);
    // a /8 and what it contains, and the private ranges together, stay allowed
    expect(validateFleetConfig(configInput({ access: { sshCidrs: ['10.0.0.0/8', '10.1.0.0/16', '10.2.3.4/32', '172.16.0.0/12', '192.168.0.0/16'] } })).access.sshCidrs).toHaveLength(5);
    expect(problemsOf(configInput({ access: { sshCidrs: ['11.0.0.0/8', '12.0.0.0/8', '13.0.0.0/8'] } }))).toHaveLength(1);
  });

  it('fails on 0.0.0.0/0 unless allowWorld is set', () => {
    const [p] = problemsOf(configInput({ access: { sshCidrs: ['0.0.0.0/0'] } }));
    expect(p).toMatchObject({ path: 'access.sshCidrs[0]', value: '0.0.0.0/0' });
    expect(p!.message).toMatch(/allowWorld: true/);
    expect(validateFleetConfig(configInput({ access: { sshCidrs: ['0.0.0.0/0'], allowWorld: true } })).access.sshCidrs).toEqual(['0.0.0.0/0']);
  });

  it('fails on an unknown engine, listing the known ones', () => {
    const [p] = problemsOf(configInput({ engine: 'gatling' as never }));
    expect(p).toMatchObject({ path: 'engine', value: 'gatling' });
    expect(p!.message).toMatch(/ngrinder, locust, k6, jmeter/);
  });

  it('fails on duplicate target names', () => {
    const problems = problemsOf(configInput({ targets: [{ name: 'app' }, { name: 'app' }] }));
    expect(problems).toEqual([expect.objectContaining({ path: 'targets[1].name', value: 'app' })]);
  });

  it('fails on unknown fields, at any depth', () => {
    const problems = problemsOf({ ...configInput(), agnets: { count: 3 }, monitoring: { enabled: true, grafana: true } });
    expect(problems.map((p) => p.path).sort()).toEqual(['agnets', 'monitoring.grafana']);
    expect(problems[0]!.message).toMatch(/not a known field/);
  });

  it('fails when required fields are missing', () => {
    const problems = problemsOf({ name: 'demo' });
    expect(problems.map((p) => [p.path, p.message])).toEqual([
      ['access', 'is required'],
      ['keyPair', 'is required'],
    ]);
  });

  it('reports several problems together', () => {
    const problems = problemsOf(configInput({ name: 'Bad Name', agents: { count: -1 }, ttlHours: 1000, tags: { 'loadfleet:env': 'x' } }));
    expect(problems.map((p) => p.path).sort()).toEqual(['agents.count', 'name', 'tags.loadfleet:env', 'ttlHours']);
  });

  it('fails when the subnet is outside the VPC', () => {
    const [p] = problemsOf(configInput({ network: { vpcCidr: '10.42.0.0/16', subnetCidr: '10.43.0.0/20' } }));
    expect(p).toMatchObject({ path: 'network.subnetCidr', value: '10.43.0.0/20' });
  });

  it('formats problems as one readable message', () => {
    try {
      validateFleetConfig(configInput({ agents: { count: 0 } }), 'fleet.yaml');
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toBe('fleet.yaml: 1 problem:\n  - agents.count (0) must be at least 1');
    }
  });
});
