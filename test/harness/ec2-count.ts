/** Counts what an EC2 endpoint (moto) still holds, with the real SDK. */
import { EC2Client, type Filter } from '@aws-sdk/client-ec2';
import { DescribeInstancesCommand, DescribeVpcsCommand, DescribeKeyPairsCommand, DescribeSecurityGroupsCommand, DescribeVolumesCommand, DescribeSubnetsCommand, DescribeImagesCommand, DescribeSnapshotsCommand } from '@aws-sdk/client-ec2';

export function ec2(env: Record<string, string>): EC2Client {
  return new EC2Client({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! } });
}

/**
 * What is left: of one env (its tag) when `env` is given, else everything non-default. Images and
 * snapshots are always those carrying a loadfleet:env tag: moto's own catalogue snapshots belong to
 * the same account and are not ours.
 */
export async function countLeft(client: EC2Client, env?: string) {
  const tag: Filter[] = env ? [{ Name: 'tag:loadfleet:env', Values: [env] }] : [];
  const ours: Filter[] = env ? tag : [{ Name: 'tag-key', Values: ['loadfleet:env'] }];
  const reservations = (await client.send(new DescribeInstancesCommand({ Filters: [...tag, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }] }))).Reservations ?? [];
  const vpcs = (await client.send(new DescribeVpcsCommand({ Filters: tag.length ? tag : undefined }))).Vpcs ?? [];
  const subnets = (await client.send(new DescribeSubnetsCommand({ Filters: tag.length ? tag : undefined }))).Subnets ?? [];
  const sgs = (await client.send(new DescribeSecurityGroupsCommand({ Filters: tag.length ? tag : undefined }))).SecurityGroups ?? [];
  const keys = (await client.send(new DescribeKeyPairsCommand({ Filters: tag.length ? tag : undefined }))).KeyPairs ?? [];
  const volumes = (await client.send(new DescribeVolumesCommand({ Filters: [...tag, { Name: 'status', Values: ['creating', 'available', 'in-use'] }] }))).Volumes ?? [];
  const images = (await client.send(new DescribeImagesCommand({ Owners: ['self'], Filters: ours }))).Images ?? [];
  const snapshots = (await client.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: ours }))).Snapshots ?? [];
  const defaultVpcs = new Set(vpcs.filter((v) => v.IsDefault).map((v) => v.VpcId));
  return {
    instances: reservations.flatMap((r) => r.Instances ?? []).length,
    vpcs: vpcs.filter((v) => !v.IsDefault).length,
    subnets: subnets.filter((s) => !defaultVpcs.has(s.VpcId)).length,
    securityGroups: sgs.filter((g) => g.GroupName !== 'default').length,
    keyPairs: keys.length,
    volumes: volumes.length,
    images: images.length,
    snapshots: snapshots.length,
  };
}
