/** Counts what an EC2 endpoint (moto) still holds, with the real SDK. */
import { EC2Client } from '@aws-sdk/client-ec2';
import { DescribeInstancesCommand, DescribeVpcsCommand, DescribeKeyPairsCommand, DescribeSecurityGroupsCommand, DescribeVolumesCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';

export function ec2(env: Record<string, string>): EC2Client {
  return new EC2Client({ region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! } });
}

export async function countLeft(client: EC2Client) {
  const reservations = (await client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] }] }))).Reservations ?? [];
  const vpcs = (await client.send(new DescribeVpcsCommand({}))).Vpcs ?? [];
  const subnets = (await client.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const sgs = (await client.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
  const keys = (await client.send(new DescribeKeyPairsCommand({}))).KeyPairs ?? [];
  const volumes = (await client.send(new DescribeVolumesCommand({ Filters: [{ Name: 'status', Values: ['creating', 'available', 'in-use'] }] }))).Volumes ?? [];
  const defaultVpcs = new Set(vpcs.filter((v) => v.IsDefault).map((v) => v.VpcId));
  return {
    instances: reservations.flatMap((r) => r.Instances ?? []).length,
    vpcs: vpcs.filter((v) => !v.IsDefault).length,
    subnets: subnets.filter((s) => !defaultVpcs.has(s.VpcId)).length,
    securityGroups: sgs.filter((g) => g.GroupName !== 'default').length,
    keyPairs: keys.length,
    volumes: volumes.length,
  };
}
