import { Construct, Subnet, RouteTable, RouteTableAssociation, Eip, EipAssociation, NatGateway, Instance, SecurityGroup, VpcSecurityGroupIngressRule, VpcSecurityGroupEgressRule, type ITerraformDependable } from '../cdk';
import type { Egress } from '../private-network';
import { roleTags } from './tags';

export interface PrivateSubnetProps {
  readonly env: string;
  readonly vpcId: string;
  /** The NAT instance's group takes traffic from here only. */
  readonly vpcCidr: string;
  readonly cidr: string;
  /** Where the NAT gateway or NAT instance lives (it needs the internet gateway's route). */
  readonly publicSubnetId: string;
  readonly gateway: ITerraformDependable;
  readonly egress: Egress;
  /** For egress nat-instance. */
  readonly natInstance: { readonly amiId: string; readonly instanceType: string; readonly userData: string };
}

/**
 * NAT on Amazon Linux 2023: iptables-services, ip_forward, MASQUERADE out of the default route's interface,
 * FORWARD flushed — the steps of AWS's own guide (docs.aws.amazon.com/vpc/latest/userguide/work-with-nat-instances.html,
 * "Create a NAT AMI"), as aws-cdk's NatInstanceProviderV2 runs them (aws-cdk-lib/aws-ec2/lib/nat.ts).
 * No dollar-brace: Terraform would read it as an interpolation.
 */
export const NAT_SETUP = `
# loadfleet NAT instance (issue 18): forward and masquerade the private subnet's traffic.
yum install -y iptables-services
systemctl enable --now iptables
echo 'net.ipv4.ip_forward=1' > /etc/sysctl.d/90-loadfleet-nat.conf
sysctl -p /etc/sysctl.d/90-loadfleet-nat.conf
iptables -t nat -A POSTROUTING -o "$(ip route show default | awk '{print $5; exit}')" -j MASQUERADE
iptables -F FORWARD
service iptables save
`;

/**
 * The private subnet of agents (and private targets) and its way out. Egress IPs are Elastic IPs that live apart
 * from what uses them (an EIP association for the NAT instance, the gateway's allocation for the NAT gateway):
 * re-running `up` after the dead-man switch, or switching nat-instance ⇄ nat-gateway, keeps the same address
 * (same logical id `egress_eip`); only `down` (terraform destroy of the env) releases it.
 */
export class PrivateSubnet extends Construct {
  readonly subnetId: string;
  /** Depend on this before instances that need egress at boot. */
  readonly ready: ITerraformDependable[] = [];
  /** Terraform expression (without ${}) of the egress IP list; "[]" for egress none. */
  readonly egressIpsExpression: string;

  constructor(scope: Construct, id: string, props: PrivateSubnetProps) {
    super(scope, id);
    const tags = (what: string) => roleTags(props.env, 'network', `${props.env}-${what}`);
    const subnet = new Subnet(this, 'subnet', { vpcId: props.vpcId, cidrBlock: props.cidr, mapPublicIpOnLaunch: false, tags: tags('private') });
    subnet.overrideLogicalId('private_subnet');
    this.subnetId = subnet.id;

    let route: { cidrBlock: string; natGatewayId?: string; networkInterfaceId?: string }[] = [];
    if (props.egress === 'none') {
      this.egressIpsExpression = '[]';
    } else {
      const eip = new Eip(this, 'eip', { domain: 'vpc', tags: tags('egress'), dependsOn: [props.gateway] });
      eip.overrideLogicalId('egress_eip');
      this.egressIpsExpression = '[aws_eip.egress_eip.public_ip]';
      if (props.egress === 'nat-gateway') {
        const nat = new NatGateway(this, 'nat', { allocationId: eip.allocationId, subnetId: props.publicSubnetId, tags: tags('nat'), dependsOn: [props.gateway] });
        nat.overrideLogicalId('nat_gateway');
        route = [{ cidrBlock: '0.0.0.0/0', natGatewayId: nat.id }];
      } else {
        const sg = new SecurityGroup(this, 'sg', { name: `${props.env}-nat`, description: `loadfleet ${props.env} NAT instance`, vpcId: props.vpcId, tags: roleTags(props.env, 'network', `${props.env}-nat`) });
        sg.overrideLogicalId('sg_nat');
        // Only traffic from inside the VPC is forwarded; no SSH from anywhere (nothing logs in to it).
        new VpcSecurityGroupIngressRule(this, 'from-vpc', { securityGroupId: sg.id, ipProtocol: '-1', cidrIpv4: props.vpcCidr, description: 'forwarded traffic from the VPC' }).overrideLogicalId('sg_nat_from_vpc');
        new VpcSecurityGroupEgressRule(this, 'egress', { securityGroupId: sg.id, ipProtocol: '-1', cidrIpv4: '0.0.0.0/0', description: 'all outbound (the private hosts\' egress)' }).overrideLogicalId('sg_nat_egress');
        const name = `${props.env}-nat`;
        const nat = new Instance(this, 'instance', {
          ami: props.natInstance.amiId,
          instanceType: props.natInstance.instanceType,
          subnetId: props.publicSubnetId,
          vpcSecurityGroupIds: [sg.id],
          // Booted with an ephemeral public IP so user data can install iptables; the EIP replaces it.
          associatePublicIpAddress: true,
          sourceDestCheck: false,
          metadataOptions: { httpTokens: 'required', httpEndpoint: 'enabled', httpPutResponseHopLimit: 1, instanceMetadataTags: 'enabled' },
          rootBlockDevice: { encrypted: true, volumeType: 'gp3', volumeSize: 8, deleteOnTermination: true, tags: roleTags(props.env, 'network', name) },
          instanceInitiatedShutdownBehavior: 'terminate',
          userData: props.natInstance.userData,
          tags: roleTags(props.env, 'network', name),
          dependsOn: [props.gateway],
        });
        nat.overrideLogicalId('nat_instance');
        new EipAssociation(this, 'assoc', { allocationId: eip.allocationId, instanceId: nat.id }).overrideLogicalId('egress_eip_assoc');
        route = [{ cidrBlock: '0.0.0.0/0', networkInterfaceId: nat.primaryNetworkInterfaceId }];
      }
    }
    const routes = new RouteTable(this, 'routes', { vpcId: props.vpcId, route, tags: tags('private') });
    routes.overrideLogicalId('private_routes');
    const assoc = new RouteTableAssociation(this, 'assoc-routes', { subnetId: subnet.id, routeTableId: routes.id });
    assoc.overrideLogicalId('private_routes_assoc');
    this.ready.push(assoc);
  }
}
