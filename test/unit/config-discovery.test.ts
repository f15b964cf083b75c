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
