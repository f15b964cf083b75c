/**
 * bake on moto (EC2) with a real sshd host as the builder: success, a fault at every step, SIGINT at
 * every step, and an image that never becomes available. Afterwards nothing of the build is left.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { DescribeImagesCommand, DescribeInstancesCommand, DescribeSnapshotsCommand, TerminateInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { startMoto, type Moto } from '../harness/moto';
import { localFleet, type LocalFleet } from '../harness/local-fleet';
import { buildLeft, localBuilder, snapshotCount } from '../harness/bake-rig';
import { countLeft, ec2 } from '../harness/ec2-count';
import { PLUGIN_MIRROR, requireTerraformOffline } from '../harness/tools';
import { loadConfig } from '../../scripts/adapters/config-file';
import { EnvDir } from '../../scripts/adapters/env-dir';
import { bake, BakeError, DEFAULT_BAKE, type BakeDeps } from '../../scripts/actions/bake';
import { exitCodeFor, ExternalError } from '../../scripts/core/errors';
import { BAKE_STEPS } from '../../scripts/core/bake';

let moto: Moto;
let fleet: LocalFleet;
let client: EC2Client;
let config: string;
const FAST = { ...DEFAULT_BAKE, role: 'agent' as const, pollMs: 50, imageTimeoutMs: 5_000, instanceTimeoutMs: 10_000 };

beforeAll(async () => {
  requireTerraformOffline();
  moto = await startMoto();
  client = ec2(moto.env);
  // The builder's SSH side: a local-target host. Its fleet is a separate env from the AWS one.
  fleet = await localFleet('bakehost', 'lb', '10.231.78.0/24', { agents: { count: 1 }, monitoring: { enabled: false } });
  config = fleet.ws.writeConfig('aws.yaml', { name: 'bakeenv', agents: { count: 1 }, monitoring: { enabled: false }, tuning: { nofile: 16384 } });
});
afterAll(async () => {
  await fleet?.remove();
  await moto?.stop();
});

async function run(deps: Partial<BakeDeps> = {}) {
  const loaded = await loadConfig(config);
  return bake(loaded, new EnvDir(fleet.ws.home, 'bakeenv'), FAST, { ec2: client, resolveEndpoint: localBuilder(fleet), ...deps });
}

describe('bake', () => {
  it('up → bake → down: the image is made, recorded and used, then nothing is left', async () => {
    const env = { ...moto.env, LOADFLEET_HOME: fleet.ws.home, LOADFLEET_TF_PLUGIN_MIRROR: PLUGIN_MIRROR };
    const up = await execa(process.execPath, ['scripts/loadfleet.mjs', 'up', '-c', config, '--yes', '--json'], { env: { ...process.env, ...env }, reject: false });
    expect(up.exitCode, up.stderr).toBe(0);

    const before = await snapshotCount(client);
    const r = await run();
    expect(r.amiId).toMatch(/^ami-/);
    expect(r.removed).toEqual([expect.stringMatching(/^builder instance i-/), expect.stringMatching(/^security group sg-/), expect.stringMatching(/^key pair key-/)]);
    expect(await buildLeft(client, r.build)).toEqual({ instances: 0, keyPairs: 0, securityGroups: 0, images: 1 });
    const image = (await client.send(new DescribeImagesCommand({ ImageIds: [r.amiId!] }))).Images![0]!;
    const snap = image.BlockDeviceMappings!.find((b) => b.Ebs?.SnapshotId)!.Ebs!.SnapshotId!;
    const snapTags = (await client.send(new DescribeSnapshotsCommand({ SnapshotIds: [snap] }))).Snapshots![0]!.Tags!;
    expect(snapTags).toContainEqual({ Key: 'loadfleet:build', Value: r.build });
    // images outlive the fleet: not the fleet's expiry (sweep --expired would delete them), no lifetime unless ami.ttlDays
    for (const tags of [image.Tags!, snapTags]) {
      expect(tags.map((t) => t.Key)).not.toContain('loadfleet:expires-at');
      expect(tags.map((t) => t.Key)).not.toContain('loadfleet:image-expires-at');
    }
    expect(await snapshotCount(client)).toBe(before + 1);
    // the temporary key is gone from the builder; the tuning is in place there
    expect(fs.readFileSync(fleet.authorizedKeys('agent-1'), 'utf8')).not.toContain(r.build);
    expect((await fleet.ssh('agent-1', "awk '/^Max open files/ {print $5}' /proc/self/limits")).stdout.trim()).toBe('16384');
    const manifest = JSON.parse(fs.readFileSync(path.join(fleet.ws.home, 'bakeenv', 'amis.json'), 'utf8'));
    expect(manifest.agent).toMatchObject({ amiId: r.amiId, build: r.build });

    // ami.baked: the agents use the baked image
    const baked = fleet.ws.writeConfig('baked.yaml', { name: 'bakeenv', agents: { count: 1 }, monitoring: { enabled: false }, ami: { baked: true } });
    const synth = await execa(process.execPath, ['scripts/loadfleet.mjs', 'synth', '-c', baked, '--json'], { env: { ...process.env, ...env } });
    const tf = JSON.parse(fs.readFileSync(JSON.parse(synth.stdout).file, 'utf8'));
    expect(tf.resource.aws_instance.agents.ami).toBe(r.amiId);
    expect(tf.resource.aws_instance.controller.ami).toBe('${data.aws_ami.al2023.id}');

    const down = await execa(process.execPath, ['scripts/loadfleet.mjs', 'down', '-c', config, '--yes'], { env: { ...process.env, ...env }, reject: false });
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await countLeft(client, 'bakeenv')).toEqual({ instances: 0, vpcs: 0, subnets: 0, securityGroups: 0, keyPairs: 0, volumes: 0, images: 0, snapshots: 0 });
    expect(await snapshotCount(client)).toBe(before);
  });

  it.each(BAKE_STEPS)('fails at step %s and removes everything the build made', async (step) => {
    const before = await snapshotCount(client);
    const err = await run({ beforeStep: (s) => { if (s === step) throw new Error(`injected fault at ${s}`); } }).catch((e) => e);
    expect(err).toBeInstanceOf(BakeError);
    expect(err.message).toContain(`injected fault at ${step}`);
    // the injected fault is a plain Error, i.e. a bug: wrapping keeps it a bug (70), never "AWS said no" (1)
    expect(exitCodeFor(err)).toBe(70);
    expect(await buildLeft(client, err.build)).toEqual({ instances: 0, keyPairs: 0, securityGroups: 0, images: 0 });
    expect(await snapshotCount(client)).toBe(before);
  });

  it.each(BAKE_STEPS)('stops on SIGINT at step %s and removes everything the build made', async (step) => {
    const before = await snapshotCount(client);
    const agent = fleet.outputs().hosts.find((h) => h.name === 'agent-1')!;
    const child = await execa(process.execPath, ['--import', 'tsx/esm', 'test/harness/bake-child.ts', config, fleet.ws.home, step, agent.privateIp, fleet.hostDir('agent-1')], { env: { ...process.env, ...moto.env }, reject: false });
    const out = JSON.parse(child.stdout);
    expect(out.error).toMatch(/interrupted by SIGINT/);
    expect(out.error).toMatch(/cleaned up: /);
    expect(await buildLeft(client, out.build)).toEqual({ instances: 0, keyPairs: 0, securityGroups: 0, images: 0 });
    expect(await snapshotCount(client)).toBe(before);
  });

  it('stops waiting for a builder that never terminates once the clean-up is abandoned (3rd Ctrl-C)', async () => {
    // moto terminates at once; a builder stuck in shutting-down needs the port to say so after TerminateInstances.
    let terminating = false;
    const stuck: BakeDeps['ec2'] = {
      send: (async (cmd: unknown, ...rest: unknown[]) => {
        if (cmd instanceof TerminateInstancesCommand) terminating = true;
        const out = await (client.send as (c: unknown, ...r: unknown[]) => Promise<unknown>)(cmd, ...rest);
        if (terminating && cmd instanceof DescribeInstancesCommand) {
          const o = out as { Reservations?: { Instances?: { State?: { Name?: string } }[] }[] };
          return { ...o, Reservations: o.Reservations?.map((r) => ({ ...r, Instances: r.Instances?.map((i) => ({ ...i, State: { Name: 'shutting-down' } })) })) };
        }
        return out;
      }) as BakeDeps['ec2']['send'],
    };
    const abandon = new AbortController();
    abandon.abort(new Error('abandoned by SIGINT'));
    const loaded = await loadConfig(config);
    // A 10-minute instance timeout: without the abandon signal reaching the wait, this test times out.
    const err = await bake(loaded, new EnvDir(fleet.ws.home, 'bakeenv'), { ...FAST, instanceTimeoutMs: 600_000 }, {
      ec2: stuck, resolveEndpoint: localBuilder(fleet), abandon: abandon.signal,
      beforeStep: (s) => { if (s === 'create-image') throw new ExternalError('injected fault at create-image'); },
    }).catch((e) => e);
    expect(err).toBeInstanceOf(BakeError);
    expect(err.message).toMatch(/CLEANUP FAILED \(remove by hand, or: loadfleet sweep --env bakeenv\): builder instance i-\w+: abandoned by SIGINT/);
    expect(terminating).toBe(true);
    expect(exitCodeFor(err)).toBe(1);
    // moto did terminate it: the group and key pair went after it, nothing of the build is left.
    expect(await buildLeft(client, err.build)).toEqual({ instances: 0, keyPairs: 0, securityGroups: 0, images: 0 });
  });

  it('fails with a clear timeout when the image never becomes available, and removes it (Packer leaves it)', async () => {
    const before = await snapshotCount(client);
    // moto makes images available at once: this one call is faked to say "pending"; everything else is real.
    const stuck: BakeDeps['ec2'] = {
      send: (async (cmd: unknown, ...rest: unknown[]) => {
        const out = await (client.send as (c: unknown, ...r: unknown[]) => Promise<unknown>)(cmd, ...rest);
        if (cmd instanceof DescribeImagesCommand && cmd.input.ImageIds) {
          const o = out as { Images?: { State?: string }[] };
          return { ...o, Images: o.Images?.map((i) => ({ ...i, State: 'pending' })) };
        }
        return out;
      }) as BakeDeps['ec2']['send'],
    };
    const loaded = await loadConfig(config);
    const err = await bake(loaded, new EnvDir(fleet.ws.home, 'bakeenv'), { ...FAST, imageTimeoutMs: 300 }, { ec2: stuck, resolveEndpoint: localBuilder(fleet) }).catch((e) => e);
    expect(err).toBeInstanceOf(BakeError);
    expect(err.message).toMatch(/image ami-\w+ becoming available did not finish within 0 s \(last state: pending\)/);
    expect(err.message).toMatch(/cleaned up: image ami-\w+ and its snapshots, builder instance/);
    expect(await buildLeft(client, err.build)).toEqual({ instances: 0, keyPairs: 0, securityGroups: 0, images: 0 });
    expect(await snapshotCount(client)).toBe(before);
  });
});
