import { Construct, type TerraformProvider, Vpc, Subnet, InternetGateway, RouteTable, RouteTableAssociation } from '../cdk';
import { roleTags } from './tags';

export interface NetworkProps {
  readonly env: string;
  /** @default 10.42.0.0/16 (filled by the config) */
  readonly vpcCidr: string;
  /** One public subnet: the fleet is short-lived and talks mostly to itself. */
  readonly subnetCidr: string;
  /** Another region's provider alias (agents spread over regions). @default the stack's default provider */
  readonly provider?: TerraformProvider;
  /** Appended to every logical id and Name, so each region's network is its own. @default '' (the fleet's region) */
  readonly suffix?: string;
}

/** VPC, one public subnet, internet gateway and its route. Two dependency levels before the instances. */
export class Network extends Construct {
  readonly vpcId: string;
  readonly subnetId: string;
  readonly gateway: InternetGateway;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const sfx = props.suffix ?? '';
    const provider = props.provider;
    const tags = (what: string) => roleTags(props.env, 'network', `${props.env}-${what}${sfx ? `-${sfx}` : ''}`);
    // No enable_dns_hostnames / map_public_ip_on_launch: each is a modify-and-wait (+10 s per level on
    // apply); instances ask for a public IP themselves and DNS support is on by default.
    const vpc = new Vpc(this, 'vpc', { cidrBlock: props.vpcCidr, tags: tags('vpc'), provider });
    vpc.overrideLogicalId(`vpc${sfx}`);
    const subnet = new Subnet(this, 'subnet', { vpcId: vpc.id, cidrBlock: props.subnetCidr, tags: tags('public'), provider });
    subnet.overrideLogicalId(`public_subnet${sfx}`);
    this.gateway = new InternetGateway(this, 'igw', { vpcId: vpc.id, tags: tags('igw'), provider });
    this.gateway.overrideLogicalId(`igw${sfx}`);
    const routes = new RouteTable(this, 'routes', {
      vpcId: vpc.id,
      route: [{ cidrBlock: '0.0.0.0/0', gatewayId: this.gateway.id }],
      tags: tags('public'),
      provider,
    });
    routes.overrideLogicalId(`public_routes${sfx}`);
    new RouteTableAssociation(this, 'assoc', { subnetId: subnet.id, routeTableId: routes.id, provider }).overrideLogicalId(`public_routes_assoc${sfx}`);
    this.vpcId = vpc.id;
    this.subnetId = subnet.id;
  }
}
