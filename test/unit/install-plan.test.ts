/** install's checks before any host is touched, and its summary line. Pure. */
import { describe, expect, it } from 'vitest';
import { formatInstall, planInstall } from '../../scripts/actions/install';
import { warningLines } from '../../scripts/engines/common';
import { UsageError } from '../../scripts/core/errors';
import { nonNegativeNumber } from '../../scripts/core/flags';
import { validateFleetConfig } from '../../stacks/config';
import type { FleetOutputs } from '../../scripts/core/env-record';
import { locust } from '../../scripts/engines/locust';

const config = (extra: Record<string, unknown> = {}) =>
  validateFleetConfig({ name: 'e1', access: { sshCidrs: ['203.0.113.7/32'] }, keyPair: { publicKeyPath: 'k.pub' }, ...extra });

const outputs = (extra: Partial<FleetOutputs> = {}): FleetOutputs => ({
  env: 'e1', target: 'local', engine: 'locust', expiresAt: '2030-01-01T00:00:00Z', sshUser: 'root', master: { address: '10.0.0.10', port: 5557 },
  hosts: [
    { role: 'controller', group: 'controller', name: 'controller', id: 'c', publicIp: '', privateIp: '10.0.0.10' },
    { role: 'agent', group: 'agent', name: 'agent-1', id: 'a1', publicIp: '', privateIp: '10.0.0.11' },
    { role: 'target', group: 'app', name: 'app-1', id: 't1', publicIp: '', privateIp: '10.0.0.12' },
  ],
  ...extra,
});

describe('planInstall', () => {
  it('installs on the controller and the agents only, at the default version of the target kind', () => {
    const p = planInstall(config(), outputs(), 'up', undefined);
    expect(p.hosts.map((h) => h.name)).toEqual(['controller', 'agent-1']);
    expect([p.kind, p.version]).toEqual(['netns', '2.12.1']);
    expect(planInstall(config(), outputs({ target: 'aws' }), 'up', undefined).version).toBe(locust.defaultVersion.ec2);
  });

  it('fails when the env is not up, naming the command to run', () => {
    expect(() => planInstall(config(), outputs(), 'down', undefined)).toThrow('env "e1" is down, not up: run "loadfleet up -c <config>" first');
  });

  it('fails when the config names another engine than the env was made for', () => {
    expect(() => planInstall(config({ engine: 'artillery' }), outputs(), 'up', undefined)).toThrow(UsageError);
    expect(() => planInstall(config({ engine: 'artillery' }), outputs(), 'up', undefined)).toThrow('engine (artillery) differs from the engine the env was made for (locust)');
  });

  it('reads --hosts against every host of the env, as tune does: a role with no engine hosts is not unknown', () => {
    expect(planInstall(config(), outputs(), 'up', 'target').hosts).toEqual([]);
    expect(planInstall(config(), outputs(), 'up', 'app-1,agent-1').hosts.map((h) => h.name)).toEqual(['agent-1']);
    expect(() => planInstall(config(), outputs(), 'up', 'nosuch')).toThrow('--hosts names nosuch, which the env does not have');
  });

  it('doctor --wait accepts 0, its default, and refuses a negative or non-number', () => {
    expect(nonNegativeNumber('--wait', '0', 0)).toBe(0);
    expect(nonNegativeNumber('--wait', undefined, 0)).toBe(0);
    expect(nonNegativeNumber('--wait', '2.5', 0)).toBe(2.5);
    expect(() => nonNegativeNumber('--wait', '-1', 0)).toThrow('--wait (-1) must be a number of seconds, 0 or more');
    expect(() => nonNegativeNumber('--wait', 'soon', 0)).toThrow(UsageError);
    expect(() => nonNegativeNumber('--wait', '', 0)).toThrow(UsageError);
  });

  it('keeps to --hosts', () => {
    expect(planInstall(config(), outputs(), 'up', 'agent').hosts.map((h) => h.name)).toEqual(['agent-1']);
  });

  it('says how many hosts changed', () => {
    const r = (host: string, changed: string[] | null) => ({ host, address: 'x', ok: changed !== null, value: changed ? { role: 'agent', changed, warnings: [] } : undefined, error: changed ? undefined : 'boom', attempts: 1, ms: 100 });
    expect(formatInstall([r('a', []), r('b', ['started x']), r('c', null)], { spec: locust, version: '2.12.1' }).split('\n').pop()).toBe('locust 2.12.1: 1 changed, 1 unchanged, 1 failed (of 3 hosts)');
  });

  it('shows what an install step warned about in the host row, though the step succeeded', () => {
    const stderr = 'some pip chatter\ninstall locust: WARNING: no sha256 pinned for the locust 2.31.0 wheel (PyPI publishes none)\n';
    const warnings = warningLines(stderr);
    expect(warnings).toEqual(['install locust: WARNING: no sha256 pinned for the locust 2.31.0 wheel (PyPI publishes none)']);
    const out = formatInstall([{ host: 'agent-1', address: 'x', ok: true, value: { role: 'agent', changed: ['installed locust /opt/loadfleet/locust-2.31.0'], warnings }, attempts: 1, ms: 100 }], { spec: locust, version: '2.31.0' });
    expect(out).toMatch(/agent-1 .*changed .*installed locust \/opt\/loadfleet\/locust-2\.31\.0; install locust: WARNING: no sha256 pinned/);
    expect(out.split('\n').pop()).toBe('locust 2.31.0: 1 changed, 0 unchanged, 1 with warnings (see their rows) (of 1 hosts)');
  });
});

describe("nGrinder's war, whose checksum nobody publishes (issue 16.1)", () => {
  const ngr = (extra: Record<string, unknown> = {}) => config({ engine: 'ngrinder', ...extra });
  const aws = outputs({ target: 'aws', engine: 'ngrinder', master: { address: '10.0.0.10', port: 16001 } });
  const record = (recorded: Record<string, string> = {}, trustFirstDownload = false) => ({ recorded, file: '/env/engine-sha256.json', trustFirstDownload });
  const A = 'a'.repeat(64);
  const B = 'b'.repeat(64);

  it('fails before any host is touched when no sha256 is given and first-download trust was not asked for, naming both fixes', () => {
    const e = (() => { try { planInstall(ngr(), aws, 'up', undefined, record()); } catch (x) { return x as Error; } throw new Error('no error'); })();
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toMatch(/^ngrinder 3\.5\.9-p1: ngrinder-controller \(https:\/\/github\.com\/naver\/ngrinder\/releases\/download\/ngrinder-3\.5\.9-p1-20240613\/ngrinder-controller-3\.5\.9-p1\.war\) has no published checksum/);
    expect(e.message).toContain('engineSha256');
    expect(e.message).toContain('loadfleet install --trust-first-download');
  });

  it("takes the user's engineSha256", () => {
    expect(planInstall(ngr({ engineSha256: A }), aws, 'up', undefined, record())).toMatchObject({ digests: { 'ngrinder-controller': A }, trustFirst: [] });
  });

  it('takes the sha256 recorded at the first trusted download, even when trust is asked again', () => {
    const p = planInstall(ngr(), aws, 'up', undefined, record({ 'ngrinder 3.5.9-p1 ngrinder-controller': B }, true));
    expect(p).toMatchObject({ digests: { 'ngrinder-controller': B }, trustFirst: [] });
  });

  it('trusts the first download only with --trust-first-download and nothing recorded', () => {
    expect(planInstall(ngr(), aws, 'up', undefined, record({}, true))).toMatchObject({ digests: {}, trustFirst: ['ngrinder-controller'] });
  });

  it('fails when engineSha256 and the recorded sha256 disagree, naming both', () => {
    expect(() => planInstall(ngr({ engineSha256: A }), aws, 'up', undefined, record({ 'ngrinder 3.5.9-p1 ngrinder-controller': B }))).toThrow(`engineSha256 (${A}) differs from the sha256 recorded for ngrinder-controller 3.5.9-p1 at its first download (${B}, in /env/engine-sha256.json)`);
  });

  it('needs nothing when only agents are installed (they fetch their package from the controller)', () => {
    expect(planInstall(ngr(), aws, 'up', 'agent', record())).toMatchObject({ digests: {}, trustFirst: [] });
  });

  it('fails when engineSha256 is given for an engine whose artifacts all have a pinned checksum', () => {
    expect(() => planInstall(config({ engine: 'k6', engineSha256: A }), { ...aws, engine: 'k6', master: null }, 'up', undefined, record())).toThrow('remove engineSha256');
  });

  it('fails when engineSha256 is not a sha256', () => {
    expect(() => ngr({ engineSha256: 'ABC' })).toThrow(/engineSha256/);
  });
});
