/**
 * Real terraform (offline, provider from the local mirror) against a real moto_server, driven through
 * the real CLI. Nothing is mocked.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { DescribeInstancesCommand, DescribeVolumesCommand } from '@aws-sdk/client-ec2';
import { processRunning, startJob } from '../harness/terminal';
import { Terraform } from '../../scripts/adapters/terraform';
import { PLUGIN_MIRROR } from '../harness/tools';
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

    // THEN the env folder and everything in it is private: the state names every host and the key pair
    const envFolder = path.join(ctx.ws.home, 'itest');
    expect(fs.existsSync(path.join(envFolder, 'terraform.tfstate'))).toBe(true);
    expect(openToOthers(envFolder)).toEqual([]);
    expect(fs.statSync(envFolder).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(envFolder, 'terraform.tfstate')).mode & 0o777).toBe(0o600);

    // WHEN ttlHours changes THEN terraform plans tag updates in place only: no replacement, no new user
    // data, so no stop/start of any host
    const longer = ctx.ws.writeConfig('fleet-ttl.yaml', { name: 'itest', agents: { count: 3 }, targets: [{ name: 'app', ports: [8080] }], ttlHours: 6 });
    const synth = await loadfleet(['synth', '-c', longer, '--json'], ctx.env);
    expect(synth.exitCode, synth.stderr).toBe(0);
    expect(JSON.parse(synth.stdout).expiresAt).not.toBe(outputs.expiresAt);
    const tf = new Terraform({
      stackDir: path.join(envFolder, 'synth', 'stacks', 'loadfleet-itest'), rcFile: path.join(envFolder, 'terraform.rc'),
      pluginMirror: PLUGIN_MIRROR, env: { ...process.env, ...ctx.env },
    });
    const plan = (await tf.plan()).filter((c) => c.action !== 'noop' && c.action !== 'read');
    expect(plan.filter((c) => c.action !== 'update')).toEqual([]);
    const instanceChanges = plan.filter((c) => c.address.startsWith('aws_instance.'));
    expect(instanceChanges.map((c) => c.address).sort()).toEqual(['aws_instance.agents[0]', 'aws_instance.agents[1]', 'aws_instance.agents[2]', 'aws_instance.controller', 'aws_instance.monitoring', 'aws_instance.target_app[0]']);
    const newExpiry = JSON.parse(synth.stdout).expiresAt;
    for (const c of instanceChanges) {
      // The provider stops and starts an instance for a new user_data or instance_type: neither changes.
      // (moto adds drift of its own to the plan — default tags echoed in `tags`, no vpc_security_group_ids
      // read back — all in-place updates too.)
      for (const attr of ['user_data', 'user_data_base64', 'instance_type', 'ami', 'instance_market_options']) expect(c.changed, `${c.address}: ${JSON.stringify(c.values)}`).not.toContain(attr);
      expect((c.values!.tags_all!.after as Record<string, string>)['loadfleet:expires-at']).toBe(newExpiry);
    }
    // put the synthesized code back as the env's (its expiry is the record's), so down destroys the same stack
    const back = await loadfleet(['synth', '-c', config, '--json'], ctx.env);
    expect(back.exitCode, back.stderr).toBe(0);

    // WHEN down THEN nothing is left; a second down succeeds too
    const down = await loadfleet(['down', '--env', 'itest', '--yes'], ctx.env);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await countLeft(client)).toEqual(ZERO);
    const down2 = await loadfleet(['down', '--env', 'itest', '--yes'], ctx.env);
    expect(down2.exitCode).toBe(0);
    const after = await loadfleet(['status', '--env', 'itest', '--json'], ctx.env);
    expect(JSON.parse(after.stdout)).toMatchObject({ status: 'down', outputs: null });
  });

  it('keeps ${…} and %{…} in tags and in the public key literal through a real terraform plan: nothing of this machine is read into them', async () => {
    // GIVEN strings that Terraform would evaluate: a file read, a directive, and an already-escaped one
    const hostname = fs.readFileSync('/etc/hostname', 'utf8').trim();
    const tags = { probe: '${file("/etc/hostname")}', ctl: '%{ if true }yes%{ endif }', escaped: '$${x}', upper: 'x${upper("a")}' };
    const keyDir = fs.mkdtempSync(path.join(ctx.ws.dir, 'key-'));
    const pub = `${fs.readFileSync(ctx.ws.publicKeyPath, 'utf8').trim().split(' ').slice(0, 2).join(' ')} me\${file("/etc/hostname")}`;
    fs.writeFileSync(path.join(keyDir, 'id.pub'), `${pub}\n`);
    const config = ctx.ws.writeConfig('literal.yaml', { name: 'literal', agents: { count: 1 }, tags, keyPair: { publicKeyPath: path.join(keyDir, 'id.pub'), privateKeyPath: ctx.ws.privateKeyPath } });
    // WHEN synthesized and planned by the real terraform on moto
    const synth = await loadfleet(['synth', '-c', config, '--json'], ctx.env);
    expect(synth.exitCode, synth.stderr).toBe(0);
    const envFolder = path.join(ctx.ws.home, 'literal');
    const stackDir = path.join(envFolder, 'synth', 'stacks', 'loadfleet-literal');
    const rcFile = path.join(envFolder, 'terraform.rc');
    const env = { ...process.env, ...ctx.env };
    await new Terraform({ stackDir, rcFile, pluginMirror: PLUGIN_MIRROR, env }).init();
    const tfEnv = { ...env, TF_CLI_CONFIG_FILE: rcFile, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };
    const plan = await execa('terraform', ['plan', '-input=false', '-no-color', '-lock=false', '-out=literal.tfplan'], { cwd: stackDir, env: tfEnv, reject: false });
    expect(plan.exitCode, String(plan.stderr)).toBe(0);
    const shown = JSON.parse(String((await execa('terraform', ['show', '-json', '-no-color', 'literal.tfplan'], { cwd: stackDir, env: tfEnv })).stdout)) as {
      resource_changes: { address: string; change: { after: Record<string, unknown> } }[];
    };
    // THEN every resource's tags carry the strings exactly as written, and the key pair the key as written
    const tagged = shown.resource_changes.filter((c) => c.change.after && 'tags_all' in c.change.after);
    expect(tagged.length).toBeGreaterThan(5);
    for (const c of tagged) expect(c.change.after.tags_all, c.address).toMatchObject(tags);
    expect(tagged.map((c) => (c.change.after.tags_all as Record<string, string>).probe)).not.toContain(`${hostname}\n`);
    const key = shown.resource_changes.find((c) => c.address === 'aws_key_pair.key');
    expect(key?.change.after.public_key).toBe(pub);
    expect(await countLeft(ec2(ctx.moto.env))).toEqual(ZERO);
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
    // two halves of IPv4 are the world too
    const halves = ctx.ws.writeConfig('halves.yaml', { name: 'halves', access: { sshCidrs: ['0.0.0.0/1', '128.0.0.0/1'] } });
    const up2 = await loadfleet(['up', '-c', halves, '--yes'], ctx.env);
    expect(up2.exitCode).toBe(2);
    expect(up2.stderr).toContain('access.sshCidrs[1] ("128.0.0.0/1") opens SSH and the UIs to 2147483648 addresses (wider than /8)');
    expect(await countLeft(ec2(ctx.moto.env))).toEqual(ZERO);
  });

  it('fails loudly when terraform is not installed', async () => {
    const config = ctx.ws.writeConfig('noterraform.yaml', { name: 'notf' });
    const up = await loadfleet(['up', '-c', config, '--yes'], { ...ctx.env, PATH: '/nonexistent' });
    expect(up.exitCode).toBe(1);
    expect(up.stderr).toMatch(/terraform was not found on PATH: install Terraform/);
  });
});

/** Files and folders under `dir` that group or others can read, write or enter. */
function openToOthers(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isSymbolicLink()) continue; // terraform links the provider from the mirror; links have no mode of their own
    const p = path.join(e.parentPath, e.name);
    if ((fs.lstatSync(p).mode & 0o077) !== 0) out.push(`${path.relative(dir, p)} ${(fs.lstatSync(p).mode & 0o777).toString(8)}`);
  }
  return out;
}

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

  it('during terraform apply: terraform gets ONE interrupt and shuts down gracefully; a second Ctrl-C is reported; destroy + sweep leave nothing', async () => {
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
    // terraform destroy after an interrupted apply is done, or fails (then says why) and the sweep removes it all:
    // which one depends on where the interrupt caught the provider (seen both on moto); what must hold is the end.
    expect(r.stderr).toMatch(/clean-up: terraform destroy (done|failed \(.+\)); the tag sweep removed \d+ resource\(s\) terraform did not.*a fresh listing of loadfleet:env=intapply finds nothing/);
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
