/**
 * The engine and engineVersion are checked before anything is created: `up` (aws and local), `synth` and
 * `bake` refuse a version install would refuse, with exit 2, and moto holds nothing afterwards.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadfleet } from '../harness/cli';
import { useMotoEnv, ZERO } from '../harness/moto-env';
import { countLeft, ec2 } from '../harness/ec2-count';

const ctx = useMotoEnv();
const MESSAGE = 'engineVersion ("9.9.9") has no pinned checksum for locust';

describe('engine checked before anything is created', () => {
  it('up on moto with an unknown engineVersion exits 2 before terraform runs, and creates nothing', async () => {
    const config = ctx.ws.writeConfig('badver.yaml', { name: 'badver', engineVersion: '9.9.9', agents: { count: 1 }, monitoring: { enabled: false } });
    const r = await loadfleet(['up', '-c', config, '--yes'], ctx.env);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(MESSAGE);
    expect(r.stderr).not.toContain('terraform init');
    expect(await countLeft(ec2(ctx.moto.env), 'badver')).toEqual(ZERO);
    // no state, no record: nothing to clean up
    expect(fs.existsSync(path.join(ctx.ws.home, 'badver', 'env.json'))).toBe(false);
  });

  it('up --target local with an unknown engineVersion exits 2 before a namespace exists', async () => {
    const config = ctx.ws.writeConfig('badlocal.yaml', { name: 'badlocal', engineVersion: '9.9.9', local: { prefix: 'bv', subnet: '10.231.91.0/24' }, agents: { count: 1 }, monitoring: { enabled: false } });
    const r = await loadfleet(['up', '-c', config, '--target', 'local', '--yes'], ctx.env);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(`${MESSAGE} on the local target`);
    expect(fs.existsSync(path.join(ctx.ws.home, 'badlocal', 'env.json'))).toBe(false);
  });

  it('engine: ngrinder synthesizes: its war has no published checksum, which install decides (engineSha256 or --trust-first-download), not up or synth (issue 16.1)', async () => {
    const config = ctx.ws.writeConfig('ngr.yaml', { name: 'ngr', engine: 'ngrinder', agents: { count: 1 }, monitoring: { enabled: false } });
    const synth = await loadfleet(['synth', '-c', config], ctx.env);
    expect(synth.exitCode, synth.stderr).toBe(0);
    const bad = ctx.ws.writeConfig('ngr-bad.yaml', { name: 'ngrbad', engine: 'ngrinder', engineSha256: 'not-a-sha', agents: { count: 1 }, monitoring: { enabled: false } });
    const refused = await loadfleet(['synth', '-c', bad], ctx.env);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('engineSha256');
  });

  it('bake --role agent with an unknown engineVersion exits 2 before a key pair, group or builder exists', async () => {
    const config = ctx.ws.writeConfig('badbake.yaml', { name: 'badbake', engineVersion: '9.9.9', agents: { count: 1 }, monitoring: { enabled: false } });
    const r = await loadfleet(['bake', '-c', config, '--role', 'agent', '--yes'], ctx.env);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain(MESSAGE);
    expect(await countLeft(ec2(ctx.moto.env))).toEqual(ZERO);
  });
});
