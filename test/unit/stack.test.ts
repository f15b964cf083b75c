import { describe, expect, it } from 'vitest';
import { Instance } from '@cdktf/provider-aws/lib/instance';
import { KeyPair } from '@cdktf/provider-aws/lib/key-pair';
import { EXPIRES, PUBLIC_KEY, ingressRules, rulesOn, synthStack } from '../harness/fixtures';

describe('FleetStack', () => {
  it('creates one counted agent resource and one instance per singleton role', () => {
    const { tf } = synthStack({ agents: { count: 7 }, targets: [{ name: 'app', count: 2 }, { name: 'db' }] });
    const instances = tf.resource.aws_instance!;
    expect(Object.keys(instances).sort()).toEqual(['agents', 'controller', 'monitoring', 'target_app', 'target_db']);
    expect(instances.agents!.count).toBe(7);
    expect(instances.target_app!.count).toBe(2);
    expect(instances.controller!.count).toBeUndefined();
  });

  it('requires IMDSv2, encrypted gp3 root volumes and terminate-on-shutdown on every instance', () => {
    const { json, tf } = synthStack({ targets: [{ name: 'app' }] });
    for (const inst of Object.values(tf.resource.aws_instance!)) {
      expect(inst).toMatchObject({
        metadata_options: { http_tokens: 'required', http_endpoint: 'enabled', instance_metadata_tags: 'enabled' },
        root_block_device: { encrypted: true, volume_type: 'gp3', delete_on_termination: true },
        instance_initiated_shutdown_behavior: 'terminate',
        monitoring: false,
      });
    }
    expect(json).toHaveResourceWithProperties(Instance, { instance_type: 'c5.large', associate_public_ip_address: true });
    expect(json).not.toHaveResourceWithProperties(Instance, { instance_type: 'm9.huge' });
  });

  it('installs the dead-man switch as static user data that reads the expiry tag, not a date', () => {
    const { tf } = synthStack();
    const userData = tf.resource.aws_instance!.agents!.user_data as string;
    expect(userData).toMatch(/^#!\/bin\/bash/);
    expect(userData).toContain('meta-data/tags/instance/loadfleet:expires-at');
    expect(userData).toContain('X-aws-ec2-metadata-token: $token'); // IMDSv2
    expect(userData).toContain('systemctl enable --now loadfleet-deadman.timer');
    expect(userData).not.toContain('2026-11-24'); // the expiry is in the tag only
    expect(userData).not.toContain('${'); // no accidental Terraform interpolation
    expect(userData).not.toContain('%{');
  });

  it('keeps user data identical when the expiry changes (a TTL change is a tag update only)', () => {
    const a = synthStack({}, { expiresAt: '2026-11-24T04:00:00Z' }).tf.resource.aws_instance!;
    const b = synthStack({}, { expiresAt: '2026-11-30T09:15:00Z' }).tf.resource.aws_instance!;
    for (const id of Object.keys(a)) expect(b[id]!.user_data).toBe(a[id]!.user_data);
  });

  it('tags every resource at creation with env, expiry, role and Name', () => {
    const { tf } = synthStack({ tags: { team: 'perf' } });
    expect(tf.provider.aws[0]!.default_tags[0]!.tags).toEqual({ team: 'perf', 'loadfleet:env': 'demo', 'loadfleet:expires-at': EXPIRES });
    const taggable = ['aws_vpc', 'aws_subnet', 'aws_internet_gateway', 'aws_route_table', 'aws_security_group', 'aws_key_pair', 'aws_instance'];
    for (const type of taggable) {
      for (const [id, res] of Object.entries(tf.resource[type]!)) {
        expect(Object.keys(res.tags as object).sort(), `${type}.${id}`).toEqual(['Name', 'loadfleet:role']);
      }
    }
    expect(tf.resource.aws_instance!.agents!.tags).toEqual({ 'loadfleet:role': 'agent', Name: 'demo-agent-${count.index + 1}' });
    expect((tf.resource.aws_instance!.agents!.root_block_device as { tags: unknown }).tags).toEqual(tf.resource.aws_instance!.agents!.tags);
  });

  it('imports only the public key: no private key resource exists', () => {
    const { json, tf } = synthStack();
    expect(json).toHaveResourceWithProperties(KeyPair, { key_name: 'loadfleet-demo', public_key: PUBLIC_KEY });
    expect(tf.resource.tls_private_key).toBeUndefined();
    expect(json).not.toMatch(/PRIVATE KEY/);
  });

  it('opens SSH and UIs only to access.sshCidrs, never to the world by default', () => {
    const { tf } = synthStack({ targets: [{ name: 'app', ports: [8080, 8443] }] });
    expect(ingressRules(tf).filter((r) => r.cidr_ipv4 === '0.0.0.0/0')).toEqual([]);
    // Locust's UI (8089) listens on the controller's 127.0.0.1 only: no rule at all (people use `loadfleet tunnel`).
    expect(rulesOn(tf, 'controller')).toEqual(['22<-203.0.113.7/32', '5557<-agent', '9100<-monitoring']);
    expect(ingressRules(tf).filter((r) => r.from_port === 8089 || r.to_port === 8089)).toEqual([]);
    expect(rulesOn(tf, 'agent')).toEqual(['22<-203.0.113.7/32', '9100<-monitoring']);
    expect(rulesOn(tf, 'target')).toEqual(['22<-203.0.113.7/32', '8080<-agent', '8080<-controller', '8443<-agent', '8443<-controller', '9100<-monitoring']);
    // Neither Grafana (3000) nor Prometheus (9090) is open to sshCidrs (issue 20): `loadfleet tunnel` reaches them.
    expect(rulesOn(tf, 'monitoring')).toEqual(['22<-203.0.113.7/32', '9100<-monitoring']);
    expect(ingressRules(tf).filter((r) => r.cidr_ipv4 !== undefined && r.from_port !== 22)).toEqual([]);
  });

  it('opens the world only when allowWorld is set', () => {
    const { tf } = synthStack({ access: { sshCidrs: ['0.0.0.0/0'], allowWorld: true } });
    expect(ingressRules(tf).filter((r) => r.cidr_ipv4 === '0.0.0.0/0').length).toBeGreaterThan(0);
  });

  it.each([
    // 80 from the agents only (package download); never from sshCidrs (issue 20.8: admin/admin until install sets it).
    ['ngrinder', ['12000-12009<-agent', '16001<-agent', '22<-203.0.113.7/32', '80<-agent', '9100<-monitoring'], ['22<-203.0.113.7/32', '9100<-monitoring']],
    // no 8089 (issue 20.1: Locust's UI answers on the controller's loopback only)
    ['locust', ['22<-203.0.113.7/32', '5557<-agent', '9100<-monitoring'], ['22<-203.0.113.7/32', '9100<-monitoring']],
    ['k6', ['22<-203.0.113.7/32', '9100<-monitoring'], ['22<-203.0.113.7/32', '9100<-monitoring']],
    ['jmeter', ['22<-203.0.113.7/32', '60001-60002<-agent', '9100<-monitoring'], ['1099<-controller', '22<-203.0.113.7/32', '50000<-controller', '9100<-monitoring']],
  ] as const)('derives %s ports between controller and agents', (engine, controller, agents) => {
    const { tf } = synthStack({ engine });
    expect(rulesOn(tf, 'controller')).toEqual(controller);
    expect(rulesOn(tf, 'agent')).toEqual(agents);
  });

  it('drops the monitoring host and its node_exporter rules when monitoring is disabled', () => {
    const { tf } = synthStack({ monitoring: { enabled: false } });
    expect(tf.resource.aws_instance!.monitoring).toBeUndefined();
    expect(tf.resource.aws_security_group!.sg_monitoring).toBeUndefined();
    expect(ingressRules(tf).filter((r) => r.from_port === 9100)).toEqual([]);
  });

  it('buys spot agents when asked, and only agents', () => {
    const { tf } = synthStack({ agents: { count: 2, capacity: 'spot', spotMaxPrice: '0.05' } });
    expect(tf.resource.aws_instance!.agents!.instance_market_options).toEqual({
      market_type: 'spot',
      spot_options: { spot_instance_type: 'one-time', instance_interruption_behavior: 'terminate', max_price: '0.05' },
    });
    expect(tf.resource.aws_instance!.controller!.instance_market_options).toBeUndefined();
  });

  it('uses latest Amazon Linux 2023 by default and a given AMI otherwise', () => {
    const latest = synthStack();
    expect(latest.tf.data!.aws_ami!.al2023).toMatchObject({ most_recent: true, owners: ['amazon'] });
    expect(latest.tf.resource.aws_instance!.agents!.ami).toBe('${data.aws_ami.al2023.id}');
    const given = synthStack({ ami: { id: 'ami-0123456789abcdef0' } });
    expect(given.tf.data?.aws_ami).toBeUndefined();
    expect(given.tf.resource.aws_instance!.agents!.ami).toBe('ami-0123456789abcdef0');
  });

  it('outputs every host and the master address for the engine', () => {
    const locust = synthStack({ targets: [{ name: 'app' }] }).tf.output;
    const hosts = locust.hosts!.value as string;
    for (const ref of ['aws_instance.controller', 'aws_instance.agents', 'aws_instance.target_app', 'aws_instance.monitoring']) expect(hosts).toContain(ref);
    expect(hosts).toContain('format("agent-%d", i + 1)');
    expect(locust.master!.value).toBe('${{ address = aws_instance.controller.private_ip, port = 5557 }}');
    expect(synthStack({ engine: 'k6' }).tf.output.master!.value).toBe('${null}');
  });

  it('keeps state locally by default and in S3 with locking when configured', () => {
    expect(synthStack().tf.terraform.backend).toEqual({ local: { path: 'terraform.tfstate' } });
    expect(synthStack({ state: { backend: 's3', bucket: 'my-tf-state' } }).tf.terraform.backend).toEqual({
      s3: { bucket: 'my-tf-state', key: 'loadfleet/demo/terraform.tfstate', region: 'us-east-1', encrypt: true, use_lockfile: true },
    });
  });

  it('escapes ${ and %{ in every user string that reaches Terraform: tags, state settings (and the public key, see provision.test.ts)', () => {
    const { tf } = synthStack({ tags: { t: 'a${file("/etc/hostname")}b%{ if true }c' }, state: { backend: 's3', bucket: 'b${x}', key: 'k%{y}', dynamodbTable: 't${z}' } });
    expect(tf.provider.aws[0]!.default_tags[0]!.tags.t).toBe('a$${file("/etc/hostname")}b%%{ if true }c');
    expect(tf.terraform.backend).toMatchObject({ s3: { bucket: 'b$${x}', key: 'k%%{y}', dynamodb_table: 't$${z}' } });
  });

  it('keeps the dependency graph shallow: instances wait only for subnet, groups, key and gateway', () => {
    const { tf } = synthStack();
    const agents = tf.resource.aws_instance!.agents!;
    expect(agents.depends_on).toEqual(['aws_internet_gateway.igw']);
    expect(tf.resource.aws_vpc!.vpc).not.toHaveProperty('enable_dns_hostnames');
    expect(tf.resource.aws_subnet!.public_subnet).not.toHaveProperty('map_public_ip_on_launch');
  });
});

describe('baked images', () => {
  it('gives agents and targets their baked AMIs and leaves other roles on Amazon Linux 2023', async () => {
    const { Testing } = await import('cdktf');
    const { validateFleetConfig } = await import('../../stacks/config');
    const { FleetStack } = await import('../../stacks/fleet-stack');
    const { configInput } = await import('../harness/fixtures');
    const app = Testing.app();
    const config = validateFleetConfig(configInput({ targets: [{ name: 'app' }], ami: { baked: true } }));
    const stack = new FleetStack(app, 'baked', { config, publicKey: PUBLIC_KEY, expiresAt: EXPIRES, localStatePath: 'x', roleAmis: { agent: 'ami-0aaaaaaaaaaaaaaaa', target: 'ami-0bbbbbbbbbbbbbbbb' } });
    const tf = JSON.parse(Testing.synth(stack));
    expect(tf.resource.aws_instance.agents.ami).toBe('ami-0aaaaaaaaaaaaaaaa');
    expect(tf.resource.aws_instance.target_app.ami).toBe('ami-0bbbbbbbbbbbbbbbb');
    expect(tf.resource.aws_instance.controller.ami).toBe('${data.aws_ami.al2023.id}');
  });
});
