/** Bake against moto (EC2) with a local-target host standing in for the builder over SSH. */
import * as fs from 'node:fs';
import {
  DescribeImagesCommand, DescribeInstancesCommand, DescribeKeyPairsCommand, DescribeSecurityGroupsCommand, DescribeSnapshotsCommand, type EC2Client,
} from '@aws-sdk/client-ec2';
import type { ResolveEndpoint } from '../../scripts/actions/bake';
import type { LocalFleet } from './local-fleet';

/** Resolves any builder to the fleet's agent-1 and installs the bake's temporary key there, as cloud-init would. */
export function localBuilder(fleet: LocalFleet, host = 'agent-1'): ResolveEndpoint {
  return async (_instance, tempKey) => {
    fs.appendFileSync(fleet.authorizedKeys(host), `${tempKey.publicKey}\n`);
    const h = fleet.outputs().hosts.find((x) => x.name === host)!;
    return { address: h.privateIp, user: fleet.outputs().sshUser, hostKind: 'netns' };
  };
}

/** What of one build is still there; snapshots counted overall (moto's own catalogue stays constant). */
export async function buildLeft(ec2: EC2Client, build: string) {
  const F = [{ Name: 'tag:loadfleet:build', Values: [build] }];
  const instances = (await ec2.send(new DescribeInstancesCommand({ Filters: [...F, { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped', 'shutting-down'] }] }))).Reservations!.flatMap((r) => r.Instances!);
  return {
    instances: instances.length,
    keyPairs: ((await ec2.send(new DescribeKeyPairsCommand({ Filters: F }))).KeyPairs ?? []).length,
    securityGroups: ((await ec2.send(new DescribeSecurityGroupsCommand({ Filters: F }))).SecurityGroups ?? []).length,
    images: ((await ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: F }))).Images ?? []).length,
  };
}

export async function snapshotCount(ec2: EC2Client): Promise<number> {
  return ((await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? []).length;
}
