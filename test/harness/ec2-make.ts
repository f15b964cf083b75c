/** Makes resources directly through EC2 (outside Terraform), as a user or a crashed tool would. */
import {
  AllocateAddressCommand, CreateImageCommand, CreateSecurityGroupCommand, CreateTagsCommand, CreateVolumeCommand,
  DescribeImagesCommand, RunInstancesCommand, type EC2Client, type Tag,
} from '@aws-sdk/client-ec2';

const spec = (type: string, tags: Tag[]) => (tags.length ? [{ ResourceType: type as never, Tags: tags }] : undefined);

export function envTags(env: string | undefined, expiresAt = '2099-01-01T00:00:00Z'): Tag[] {
  return env ? [{ Key: 'loadfleet:env', Value: env }, { Key: 'loadfleet:expires-at', Value: expiresAt }] : [];
}

export async function al2023(ec2: EC2Client): Promise<string> {
  const images = (await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'name', Values: ['al2023-ami-2023.*-kernel-6.1-x86_64'] }] }))).Images!;
  return images[0]!.ImageId!;
}

/** An instance, a volume, a security group, an elastic IP and an AMI with its snapshot, all with `tags`. */
export async function strayResources(ec2: EC2Client, tags: Tag[], label: string): Promise<Record<string, string>> {
  const inst = await ec2.send(new RunInstancesCommand({ ImageId: await al2023(ec2), MinCount: 1, MaxCount: 1, InstanceType: 't3.micro', TagSpecifications: spec('instance', tags) }));
  const instanceId = inst.Instances![0]!.InstanceId!;
  const vol = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1, TagSpecifications: spec('volume', tags) }));
  const sg = await ec2.send(new CreateSecurityGroupCommand({ GroupName: `stray-${label}`, Description: 'stray', TagSpecifications: spec('security-group', tags) }));
  const eip = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: spec('elastic-ip', tags) }));
  const img = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: `stray-${label}`, TagSpecifications: spec('image', tags) }));
  const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [img.ImageId!] }))).Images![0]!;
  const snapshotId = image.BlockDeviceMappings!.find((b) => b.Ebs?.SnapshotId)!.Ebs!.SnapshotId!;
  if (tags.length) await ec2.send(new CreateTagsCommand({ Resources: [snapshotId], Tags: tags })); // moto: no snapshot TagSpecification
  return { instanceId, volumeId: vol.VolumeId!, groupId: sg.GroupId!, allocationId: eip.AllocationId!, imageId: img.ImageId!, snapshotId };
}
