/** The EC2 side of a bake. Each function does one call (or one wait) and says what it made. */
import {
  AuthorizeSecurityGroupIngressCommand, CreateImageCommand, CreateSecurityGroupCommand, CreateTagsCommand, DeleteKeyPairCommand,
  DeleteSecurityGroupCommand, DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeInstancesCommand,
  ImportKeyPairCommand, RunInstancesCommand, StopInstancesCommand, TerminateInstancesCommand, type Instance, type Tag,
} from '@aws-sdk/client-ec2';
import { AL2023 } from '../../stacks/images';
import type { Ec2Port } from './ec2';
import { awsCode, ExternalError } from '../core/errors';

export interface Poll {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/** A wait that ends early (rejecting) when the signal aborts. */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

/** Polls until `done` says yes; a clear error names what was awaited and for how long. */
export async function pollUntil<T>(what: string, poll: Poll, check: () => Promise<{ done: boolean; value: T; state: string }>): Promise<T> {
  const deadline = Date.now() + poll.timeoutMs;
  for (;;) {
    const r = await check();
    if (r.done) return r.value;
    if (Date.now() + poll.intervalMs > deadline) {
      throw new ExternalError(`${what} did not finish within ${Math.round(poll.timeoutMs / 1000)} s (last state: ${r.state}); raise the timeout or check the AWS console`);
    }
    await sleep(poll.intervalMs, poll.signal);
  }
}

export async function latestAl2023(ec2: Ec2Port): Promise<string> {
  const r = await ec2.send(new DescribeImagesCommand({ Owners: [...AL2023.owners], Filters: [{ Name: 'name', Values: [AL2023.namePattern] }, { Name: 'state', Values: ['available'] }] }));
  const newest = [...(r.Images ?? [])].sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
  if (!newest?.ImageId) throw new ExternalError(`no Amazon Linux 2023 image (owner amazon, name ${AL2023.namePattern}) in this region`);
  return newest.ImageId;
}

export async function importKey(ec2: Ec2Port, name: string, publicKey: string, tags: Tag[]): Promise<string> {
  const r = await ec2.send(new ImportKeyPairCommand({ KeyName: name, PublicKeyMaterial: Buffer.from(publicKey), TagSpecifications: [{ ResourceType: 'key-pair', Tags: tags }] }));
  return r.KeyPairId!;
}

/** By name: some EC2 implementations (moto) ignore KeyPairId on delete. */
export const deleteKey = (ec2: Ec2Port, name: string) => ec2.send(new DeleteKeyPairCommand({ KeyName: name }));

export async function createSshGroup(ec2: Ec2Port, name: string, cidrs: readonly string[], tags: Tag[]): Promise<string> {
  const g = await ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: `loadfleet bake ${name}: SSH only`, TagSpecifications: [{ ResourceType: 'security-group', Tags: tags }] }));
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: g.GroupId, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: cidrs.map((c) => ({ CidrIp: c, Description: 'bake SSH' })) }] }));
  return g.GroupId!;
}

/** Deletes a group, retrying while AWS still sees the (terminating) builder using it. */
export async function deleteGroup(ec2: Ec2Port, id: string, poll: Poll): Promise<void> {
  await pollUntil(`deleting security group ${id}`, poll, async () => {
    try {
      await ec2.send(new DeleteSecurityGroupCommand({ GroupId: id }));
      return { done: true, value: undefined, state: 'deleted' };
    } catch (e) {
      if (awsCode(e) === 'DependencyViolation') return { done: false, value: undefined, state: 'DependencyViolation' };
      if (/NotFound/.test(awsCode(e))) return { done: true, value: undefined, state: 'gone' };
      throw e;
    }
  });
}

export async function runBuilder(ec2: Ec2Port, opts: { imageId: string; instanceType: string; keyName: string; groupId: string; userData: string; tags: Tag[]; volumeGb: number }): Promise<string> {
  const r = await ec2.send(
    new RunInstancesCommand({
      ImageId: opts.imageId, InstanceType: opts.instanceType as never, MinCount: 1, MaxCount: 1, KeyName: opts.keyName, SecurityGroupIds: [opts.groupId],
      InstanceInitiatedShutdownBehavior: 'terminate',
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: opts.volumeGb, DeleteOnTermination: true } }],
      UserData: Buffer.from(opts.userData).toString('base64'),
      TagSpecifications: [{ ResourceType: 'instance', Tags: opts.tags }, { ResourceType: 'volume', Tags: opts.tags }],
    }),
  );
  return r.Instances![0]!.InstanceId!;
}

export async function describeInstance(ec2: Ec2Port, id: string): Promise<Instance> {
  const r = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return r.Reservations![0]!.Instances![0]!;
}

export async function waitInstanceState(ec2: Ec2Port, id: string, state: string, poll: Poll): Promise<Instance> {
  return pollUntil(`builder ${id} reaching ${state}`, poll, async () => {
    const i = await describeInstance(ec2, id);
    return { done: i.State?.Name === state, value: i, state: i.State?.Name ?? 'unknown' };
  });
}

export async function terminate(ec2: Ec2Port, id: string, poll: Poll): Promise<void> {
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [id] }));
  await waitInstanceState(ec2, id, 'terminated', poll);
}

export const stop = (ec2: Ec2Port, id: string) => ec2.send(new StopInstancesCommand({ InstanceIds: [id] }));

export async function createImage(ec2: Ec2Port, instanceId: string, name: string, tags: Tag[]): Promise<string> {
  const r = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: name, Description: `loadfleet ${name}`, TagSpecifications: [{ ResourceType: 'image', Tags: tags }] }));
  return r.ImageId!;
}

export async function imageSnapshots(ec2: Ec2Port, imageId: string): Promise<{ state: string; snapshots: string[] }> {
  const img = (await ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }))).Images?.[0];
  return { state: img?.State ?? 'missing', snapshots: (img?.BlockDeviceMappings ?? []).map((b) => b.Ebs?.SnapshotId).filter((s): s is string => !!s) };
}

/** Tags the image's snapshots after the fact (moto, and some AWS paths, do not take snapshot tag specs). */
export async function tagSnapshots(ec2: Ec2Port, snapshots: string[], tags: Tag[]): Promise<void> {
  if (snapshots.length > 0) await ec2.send(new CreateTagsCommand({ Resources: snapshots, Tags: tags }));
}

/** Deregisters an image — also one still being created — and deletes its snapshots. */
export async function removeImage(ec2: Ec2Port, imageId: string): Promise<string[]> {
  const { snapshots } = await imageSnapshots(ec2, imageId).catch(() => ({ snapshots: [] as string[] }));
  await ec2.send(new DeregisterImageCommand({ ImageId: imageId })).catch((e: Error) => {
    if (!/NotFound|Unavailable/.test(awsCode(e))) throw e;
  });
  for (const SnapshotId of snapshots) await ec2.send(new DeleteSnapshotCommand({ SnapshotId }));
  return snapshots;
}
