/**
 * Real terraform (offline, provider from the local mirror) against a real moto_server, driven through
 * the real CLI. Nothing is mocked.
 */
import { describe, expect, it } from 'vitest';
import { DescribeInstancesCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import { loadfleet } from '../harness/cli';
import { useMotoEnv, ZERO } from '../harness/moto-env';
import { countLeft, ec2 } from '../harness/ec2-count';
import type { FleetOutputs } from '../../scripts/core/env-record';

const ctx = useMotoEnv();

describe('up / status / down on moto', () => {
  it('creates a 3-agent fleet, reports it, keeps it on a second up, and destroys it to zero', async () => {
    const config = ctx.ws.writeConfig('fleet.yaml', { name: 'itest', agents: { count: 3 }, targets: [{ name: 'app', ports: [8080] }] });
    const client = ec2(ctx.moto.env);

    // WHEN
    const up = await loadfleet(['up', '-c', config, '--yes', '--json'], ctx.env);
    // THEN
    expect(up.stderr + up.exitCode).toMatch(/0$/);
    const outputs = JSON.parse(up.stdout) as FleetOutputs;
    expect(outputs.hosts.map((h) => h.name)).toEqual(['controller', 'agent-1', 'agent-2', 'agent-3', 'app-1', 'monitoring']);
    expect(outputs.master).toEqual({ address: outputs.hosts[0]!.privateIp, port: 5557 });

    const instances = (await client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:loadfleet:env', Values: ['itest'] }] }))).Reservations!.flatMap((r) => r.Instances!);
    expect(instances).toHaveLength(6);
    for (const i of instances) {
      const tags = Object.fromEntries(i.Tags!.map((t) => [t.Key, t.Value]));
      expect(tags['loadfleet:expires-at']).toBe(outputs.expiresAt);
      expect(tags['loadfleet:role']).toMatch(/^(controller|agent|target|monitoring)$/);
      expect(i.MetadataOptions?.HttpTokens).toBe('required');
    }
    const volumes = (await client.send(new DescribeVolumesCommand({ Filters: [{ Name: 'attachment.instance-id', Values: instances.map((i) => i.InstanceId!) }] }))).Volumes!;
    expect(volumes.length).toBe(6);
    expect(volumes.every((v) => v.Encrypted)).toBe(true);

    const status = await loadfleet(['status', '--env', 'itest', '--json'], ctx.env);
    expect(status.exitCode).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ env: 'itest', status: 'up', target: 'aws', expiresAt: outputs.expiresAt });

    // WHEN the state is lost THEN the inventory can be rebuilt from EC2 tags, in the same order
    const fromTags = await loadfleet(['inventory', '-c', config, '-f', 'json', '--from-tags'], ctx.env);
    expect(fromTags.stderr + fromTags.exitCode).toMatch(/0$/);
    const inv = JSON.parse(fromTags.stdout);
    expect(inv.hosts.map((h: { name: string; id: string }) => `${h.name}=${h.id}`)).toEqual(outputs.hosts.map((h) => `${h.name}=${h.id}`));
    expect(inv.master).toEqual(outputs.master);

    // WHEN up runs again THEN nothing is replaced
    const again = await loadfleet(['up', '-c', config, '--yes', '--json'], ctx.env);
    expect(again.exitCode).toBe(0);
    expect((JSON.parse(again.stdout) as FleetOutputs).hosts.map((h) => h.id)).toEqual(outputs.hosts.map((h) => h.id));

    // WHEN down THEN nothing is left; a second down succeeds too
    const down = await loadfleet(['down', '--env', 'itest', '--yes'], ctx.env);
    expect(down.stderr + down.exitCode).toMatch(/0$/);
    expect(await countLeft(client)).toEqual(ZERO);
    const down2 = await loadfleet(['down', '--env', 'itest', '--yes'], ctx.env);
    expect(down2.exitCode).toBe(0);
    const after = await loadfleet(['status', '--env', 'itest', '--json'], ctx.env);
    expect(JSON.parse(after.stdout)).toMatchObject({ status: 'down', outputs: null });
  });

  it('fails when a first up fails part-way, and removes what it created', async () => {
    const config = ctx.ws.writeConfig('broken.yaml', { name: 'broken', agents: { count: 2 }, ami: { id: 'ami-0123456789abcdef0' } });
    const up = await loadfleet(['up', '-c', config, '--yes'], ctx.env);
    expect(up.exitCode).toBe(1);
    expect(up.stderr).toMatch(/terraform apply failed/);
    expect(up.stderr).toMatch(/destroying what this first "up" of broken created/);
    expect(await countLeft(ec2(ctx.moto.env))).toEqual(ZERO);
  });

  it('fails without a terminal and without --yes, before anything is created', async () => {
    const config = ctx.ws.writeConfig('noyes.yaml', { name: 'noyes' });
    const up = await loadfleet(['up', '-c', config], ctx.env);
    expect(up.exitCode).toBe(2);
    expect(up.stderr).toMatch(/there is no terminal to ask: run it again with --yes/);
    expect(await countLeft(ec2(ctx.moto.env))).toEqual(ZERO);
  });

  it('fails on a bad config with exit 2, naming the field, before terraform runs', async () => {
    const config = ctx.ws.writeConfig('bad.yaml', { name: 'bad', agents: { count: 0 }, access: { sshCidrs: ['0.0.0.0/0'] } });
    const up = await loadfleet(['up', '-c', config, '--yes'], ctx.env);
    expect(up.exitCode).toBe(2);
    expect(up.stderr).toContain('agents.count (0) must be at least 1');
    expect(up.stderr).toContain('access.sshCidrs[0] ("0.0.0.0/0") opens SSH and the UIs to the whole internet');
  });

  it('fails loudly when terraform is not installed', async () => {
    const config = ctx.ws.writeConfig('noterraform.yaml', { name: 'notf' });
    const up = await loadfleet(['up', '-c', config, '--yes'], { ...ctx.env, PATH: '/nonexistent' });
    expect(up.exitCode).toBe(1);
    expect(up.stderr).toMatch(/terraform was not found on PATH: install Terraform/);
  });
});
