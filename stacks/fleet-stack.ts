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

    new AwsProvider(this, 'aws', { region: config.region, defaultTags: [{ tags: envTags(env, props.expiresAt, tfLiteralRecord(config.tags)) }] });
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

    // Static: the expiry lives in the loadfleet:expires-at tag, so changing it never touches user data.
    const userData = deadmanUserData(env);
    const privateNet = egress === undefined ? undefined : new PrivateSubnet(this, 'private', {
      env, vpcId: network.vpcId, vpcCidr: config.network.vpcCidr, cidr: config.network.privateSubnetCidr, publicSubnetId: network.subnetId,
      gateway: network.gateway, egress,
      natInstance: { amiId: amiId as string, instanceType: config.network.natInstanceType, userData: `${userData}${NAT_SETUP}` },
    });
    this.groups = groupsSpec.map(
      (spec) =>
        new HostGroup(this, spec.id, {
          env,
          spec,
          amiId: props.roleAmis?.[spec.role] ?? (amiId as string),
          subnetId: privateNet && isPrivate(spec) ? privateNet.subnetId : network.subnetId,
          publicIp: !(privateNet && isPrivate(spec)),
          securityGroupId: security.groupIds[spec.role],
          keyName: key.keyName,
          userData,
          rootVolumeGb: config.rootVolumeGb,
          capacity: spec.role === 'agent' && config.agents.capacity === 'spot' ? Capacity.spot(config.agents.spotMaxPrice) : Capacity.onDemand(),
          detailedMonitoring: config.detailedMonitoring,
          dependsOn: privateNet && isPrivate(spec) ? [network.gateway, ...privateNet.ready] : [network.gateway],
        }),
    );

    new TerraformOutput(this, 'hosts', { value: hostsExpression(this.groups, config), description: 'Every host: role, name, instance id, public and private IP' });
    const master = engine.masterPort === null ? 'null' : `{ address = aws_instance.controller.private_ip, port = ${engine.masterPort} }`;
    new TerraformOutput(this, 'master', { value: `\${${master}}`, description: 'The address agents must reach' });
    // Issue 18: the addresses a target's firewall must allowlist. Public agents: their own public IPs.
    new TerraformOutput(this, 'egress', {
      value: `\${${privateNet ? `{ kind = "${egress}", ips = ${privateNet.egressIpsExpression} }` : '{ kind = "public", ips = aws_instance.agents[*].public_ip }'}}`,
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
      `{ role = "${spec.role}", group = "${spec.namePrefix}", name = ${name}, id = ${h}.id, public_ip = ${h}.public_ip, private_ip = ${h}.private_ip }`;
    const ref = `aws_instance.${spec.id}`;
    return spec.singleton ? `[${fields(ref, `"${spec.namePrefix}"`)}]` : `[for i, h in ${ref} : ${fields('h', `format("${spec.namePrefix}-%d", i + 1)`)}]`;
  });
  return `\${concat(${parts.join(', ')})}`;
}
