import { Construct, LocalBackend, S3Backend, TerraformOutput, TerraformStack, AwsProvider, KeyPair, DataAwsAmi } from './cdk';
import type { FleetConfig, Role } from './config';
import { engineOf } from './engines';
import { hostGroups, targetPorts } from './topology';
import { deadmanUserData } from './deadman';
import { AL2023 } from './images';
import { Network } from './constructs/network';
import { FleetSecurity } from './constructs/security';
import { Capacity, HostGroup } from './constructs/host-group';
import { envTags, roleTags } from './constructs/tags';
import { tfLiteral, tfLiteralRecord } from './literal';
import { agentRegions, regionId, spansRegions } from './regions';
import { RemoteAgentRegion, publicAddressRules } from './constructs/remote-agents';
import { MONITORING_PORTS } from './engines';
import { PrivateSubnet, NAT_SETUP } from './constructs/private-subnet';
import { egressOf, isPrivateGroup } from './private-network';

export { AL2023 } from './images';

export interface FleetStackProps {
  readonly config: FleetConfig;
  /** Contents of the user's public key (read at the edge). Never a private key. */
  readonly publicKey: string;
  /** ISO-8601 UTC; fixed at the first `up` so that re-running changes nothing. */
  readonly expiresAt: string;
  /** Local state file path, relative to the synthesized stack folder. Ignored for an S3 backend. */
  readonly localStatePath: string;
  /** Images baked for this env (`loadfleet bake`), by role; other roles use ami.id or Amazon Linux 2023. */
  readonly roleAmis?: Partial<Record<Role, string>>;
}

export function stackName(env: string): string {
  return `loadfleet-${env}`;
}

/** The whole environment: network, security groups, key pair, one counted instance group per role. */
export class FleetStack extends TerraformStack {
  readonly groups: HostGroup[];

  constructor(scope: Construct, id: string, props: FleetStackProps) {
    super(scope, id);
    const { config } = props;
    const env = config.name;
    const engine = engineOf(config.engine);

    const defaultTags = envTags(env, props.expiresAt, tfLiteralRecord(config.tags));
    new AwsProvider(this, 'aws', { region: config.region, defaultTags: [{ tags: defaultTags }] });
    if (config.state.backend === 's3') {
      const s3 = new S3Backend(this, {
        bucket: tfLiteral(config.state.bucket),
        key: tfLiteral(config.state.key ?? `loadfleet/${env}/terraform.tfstate`),
        region: config.state.region ?? config.region,
        encrypt: true,
        dynamodbTable: config.state.dynamodbTable === undefined ? undefined : tfLiteral(config.state.dynamodbTable),
      });
      if (!config.state.dynamodbTable) s3.addOverride('use_lockfile', true);
    } else {
      new LocalBackend(this, { path: props.localStatePath });
    }

    const network = new Network(this, 'network', { env, vpcCidr: config.network.vpcCidr, subnetCidr: config.network.subnetCidr });
    const groupsSpec = hostGroups(config);
    const isPrivate = (spec: (typeof groupsSpec)[number]) => isPrivateGroup(config, spec.role, spec.namePrefix);
    const egress = egressOf(config);
    const security = new FleetSecurity(this, 'security', {
      env,
      vpcId: network.vpcId,
      engine,
      adminCidrs: config.access.sshCidrs,
      targetPorts: targetPorts(config),
      monitoring: config.monitoring.enabled,
      door: egress === undefined ? undefined : {
        privateRoles: [...new Set(groupsSpec.filter(isPrivate).map((g) => g.role))],
        publicRoles: [...new Set(groupsSpec.filter((g) => !isPrivate(g)).map((g) => g.role))],
      },
    });
    const key = new KeyPair(this, 'key', { keyName: `loadfleet-${env}`, publicKey: tfLiteral(props.publicKey.trim()), tags: roleTags(env, 'fleet', `loadfleet-${env}`) });
    key.overrideLogicalId('key');

    let amiId = config.ami.id;
    if (amiId === null) {
      const ami = new DataAwsAmi(this, 'al2023', {
        owners: [...AL2023.owners],
        mostRecent: true,
        filter: [
          { name: 'name', values: [AL2023.namePattern] },
          { name: 'architecture', values: ['x86_64'] },
        ],
      });
      ami.overrideLogicalId('al2023');
      amiId = ami.id;
    }

    // Agents in other regions (issue 18): each region its own provider alias, VPC, key pair and image.
    const remote = new Map<string, RemoteAgentRegion>();
    for (const r of agentRegions(config)) {
      if (r.home) continue;
      remote.set(r.region, new RemoteAgentRegion(this, `region_${regionId(r.region)}`, {
        env, region: r.region, defaultTags, vpcCidr: config.network.vpcCidr, subnetCidr: config.network.subnetCidr,
        publicKey: tfLiteral(props.publicKey.trim()), adminCidrs: config.access.sshCidrs,
      }));
    }

    // Static: the expiry lives in the loadfleet:expires-at tag, so changing it never touches user data.
    const userData = deadmanUserData(env);
    const privateNet = egress === undefined ? undefined : new PrivateSubnet(this, 'private', {
      env, vpcId: network.vpcId, vpcCidr: config.network.vpcCidr, cidr: config.network.privateSubnetCidr, publicSubnetId: network.subnetId,
      gateway: network.gateway, egress,
      natInstance: { amiId: amiId as string, instanceType: config.network.natInstanceType, userData: `${userData}${NAT_SETUP}` },
    });
    this.groups = groupsSpec.map((spec) => {
      const there = spec.region === undefined ? undefined : remote.get(spec.region);
      // Private agents and several regions are refused together at config time (stacks/config.ts).
      const inPrivate = !there && privateNet !== undefined && isPrivate(spec);
      return new HostGroup(this, spec.id, {
        env,
        spec,
        amiId: there?.amiId ?? props.roleAmis?.[spec.role] ?? (amiId as string),
        subnetId: there?.network.subnetId ?? (inPrivate ? privateNet!.subnetId : network.subnetId),
        publicIp: !inPrivate,
        securityGroupId: there?.securityGroupId ?? security.groupIds[spec.role],
        keyName: there?.keyName ?? key.keyName,
        userData,
        rootVolumeGb: config.rootVolumeGb,
        capacity: spec.role === 'agent' && config.agents.capacity === 'spot' ? Capacity.spot(config.agents.spotMaxPrice) : Capacity.onDemand(),
        detailedMonitoring: config.detailedMonitoring,
        dependsOn: there ? [there.network.gateway] : inPrivate ? [network.gateway, ...privateNet!.ready] : [network.gateway],
        provider: there?.provider,
      });
    });
    if (spansRegions(config)) crossRegionRules(this, config, security.groupIds, remote);

    new TerraformOutput(this, 'hosts', { value: hostsExpression(this.groups, config), description: 'Every host: role, name, instance id, public and private IP' });
    // Agents in another region reach the master over the internet: on its public address (issue 18).
    const masterIp = spansRegions(config) ? 'public_ip' : 'private_ip';
    const master = engine.masterPort === null ? 'null' : `{ address = aws_instance.controller.${masterIp}, port = ${engine.masterPort} }`;
    new TerraformOutput(this, 'master', { value: `\${${master}}`, description: 'The address agents must reach' });
    // Issue 18: the addresses a target's firewall must allowlist. Public agents: their own public IPs.
    // Every agent group, remote regions' too (an all-remote fleet has no aws_instance.agents at all).
    const agentIps = groupsSpec.filter((g) => g.role === 'agent').map((g) => `aws_instance.${g.id}[*].public_ip`);
    const publicIps = agentIps.length === 1 ? agentIps[0]! : `concat(${agentIps.join(', ')})`;
    new TerraformOutput(this, 'egress', {
      value: `\${${privateNet ? `{ kind = "${egress}", ips = ${privateNet.egressIpsExpression} }` : `{ kind = "public", ips = ${publicIps} }`}}`,
      description: 'The egress IPs to allowlist',
    });
    new TerraformOutput(this, 'env', { value: { name: env, region: config.region, engine: config.engine, expires_at: props.expiresAt } });
  }
}

/** One flat list of host objects: counted groups through a for expression, singletons directly. */
function hostsExpression(groups: readonly HostGroup[], config: FleetConfig): string {
  const specs = new Map(hostGroups(config).map((s) => [s.id, s]));
  const parts = groups.map((g) => {
    const spec = specs.get(g.node.id);
    if (!spec) throw new Error(`internal: no spec for host group ${g.node.id}`);
    const fields = (h: string, name: string) =>
      `{ role = "${spec.role}", group = "${spec.namePrefix}", name = ${name}, id = ${h}.id, public_ip = ${h}.public_ip, private_ip = ${h}.private_ip, region = "${spec.region ?? config.region}" }`;
    const ref = `aws_instance.${spec.id}`;
    return spec.singleton ? `[${fields(ref, `"${spec.namePrefix}"`)}]` : `[for i, h in ${ref} : ${fields('h', `format("${spec.namePrefix}-%d", i + ${1 + (spec.offset ?? 0)})`)}]`;
  });
  return `\${concat(${parts.join(', ')})}`;
}

/**
 * What crosses the internet when agents sit in several regions: every agent's public address (/32 each) may
 * reach the master's ports and the targets; monitoring's public address may scrape the remote agents; k6's
 * remote agents may push to Prometheus. Never a range, never 0.0.0.0/0.
 */
function crossRegionRules(scope: FleetStack, config: FleetConfig, groupIds: Readonly<Record<Role, string>>, remote: ReadonlyMap<string, RemoteAgentRegion>): void {
  const engine = engineOf(config.engine);
  const agents = hostGroups(config).filter((g) => g.role === 'agent');
  for (const g of agents) {
    const src = { instances: `aws_instance.${g.id}`, count: g.count };
    // Every agent, the home region's too: the master's public address is the one they all dial.
    for (const p of engine.controllerFromAgents) {
      publicAddressRules(scope, { ...src, id: `sg_controller_${p.from}_${p.to}_from_${g.id}_public`, securityGroupId: groupIds.controller, port: p, description: `${p.description} from ${g.id} (public addresses)` });
    }
    if (g.region === undefined) continue;
    for (const port of targetPorts(config)) {
      publicAddressRules(scope, { ...src, id: `sg_target_${port}_from_${g.id}_public`, securityGroupId: groupIds.target, port: { from: port, to: port, description: 'system under test' }, description: `system under test from ${g.id} (public addresses)` });
    }
    const there = remote.get(g.region)!;
    if (config.monitoring.enabled) {
      const ne = MONITORING_PORTS.nodeExporter;
      publicAddressRules(scope, { id: `sg_agent_${there.sfx}_${ne}_from_monitoring_public`, securityGroupId: there.securityGroupId, port: { from: ne, to: ne, description: 'node_exporter' }, instances: 'aws_instance.monitoring', singleton: true, count: 1, description: 'node_exporter from monitoring (public address)', provider: there.provider });
      if (engine.name === 'k6') {
        const pr = MONITORING_PORTS.prometheus;
        publicAddressRules(scope, { ...src, id: `sg_monitoring_${pr}_from_${g.id}_public`, securityGroupId: groupIds.monitoring, port: { from: pr, to: pr, description: 'Prometheus remote write (k6)' }, description: `Prometheus remote write (k6) from ${g.id} (public addresses)` });
      }
    }
  }
}
