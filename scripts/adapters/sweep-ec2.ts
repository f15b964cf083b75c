/** Finds and deletes everything an env's tag is on, through the EC2 API. Batched where the API allows. */
import {
  CancelSpotInstanceRequestsCommand, DeleteInternetGatewayCommand, DeleteKeyPairCommand, DeleteNatGatewayCommand, DeleteNetworkInterfaceCommand, DescribeNatGatewaysCommand,
  DeleteRouteTableCommand, DeleteSecurityGroupCommand, DeleteSnapshotCommand, DeleteSubnetCommand, DeleteVolumeCommand,
  DeleteVpcCommand, DeregisterImageCommand, DescribeAddressesCommand, DescribeImagesCommand, DescribeInstancesCommand,
  DescribeInternetGatewaysCommand, DescribeKeyPairsCommand, DescribeNetworkInterfacesCommand, DescribeRouteTablesCommand,
  DescribeSecurityGroupsCommand, DescribeSnapshotsCommand, DescribeSpotInstanceRequestsCommand, DescribeSubnetsCommand,
  DescribeTagsCommand, DescribeVolumesCommand, DescribeVpcsCommand, DetachInternetGatewayCommand, DisassociateAddressCommand,
  DisassociateRouteTableCommand, ReleaseAddressCommand, RevokeSecurityGroupEgressCommand, RevokeSecurityGroupIngressCommand,
  TerminateInstancesCommand, type Filter, type Tag,
} from '@aws-sdk/client-ec2';
import { waitUntilInstanceTerminated, waitUntilNatGatewayDeleted } from '@aws-sdk/client-ec2';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { Found, SweepKind } from '../core/sweep';
import { IMAGE_EXPIRES_TAG } from '../core/bake';
import type { Ec2Port } from './ec2';
import { awsCode, awsError } from '../core/errors';

const nameOf = (tags: Tag[] | undefined) => tags?.find((t) => t.Key === 'Name')?.Value;
const envOf = (tags: Tag[] | undefined) => tags?.find((t) => t.Key === 'loadfleet:env')?.Value ?? '';

/** Everything carrying loadfleet:env=<env>: one (paginated) describe per kind. */
export async function findTagged(ec2: Ec2Port, env: string, kinds?: ReadonlySet<SweepKind>): Promise<Found[]> {
  try {
    return await listTagged(ec2, env, kinds);
  } catch (e) {
    throw awsError(`listing what carries loadfleet:env=${env}`, e);
  }
}

async function listTagged(ec2: Ec2Port, env: string, kinds?: ReadonlySet<SweepKind>): Promise<Found[]> {
  const F: Filter[] = [{ Name: 'tag:loadfleet:env', Values: [env] }];
  const want = (k: SweepKind) => !kinds || kinds.has(k);
  const out: Found[] = [];
  const add = (kind: SweepKind, id: string | undefined, tags: Tag[] | undefined, extra: Partial<Found> = {}) => {
    if (id) out.push({ kind, id, env: envOf(tags) || env, name: nameOf(tags), ...extra });
  };
  if (want('instance')) {
    let NextToken: string | undefined;
    do {
      const r = await ec2.send(new DescribeInstancesCommand({ Filters: [...F, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'] }], NextToken }));
      for (const res of r.Reservations ?? []) for (const i of res.Instances ?? []) add('instance', i.InstanceId, i.Tags);
      NextToken = r.NextToken;
    } while (NextToken);
  }
  if (want('spot-request')) {
    const r = await ec2.send(new DescribeSpotInstanceRequestsCommand({ Filters: [...F, { Name: 'state', Values: ['open', 'active'] }] }));
    for (const s of r.SpotInstanceRequests ?? []) add('spot-request', s.SpotInstanceRequestId, s.Tags);
  }
  if (want('volume')) {
    const r = await ec2.send(new DescribeVolumesCommand({ Filters: [...F, { Name: 'status', Values: ['available', 'creating', 'error'] }] }));
    for (const v of r.Volumes ?? []) add('volume', v.VolumeId, v.Tags);
  }
  if (want('network-interface')) {
    const r = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [...F, { Name: 'status', Values: ['available'] }] }));
    for (const n of r.NetworkInterfaces ?? []) add('network-interface', n.NetworkInterfaceId, n.TagSet);
  }
  if (want('nat-gateway')) {
    // DescribeNatGateways names its filters `Filter`, not `Filters` (the SDK's DescribeNatGatewaysRequest).
    let NextToken: string | undefined;
    do {
      const r = await ec2.send(new DescribeNatGatewaysCommand({ Filter: [...F, { Name: 'state', Values: ['pending', 'available'] }], NextToken }));
      for (const n of r.NatGateways ?? []) add('nat-gateway', n.NatGatewayId, n.Tags);
      NextToken = r.NextToken;
    } while (NextToken);
  }
  if (want('elastic-ip')) {
    const r = await ec2.send(new DescribeAddressesCommand({ Filters: F }));
    for (const a of r.Addresses ?? []) add('elastic-ip', a.AllocationId, a.Tags, { attachedTo: a.AssociationId ? [a.AssociationId] : [] });
  }
  if (want('internet-gateway')) {
    const r = await ec2.send(new DescribeInternetGatewaysCommand({ Filters: F }));
    for (const g of r.InternetGateways ?? []) add('internet-gateway', g.InternetGatewayId, g.Tags, { attachedTo: (g.Attachments ?? []).map((a) => a.VpcId!).filter(Boolean) });
  }
  if (want('subnet')) {
    const r = await ec2.send(new DescribeSubnetsCommand({ Filters: F }));
    for (const s of r.Subnets ?? []) add('subnet', s.SubnetId, s.Tags);
  }
  if (want('route-table')) {
    const r = await ec2.send(new DescribeRouteTablesCommand({ Filters: F }));
    for (const t of r.RouteTables ?? []) {
      if ((t.Associations ?? []).some((a) => a.Main)) continue; // the main table goes with its VPC
      add('route-table', t.RouteTableId, t.Tags, { attachedTo: (t.Associations ?? []).map((a) => a.RouteTableAssociationId!).filter(Boolean) });
    }
  }
  if (want('security-group')) {
    const r = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: F }));
    for (const g of r.SecurityGroups ?? []) if (g.GroupName !== 'default') add('security-group', g.GroupId, g.Tags);
  }
  if (want('vpc')) {
    const r = await ec2.send(new DescribeVpcsCommand({ Filters: F }));
    for (const v of r.Vpcs ?? []) if (!v.IsDefault) add('vpc', v.VpcId, v.Tags);
  }
  if (want('key-pair')) {
    const r = await ec2.send(new DescribeKeyPairsCommand({ Filters: F }));
    for (const k of r.KeyPairs ?? []) add('key-pair', k.KeyPairId, k.Tags, { name: k.KeyName });
  }
  if (want('image')) {
    const r = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: F }));
    for (const i of r.Images ?? []) {
      add('image', i.ImageId, i.Tags, {
        snapshots: (i.BlockDeviceMappings ?? []).map((b) => b.Ebs?.SnapshotId).filter((s): s is string => !!s),
        imageExpiresAt: i.Tags?.find((t) => t.Key === IMAGE_EXPIRES_TAG)?.Value,
      });
    }
  }
  if (want('snapshot')) {
    const r = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: F }));
    for (const s of r.Snapshots ?? []) add('snapshot', s.SnapshotId, s.Tags);
  }
  return out;
}

export interface DeleteOutcome {
  readonly removed: Found[];
  /** Per resource, what AWS said (a dependency not yet gone is retried next round). */
  readonly errors: { found: Found; message: string }[];
}

const chunks = <T>(xs: readonly T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

/**
 * Deletes in dependency order; instances are terminated together and waited for. `signal` (Ctrl-C pressed
 * to abandon) ends the wait for instances at once and skips what is left: the next sweep finishes it.
 */
export async function deleteFound(ec2: Ec2Port, found: readonly Found[], opts: { waitSeconds: number; signal?: AbortSignal }): Promise<DeleteOutcome> {
  const removed: Found[] = [];
  const errors: { found: Found; message: string }[] = [];
  const of = (k: SweepKind) => found.filter((f) => f.kind === k);
  const stopped = (f: Found) => {
    if (!opts.signal?.aborted) return false;
    errors.push({ found: f, message: `not attempted: ${String((opts.signal.reason as Error)?.message ?? 'stopped')}` });
    return true;
  };
  const one = async (f: Found, call: () => Promise<unknown>) => {
    if (stopped(f)) return;
    try {
      await call();
      removed.push(f);
    } catch (e) {
      errors.push({ found: f, message: `${(e as Error).name}: ${(e as Error).message}` });
    }
  };
  const batch = async (items: Found[], size: number, call: (ids: string[]) => Promise<unknown>) => {
    for (const part of chunks(items, size)) {
      if (part.filter(stopped).length > 0) continue;
      try {
        await call(part.map((f) => f.id));
        removed.push(...part);
      } catch (e) {
        for (const f of part) errors.push({ found: f, message: `${(e as Error).name}: ${(e as Error).message}` });
      }
    }
  };

  const instances = of('instance');
  await batch(instances, 500, async (InstanceIds) => {
    await ec2.send(new TerminateInstancesCommand({ InstanceIds }));
    await waitUntilInstanceTerminated({ client: ec2 as EC2Client, maxWaitTime: opts.waitSeconds, minDelay: 1, maxDelay: 10, abortSignal: opts.signal }, { InstanceIds });
  });
  await batch(of('spot-request'), 500, (SpotInstanceRequestIds) => ec2.send(new CancelSpotInstanceRequestsCommand({ SpotInstanceRequestIds })));
  for (const f of of('volume')) await one(f, () => ec2.send(new DeleteVolumeCommand({ VolumeId: f.id })));
  for (const f of of('network-interface')) await one(f, () => ec2.send(new DeleteNetworkInterfaceCommand({ NetworkInterfaceId: f.id })));
  // NAT gateways: deleted together, then waited for (deleting takes minutes on AWS), so their EIP and ENI are free.
  await batch(of('nat-gateway'), 1000, async (NatGatewayIds) => {
    for (const NatGatewayId of NatGatewayIds) await ec2.send(new DeleteNatGatewayCommand({ NatGatewayId }));
    await waitUntilNatGatewayDeleted({ client: ec2 as EC2Client, maxWaitTime: opts.waitSeconds, minDelay: 1, maxDelay: 15, abortSignal: opts.signal }, { NatGatewayIds });
  });
  for (const f of of('elastic-ip')) {
    await one(f, async () => {
      for (const AssociationId of f.attachedTo ?? []) await ec2.send(new DisassociateAddressCommand({ AssociationId }));
      await ec2.send(new ReleaseAddressCommand({ AllocationId: f.id }));
    });
  }
  for (const f of of('internet-gateway')) {
    await one(f, async () => {
      for (const VpcId of f.attachedTo ?? []) await ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: f.id, VpcId }));
      await ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: f.id }));
    });
  }
  for (const f of of('subnet')) await one(f, () => ec2.send(new DeleteSubnetCommand({ SubnetId: f.id })));
  for (const f of of('route-table')) {
    await one(f, async () => {
      for (const AssociationId of f.attachedTo ?? []) await ec2.send(new DisassociateRouteTableCommand({ AssociationId }));
      await ec2.send(new DeleteRouteTableCommand({ RouteTableId: f.id }));
    });
  }
  const groups = of('security-group');
  if (groups.length > 0) {
    // Groups that reference each other cannot be deleted until those rules are gone.
    const described = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groups.map((g) => g.id) })).catch(() => undefined);
    for (const g of described?.SecurityGroups ?? []) {
      const ingress = (g.IpPermissions ?? []).filter((p) => (p.UserIdGroupPairs ?? []).length > 0);
      const egress = (g.IpPermissionsEgress ?? []).filter((p) => (p.UserIdGroupPairs ?? []).length > 0);
      if (ingress.length > 0) await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: g.GroupId, IpPermissions: ingress })).catch(() => undefined);
      if (egress.length > 0) await ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: g.GroupId, IpPermissions: egress })).catch(() => undefined);
    }
    for (const f of groups) await one(f, () => ec2.send(new DeleteSecurityGroupCommand({ GroupId: f.id })));
  }
  for (const f of of('vpc')) await one(f, () => ec2.send(new DeleteVpcCommand({ VpcId: f.id })));
  // By name where known: some EC2 implementations (moto) ignore KeyPairId on delete.
  for (const f of of('key-pair')) await one(f, () => ec2.send(new DeleteKeyPairCommand(f.name ? { KeyName: f.name } : { KeyPairId: f.id })));
  const imageSnapshots = new Set<string>();
  for (const f of of('image')) {
    await one(f, async () => {
      await ec2.send(new DeregisterImageCommand({ ImageId: f.id }));
      for (const SnapshotId of f.snapshots ?? []) {
        imageSnapshots.add(SnapshotId);
        await ec2.send(new DeleteSnapshotCommand({ SnapshotId })).catch((e: Error) => {
          if (!/NotFound/.test(awsCode(e))) throw e;
        });
      }
    });
  }
  for (const f of of('snapshot')) {
    if (imageSnapshots.has(f.id)) {
      removed.push(f);
      continue;
    }
    await one(f, () => ec2.send(new DeleteSnapshotCommand({ SnapshotId: f.id })));
  }
  return { removed, errors };
}

/** Every image loadfleet baked (any env) that carries its own lifetime tag, with its snapshots. */
export async function imagesWithLifetime(ec2: Ec2Port): Promise<Found[]> {
  try {
    const r = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag-key', Values: [IMAGE_EXPIRES_TAG] }] }));
    return (r.Images ?? []).filter((i) => i.ImageId).map((i) => ({
      kind: 'image' as const,
      id: i.ImageId!,
      env: envOf(i.Tags),
      name: nameOf(i.Tags),
      snapshots: (i.BlockDeviceMappings ?? []).map((b) => b.Ebs?.SnapshotId).filter((s): s is string => !!s),
      imageExpiresAt: i.Tags?.find((t) => t.Key === IMAGE_EXPIRES_TAG)?.Value,
    }));
  } catch (e) {
    throw awsError('listing images with loadfleet:image-expires-at', e);
  }
}

/** env → expiry, from the tags of every resource loadfleet made (for sweep --expired). */
export async function envExpiries(ec2: Ec2Port): Promise<{ env: string; expiresAt: string }[]> {
  try {
    return await listExpiries(ec2);
  } catch (e) {
    throw awsError('listing loadfleet:expires-at tags', e);
  }
}

async function listExpiries(ec2: Ec2Port): Promise<{ env: string; expiresAt: string }[]> {
  const byResource = new Map<string, { env?: string; expiresAt?: string }>();
  let NextToken: string | undefined;
  do {
    const r = await ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'key', Values: ['loadfleet:env', 'loadfleet:expires-at'] }], NextToken, MaxResults: 1000 }));
    for (const t of r.Tags ?? []) {
      const e = byResource.get(t.ResourceId!) ?? {};
      if (t.Key === 'loadfleet:env') e.env = t.Value;
      else e.expiresAt = t.Value;
      byResource.set(t.ResourceId!, e);
    }
    NextToken = r.NextToken;
  } while (NextToken);
  return [...byResource.values()].filter((e): e is { env: string; expiresAt: string } => !!e.env && !!e.expiresAt);
}

/** Wraps a client so every API call is counted (benchmarks and reports). */
export function countCalls(client: EC2Client): { client: EC2Client; calls: () => number } {
  let n = 0;
  client.middlewareStack.add((next) => async (args) => {
    n++;
    return next(args);
  }, { step: 'initialize', name: 'loadfleetCallCounter' });
  return { client, calls: () => n };
}
