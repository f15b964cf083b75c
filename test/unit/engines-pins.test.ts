/**
 * JMeter, k6 and nGrinder artifacts: exact versions, published checksums, and install scripts that
 * download exactly the pinned URL and compare exactly the pinned digest before installing anything.
 * A version with no known checksum (nGrinder 3.5.9-p1's war) is refused with a usage error (exit 2).
 */
import { describe, expect, it } from 'vitest';
import { EXIT, UsageError } from '../../scripts/core/errors';
import { checksumProblem } from '../../scripts/engines/ec2-steps';
import { resolveEngine } from '../../scripts/engines/index';
import { jmeter, JMETER_PINS } from '../../scripts/engines/jmeter';
import { k6, K6_PINS } from '../../scripts/engines/k6';
import { ngrinder, NGRINDER_PINS } from '../../scripts/engines/ngrinder';
import type { InstallContext } from '../../scripts/engines/types';

function ctx(role: InstallContext['role'], version: string, hostKind: InstallContext['hostKind'] = 'ec2'): InstallContext {
  return {
    env: 'demo',
    role,
    hostKind,
    host: { name: role, privateIp: '10.0.1.21' },
    master: { address: '10.0.1.10', port: 16001 },
    agents: [{ name: 'agent-1', privateIp: '10.0.1.21' }],
    version,
    nofile: 65536,
    cores: 2,
    login: 'ec2-user',
    cacheDir: '/opt/loadfleet-cache',
  };
}

function usageError(f: () => unknown): UsageError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(EXIT.usage);
    return e as UsageError;
  }
  throw new Error('expected a UsageError');
}

describe('JMeter pins', () => {
  it('defaults to 5.6.3 from the Apache archive with Apache\'s published sha512', () => {
    expect(jmeter.defaultVersion.ec2).toBe('5.6.3');
    expect(JMETER_PINS.versions['5.6.3']!.ec2).toEqual([
      expect.objectContaining({
        url: 'https://archive.apache.org/dist/jmeter/binaries/apache-jmeter-5.6.3.tgz',
        sha512: '5978a1a35edb5a7d428e270564ff49d2b1b257a65e17a759d259a9283fc17093e522fe46f474a043864aea6910683486340706d745fcdf3db1505fd71e689083',
      }),
    ]);
  });

  it.each(['controller', 'agent'] as const)('%s: the script fetches the pinned URL and checks the pinned sha512 before unpacking', (role) => {
    const script = jmeter.installScript(ctx(role, '5.6.3'));
    const a = JMETER_PINS.versions['5.6.3']!.ec2[0]!;
    expect(script).toContain(`fetch_verified '${a.url}' sha512 '${a.sha512}' "$tmp/archive"`);
    expect(script.indexOf('fetch_verified \'')).toBeLessThan(script.indexOf('tar -xzf'));
    expect(script).toContain('dnf install -y -q java-17-amazon-corretto-headless');
  });
});

describe('k6 pins', () => {
  it('defaults to the 2.0.0 linux-amd64 release tarball with the sha256 of its checksums.txt', () => {
    expect(k6.defaultVersion.ec2).toBe('2.0.0');
    expect(K6_PINS.versions['2.0.0']!.ec2).toEqual([
      expect.objectContaining({
        url: 'https://github.com/grafana/k6/releases/download/v2.0.0/k6-v2.0.0-linux-amd64.tar.gz',
        sha256: '2ae87d976f6cdba17185bdd980d8819a3a98e9092c6f0638cd58272ecefc8b90',
      }),
    ]);
  });

  it('the agent script fetches the pinned URL and checks the pinned sha256', () => {
    const a = K6_PINS.versions['2.0.0']!.ec2[0]!;
    expect(k6.installScript(ctx('agent', '2.0.0'))).toContain(`fetch_verified '${a.url}' sha256 '${a.sha256}' "$tmp/archive"`);
  });
});

describe('every pinned artifact', () => {
  it.each([JMETER_PINS, K6_PINS, NGRINDER_PINS].flatMap((p) => Object.entries(p.versions).flatMap(([v, pins]) => pins.ec2.map((a) => [p.engine, v, a] as const))))(
    '%s %s: an exact version, an https URL naming it, a full-length hex digest (or why none is published)',
    (_engine, version, a) => {
      expect(a.version).toBe(version);
      expect(a.url).toMatch(/^https:\/\//);
      expect(a.url).toContain(version);
      if (a.sha512) expect(a.sha512).toMatch(/^[0-9a-f]{128}$/);
      else if (a.unpublished) expect(a.sha256).toBeUndefined();
      else expect(a.sha256).toMatch(/^[0-9a-f]{64}$/);
    },
  );
});

describe('a version without a known checksum', () => {
  it('offers nGrinder 3.5.9-p1, whose war has no published checksum, marked as such (configs synthesize)', () => {
    const war = NGRINDER_PINS.versions['3.5.9-p1']!.ec2[0]!;
    expect(war.url).toBe('https://github.com/naver/ngrinder/releases/download/ngrinder-3.5.9-p1-20240613/ngrinder-controller-3.5.9-p1.war');
    expect(war.sha256).toBeUndefined();
    expect(war.unpublished).toMatch(/no published checksum/);
    expect(resolveEngine('ngrinder', undefined, 'ec2').version).toBe('3.5.9-p1');
    expect(checksumProblem(NGRINDER_PINS, '3.5.9-p1')).toBeUndefined();
  });

  it('fails when its controller install script is rendered without a sha256 for the war, naming the engine, the version and both fixes', () => {
    const e = usageError(() => ngrinder.installScript(ctx('controller', '3.5.9-p1')));
    expect(e.message).toMatch(/^ngrinder 3\.5\.9-p1: ngrinder-controller \(https:.*\.war\) has no published checksum/);
    expect(e.message).toContain('engineSha256');
    expect(e.message).toContain('--trust-first-download');
    expect(checksumProblem(JMETER_PINS, '5.6.3')).toBeUndefined();
  });

  it.each([
    ['jmeter', '5.5'],
    ['k6', '1.0.0'],
  ] as const)('fails when %s %s is asked for, listing the versions that are pinned', (engine, version) => {
    const e = usageError(() => resolveEngine(engine, version, 'ec2'));
    expect(e.message).toContain(`ami/engines/${engine}.json`);
    expect(e.message).toContain(engine === 'jmeter' ? '5.6.3' : '2.0.0');
  });
});

describe('the local target', () => {
  it.each(['jmeter', 'k6', 'ngrinder'] as const)('fails when %s is asked for on the local target, before any host is touched', (engine) => {
    const e = usageError(() => resolveEngine(engine, undefined, 'netns'));
    expect(e.message).toMatch(/cannot run on the local target/);
  });

  it('fails when an install script is rendered for a namespace host', () => {
    usageError(() => jmeter.installScript(ctx('agent', '5.6.3', 'netns')));
    usageError(() => k6.services(ctx('agent', '2.0.0', 'netns')));
  });
});

describe('engineSha256 on an engine whose artifacts all have a published checksum', () => {
  it('fails before anything is created (synth, up), naming the field', async () => {
    const { checkEngineConfig } = await import('../../scripts/engines/index');
    const sha = 'a'.repeat(64);
    expect(() => checkEngineConfig({ engine: 'locust', engineSha256: sha }, 'ec2')).toThrow(/engineSha256 \(a{64}\) is for an artifact with no published checksum, and locust .* has none .*: remove engineSha256/);
    expect(() => checkEngineConfig({ engine: 'ngrinder', engineSha256: sha }, 'ec2')).not.toThrow();
  });
});
