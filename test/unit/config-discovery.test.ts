import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { discoverConfig, homeFor } from '../../scripts/adapters/context';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-disc-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('config discovery and the env folder (issue 22)', () => {
  it('finds loadfleet.yaml in the folder, or $LOADFLEET_CONFIG, and nothing otherwise', () => {
    expect(discoverConfig({}, dir)).toBeUndefined();
    fs.writeFileSync(path.join(dir, 'loadfleet.yaml'), 'name: x\n');
    expect(discoverConfig({}, dir)).toBe(path.join(dir, 'loadfleet.yaml'));
    expect(discoverConfig({ LOADFLEET_CONFIG: '../other.yaml' }, dir)).toBe(path.resolve(dir, '../other.yaml'));
  });

  it('puts the env folder beside the config, never in the folder the command runs from', () => {
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub);
    // -c ../fleet.yaml from a subfolder, and -c /abs/fleet.yaml from elsewhere, reach the same home
    expect(homeFor({ config: '../fleet.yaml' }, {}, sub)).toBe(path.join(dir, '.loadfleet'));
    expect(homeFor({ config: path.join(dir, 'fleet.yaml') }, {}, '/')).toBe(path.join(dir, '.loadfleet'));
    // --env alone next to loadfleet.yaml: beside it too
    fs.writeFileSync(path.join(dir, 'loadfleet.yaml'), 'name: x\n');
    expect(homeFor({ env: 'x' }, {}, dir)).toBe(path.join(dir, '.loadfleet'));
    // LOADFLEET_HOME and --home win
    expect(homeFor({ config: '../fleet.yaml' }, { LOADFLEET_HOME: '/var/tmp/h' }, sub)).toBe('/var/tmp/h');
    expect(homeFor({ config: '../fleet.yaml', home: 'h' }, { LOADFLEET_HOME: '/var/tmp/h' }, sub)).toBe(path.join(sub, 'h'));
  });
});

describe('an env made where envs used to live (./.loadfleet of the folder the command ran in)', () => {
  it('is still found by -c, with a note, so down never says "nothing to destroy" while its hosts run', async () => {
    const { resolveEnv } = await import('../../scripts/adapters/context');
    // GIVEN a config in fleets/ and its env's record in ./.loadfleet (the old default), no LOADFLEET_HOME
    fs.mkdirSync(path.join(dir, 'fleets'));
    fs.copyFileSync(path.resolve('stacks/examples/demo_key.pub'), path.join(dir, 'fleets', 'k.pub'));
    fs.writeFileSync(path.join(dir, 'fleets', 'xy.yaml'), 'name: xy\naccess: { sshCidrs: [203.0.113.7/32] }\nkeyPair: { publicKeyPath: k.pub }\n');
    const legacy = path.join(dir, '.loadfleet', 'xy');
    fs.mkdirSync(legacy, { recursive: true });
    fs.writeFileSync(path.join(legacy, 'env.json'), JSON.stringify({ name: 'xy', target: 'aws', configPath: path.join(dir, 'fleets', 'xy.yaml'), region: 'us-east-1', engine: 'locust', ttlHours: 4, expiresAt: '2099-01-01T00:00:00.000Z', status: 'up', updatedAt: '2026-11-25T00:00:00.000Z' }));
    const cwd = process.cwd();
    const saved = process.env.LOADFLEET_HOME;
    delete process.env.LOADFLEET_HOME;
    const err: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((t: string) => (err.push(String(t)), true)) as typeof process.stderr.write;
    try {
      process.chdir(dir);
      // WHEN a command names the config (which would put the env beside it, in fleets/.loadfleet)
      const ctx = await resolveEnv({ config: 'fleets/xy.yaml' }, true, false);
      // THEN the existing env is used, and said
      expect(ctx.envDir.dir).toBe(fs.realpathSync(legacy));
      expect(ctx.record?.status).toBe('up');
      expect(err.join('')).toMatch(/env "xy" was found in .*\.loadfleet \(not beside the config/);
      // and an explicit LOADFLEET_HOME is taken at its word
      process.env.LOADFLEET_HOME = path.join(dir, 'elsewhere');
      expect((await resolveEnv({ config: 'fleets/xy.yaml' }, true, false)).record).toBeUndefined();
    } finally {
      process.stderr.write = write;
      process.chdir(cwd);
      if (saved === undefined) delete process.env.LOADFLEET_HOME;
      else process.env.LOADFLEET_HOME = saved;
    }
  });
});
