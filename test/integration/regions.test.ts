/**
 * Agents spread over two regions (issue 18, part 2): real terraform (offline, provider from the local mirror)
 * against one real moto_server, which serves every region. The only fault made on purpose is a real one: a
 * key pair of the same name already in the second region, so the first `up` fails half-way there.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CreateKeyPairCommand, CreateVpcCommand, DeleteKeyPairCommand, DescribeInstancesCommand, DescribeSecurityGroupRulesCommand, DescribeSecurityGroupsCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { loadfleet } from '../harness/cli';
import { useMotoEnv, ZERO } from '../harness/moto-env';
import { countLeft } from '../harness/ec2-count';
import type { FleetOutputs } from '../../scripts/core/env-record';

const ctx = useMotoEnv();
const HOME = 'us-east-1';
const AWAY = 'eu-west-1';

function ec2In(region: string): EC2Client {
  const e = ctx.moto.env;
  return new EC2Client({ region, endpoint: e.AWS_ENDPOINT_URL, credentials: { accessKeyId: e.AWS_ACCESS_KEY_ID!, secretAccessKey: e.AWS_SECRET_ACCESS_KEY! } });
}

async function running(region: string, env: string) {
  const r = await ec2In(region).send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:loadfleet:env', Values: [env] }, { Name: 'instance-state-name', Values: ['pending', 'running'] }] }));
  return (r.Reservations ?? []).flatMap((x) => x.Instances ?? []);
}

const twoRegions = (name: string) =>
  ctx.ws.writeConfig(`${name}.yaml`, { name, region: HOME, agents: { regions: { [HOME]: 2, [AWAY]: 1 } }, monitoring: { enabled: false }, targets: [{ name: 'app', ports: [8080] }] });

describe('agents in two regions on moto', () => {
  it('up creates tagged agents in both regions; status and down cover both; down leaves zero in both', async () => {
    const config = twoRegions('multi');
    // WHEN
    const up = await loadfleet(['up', '-c', config, '--yes', '--json'], ctx.env);
    // THEN
    expect(up.exitCode, up.stderr).toBe(0);
    const outputs = JSON.parse(up.stdout) as FleetOutputs;
    expect(outputs.hosts.map((h) => `${h.name}@${h.region}`)).toEqual([`controller@${HOME}`, `agent-1@${HOME}`, `agent-2@${HOME}`, `agent-3@${AWAY}`, `app-1@${HOME}`]);
    const controller = outputs.hosts[0]!;
    // The agent in eu-west-1 dials the master over the internet: its public address.
    expect(outputs.master).toEqual({ address: controller.publicIp, port: 5557 });
    const home = await running(HOME, 'multi');
    const away = await running(AWAY, 'multi');
    expect(home).toHaveLength(4);
    expect(away).toHaveLength(1);
    const awayTags = Object.fromEntries(away[0]!.Tags!.map((t) => [t.Key, t.Value]));
    expect(awayTags).toMatchObject({ 'loadfleet:env': 'multi', 'loadfleet:role': 'agent', Name: 'multi-agent-3', 'loadfleet:expires-at': outputs.expiresAt });
    expect(away[0]!.InstanceId).toBe(outputs.hosts[3]!.id);
    // The controller's master port is open to each agent's public address, one /32 each, never the world.
    const sg = (await ec2In(HOME).send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['multi-controller'] }, { Name: 'tag:loadfleet:env', Values: ['multi'] }] }))).SecurityGroups!;
    expect(sg).toHaveLength(1);
    const rules = (await ec2In(HOME).send(new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [sg[0]!.GroupId!] }] }))).SecurityGroupRules ?? [];
    const masterFrom = rules.filter((r) => !r.IsEgress && r.FromPort === 5557 && r.CidrIpv4).map((r) => r.CidrIpv4).sort();
    expect(masterFrom).toEqual(outputs.hosts.filter((h) => h.role === 'agent').map((h) => `${h.publicIp}/32`).sort());
    expect(rules.filter((r) => !r.IsEgress).map((r) => r.CidrIpv4)).not.toContain('0.0.0.0/0');
    const record = JSON.parse(fs.readFileSync(path.join(ctx.ws.home, 'multi', 'env.json'), 'utf8'));
    expect(record).toMatchObject({ region: HOME, regions: [HOME, AWAY], status: 'up' });

    const status = await loadfleet(['status', '--env', 'multi', '--json'], ctx.env);
    expect(status.exitCode, status.stderr).toBe(0);
    const s = JSON.parse(status.stdout);
    expect(s.regions).toEqual([HOME, AWAY]);
    expect(s.hosts.find((h: { name: string }) => h.name === 'agent-3')).toMatchObject({ id: away[0]!.InstanceId, state: 'running' });
    expect(s.notInState).toEqual([]);

    // WHEN down THEN nothing is left in either region
    const down = await loadfleet(['down', '--env', 'multi', '--yes'], ctx.env);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await countLeft(ec2In(HOME), 'multi')).toEqual(ZERO);
    expect(await countLeft(ec2In(AWAY), 'multi')).toEqual(ZERO);
  });

  it('sweep --env covers every region: from the record, or from --region (repeatable) / --all-regions without one', async () => {
    const config = twoRegions('swept');
    const up = await loadfleet(['up', '-c', config, '--yes', '--json'], ctx.env);
    expect(up.exitCode, up.stderr).toBe(0);
    expect(await running(AWAY, 'swept')).toHaveLength(1);
    // WHEN the record is there THEN a dry run lists both regions
    const withRecord = await loadfleet(['sweep', '--env', 'swept', '--dry-run', '--json'], ctx.env);
    expect(withRecord.exitCode, withRecord.stderr).toBe(0);
    expect(JSON.parse(withRecord.stdout).envs.map((e: { region: string; found: unknown[] }) => [e.region, e.found.length > 0])).toEqual([[HOME, true], [AWAY, true]]);
    // WHEN the env folder is gone THEN --env alone sees only the default region; --region twice and --all-regions see both
    fs.rmSync(path.join(ctx.ws.home, 'swept'), { recursive: true, force: true });
    const bare = await loadfleet(['sweep', '--env', 'swept', '--dry-run', '--json'], ctx.env);
    expect(JSON.parse(bare.stdout)).toMatchObject({ region: HOME });
    expect(JSON.parse(bare.stdout).regions).toBeUndefined();
    const all = await loadfleet(['sweep', '--env', 'swept', '--all-regions', '--dry-run', '--json'], ctx.env);
    expect(all.exitCode, all.stderr).toBe(0);
    const allFound = JSON.parse(all.stdout).envs.filter((e: { found: unknown[] }) => e.found.length > 0).map((e: { region: string }) => e.region);
    expect(allFound).toEqual([AWAY, HOME].sort());
    const both = await loadfleet(['sweep', '--env', 'swept', '--region', HOME, '--region', AWAY, '--yes', '--json'], ctx.env);
    expect(both.exitCode, both.stderr).toBe(0);
    expect(JSON.parse(both.stdout).regions).toEqual([HOME, AWAY]);
    // THEN zero in both
    expect(await countLeft(ec2In(HOME), 'swept')).toEqual(ZERO);
    expect(await countLeft(ec2In(AWAY), 'swept')).toEqual(ZERO);
    const conflict = await loadfleet(['sweep', '--env', 'swept', '--region', AWAY, '--all-regions', '--dry-run'], ctx.env);
    expect(conflict.exitCode).toBe(2);
    expect(conflict.stderr).toMatch(/--all-regions and --region/);
  });

  it('sweep --expired covers the regions the records name', async () => {
    // GIVEN an expired env's VPC in the second region (made with the SDK, tagged as loadfleet tags) and its record
    const vpc = await ec2In(AWAY).send(new CreateVpcCommand({
      CidrBlock: '10.9.0.0/16',
      TagSpecifications: [{ ResourceType: 'vpc', Tags: [{ Key: 'loadfleet:env', Value: 'stale' }, { Key: 'loadfleet:expires-at', Value: '2020-01-01T00:00:00Z' }] }],
    }));
    fs.mkdirSync(path.join(ctx.ws.home, 'stale'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(ctx.ws.home, 'stale', 'env.json'), JSON.stringify({
      name: 'stale', target: 'aws', configPath: '/nonexistent.yaml', region: HOME, regions: [HOME, AWAY], engine: 'locust', ttlHours: 1, expiresAt: '2020-01-01T00:00:00Z', status: 'up', updatedAt: '2020-01-01T00:00:00Z',
    }));
    // WHEN
    const sweep = await loadfleet(['sweep', '--expired', '--yes', '--json'], ctx.env);
    // THEN
    expect(sweep.exitCode, sweep.stderr).toBe(0);
    expect(JSON.parse(sweep.stdout).regions).toEqual([HOME, AWAY]);
    const left = await ec2In(AWAY).send(new DescribeVpcsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpc.Vpc!.VpcId!] }] }));
    expect(left.Vpcs ?? []).toEqual([]);
  });

  it('fails when a first up fails half-way in the second region, and cleans both regions', async () => {
    // GIVEN a key pair of the env's key name already in eu-west-1 (not tagged: not the env's)
    const taken = await ec2In(AWAY).send(new CreateKeyPairCommand({ KeyName: 'loadfleet-broken2' }));
    try {
      // WHEN
      const up = await loadfleet(['up', '-c', twoRegions('broken2'), '--yes'], ctx.env);
      // THEN it fails on the second region's key pair, destroys and sweeps both regions
      expect(up.exitCode).toBe(1);
      expect(up.stderr).toMatch(/terraform apply failed/);
      expect(up.stderr).toMatch(/loadfleet-broken2/);
      expect(up.stderr).toMatch(new RegExp(`a fresh listing of loadfleet:env=broken2 in ${HOME}, ${AWAY} finds nothing`));
      expect(await countLeft(ec2In(HOME), 'broken2')).toEqual(ZERO);
      expect(await countLeft(ec2In(AWAY), 'broken2')).toEqual(ZERO);
      expect(JSON.parse(fs.readFileSync(path.join(ctx.ws.home, 'broken2', 'env.json'), 'utf8'))).toMatchObject({ status: 'down', regions: [HOME, AWAY] });
    } finally {
      await ec2In(AWAY).send(new DeleteKeyPairCommand({ KeyName: taken.KeyName }));
    }
  });
});
