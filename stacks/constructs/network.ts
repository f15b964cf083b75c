import { Construct, Vpc, Subnet, InternetGateway, RouteTable, RouteTableAssociation } from '../cdk';
import { roleTags } from './tags';

export interface NetworkProps {
  readonly env: string;
  /** @default 10.42.0.0/16 (filled by the config) */
  readonly vpcCidr: string;
  /** One public subnet: the fleet is short-lived and talks mostly to itself. */
  readonly subnetCidr: string;
}

/** VPC, one public subnet, internet gateway and its route. Two dependency levels before the instances. */
export class Network extends Construct {
  readonly vpcId: string;
  readonly subnetId: string;
  readonly gateway: InternetGateway;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const tags = (what: string) => roleTags(props.env, 'network', `${props.env}-${what}`);
    // No enable_dns_hostnames / map_public_ip_on_launch: each is a modify-and-wait (+10 s per level on
    // apply); instances ask for a public IP themselves and DNS support is on by default.
    const vpc = new Vpc(this, 'vpc', { cidrBlock: props.vpcCidr, tags: tags('vpc') });
    vpc.overrideLogicalId('vpc');
    const subnet = new Subnet(this, 'subnet', { vpcId: vpc.id, cidrBlock: props.subnetCidr, tags: tags('public') });
    subnet.overrideLogicalId('public_subnet');
    this.gateway = new InternetGateway(this, 'igw', { vpcId: vpc.id, tags: tags('igw') });
    this.gateway.overrideLogicalId('igw');
    const routes = new RouteTable(this, 'routes', {
      vpcId: vpc.id,
      route: [{ cidrBlock: '0.0.0.0/0', gatewayId: this.gateway.id }],
      tags: tags('public'),
    });
    routes.overrideLogicalId('public_routes');
    new RouteTableAssociation(this, 'assoc', { subnetId: subnet.id, routeTableId: routes.id }).overrideLogicalId('public_routes_assoc');
    this.vpcId = vpc.id;
    this.subnetId = subnet.id;
  }
}
