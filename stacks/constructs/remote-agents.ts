/**
 * The agents of one region other than the fleet's own (issue 18, part 2): a provider alias, a VPC of their
 * own, their key pair, Amazon Linux 2023 of that region and one security group. The rules that let them
 * reach the fleet's region allow their public addresses only, one /32 each (see publicAddressRules).
 */
import { AwsProvider, Construct, DataAwsAmi, KeyPair, SecurityGroup, VpcSecurityGroupEgressRule, VpcSecurityGroupIngressRule, type TerraformProvider } from '../cdk';
import { AL2023 } from '../images';
import type { PortRange } from '../engines';
import { regionId } from '../regions';
import { Network } from './network';
import { roleTags } from './tags';

export interface RemoteAgentRegionProps {
  readonly env: string;
  readonly region: string;
  readonly defaultTags: Record<string, string>;
  readonly vpcCidr: string;
  readonly subnetCidr: string;
  readonly publicKey: string;
  readonly adminCidrs: readonly string[];
}

export class RemoteAgentRegion extends Construct {
  readonly provider: TerraformProvider;
  readonly network: Network;
  readonly securityGroupId: string;
  readonly keyName: string;
  readonly amiId: string;
  /** Suffix of every logical id in this region: eu_west_1. */
  readonly sfx: string;

  constructor(scope: Construct, id: string, props: RemoteAgentRegionProps) {
    super(scope, id);
    const sfx = regionId(props.region);
    this.sfx = sfx;
    const provider = new AwsProvider(this, 'provider', { alias: sfx, region: props.region, defaultTags: [{ tags: props.defaultTags }] });
    this.provider = provider;
    // The same addresses in every region: the VPCs never peer, so they may overlap.
    this.network = new Network(this, 'network', { env: props.env, vpcCidr: props.vpcCidr, subnetCidr: props.subnetCidr, provider, suffix: `_${sfx}` });
    const sg = new SecurityGroup(this, 'sg', {
      name: `${props.env}-agent`,
      description: `loadfleet ${props.env} agent (${props.region})`,
      vpcId: this.network.vpcId,
      tags: roleTags(props.env, 'agent', `${props.env}-agent-${props.region}`),
      provider,
    });
    sg.overrideLogicalId(`sg_agent_${sfx}`);
    this.securityGroupId = sg.id;
    new VpcSecurityGroupEgressRule(this, 'egress', {
      securityGroupId: sg.id, ipProtocol: '-1', cidrIpv4: '0.0.0.0/0', description: 'all outbound (package installs, targets, the master)', provider,
    }).overrideLogicalId(`sg_agent_${sfx}_egress`);
    for (const cidr of props.adminCidrs) {
      new VpcSecurityGroupIngressRule(this, `ssh_${cidr}`, {
        securityGroupId: sg.id, ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: cidr, description: 'SSH', provider,
      }).overrideLogicalId(`sg_agent_${sfx}_22_22_from_${cidr.replace(/[./]/g, '_')}`);
    }
    const key = new KeyPair(this, 'key', { keyName: `loadfleet-${props.env}`, publicKey: props.publicKey, tags: roleTags(props.env, 'fleet', `loadfleet-${props.env}`), provider });
    key.overrideLogicalId(`key_${sfx}`);
    this.keyName = key.keyName;
    // AMI ids are regional: this region's own Amazon Linux 2023.
    const ami = new DataAwsAmi(this, 'al2023', {
      owners: [...AL2023.owners], mostRecent: true, provider,
      filter: [{ name: 'name', values: [AL2023.namePattern] }, { name: 'architecture', values: ['x86_64'] }],
    });
    ami.overrideLogicalId(`al2023_${sfx}`);
    this.amiId = ami.id;
  }
}

/**
 * One ingress rule per address of a counted instance resource: `<instances>[i].public_ip/32` on `port` of
 * `securityGroupId`. The fleet's own addresses, never a range: what crosses the internet between regions.
 */
export function publicAddressRules(scope: Construct, p: {
  readonly id: string;
  readonly securityGroupId: string;
  readonly port: PortRange;
  /** Terraform address of the source instances, e.g. aws_instance.agents_eu_west_1 */
  readonly instances: string;
  /** Singleton instance (no count). */
  readonly singleton?: boolean;
  readonly count: number;
  readonly description: string;
  readonly provider?: TerraformProvider;
}): void {
  const rule = new VpcSecurityGroupIngressRule(scope, p.id, {
    count: p.singleton ? undefined : p.count,
    securityGroupId: p.securityGroupId,
    ipProtocol: 'tcp',
    fromPort: p.port.from,
    toPort: p.port.to,
    cidrIpv4: p.singleton ? `\${${p.instances}.public_ip}/32` : `\${${p.instances}[count.index].public_ip}/32`,
    description: p.description,
    provider: p.provider,
  });
  rule.overrideLogicalId(p.id);
}
