/**
 * Sweep of the network layer on a real moto_server: a VPC with its subnet, route table (associated),
 * internet gateway (attached), network interface, and a spot request, all made directly through the SDK
 * with the env's tag, are swept to zero; the same set without the tag is not touched.
 */
import { describe, expect, it } from 'vitest';
import {
  AssociateRouteTableCommand, AttachInternetGatewayCommand, CreateInternetGatewayCommand, CreateNetworkInterfaceCommand,
  CreateRouteTableCommand, CreateSubnetCommand, CreateVpcCommand, DescribeInternetGatewaysCommand, DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand, DescribeSpotInstanceRequestsCommand, DescribeSubnetsCommand, DescribeVpcsCommand, RequestSpotInstancesCommand,
  type EC2Client, type Tag,
} from '@aws-sdk/client-ec2';
import { loadfleet } from '../harness/cli';
import { useMotoEnv } from '../harness/moto-env';
import { ec2 } from '../harness/ec2-count';
import { al2023, envTags } from '../harness/ec2-make';

const ctx = useMotoEnv();
const spec = (type: string, tags: Tag[]) => (tags.length ? [{ ResourceType: type as never, Tags: tags }] : undefined);

async function networkStrays(c: EC2Client, tags: Tag[], cidr: string) {
  const vpc = (await c.send(new CreateVpcCommand({ CidrBlock: cidr, TagSpecifications: spec('vpc', tags) }))).Vpc!.VpcId!;
  const subnet = (await c.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: cidr.replace(/\/16$/, '/24'), TagSpecifications: spec('subnet', tags) }))).Subnet!.SubnetId!;
  const routeTable = (await c.send(new CreateRouteTableCommand({ VpcId: vpc, TagSpecifications: spec('route-table', tags) }))).RouteTable!.RouteTableId!;
  await c.send(new AssociateRouteTableCommand({ RouteTableId: routeTable, SubnetId: subnet }));
  const igw = (await c.send(new CreateInternetGatewayCommand({ TagSpecifications: spec('internet-gateway', tags) }))).InternetGateway!.InternetGatewayId!;
  await c.send(new AttachInternetGatewayCommand({ InternetGatewayId: igw, VpcId: vpc }));
  const eni = (await c.send(new CreateNetworkInterfaceCommand({ SubnetId: subnet, TagSpecifications: spec('network-interface', tags) }))).NetworkInterface!.NetworkInterfaceId!;
  const spot = (await c.send(new RequestSpotInstancesCommand({
    InstanceCount: 1, LaunchSpecification: { ImageId: await al2023(c), InstanceType: 't3.micro' }, TagSpecifications: spec('spot-instances-request', tags),
  }))).SpotInstanceRequests![0]!.SpotInstanceRequestId!;
  return { vpc, subnet, routeTable, igw, eni, spot };
}

async function present(c: EC2Client, ids: Awaited<ReturnType<typeof networkStrays>>) {
  const n = async (f: () => Promise<unknown[] | undefined>) => ((await f().catch(() => [])) ?? []).length > 0;
  const spotState = (await c.send(new DescribeSpotInstanceRequestsCommand({ SpotInstanceRequestIds: [ids.spot] })).catch(() => ({ SpotInstanceRequests: [] }))).SpotInstanceRequests?.[0]?.State;
  return {
    vpc: await n(async () => (await c.send(new DescribeVpcsCommand({ VpcIds: [ids.vpc] }))).Vpcs),
    subnet: await n(async () => (await c.send(new DescribeSubnetsCommand({ SubnetIds: [ids.subnet] }))).Subnets),
    routeTable: await n(async () => (await c.send(new DescribeRouteTablesCommand({ RouteTableIds: [ids.routeTable] }))).RouteTables),
    igw: await n(async () => (await c.send(new DescribeInternetGatewaysCommand({ InternetGatewayIds: [ids.igw] }))).InternetGateways),
    eni: await n(async () => (await c.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: [ids.eni] }))).NetworkInterfaces),
    spot: spotState === 'open' || spotState === 'active',
  };
}

const ALL = { vpc: true, subnet: true, routeTable: true, igw: true, eni: true, spot: true };
const NONE = { vpc: false, subnet: false, routeTable: false, igw: false, eni: false, spot: false };

describe('sweep of the network layer', () => {
  it('sweeps tagged VPC, subnet, route table, internet gateway, network interface and spot request to zero; untagged ones stay', async () => {
    const c = ec2(ctx.moto.env);
    const mine = await networkStrays(c, envTags('netstray'), '10.61.0.0/16');
    const untagged = await networkStrays(c, [], '10.62.0.0/16');
    expect(await present(c, mine)).toEqual(ALL);

    const dry = await loadfleet(['sweep', '--env', 'netstray', '--dry-run', '--json'], ctx.env);
    expect(dry.stderr + dry.exitCode).toMatch(/0$/);
    const kinds = (JSON.parse(dry.stdout).envs[0].found as { kind: string }[]).map((f) => f.kind).sort();
    expect(kinds).toEqual(['internet-gateway', 'network-interface', 'route-table', 'spot-request', 'subnet', 'vpc']);

    const r = await loadfleet(['sweep', '--env', 'netstray', '--yes', '--json'], ctx.env);
    expect(r.stderr + r.exitCode).toMatch(/0$/);
    expect(JSON.parse(r.stdout).swept[0].left).toEqual([]);
    expect(await present(c, mine)).toEqual(NONE);
    expect(await present(c, untagged)).toEqual(ALL);
  });
});
