/**
 * install + doctor with Artillery on real namespace hosts (controller, 2 agents): the pinned npm
 * tarball from the machine's cache (scripts/setup.sh), its sha512 checked on every host; a corrupted
 * tarball stops the install and leaves nothing behind. Also: every rendered install script of Locust
 * and Artillery passes shellcheck.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { requireTool } from '../harness/tools';
import { artillery } from '../../scripts/engines/artillery';
import { installContextFor } from '../../scripts/engines/common';
import { locust } from '../../scripts/engines/locust';
import { controlOwnerScript, installServicesScript, shQuote, statusOwnerScript } from '../../scripts/core/supervise';
import { probeScript } from '../../scripts/core/doctor';
import type { HostKind } from '../../scripts/core/tuning';

const PREFIX = 'la';
const SUBNET = '10.231.83.0/24';
const CACHE = '/opt/loadfleet-cache';
const base = { engine: 'artillery' as const, agents: { count: 2 }, targets: [], monitoring: { enabled: false } };
let fleet: LocalFleet;
let badCache: string;

beforeAll(async () => {
  if (!fs.existsSync(`${CACHE}/artillery-2.0.21.tgz`)) throw new Error(`${CACHE}/artillery-2.0.21.tgz is missing: run scripts/setup.sh`);
  // A cache whose tarball is corrupted (one byte flipped) but whose installed tree is the real one.
  // Under /var, which the hosts share with the machine (their /tmp is private).
  badCache = fs.mkdtempSync('/var/tmp/lf-badcache-');
  const tgz = fs.readFileSync(`${CACHE}/artillery-2.0.21.tgz`);
  tgz[tgz.length - 100] ^= 0xff;
  fs.writeFileSync(path.join(badCache, 'artillery-2.0.21.tgz'), tgz);
  fs.symlinkSync(`${CACHE}/artillery-2.0.21`, path.join(badCache, 'artillery-2.0.21'));
  fleet = await localFleet('atest', PREFIX, SUBNET, base);
});

afterAll(async () => {
  if (badCache) fs.rmSync(badCache, { recursive: true, force: true });
  const pids = fleet ? Object.values(await fleet.pids()) : [];
  await fleet?.remove();
  expect(await leftoversOf(PREFIX, pids)).toEqual([]);
});

describe('install and doctor with Artillery on the local target', () => {
  it('stops on a checksum mismatch with a clear error, and leaves nothing half-installed', async () => {
    const bad = fleet.ws.writeConfig('bad-cache.yaml', { name: 'atest', local: { prefix: PREFIX, subnet: SUBNET, engineCache: badCache }, tuning: { nofile: 16384 }, ...base });
    const r = await fleet.cli(['install', '-c', bad]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/agent-1\s+\S+\s+FAILED\s+\S+\s+installing artillery 2\.0\.21 failed \(exit 1\): install artillery: checksum mismatch for \/var\/tmp\/lf-badcache-\w+\/artillery-2\.0\.21\.tgz \(artillery\): expected sha512 e2f882c3/);
    expect(r.stderr).toContain('2 of 3 host(s) failed: agent-1, agent-2');
    for (const a of ['agent-1', 'agent-2']) {
      expect((await fleet.ssh(a, 'ls -A /etc/loadfleet 2>/dev/null; command -v artillery || true')).stdout.trim()).toBe('');
    }
  });

  it('installs the pinned version on every agent (nothing on the controller), and doctor is green', async () => {
    const r = await fleet.cli(['install', '-c', fleet.config]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('artillery 2.0.21: 2 changed, 1 unchanged (of 3 hosts)');
    for (const a of ['agent-1', 'agent-2']) {
      const v = await fleet.ssh(a, '/etc/loadfleet/artillery/bin/artillery --version');
      expect(v.exitCode).toBe(0);
      expect(v.stdout).toMatch(/Artillery: 2\.0\.21/);
    }
    expect((await fleet.ssh('controller', 'test -e /etc/loadfleet/artillery && echo yes || echo no')).stdout.trim()).toBe('no');
    const d = await fleet.cli(['doctor', '-c', fleet.config, '--verbose']);
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toMatch(/agent-1\s+engine version\s+ok\s+2\.0\.21/);
    expect(d.stdout).toMatch(/agent-2\s+clock\s+ok/);
    expect(d.stdout).not.toContain('reach master');
  });

  it('changes nothing on a second install', async () => {
    const r = await fleet.cli(['install', '-c', fleet.config, '--json']);
    expect(r.exitCode).toBe(0);
    const j = JSON.parse(r.stdout) as { hosts: { host: string; value: { changed: string[] } }[] };
    expect(j.hosts.map((h) => [h.host, h.value.changed])).toEqual([['controller', []], ['agent-1', []], ['agent-2', []]]);
  });

  it('fails doctor when an agent holds another version', async () => {
    const root = (cmd: string) => (fleet.outputs().sshUser === 'root' ? cmd : `sudo -n sh -c ${shQuote(cmd)}`);
    expect((await fleet.ssh('agent-2', root("sed -i 's/2.0.21/2.0.20/' /etc/loadfleet/artillery/bin/artillery"))).exitCode).toBe(0);
    const d = await fleet.cli(['doctor', '-c', fleet.config]);
    // Another version is the order of commands, as in run (issue 22): exit 2, saying so first, then the rows.
    expect(d.exitCode, d.stdout + d.stderr).toBe(2);
    expect(d.stdout).toMatch(/installed( yet)? on agent-2: run "loadfleet install" first/);
    expect(d.stdout).toMatch(/agent-2\s+engine version\s+FAIL/);
    const r = await fleet.cli(['install', '-c', fleet.config]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('artillery 2.0.21: 1 changed, 2 unchanged (of 3 hosts)');
    expect((await fleet.cli(['doctor', '-c', fleet.config])).exitCode).toBe(0);
  });
});

describe('rendered scripts', () => {
  it('pass shellcheck (POSIX sh) for every role and host kind', async () => {
    requireTool('shellcheck', 'apt-get install shellcheck');
    const scripts: [string, string][] = [];
    for (const kind of ['ec2', 'netns'] as HostKind[]) {
      for (const [spec, version] of [[locust, kind === 'ec2' ? '2.42.2' : '2.12.1'], [artillery, '2.0.21']] as const) {
        for (const role of ['controller', 'agent'] as const) {
          const ctx = installContextFor({ env: 'e', host: { name: role, role, privateIp: '10.0.0.2' }, hostKind: kind, master: { address: '10.0.0.1', port: 5557 }, agents: [], version, nofile: 65536, cores: 2, login: 'ec2-user', cacheDir: CACHE });
          if (spec.roles.includes(role)) {
            scripts.push([`${spec.name}-${kind}-${role}-install`, spec.installScript(ctx)]);
            scripts.push([`${spec.name}-${kind}-${role}-version`, spec.versionScript(ctx)]);
            scripts.push([`${spec.name}-${kind}-${role}-services`, installServicesScript(spec.services(ctx), { hostKind: kind, owner: 'engine', nofile: 65536 })]);
          }
        }
      }
      scripts.push([`control-${kind}`, controlOwnerScript('restart', 'engine', kind)]);
      scripts.push([`status-${kind}`, statusOwnerScript('engine', kind)]);
      scripts.push([`probe-${kind}`, probeScript({ hostKind: kind, owner: 'engine', versionScript: 'true', reach: [{ label: 'reach master', address: '10.0.0.1', port: 5557 }] })]);
    }
    const failures: string[] = [];
    for (const [name, text] of scripts) {
      // Warnings and errors (not style notes). SC2016: single quotes around $ on purpose (expanded later by
      // the remote shell); SC2086: unquoted names are validated words.
      const r = await execa('shellcheck', ['-s', 'sh', '-S', 'warning', '-e', 'SC2016,SC2086', '-'], { input: text, reject: false });
      if (r.exitCode !== 0) failures.push(`${name}:\n${r.stdout}`);
    }
    expect(failures).toEqual([]);
  });
});
