/**
 * Real terraform (offline, provider from the local mirror) against a real moto_server, driven through
 * the real CLI. Nothing is mocked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DescribeInstancesCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import { processRunning, startJob } from '../harness/terminal';
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
    expect(up.exitCode, up.stderr).toBe(0);
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
    expect(fromTags.exitCode, fromTags.stderr).toBe(0);
    const inv = JSON.parse(fromTags.stdout);
    expect(inv.hosts.map((h: { name: string; id: string }) => `${h.name}=${h.id}`)).toEqual(outputs.hosts.map((h) => `${h.name}=${h.id}`));
    expect(inv.master).toEqual(outputs.master);

    // WHEN up runs again THEN nothing is replaced
    const again = await loadfleet(['up', '-c', config, '--yes', '--json'], ctx.env);
    expect(again.exitCode).toBe(0);
    expect((JSON.parse(again.stdout) as FleetOutputs).hosts.map((h) => h.id)).toEqual(outputs.hosts.map((h) => h.id));

    // WHEN down THEN nothing is left; a second down succeeds too
    const down = await loadfleet(['down', '--env', 'itest', '--yes'], ctx.env);
    expect(down.exitCode, down.stderr).toBe(0);
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
    expect(up.stderr).toMatch(/destroying what this first "up" created, then sweeping its tag/);
    expect(up.stderr).toMatch(/a fresh listing of loadfleet:env=broken finds nothing/);
    expect(await countLeft(ec2(ctx.moto.env))).toEqual(ZERO);
    expect(recordOf('broken')).toMatchObject({ status: 'down' });
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

/** The env record as the CLI left it. */
function recordOf(env: string): { status: string; failure?: { reason: string; next: string } } {
  return JSON.parse(fs.readFileSync(path.join(ctx.ws.home, env, 'env.json'), 'utf8'));
}

/** Instances of an env in moto, by state. */
async function instanceStates(env: string): Promise<string[]> {
  const r = await ec2(ctx.moto.env).send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:loadfleet:env', Values: [env] }] }));
  return (r.Reservations ?? []).flatMap((x) => x.Instances ?? []).map((i) => i.State?.Name ?? '?');
}

describe('Ctrl-C from a terminal (SIGINT to the whole process group) on moto', () => {
  const small = (name: string) => ctx.ws.writeConfig(`${name}.yaml`, { name, agents: { count: 1 }, monitoring: { enabled: false } });

  it('during terraform init of a first up: stops, sweeps, nothing is left, the record says down', async () => {
    const job = startJob(['up', '-c', small('intinit'), '--yes'], ctx.env);
    // terraform init of this env is running (its process, from /proc): init takes a few hundred ms here.
    await job.waitFor('terraform init to start', () => processRunning(['terraform', 'loadfleet-intinit', 'init']), 120_000, 2);
    job.interrupt();
    const r = await job.done;
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/SIGINT: stopping the current step/);
    expect(r.stderr).toMatch(/terraform init was interrupted: it got one SIGINT/);
    expect(r.stderr).toMatch(/terraform destroy not needed \(apply never ran\)/);
    expect(r.stderr).toMatch(/a fresh listing of loadfleet:env=intinit finds nothing/);
    expect(await countLeft(ec2(ctx.moto.env), 'intinit')).toEqual(ZERO);
    expect(recordOf('intinit').status).toBe('down');
  });

  it('during terraform apply: terraform gets ONE interrupt and keeps its state whole; a second Ctrl-C is reported; nothing is left', async () => {
    const job = startJob(['up', '-c', small('intapply'), '--yes'], ctx.env);
    // An instance exists in EC2 while terraform still waits for it: the moment a lost resource would leak.
    await job.waitFor('the first instance to be created', async () => (await instanceStates('intapply')).length > 0);
    job.interrupt();
    await job.waitFor('the clean-up to start', () => /destroying what this first "up" created/.test(job.stderr()));
    job.interrupt();
    const r = await job.done;
    expect(r.exitCode, r.stderr).toBe(1);
    // terraform's own words: one interrupt, a graceful shutdown (never "Two interrupts received")
    expect(r.stderr).toMatch(/terraform apply was interrupted: it got one SIGINT and shut down gracefully/);
    expect(r.stderr).not.toMatch(/two interrupts/i);
    expect(r.stderr).toContain('still cleaning up; press Ctrl-C again to abandon and run `loadfleet down --env intapply --yes` later');
    // Even one interrupt cancels the provider's in-flight RunInstances (seen here: "RunInstances, context
    // canceled" with the instance made): destroy, then the sweep finds what the state never knew.
    expect(r.stderr).toMatch(/clean-up: terraform destroy done; the tag sweep removed \d+ resource\(s\) terraform did not.*a fresh listing of loadfleet:env=intapply finds nothing/);
    expect(await countLeft(ec2(ctx.moto.env), 'intapply')).toEqual(ZERO);
    expect(recordOf('intapply').status).toBe('down');
  });

  it('a third Ctrl-C abandons the clean-up: the record says failed with the command; an interrupted down says so too; down then finishes', async () => {
    const job = startJob(['up', '-c', small('intaband'), '--yes'], ctx.env);
    await job.waitFor('the first instance to be created', async () => (await instanceStates('intaband')).length > 0);
    job.interrupt();
    await job.waitFor('the clean-up to start', () => /destroying what this first "up" created/.test(job.stderr()));
    job.interrupt();
    // Signals sent together merge into one: wait until the second was seen.
    await job.waitFor('the second Ctrl-C to be reported', () => /still cleaning up/.test(job.stderr()));
    job.interrupt();
    const r = await job.done;
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/abandoning the clean-up; run `loadfleet down --env intaband --yes` later/);
    expect(recordOf('intaband')).toMatchObject({ status: 'failed', failure: { next: 'loadfleet down --env intaband --yes' } });
    const status = await loadfleet(['status', '--env', 'intaband'], ctx.env);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/env intaband: failed on aws[\s\S]*run: loadfleet down --env intaband --yes/);

    // WHEN down is interrupted while terraform destroys THEN it stops cleanly and the record stays failed
    const down = startJob(['down', '--env', 'intaband', '--yes'], ctx.env);
    await down.waitFor('terraform destroy to start', async () => (await instanceStates('intaband')).some((s) => s === 'terminated' || s === 'shutting-down'));
    down.interrupt();
    const d = await down.done;
    expect(d.exitCode, d.stderr).toBe(1);
    expect(d.stderr).toMatch(/terraform destroy was interrupted: it got one SIGINT|sweep of env intaband was stopped/);
    expect(recordOf('intaband')).toMatchObject({ status: 'failed', failure: { next: 'loadfleet down --env intaband --yes' } });

    // WHEN the named command runs THEN nothing is left and the record says down
    const again = await loadfleet(['down', '--env', 'intaband', '--yes'], ctx.env);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(await countLeft(ec2(ctx.moto.env), 'intaband')).toEqual(ZERO);
    expect(recordOf('intaband').status).toBe('down');
  });
});
