/** Issue 18, part 1: private agents behind one door — config, synth (minimal security groups), inventories, local plan. */
import { describe, expect, it } from 'vitest';
import { rulesOn, synthStack, configInput } from '../harness/fixtures';
import { validateFleetConfig, ConfigError } from '../../stacks/config';
import { planLocal } from '../../scripts/core/local-plan';
import { render, inventoryFrom } from '../../scripts/core/inventory';
import { jumpFor, egressIps } from '../../scripts/core/door';
import { costGroupsOf } from '../../scripts/core/cost';
import type { FleetOutputs } from '../../scripts/core/env-record';

const problems = (input: Record<string, unknown>) => {
  try {
    validateFleetConfig(configInput(input as never));
  } catch (e) {
    return (e as ConfigError).message;
  }
  return '';
};

describe('network.agents: private (config)', () => {
  it('keeps today\'s public fleet by default', () => {
    const c = validateFleetConfig(configInput({}));
    expect(c.network.agents).toBe('public');
    expect(c.network.egress).toBeUndefined();
  });

  it('fails when egress is set for public agents, or a target is private without private agents, naming field, value and fix', () => {
    expect(problems({ network: { egress: 'nat-gateway' } })).toMatch(/network\.egress \("nat-gateway"\) only applies with network\.agents: private.*set network\.agents: private, or remove network\.egress/);
    expect(problems({ targets: [{ name: 'app', network: 'private' }] })).toMatch(/targets\[0\]\.network \("private"\) needs network\.agents: private/);
    expect(problems({ network: { agents: 'private', egress: 'nat' } })).toMatch(/network\.egress \("nat"\) must be nat-gateway, nat-instance or none/);
    expect(problems({ network: { agents: 'hidden' } })).toMatch(/network\.agents \("hidden"\) must be public or private/);
    expect(problems({ network: { agents: 'private', privateSubnetCidr: '10.42.0.0/24' } })).toMatch(/network\.privateSubnetCidr \("10\.42\.0\.0\/24"\) overlaps network\.subnetCidr/);
    expect(problems({ network: { agents: 'private', privateSubnetCidr: '192.168.0.0/24' } })).toMatch(/network\.privateSubnetCidr .* must lie inside network\.vpcCidr/);
  });
});

describe('network.agents: private (synth)', () => {
  it('puts agents and monitoring in a private subnet without public IPs; SSH to them only from the controller\'s group', () => {
    const { tf } = synthStack({ network: { agents: 'private', egress: 'nat-instance' }, targets: [{ name: 'app' }, { name: 'db', network: 'private' }] });
    const inst = tf.resource.aws_instance!;
    expect(inst.agents).toMatchObject({ associate_public_ip_address: false, subnet_id: '${aws_subnet.private_subnet.id}' });
    expect(inst.monitoring).toMatchObject({ associate_public_ip_address: false, subnet_id: '${aws_subnet.private_subnet.id}' });
    expect(inst.target_db).toMatchObject({ associate_public_ip_address: false, subnet_id: '${aws_subnet.private_subnet.id}' });
    expect(inst.controller).toMatchObject({ associate_public_ip_address: true, subnet_id: '${aws_subnet.public_subnet.id}' });
    expect(inst.target_app).toMatchObject({ associate_public_ip_address: true });
    expect(tf.resource.aws_subnet!.private_subnet).toMatchObject({ cidr_block: '10.42.16.0/20', map_public_ip_on_launch: false });
    // the minimal groups: 22 from access.sshCidrs on the controller (and the public target) only
    expect(rulesOn(tf, 'agent').filter((r) => r.startsWith('22<-'))).toEqual(['22<-controller']);
    expect(rulesOn(tf, 'monitoring')).not.toContain('3000<-203.0.113.7/32');
    expect(rulesOn(tf, 'monitoring').filter((r) => r.startsWith('22<-'))).toEqual(['22<-controller']);
    expect(rulesOn(tf, 'controller').filter((r) => r.startsWith('22<-'))).toEqual(['22<-203.0.113.7/32']);
    expect(rulesOn(tf, 'target').filter((r) => r.startsWith('22<-'))).toEqual(['22<-203.0.113.7/32', '22<-controller']);
    // NAT instance: cheap, IMDSv2, encrypted, source/dest check off, its group takes the VPC only, no SSH
    expect(inst.nat_instance).toMatchObject({
      instance_type: 't3.micro', source_dest_check: false, subnet_id: '${aws_subnet.public_subnet.id}',
      metadata_options: { http_tokens: 'required' }, root_block_device: { encrypted: true }, instance_initiated_shutdown_behavior: 'terminate',
    });
    expect(inst.nat_instance!.user_data).toContain('MASQUERADE');
    expect(inst.nat_instance!.user_data).toContain('loadfleet-deadman');
    expect(inst.nat_instance!.user_data).not.toContain('${');
    expect(rulesOn(tf, 'nat')).toEqual(['undefined<-10.42.0.0/16']); // its one rule: all protocols, from the VPC only (below)
    const nat = Object.values(tf.resource.aws_vpc_security_group_ingress_rule!).filter((r) => r.security_group_id === '${aws_security_group.sg_nat.id}');
    expect(nat).toEqual([expect.objectContaining({ ip_protocol: '-1', cidr_ipv4: '10.42.0.0/16' })]);
    expect(tf.resource.aws_eip_association!.egress_eip_assoc).toMatchObject({ instance_id: '${aws_instance.nat_instance.id}' });
    expect(tf.resource.aws_route_table!.private_routes).toMatchObject({ route: [expect.objectContaining({ cidr_block: '0.0.0.0/0', network_interface_id: '${aws_instance.nat_instance.primary_network_interface_id}' })] });
    expect(tf.output!.egress!.value).toBe('${{ kind = "nat-instance", ips = [aws_eip.egress_eip.public_ip] }}');
  });

  it('uses a NAT gateway on the same Elastic IP (logical id egress_eip), and no NAT with egress none', () => {
    const gw = synthStack({ network: { agents: 'private', egress: 'nat-gateway' } }).tf;
    expect(gw.resource.aws_nat_gateway!.nat_gateway).toMatchObject({ allocation_id: '${aws_eip.egress_eip.allocation_id}', subnet_id: '${aws_subnet.public_subnet.id}' });
    expect(gw.resource.aws_eip!.egress_eip).toMatchObject({ domain: 'vpc' });
    expect(gw.resource.aws_instance!.nat_instance).toBeUndefined();
    const none = synthStack({ network: { agents: 'private', egress: 'none' } }).tf;
    expect(none.resource.aws_eip).toBeUndefined();
    expect(none.resource.aws_nat_gateway).toBeUndefined();
    expect(none.resource.aws_route_table!.private_routes).toMatchObject({ route: [] });
  });

  it('leaves the public fleet as it was (no private subnet, SSH from sshCidrs on every role)', () => {
    const { tf } = synthStack();
    expect(tf.resource.aws_subnet!.private_subnet).toBeUndefined();
    expect(rulesOn(tf, 'agent')).toContain('22<-203.0.113.7/32');
    expect(tf.output!.egress!.value).toBe('${{ kind = "public", ips = aws_instance.agents[*].public_ip }}');
  });

  it('prices the NAT choice in the estimate', () => {
    const inst = costGroupsOf(validateFleetConfig(configInput({ network: { agents: 'private' } })));
    expect(inst.find((g) => g.role === 'nat')).toMatchObject({ count: 1, instanceType: 't3.micro' });
    const gw = costGroupsOf(validateFleetConfig(configInput({ network: { agents: 'private', egress: 'nat-gateway' } })));
    expect(gw.find((g) => g.role === 'nat')).toMatchObject({ count: 1, instanceType: 'nat-gateway', fixedUsdPerHour: 0.045 });
    expect(costGroupsOf(validateFleetConfig(configInput({}))).find((g) => g.role === 'nat')).toBeUndefined();
  });
});

const PRIVATE: FleetOutputs = {
  env: 'demo', target: 'aws', engine: 'locust', expiresAt: '2026-11-24T12:00:00Z', sshUser: 'ec2-user', master: { address: '10.42.0.10', port: 5557 },
  hosts: [
    { role: 'controller', group: 'controller', name: 'controller', id: 'i-0c', publicIp: '54.0.0.10', privateIp: '10.42.0.10' },
    { role: 'agent', group: 'agent', name: 'agent-1', id: 'i-01', publicIp: '', privateIp: '10.42.16.11' },
  ],
  egress: { kind: 'nat-instance', ips: ['3.3.3.3'] },
};

describe('the door in the inventories', () => {
  it('jumps to private hosts only, through the controller', () => {
    expect(jumpFor(PRIVATE.hosts, '10.42.16.11')).toBe('54.0.0.10');
    expect(jumpFor(PRIVATE.hosts, '54.0.0.10')).toBeUndefined();
    expect(egressIps(PRIVATE)).toEqual({ kind: 'nat-instance', ips: ['3.3.3.3'] });
  });

  it('renders ProxyJump in ssh_config, a pinned ProxyCommand with ControlMaster for Ansible, egress IPs in json', () => {
    const inv = inventoryFrom(PRIVATE, { region: 'us-east-1', privateKeyPath: '/k/id', knownHostsFile: '/h/demo/known_hosts' });
    const ssh = render(inv, 'ssh');
    expect(ssh).toMatch(/Host agent-1\n {2}ProxyJump controller\n {2}HostName 10\.42\.16\.11/);
    expect(ssh).toMatch(/Host controller\n {2}ControlMaster auto\n {2}ControlPersist 60s\n {2}ControlPath ~\/\.ssh\/lf-%C/);
    const ini = render(inv, 'ansible');
    const agentLine = ini.split('\n').find((l) => l.startsWith('demo-agent-1 '))!;
    expect(agentLine).toContain('ProxyCommand=ssh -o UserKnownHostsFile=/h/demo/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityFile=/k/id -o ControlMaster=auto -o ControlPersist=60s');
    expect(agentLine).toContain('ControlPath=~/.ssh/lf-%%C'); // %C for the inner ssh, after the outer one's expansion
    expect(agentLine).toContain('-l ec2-user -W %h:%p 54.0.0.10');
    expect(ini.split('\n').find((l) => l.startsWith('demo-controller '))).not.toContain('ProxyCommand');
    expect(JSON.parse(render(inv, 'json')).egressIps).toEqual({ kind: 'nat-instance', ips: ['3.3.3.3'] });
  });
});

describe('the local plan with private agents', () => {
  it('puts private hosts on the upper half behind the controller', () => {
    const plan = planLocal(validateFleetConfig(configInput({ network: { agents: 'private' }, agents: { count: 2 }, local: { subnet: '10.231.5.0/24' } })));
    expect(plan.privateNet).toEqual({ bridge: 'lfbr1', cidr: '10.231.5.128/25', gatewayIp: '10.231.5.129', prefixLength: 25 });
    expect(plan.hosts.map((h) => `${h.name}=${h.ip}${h.private ? ' private' : ''}`)).toEqual(['controller=10.231.5.10', 'agent-1=10.231.5.138 private', 'agent-2=10.231.5.139 private', 'monitoring=10.231.5.139 private'.replace('139', '140')]);
  });
});
