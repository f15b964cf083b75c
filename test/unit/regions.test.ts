/** Agents spread over regions (issue 18, part 2): the config's rules and the synthesized stack. */
import { describe, expect, it } from 'vitest';
import { validateFleetConfig } from '../../stacks/config';
import { hostGroups } from '../../stacks/topology';
import { fleetRegions } from '../../stacks/regions';
import { configInput, problemsOf, synthStack } from '../harness/fixtures';
import { recordRegions } from '../../scripts/core/env-record';


const spread = { regions: { 'us-east-1': 4, 'eu-west-1': 2 } };

describe('agents.regions: config', () => {
  it('takes agents.count as the sum when only regions is given', () => {
    const c = validateFleetConfig(configInput({ agents: spread }));
    expect(c.agents.count).toBe(6);
    expect(fleetRegions(c)).toEqual(['us-east-1', 'eu-west-1']);
  });

  it('accepts a count that agrees with the regions', () => {
    expect(validateFleetConfig(configInput({ agents: { count: 6, ...spread } })).agents.count).toBe(6);
  });

  it('fails when agents.count disagrees with the regions, naming both and the fix', () => {
    const problems = problemsOf(configInput({ agents: { count: 5, ...spread } }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ path: 'agents.count', value: 5 });
    expect(problems[0]!.message).toBe('disagrees with agents.regions, whose counts add up to 6 (us-east-1: 4, eu-west-1: 2): drop agents.count or set it to 6');
  });

  it('refuses agents.regions adding up to more than MAX_AGENTS, naming the sum and the fix (review item 3)', () => {
    const problems = problemsOf(configInput({ agents: { regions: { 'us-east-1': 1000, 'eu-west-1': 1000 } } }));
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('agents.regions');
    expect(problems[0]!.message).toBe('adds up to 2000 agents (us-east-1: 1000, eu-west-1: 1000), more than 1000: lower the counts to at most 1000 in all, or split the fleet into several envs');
    expect(validateFleetConfig(configInput({ agents: { regions: { 'us-east-1': 600, 'eu-west-1': 400 } } })).agents.count).toBe(1000);
  });

  it('fails when a region name or count is wrong', () => {
    const problems = problemsOf(configInput({ agents: { regions: { 'europe-1': 2, 'eu-west-1': 0 } } }));
    expect(problems.map((p) => p.path).sort()).toEqual(['agents.regions.eu-west-1', 'agents.regions.europe-1']);
  });

  it('fails when a regional AMI id or baked images meet agents in another region', () => {
    const [p] = problemsOf(configInput({ agents: spread, ami: { id: 'ami-0123456789abcdef0' } }));
    expect(p).toMatchObject({ path: 'ami.id' });
    expect(p!.message).toMatch(/AMI ids are regional/);
  });

  it('fails when JMeter agents sit outside the fleet region (its controller dials the agents)', () => {
    const [p] = problemsOf(configInput({ engine: 'jmeter', agents: spread }));
    expect(p).toMatchObject({ path: 'agents.regions' });
    expect(p!.message).toMatch(/engine jmeter cannot use/);
  });

  it('names agents on across regions, in the config order, and keeps the id `agents` for the fleet region', () => {
    const groups = hostGroups(validateFleetConfig(configInput({ agents: spread }))).filter((g) => g.role === 'agent');
    expect(groups.map((g) => [g.id, g.count, g.region, g.offset])).toEqual([['agents', 4, undefined, undefined], ['agents_eu_west_1', 2, 'eu-west-1', 4]]);
  });

  it('records list the env region first, and old records (no regions) mean the one region', () => {
    expect(recordRegions({ region: 'us-east-1' })).toEqual(['us-east-1']);
    expect(recordRegions({ region: 'us-east-1', regions: ['us-east-1', 'eu-west-1'] })).toEqual(['us-east-1', 'eu-west-1']);
  });
});

describe('agents.regions: stack', () => {
  it('adds one provider alias, VPC, key pair and image lookup per other region, and agents there through it', () => {
    const { tf } = synthStack({ agents: spread, targets: [{ name: 'app', ports: [8080] }] });
    const providers = tf.provider.aws as { alias?: string; region: string; default_tags: { tags: Record<string, string> }[] }[];
    expect(providers.map((p) => [p.alias, p.region])).toEqual([[undefined, 'us-east-1'], ['eu_west_1', 'eu-west-1']]);
    expect(providers[1]!.default_tags).toEqual(providers[0]!.default_tags);
    expect(Object.keys(tf.resource.aws_vpc!).sort()).toEqual(['vpc', 'vpc_eu_west_1']);
    expect(tf.resource.aws_vpc!.vpc_eu_west_1!.provider).toBe('aws.eu_west_1');
    expect(tf.resource.aws_key_pair!.key_eu_west_1!.provider).toBe('aws.eu_west_1');
    const away = tf.resource.aws_instance!.agents_eu_west_1!;
    expect(away).toMatchObject({ count: 2, provider: 'aws.eu_west_1', tags: { Name: 'demo-agent-${count.index + 5}' } });
    expect(tf.resource.aws_instance!.agents!.count).toBe(4);
    expect(away.ami).toBe('${data.aws_ami.al2023_eu_west_1.id}');
  });

  it('opens the master and the targets to each agent\'s public address only, never to the world', () => {
    const { tf } = synthStack({ agents: spread, targets: [{ name: 'app', ports: [8080] }] });
    const rules = tf.resource.aws_vpc_security_group_ingress_rule!;
    expect(rules.sg_controller_5557_5557_from_agents_eu_west_1_public).toMatchObject({ count: 2, from_port: 5557, cidr_ipv4: '${aws_instance.agents_eu_west_1[count.index].public_ip}/32' });
    expect(rules.sg_controller_5557_5557_from_agents_public).toMatchObject({ count: 4, cidr_ipv4: '${aws_instance.agents[count.index].public_ip}/32' });
    expect(rules.sg_target_8080_from_agents_eu_west_1_public).toMatchObject({ count: 2, from_port: 8080 });
    expect(rules.sg_agent_eu_west_1_9100_from_monitoring_public).toMatchObject({ cidr_ipv4: '${aws_instance.monitoring.public_ip}/32', provider: 'aws.eu_west_1' });
    for (const [id, r] of Object.entries(rules)) expect(r.cidr_ipv4, id).not.toBe('0.0.0.0/0');
    expect((tf.output.master as { value: string }).value).toContain('aws_instance.controller.public_ip');
  });

  it('leaves a one-region stack as it was: no alias, master on the private address, no host region', () => {
    const { tf } = synthStack({ agents: { count: 3 } });
    expect((tf.provider.aws as unknown[]).length).toBe(1);
    expect((tf.output.master as { value: string }).value).toContain('aws_instance.controller.private_ip');
    expect(tf.resource.aws_instance!.agents!.tags).toEqual({ 'loadfleet:role': 'agent', Name: 'demo-agent-${count.index + 1}' });
  });
});

describe('agents.regions: cost', () => {
  it('prices the agents of another region at that region\'s rate, on their own line', async () => {
    const { costGroupsOf, fleetCost } = await import('../../scripts/core/cost');
    const prices = { source: 'test', date: '2026-01-01', onDemandUsdPerHour: { 'us-east-1': { 'c5.large': 0.085, 't3.small': 0.0208 }, 'eu-west-1': { 'c5.large': 0.096 } } };
    const c = fleetCost(costGroupsOf(validateFleetConfig(configInput({ agents: spread }))), 'us-east-1', 4, prices as never);
    const agents = c.groups.filter((g) => g.role.startsWith('agent'));
    expect(agents.map((g) => [g.role, g.count, g.unitUsdPerHour])).toEqual([['agent', 4, 0.085], ['agent@eu-west-1', 2, 0.096]]);
  });
});

describe('agents.regions: monitoring', () => {
  it('scrapes hosts of another region on their public address, the rest on their private one', async () => {
    const { inventoryFrom, renderFileSd } = await import('../../scripts/core/inventory');
    const host = (name: string, role: 'agent' | 'monitoring', region: string, n: number) => ({ role, group: role, name, id: `i-${n}`, publicIp: `203.0.113.${n}`, privateIp: `10.42.0.${n}`, region });
    const inv = inventoryFrom({
      env: 'demo', target: 'aws', engine: 'locust', expiresAt: '2026-01-01T00:00:00Z', sshUser: 'ec2-user', master: null,
      hosts: [host('agent-1', 'agent', 'us-east-1', 1), host('agent-2', 'agent', 'eu-west-1', 2), host('monitoring', 'monitoring', 'us-east-1', 3)],
    }, { region: 'us-east-1', privateKeyPath: '/k', knownHostsFile: '/kh' });
    const sd = JSON.parse(renderFileSd(inv)) as { targets: string[] }[];
    expect(sd.map((e) => e.targets[0])).toEqual(['10.42.0.1:9100', '203.0.113.2:9100', '10.42.0.3:9100']);
  });
});

describe('agents.regions: the egress output (issue 18 review, item 2)', () => {
  it('lists every agent group, remote regions too', () => {
    const { tf } = synthStack({ agents: { regions: { 'us-east-1': 2, 'eu-west-1': 1, 'ap-south-1': 1 } } });
    expect((tf.output!.egress as { value: string }).value).toBe('${{ kind = "public", ips = concat(aws_instance.agents[*].public_ip, aws_instance.agents_eu_west_1[*].public_ip, aws_instance.agents_ap_south_1[*].public_ip) }}');
    for (const id of ['agents', 'agents_eu_west_1', 'agents_ap_south_1']) expect(tf.resource.aws_instance![id]).toBeDefined();
  });

  it('with every agent in another region, refers only to declared agent instances', () => {
    const { tf } = synthStack({ agents: { regions: { 'eu-west-1': 2 } } });
    expect(tf.resource.aws_instance!.agents).toBeUndefined();
    expect(tf.resource.aws_instance!.agents_eu_west_1).toBeDefined();
    expect((tf.output!.egress as { value: string }).value).toBe('${{ kind = "public", ips = aws_instance.agents_eu_west_1[*].public_ip }}');
  });
});
