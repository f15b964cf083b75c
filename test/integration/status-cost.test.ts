/**
 * Cost before it costs, and a status that asks EC2: on moto with the real CLI and terraform.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CreateSecurityGroupCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { loadfleet } from '../harness/cli';
import { useMotoEnv, ZERO } from '../harness/moto-env';
import { countLeft, ec2 } from '../harness/ec2-count';

const ctx = useMotoEnv();

describe('cost estimate and the max-cost gate', () => {
  it('fails when the estimate is over --max-cost-per-hour or the config\'s maxCostPerHour, and creates nothing', async () => {
    const client = ec2(ctx.moto.env);
    const config = ctx.ws.writeConfig('dear.yaml', { name: 'dear', agents: { count: 20 }, targets: [{ name: 'app' }] });
    // WHEN the flag is under the estimate (21 × c5.large + t3.small + t3.small ≈ $1.83/h)
    const up = await loadfleet(['up', '-c', config, '--yes', '--max-cost-per-hour', '0.5'], ctx.env);
    // THEN usage error, the estimate was shown, and nothing exists
    expect(up.exitCode).toBe(2);
    expect(up.stderr).toMatch(/--max-cost-per-hour: the fleet costs \$1\.\d+\/h, over the max cost per hour \(0\.5\).*nothing was created/);
    expect(up.stderr).toMatch(/agent\s+20 × c5\.large\s+on-demand\s+\$1\.70\d*\/h/);
    expect(up.stderr).toMatch(/if forgotten: at most \$7\.\d+ before the dead-man switch/);
    expect(await countLeft(client)).toEqual(ZERO);
    expect(fs.existsSync(path.join(ctx.ws.home, 'dear', 'env.json'))).toBe(false);
    // WHEN the limit comes from the config
    const capped = ctx.ws.writeConfig('capped.yaml', { name: 'dear', agents: { count: 20 }, targets: [{ name: 'app' }], maxCostPerHour: 1 });
    const up2 = await loadfleet(['up', '-c', capped, '--yes'], ctx.env);
    expect(up2.exitCode).toBe(2);
    expect(up2.stderr).toMatch(/maxCostPerHour \(config\): the fleet costs/);
    expect(await countLeft(client)).toEqual(ZERO);
    // WHEN the type has no price THEN the limit cannot be met
    const odd = ctx.ws.writeConfig('odd.yaml', { name: 'odd', agents: { count: 1, instanceType: 'x9z.huge' } });
    const up3 = await loadfleet(['up', '-c', odd, '--yes', '--max-cost-per-hour', '100'], ctx.env);
    expect(up3.exitCode).toBe(2);
    expect(up3.stderr).toMatch(/agent\s+1 × x9z\.huge\s+on-demand\s+unknown\/h/);
    expect(up3.stderr).toMatch(/hourly cost is unknown \(no price for x9z\.huge in us-east-1\)/);
    expect(await countLeft(client)).toEqual(ZERO);
  });
});

describe('status asks EC2', () => {
  it('reports hosts, an interrupted agent, a stray, time left and cost; and works from tags alone', async () => {
    const client = ec2(ctx.moto.env);
    const config = ctx.ws.writeConfig('live.yaml', { name: 'live', agents: { count: 2 }, ttlHours: 2 });
    const synth = await loadfleet(['synth', '-c', config, '--json'], ctx.env);
    expect(synth.stderr + synth.exitCode).toMatch(/0$/);
    const synthCost = (JSON.parse(synth.stdout) as { cost: { usdPerHour: number; maxUntilDeadmanUsd: number } }).cost;
    expect(synthCost.usdPerHour).toBeCloseTo(0.085 * 3 + 0.0208, 6);
    expect(synthCost.maxUntilDeadmanUsd).toBeCloseTo((0.085 * 3 + 0.0208) * 2, 6);

    const up = await loadfleet(['up', '-c', config, '--yes', '--json', '--max-cost-per-hour', '1'], ctx.env);
    expect(up.stderr + up.exitCode).toMatch(/0$/);
    try {
      // WHEN all is well
      const s1 = await loadfleet(['status', '--env', 'live', '--json'], ctx.env);
      expect(s1.stderr + s1.exitCode).toMatch(/0$/);
      const r1 = JSON.parse(s1.stdout);
      expect(r1).toMatchObject({ env: 'live', target: 'aws', status: 'up', source: 'state', interruptions: 0, notInState: [] });
      expect(r1.hosts.map((h: { name: string; state: string }) => `${h.name}:${h.state}`)).toEqual(['controller:running', 'agent-1:running', 'agent-2:running', 'monitoring:running']);
      expect(r1.secondsLeft).toBeGreaterThan(3600);
      expect(r1.secondsLeft).toBeLessThanOrEqual(7200);
      expect(r1.cost.usdPerHour).toBeCloseTo(synthCost.usdPerHour, 6);
      expect(r1.cost.estimate.usdPerHour).toBeCloseTo(synthCost.usdPerHour, 6);
      expect(r1.cost.soFarUsd).toBeGreaterThanOrEqual(0);

      // WHEN an agent is ended behind loadfleet's back and a tagged group is made by hand
      const agent = r1.hosts.find((h: { name: string }) => h.name === 'agent-2');
      await client.send(new TerminateInstancesCommand({ InstanceIds: [agent.id] }));
      const stray = await client.send(new CreateSecurityGroupCommand({ GroupName: 'by-hand', Description: 'stray', TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'loadfleet:env', Value: 'live' }] }] }));
      const s2 = await loadfleet(['status', '--env', 'live'], ctx.env);
      // THEN both are reported
      expect(s2.stderr + s2.exitCode).toMatch(/0$/);
      expect(s2.stdout).toMatch(/agent-2 .*(terminated|shutting-down).*INTERRUPTED/);
      expect(s2.stdout).toMatch(/1 host\(s\) in the state no longer run/);
      expect(s2.stdout).toContain(`security-group ${stray.GroupId}`);
      expect(s2.stdout).toMatch(/dead-man switch: .*\((1h \d+m|2h 0m) left\)/);

      // WHEN there is neither config nor env folder THEN status and inventory work from tags alone
      const elsewhere = { ...ctx.env, LOADFLEET_HOME: path.join(ctx.ws.dir, 'other-laptop') };
      const s3 = await loadfleet(['status', '--env', 'live', '--region', 'us-east-1', '--json'], elsewhere);
      expect(s3.stderr + s3.exitCode).toMatch(/0$/);
      const r3 = JSON.parse(s3.stdout);
      expect(r3).toMatchObject({ env: 'live', source: 'tags', outputs: null });
      expect(r3.hosts.filter((h: { state: string }) => h.state === 'running').map((h: { name: string }) => h.name).sort()).toEqual(['agent-1', 'controller', 'monitoring']);
      expect(r3.secondsLeft).toBeGreaterThan(3600);
      const inv = await loadfleet(['inventory', '--env', 'live', '--region', 'us-east-1', '--from-tags', '-f', 'json'], elsewhere);
      expect(inv.stderr + inv.exitCode).toMatch(/0$/);
      expect(JSON.parse(inv.stdout).hosts.map((h: { name: string }) => h.name)).toEqual(['controller', 'agent-1', 'monitoring']);
      expect(inv.stderr).toMatch(/from EC2 tags alone/);
    } finally {
      const down = await loadfleet(['down', '--env', 'live', '--yes'], ctx.env);
      expect(down.stderr + down.exitCode).toMatch(/0$/);
    }
    expect((await countLeft(client)).instances).toBe(0);
  });
});
