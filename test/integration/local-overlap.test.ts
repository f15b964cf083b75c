/**
 * Issue 22 item 5: a second env on an overlapping local.subnet is refused before anything is made (exit 2),
 * naming the env and the bridge that use the range; before, its logins landed on the first env's hosts.
 * Real namespace hosts for the first env.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadfleet } from '../harness/cli';
import { leftoversOf, requireLocalTools } from '../harness/local-fleet';
import { workspace } from '../harness/workspace';
import { LocalHosts } from '../../scripts/adapters/local-hosts';

requireLocalTools();
const ws = workspace('lf-ov-');
const env = { LOADFLEET_HOME: ws.home };
const small = { agents: { count: 1 }, monitoring: { enabled: false }, tuning: { nofile: 16384 } };
const first = ws.writeConfig('first.yaml', { name: 'ovone', local: { prefix: 'ova', subnet: '10.231.81.0/24' }, ...small });
// A /23 that contains the first env's /24: overlapping, though not equal.
const second = ws.writeConfig('second.yaml', { name: 'ovtwo', local: { prefix: 'ovb', subnet: '10.231.80.0/23' }, ...small });

afterAll(async () => {
  for (const name of ['ovone', 'ovtwo']) {
    await loadfleet(['down', '--env', name, '--yes'], env).catch(() => undefined);
    await new LocalHosts(path.join(ws.home, name, 'local')).destroy().catch(() => undefined);
  }
  ws.remove();
  expect(await leftoversOf('ova', [])).toEqual([]);
  expect(await leftoversOf('ovb', [])).toEqual([]);
});

describe('overlapping local.subnet (issue 22)', () => {
  it('fails when a second env\'s local.subnet overlaps a running env\'s bridge, naming both, before anything is made', async () => {
    const up = await loadfleet(['up', '--target', 'local', '-c', first, '--yes', '--json'], env);
    expect(up.exitCode, up.stderr).toBe(0);
    const r = await loadfleet(['up', '--target', 'local', '-c', second, '--yes', '--json'], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/local\.subnet \(10\.231\.80\.0\/23\) overlaps 10\.231\.81\.1\/24(, 10\.231\.81\.0\/24)? on ovabr0 \(the bridge of env "ovone" in .*\): this env's logins would land on those hosts\. Give env ovtwo a range of its own, e\.g\. local\.subnet: 10\.231\.0\.0\/24 \(free now\)/);
    // nothing of the second env exists: no record, no bridge, no namespace
    expect(fs.existsSync(path.join(ws.home, 'ovtwo', 'env.json'))).toBe(false);
    expect(await leftoversOf('ovb', [])).toEqual([]);
    // the first env's re-up is not refused by its own bridge
    const again = await loadfleet(['up', '--target', 'local', '-c', first, '--yes', '--json'], env);
    expect(again.exitCode, again.stderr).toBe(0);
  });
});
