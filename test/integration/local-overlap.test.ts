/**
 * Issue 22 item 5: a second env on an overlapping local.subnet is refused before anything is made (exit 2),
 * naming the env and the bridge that use the range; before, its logins landed on the first env's hosts.
 * Real namespace hosts for the first env.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
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
const killed = ws.writeConfig('killed.yaml', { name: 'ovkill', local: { prefix: 'ovc', subnet: '10.231.82.0/24' }, ...small });

afterAll(async () => {
  for (const name of ['ovone', 'ovtwo', 'ovkill']) {
    await loadfleet(['down', '--env', name, '--yes'], env).catch(() => undefined);
    await new LocalHosts(path.join(ws.home, name, 'local')).destroy().catch(() => undefined);
  }
  ws.remove();
  expect(await leftoversOf('ova', [])).toEqual([]);
  expect(await leftoversOf('ovb', [])).toEqual([]);
  expect(await leftoversOf('ovc', [])).toEqual([]);
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

  it('takes a killed first up\'s own bridge (state written, no host yet) for this env\'s, not another env\'s: up again succeeds, down leaves nothing', async () => {
    // GIVEN what a first `up` killed (kill -9) right after writing its state leaves, as create() writes it:
    // the record "creating", hosts.json naming the bridge with no host, the bridge with its address and up
    const dir = path.join(ws.home, 'ovkill');
    fs.mkdirSync(path.join(dir, 'local'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(dir, 'env.json'), JSON.stringify({ name: 'ovkill', target: 'local', configPath: killed, region: 'local', engine: 'locust', ttlHours: 4, expiresAt: '2099-01-01T00:00:00Z', status: 'creating', updatedAt: new Date().toISOString() }));
    fs.writeFileSync(path.join(dir, 'local', 'hosts.json'), JSON.stringify({ bridge: 'ovcbr0', login: 'ec2-user', hosts: [] }));
    await execa('ip', ['link', 'add', 'ovcbr0', 'type', 'bridge']);
    await execa('ip', ['addr', 'add', '10.231.82.1/24', 'dev', 'ovcbr0']);
    await execa('ip', ['link', 'set', 'ovcbr0', 'up']);
    // WHEN up runs again
    const up = await loadfleet(['up', '--target', 'local', '-c', killed, '--yes', '--json'], env);
    // THEN it is not blamed on another env: the fleet comes up on the same bridge
    expect(up.stderr).not.toMatch(/another/);
    expect(up.exitCode, up.stderr).toBe(0);
    const state = JSON.parse(fs.readFileSync(path.join(dir, 'local', 'hosts.json'), 'utf8')) as { bridge: string; hosts: unknown[] };
    expect(state.bridge).toBe('ovcbr0');
    expect(state.hosts.length).toBeGreaterThan(0);
    const pids = Object.values(await new LocalHosts(path.join(dir, 'local')).pids());
    // and down leaves nothing: no bridge, namespace, link or process of the env
    const down = await loadfleet(['down', '--env', 'ovkill', '--yes'], env);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await leftoversOf('ovc', pids)).toEqual([]);
  });
});
