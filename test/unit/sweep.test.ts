import { describe, expect, it } from 'vitest';
import { countByKind, expiredEnvs, inSweepOrder, madeProgress, type Found } from '../../scripts/core/sweep';

const f = (kind: Found['kind'], id: string): Found => ({ kind, id, env: 'e' });

describe('sweep order', () => {
  it('deletes instances first, groups before their VPC, images before snapshots', () => {
    const order = inSweepOrder([f('snapshot', 's'), f('vpc', 'v'), f('security-group', 'g'), f('image', 'a'), f('instance', 'i'), f('key-pair', 'k'), f('internet-gateway', 'w'), f('subnet', 'n')]);
    expect(order.map((x) => x.kind)).toEqual(['instance', 'internet-gateway', 'subnet', 'security-group', 'vpc', 'key-pair', 'image', 'snapshot']);
    expect(countByKind(order)).toMatchObject({ instance: 1, snapshot: 1 });
  });

  it('sees progress only when something went away', () => {
    expect(madeProgress([f('vpc', 'v'), f('subnet', 'n')], [f('vpc', 'v')])).toBe(true);
    expect(madeProgress([f('vpc', 'v')], [f('vpc', 'v')])).toBe(false);
  });

  it('finds envs whose latest expiry has passed, ignoring unparseable ones', () => {
    const now = new Date('2026-11-23T12:00:00Z');
    expect(expiredEnvs([
      { env: 'old', expiresAt: '2026-11-23T11:00:00Z' },
      { env: 'new', expiresAt: '2026-11-23T13:00:00Z' },
      { env: 'mixed', expiresAt: '2026-11-23T10:00:00Z' },
      { env: 'mixed', expiresAt: '2026-11-24T10:00:00Z' },
      { env: 'junk', expiresAt: 'tomorrow' },
    ], now)).toEqual(['old']);
  });
});

describe('bake pieces', async () => {
  const { buildId, removeKeyScript, watchdogUserData } = await import('../../scripts/core/bake');
  it('names builds uniquely by env, role, time and a random suffix', () => {
    expect(buildId('demo', 'agent', new Date('2026-11-23T21:05:09.123Z'), 0.5)).toBe('lf-demo-agent-20261123210509-8000');
  });
  it('gives the builder a watchdog that shuts it down after the time limit', () => {
    expect(watchdogUserData(60)).toContain('shutdown -h +60');
  });
  it('removes only the temporary key line and fails if it is still there', () => {
    const s = removeKeyScript('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAUU03p86sVDxvZB9hmLfNn647teuXctp+2fcmHI9NW lf-build');
    expect(s).toContain("grep -vF 'AAAAC3NzaC1lZDI1NTE5AAAAIFAUU03p86sVDxvZB9hmLfNn647teuXctp+2fcmHI9NW'");
    expect(s.trim().split('\n').at(-1)).toMatch(/^! grep -qF/);
    expect(() => removeKeyScript('not a key')).toThrow(/not an OpenSSH public key/);
  });
});

describe('sweep abandoned with Ctrl-C', () => {
  it('stops waiting for an instance that never terminates as soon as the signal aborts, and attempts nothing more', async () => {
    const { deleteFound } = await import('../../scripts/adapters/sweep-ec2');
    const sent: string[] = [];
    // An instance stuck in shutting-down (moto terminates at once, so this fault needs a fake port).
    const ec2 = {
      send: async (cmd: { constructor: { name: string } }) => {
        sent.push(cmd.constructor.name);
        if (cmd.constructor.name === 'DescribeInstancesCommand') return { Reservations: [{ Instances: [{ InstanceId: 'i-1', State: { Name: 'shutting-down' } }] }] };
        return {};
      },
    };
    const stop = new AbortController();
    const waiting = deleteFound(ec2 as never, [f('instance', 'i-1'), f('volume', 'vol-1')], { waitSeconds: 600, signal: stop.signal });
    while (!sent.includes('DescribeInstancesCommand')) await new Promise((r) => setImmediate(r));
    stop.abort(new Error('abandoned by SIGINT'));
    const outcome = await waiting; // without the signal reaching the waiter this hangs for 600 s (the test times out)
    expect(outcome.removed).toEqual([]);
    expect(outcome.errors.map((e) => e.found.id)).toEqual(['i-1', 'vol-1']);
    expect(outcome.errors[1]!.message).toMatch(/not attempted: abandoned by SIGINT/);
    expect(sent).not.toContain('DeleteVolumeCommand');
  });
});

describe('sweepHomes (sweep --expired, issue 22)', () => {
  it('lists --home, $LOADFLEET_HOME, beside -c / $LOADFLEET_CONFIG / ./loadfleet.yaml, then ./.loadfleet, each once', async () => {
    const { sweepHomes } = await import('../../scripts/actions/sweep');
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-homes-'));
    try {
      expect(sweepHomes({}, {}, cwd)).toEqual([path.join(cwd, '.loadfleet')]);
      fs.writeFileSync(path.join(cwd, 'loadfleet.yaml'), 'name: x\n');
      // ./loadfleet.yaml's home is ./.loadfleet: one entry, not two
      expect(sweepHomes({ config: path.join(cwd, 'loadfleet.yaml') }, {}, cwd)).toEqual([path.join(cwd, '.loadfleet')]);
      expect(sweepHomes({ home: 'h', config: '/a/f.yaml' }, { LOADFLEET_HOME: '/e', LOADFLEET_CONFIG: '/b/g.yaml' }, cwd)).toEqual([
        path.join(cwd, 'h'), '/e', '/a/.loadfleet', '/b/.loadfleet', path.join(cwd, '.loadfleet'),
      ]);
      expect(sweepHomes({ home: '/e' }, { LOADFLEET_HOME: '/e' }, cwd)).toEqual(['/e', path.join(cwd, '.loadfleet')]);
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('sweep across regions (issue 18 review, item 5)', () => {
  it('sweeps every region although one fails, then throws once naming each failed region', async () => {
    const { sweepRegions } = await import('../../scripts/actions/sweep');
    const asked: string[] = [];
    // A region whose EC2 API refuses (an opt-in region not enabled, an expired token): a fault moto cannot cause per region.
    const port = (region: string) => ({
      send: async (cmd: { constructor: { name: string } }) => {
        asked.push(`${region} ${cmd.constructor.name}`);
        if (region === 'us-east-1' || region === 'ap-south-1') throw new Error(`AuthFailure in ${region}`);
        return {};
      },
    });
    const sweeping = sweepRegions(['us-east-1', 'eu-west-1', 'ap-south-1'], 'demo', { maxRounds: 2 }, port as never);
    await expect(sweeping).rejects.toThrow(/failed in 2 of 3 region\(s\)[^]*us-east-1: .*AuthFailure in us-east-1[^]*ap-south-1: .*AuthFailure in ap-south-1/);
    // The region after the first failure was swept: its listing was asked for.
    expect(asked.some((a) => a.startsWith('eu-west-1 Describe'))).toBe(true);
    expect(asked.some((a) => a.startsWith('ap-south-1 Describe'))).toBe(true);
  });
});

describe('sweep of a NAT gateway (issue 18 review, item 6)', () => {
  it('lists NAT gateways by tag (pending|available), deletes them and waits until deleted before releasing their Elastic IP', async () => {
    const { deleteFound, findTagged } = await import('../../scripts/adapters/sweep-ec2');
    const sent: string[] = [];
    let natDeleted = false;
    // AWS's NAT gateway takes minutes to delete and holds its EIP until then: that order is what this pins down.
    const ec2 = {
      send: async (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => {
        const n = cmd.constructor.name;
        if (n === 'DescribeNatGatewaysCommand') {
          if (cmd.input.NatGatewayIds) {
            sent.push('wait');
            return { NatGateways: [{ NatGatewayId: 'nat-1', State: natDeleted ? 'deleted' : 'deleting' }] };
          }
          sent.push(`list nat ${JSON.stringify(cmd.input.Filter)}`);
          return { NatGateways: [{ NatGatewayId: 'nat-1', State: 'available', Tags: [{ Key: 'loadfleet:env', Value: 'demo' }] }] };
        }
        if (n === 'DescribeAddressesCommand') return { Addresses: [{ AllocationId: 'eipalloc-1', Tags: [{ Key: 'loadfleet:env', Value: 'demo' }] }] };
        if (n === 'DeleteNatGatewayCommand') {
          sent.push(`delete ${String(cmd.input.NatGatewayId)}`);
          setTimeout(() => (natDeleted = true), 300);
          return {};
        }
        if (n === 'ReleaseAddressCommand') {
          sent.push(`release ${String(cmd.input.AllocationId)} (nat deleted: ${natDeleted})`);
          return {};
        }
        return {};
      },
    };
    const found = await findTagged(ec2 as never, 'demo');
    expect(found.map((f) => `${f.kind} ${f.id}`).sort()).toEqual(['elastic-ip eipalloc-1', 'nat-gateway nat-1']);
    expect(sent[0]).toBe('list nat [{"Name":"tag:loadfleet:env","Values":["demo"]},{"Name":"state","Values":["pending","available"]}]');
    const outcome = await deleteFound(ec2 as never, inSweepOrder(found), { waitSeconds: 60 });
    expect(outcome.errors).toEqual([]);
    const after = sent.slice(1);
    expect(after[0]).toBe('delete nat-1');
    expect(after).toContain('wait');
    expect(after.at(-1)).toBe('release eipalloc-1 (nat deleted: true)');
  });
});
