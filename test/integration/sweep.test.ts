/** sweep and down against a real moto_server: tagged leftovers go, everything else stays. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CreateVpcCommand, DescribeAddressesCommand, DescribeVpcsCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeSecurityGroupsCommand, DescribeSnapshotsCommand,
  DescribeVolumesCommand, TerminateInstancesCommand, type EC2Client,
  AllocateAddressCommand, CreateNatGatewayCommand, CreateSubnetCommand, DescribeNatGatewaysCommand,
} from '@aws-sdk/client-ec2';
import { loadfleet } from '../harness/cli';
import { useMotoEnv, ZERO } from '../harness/moto-env';
import { countLeft, ec2 } from '../harness/ec2-count';
import { envTags, strayResources } from '../harness/ec2-make';
import { imageTags } from '../../scripts/core/bake';

const ctx = useMotoEnv();
let client: EC2Client;
beforeAll(() => {
  client = ec2(ctx.moto.env);
});

/** Whether each resource still exists (in a live state). */
async function exists(ids: Record<string, string>): Promise<Record<string, boolean>> {
  const live = (await client.send(new DescribeInstancesCommand({ InstanceIds: [ids.instanceId!] }))).Reservations!.flatMap((r) => r.Instances!).some((i) => i.State?.Name !== 'terminated');
  const has = async (f: () => Promise<unknown[] | undefined>) => ((await f().catch(() => [])) ?? []).length > 0;
  return {
    instance: live,
    volume: await has(async () => (await client.send(new DescribeVolumesCommand({ VolumeIds: [ids.volumeId!] }))).Volumes),
    group: await has(async () => (await client.send(new DescribeSecurityGroupsCommand({ GroupIds: [ids.groupId!] }))).SecurityGroups),
    address: await has(async () => (await client.send(new DescribeAddressesCommand({ AllocationIds: [ids.allocationId!] }))).Addresses),
    image: await has(async () => (await client.send(new DescribeImagesCommand({ ImageIds: [ids.imageId!] }))).Images),
    snapshot: await has(async () => (await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [ids.snapshotId!] }))).Snapshots),
  };
}
const ALL = { instance: true, volume: true, group: true, address: true, image: true, snapshot: true };
const NONE = { instance: false, volume: false, group: false, address: false, image: false, snapshot: false };

async function cleanUp(ids: Record<string, string>[]) {
  // leave moto as found for the next test: sweep by their own tags, or terminate untagged strays
  for (const i of ids) await client.send(new TerminateInstancesCommand({ InstanceIds: [i.instanceId!] })).catch(() => undefined);
}

describe('sweep', () => {
  it('removes what carries the env tag and never touches an untagged resource or another env', async () => {
    const mine = await strayResources(client, envTags('stray'), 'mine');
    const other = await strayResources(client, envTags('other-env'), 'other');
    const untagged = await strayResources(client, [], 'untagged');

    const dry = await loadfleet(['sweep', '--env', 'stray', '--dry-run', '--json'], ctx.env);
    expect(dry.exitCode).toBe(0);
    const listed = JSON.parse(dry.stdout).envs[0].found.map((f: { kind: string }) => f.kind);
    expect(listed).toEqual(['instance', 'volume', 'elastic-ip', 'security-group', 'image', 'snapshot']);
    expect(await exists(mine)).toEqual(ALL); // a dry run deletes nothing

    const noYes = await loadfleet(['sweep', '--env', 'stray'], ctx.env);
    expect(noYes.exitCode).toBe(2);

    const r = await loadfleet(['sweep', '--env', 'stray', '--yes', '--json'], ctx.env);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.swept[0].left).toEqual([]);
    expect(await exists(mine)).toEqual(NONE);
    expect(await exists(other)).toEqual(ALL);
    expect(await exists(untagged)).toEqual(ALL);
    await cleanUp([other, untagged]);
  });

  it('removes a tagged NAT gateway, then its Elastic IP, subnet and VPC (issue 18 review, item 6)', async () => {
    const tags = envTags('natenv');
    const spec = (ResourceType: 'vpc' | 'subnet' | 'elastic-ip' | 'natgateway') => [{ ResourceType, Tags: tags }];
    const vpc = (await client.send(new CreateVpcCommand({ CidrBlock: '10.77.0.0/16', TagSpecifications: spec('vpc') }))).Vpc!.VpcId!;
    const subnet = (await client.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.77.1.0/24', TagSpecifications: spec('subnet') }))).Subnet!.SubnetId!;
    const alloc = (await client.send(new AllocateAddressCommand({ Domain: 'vpc', TagSpecifications: spec('elastic-ip') }))).AllocationId!;
    const nat = (await client.send(new CreateNatGatewayCommand({ SubnetId: subnet, AllocationId: alloc, TagSpecifications: spec('natgateway') }))).NatGateway!.NatGatewayId!;

    const dry = await loadfleet(['sweep', '--env', 'natenv', '--dry-run', '--json'], ctx.env);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).envs[0].found.map((f: { kind: string }) => f.kind)).toEqual(['nat-gateway', 'elastic-ip', 'subnet', 'vpc']);

    const r = await loadfleet(['sweep', '--env', 'natenv', '--yes', '--json'], ctx.env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).swept[0].left).toEqual([]);
    const state = (await client.send(new DescribeNatGatewaysCommand({ NatGatewayIds: [nat] })).catch(() => ({ NatGateways: [] }))).NatGateways ?? [];
    expect(state.every((g) => g.State === 'deleted')).toBe(true);
    expect(((await client.send(new DescribeAddressesCommand({ AllocationIds: [alloc] })).catch(() => ({ Addresses: [] }))).Addresses ?? []).length).toBe(0);
  });

  it('sweeps every expired env and leaves an unexpired one alone; a kept image stays, an expired image goes', async () => {
    const past = await strayResources(client, envTags('old', '2020-01-01T00:00:00Z'), 'old');
    const future = await strayResources(client, envTags('new', '2099-01-01T00:00:00Z'), 'new');
    // Baked images of the expired env, tagged as bake tags them: no loadfleet:expires-at; one with its own
    // lifetime (ami.ttlDays) that has passed.
    const kept = await strayResources(client, imageTags('old', 'agent', 'lf-old-agent-kept'), 'kept');
    const stale = await strayResources(client, imageTags('old', 'agent', 'lf-old-agent-stale', '2020-06-01T00:00:00Z'), 'stale');
    const r = await loadfleet(['sweep', '--expired', '--yes', '--json'], ctx.env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).swept.map((s: { env: string }) => s.env)).toContain('old');
    expect(JSON.parse(r.stdout).swept.map((s: { env: string }) => s.env)).not.toContain('new');
    expect(await exists(past)).toEqual({ ...NONE, image: true, snapshot: true }); // the fleet goes, its images stay
    expect(await exists(kept)).toEqual({ ...NONE, image: true, snapshot: true });
    expect(await exists(stale)).toEqual(NONE);
    expect(JSON.parse(r.stdout).removedImages.map((f: { id: string }) => f.id)).toEqual([stale.imageId]);
    expect(await exists(future)).toEqual(ALL);
    // a second run finds nothing more to do: the kept images are not "expired"
    const again = await loadfleet(['sweep', '--expired', '--yes', '--json'], ctx.env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await exists(kept)).toEqual({ ...NONE, image: true, snapshot: true });
    expect((await loadfleet(['sweep', '--env', 'old', '--yes'], ctx.env)).exitCode).toBe(0);
    expect(await exists(kept)).toEqual(NONE);
    expect((await loadfleet(['sweep', '--env', 'new', '--yes'], ctx.env)).exitCode).toBe(0);
    expect(await exists(future)).toEqual(NONE);
  });

  it('--expired scans every env home discovery finds (beside the config, $LOADFLEET_HOME, --home, ./.loadfleet), each once, and names them', async () => {
    // GIVEN expired envs' VPCs in three other regions, each named only by a record in a different home:
    // beside a discovered ./loadfleet.yaml, in a --home folder, and in the legacy ./.loadfleet of another cwd
    const regions = { beside: 'eu-west-1', flag: 'eu-central-1', legacy: 'ap-south-1' } as const;
    const project = path.join(ctx.ws.dir, 'project');
    const elsewhere = path.join(ctx.ws.dir, 'flag-home');
    fs.mkdirSync(project, { recursive: true });
    fs.copyFileSync(ctx.ws.writeConfig('tmp.yaml', { name: 'scanned', region: 'us-east-1', monitoring: { enabled: false }, targets: [{ name: 'app', ports: [8080] }] }), path.join(project, 'loadfleet.yaml'));
    const homes = { beside: path.join(project, '.loadfleet'), flag: elsewhere, legacy: path.join(ctx.ws.dir, '.loadfleet') };
    const vpcs: Record<string, string> = {};
    for (const [where, region] of Object.entries(regions)) {
      const env = `far-${where}`;
      const inRegion = ec2({ ...ctx.moto.env, AWS_REGION: region });
      vpcs[where] = (await inRegion.send(new CreateVpcCommand({ CidrBlock: '10.9.0.0/16', TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'loadfleet:env', Value: env }, { Key: 'loadfleet:expires-at', Value: '2020-01-01T00:00:00Z' }] }] }))).Vpc!.VpcId!;
      const dir = path.join(homes[where as keyof typeof homes], env);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(dir, 'env.json'), JSON.stringify({ name: env, target: 'aws', configPath: '/nonexistent.yaml', region, regions: [region], engine: 'locust', ttlHours: 1, expiresAt: '2020-01-01T00:00:00Z', status: 'up', updatedAt: '2020-01-01T00:00:00Z' }));
    }
    // WHEN sweep runs in the project folder (its loadfleet.yaml found by discovery) with --home, $LOADFLEET_HOME set,
    // the config's own home found once although discovery and the legacy rule both lead to it
    const fromProject = await loadfleet(['sweep', '--expired', '--home', elsewhere, '--yes', '--json'], ctx.env, { cwd: project });
    // THEN
    expect(fromProject.exitCode, fromProject.stderr).toBe(0);
    const report = JSON.parse(fromProject.stdout);
    expect(report.homes).toEqual([elsewhere, ctx.ws.home, homes.beside]);
    expect(report.regions).toEqual(expect.arrayContaining([regions.beside, regions.flag]));
    // (an earlier case's expired env may still be listed: moto keeps terminated instances with their tags)
    const swept = report.swept.map((s: { env: string }) => s.env);
    expect(swept).toEqual(expect.arrayContaining(['far-beside', 'far-flag']));
    expect(swept).not.toContain('far-legacy'); // its record is in no home this run scanned
    // from the parent folder with -c and no $LOADFLEET_HOME: beside the -c config, then the legacy ./.loadfleet
    const fromParent = await loadfleet(['sweep', '--expired', '-c', path.join(project, 'loadfleet.yaml'), '--yes'], { ...ctx.env, LOADFLEET_HOME: '' }, { cwd: ctx.ws.dir });
    expect(fromParent.exitCode, fromParent.stderr).toBe(0);
    expect(fromParent.stderr).toContain(`env homes scanned: ${homes.beside}, ${homes.legacy}\n`);
    expect(fromParent.stdout).toMatch(/env far-legacy: removed 1 vpc/);
    for (const [where, region] of Object.entries(regions)) {
      const left = await ec2({ ...ctx.moto.env, AWS_REGION: region }).send(new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcs[where]!] }] }));
      expect(left.Vpcs ?? [], where).toEqual([]);
    }
  });

  it('fails with exit 2 on an --env that is a wildcard or a path, before any AWS call', async () => {
    for (const env of ['demo*', '../x', 'a/b', '*']) {
      const r = await loadfleet(['sweep', '--env', env, '--yes'], { ...ctx.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
      expect(r.exitCode, `${env}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`--env (${JSON.stringify(env)}) is not an env name`);
    }
    for (const args of [['status', '--env', '../x'], ['down', '--env', '../x', '--yes'], ['tune', '--env', '../x'], ['inventory', '--env', 'demo*', '--from-tags']]) {
      const r = await loadfleet(args, { ...ctx.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('is not an env name');
    }
    expect(fs.existsSync(path.join(ctx.ws.home, '..', 'x'))).toBe(false); // no lock or folder made outside the home
  });

  it('fails with exit 1 and the network\'s words when the endpoint is unreachable (not 70)', async () => {
    // port 9 (discard) on loopback: nothing listens, the connection is refused
    const r = await loadfleet(['sweep', '--env', 'demo', '--yes'], { ...ctx.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/loadfleet: EC2 DescribeInstances failed: connect ECONNREFUSED 127\.0\.0\.1:9 \(is the endpoint reachable/);
    expect(r.stderr).not.toMatch(/internal error/);
    const expired = await loadfleet(['sweep', '--expired', '--yes'], { ...ctx.env, AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1' });
    expect(expired.exitCode, expired.stderr).toBe(1);
  });

  it('fails with a usage error when told neither --env nor --expired', async () => {
    const r = await loadfleet(['sweep', '--yes'], ctx.env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/--env <name> or --expired/);
  });
});

describe('down', () => {
  it('destroys, deregisters the env\'s AMIs (unless --keep-ami), and sweeps what Terraform never knew', async () => {
    const config = ctx.ws.writeConfig('fleet.yaml', { name: 'sweepme', agents: { count: 2 }, monitoring: { enabled: false } });
    expect((await loadfleet(['up', '-c', config, '--yes', '--json'], ctx.env)).exitCode).toBe(0);
    const stray = await strayResources(client, envTags('sweepme'), 'sweepme');

    const keep = await loadfleet(['down', '-c', config, '--yes', '--keep-ami', '--json'], ctx.env);
    expect(keep.exitCode, keep.stderr).toBe(0);
    expect(await exists(stray)).toEqual({ ...NONE, image: true, snapshot: true });

    const down = await loadfleet(['down', '-c', config, '--yes'], ctx.env);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(down.stdout).toMatch(/a fresh listing of loadfleet:env=sweepme finds nothing/);
    expect(await countLeft(client, 'sweepme')).toEqual(ZERO);
  });

  it('succeeds after a half-failed up that kept what it made', async () => {
    const config = ctx.ws.writeConfig('half.yaml', { name: 'half', agents: { count: 2 }, ami: { id: 'ami-0123456789abcdef0' } });
    const up = await loadfleet(['up', '-c', config, '--yes', '--keep-on-failure'], ctx.env);
    expect(up.exitCode).toBe(1);
    expect((await countLeft(client, 'half')).vpcs).toBe(1);
    const down = await loadfleet(['down', '--env', 'half', '--yes'], ctx.env);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await countLeft(client, 'half')).toEqual(ZERO);
  });
});
