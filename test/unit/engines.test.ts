/** The engine descriptions, the supervisor's renderings and doctor's reading: pure data and text. */
import { describe, expect, it } from 'vitest';
import { artillery, ARTILLERY } from '../../scripts/engines/artillery';
import { artifactsOf, installContextFor, versionProblem } from '../../scripts/engines/common';
import { ENGINE_SPECS, resolveEngine } from '../../scripts/engines/index';
import { DEBIAN_LOCUST_FIX, locust, LOCUST, restartLocustScript } from '../../scripts/engines/locust';
import type { InstallContext } from '../../scripts/engines/types';
import { controlScript, installServicesScript, netnsRunFile, parseStatus, systemdUnit } from '../../scripts/core/supervise';
import { CLOCK_COMMAND, clockFrom, clockOffset, clockRow, hostRows, parseProbeOutput, probeScript, sameVersionRow } from '../../scripts/core/doctor';
import { UsageError } from '../../scripts/core/errors';
import { engineOf } from '../../stacks/engines';
import { PATHS } from '../../scripts/core/tuning';

function ctx(over: Partial<InstallContext> = {}): InstallContext {
  const base = installContextFor({
    env: 'e1',
    host: { name: 'agent-1', role: 'agent', privateIp: '10.0.0.11' },
    hostKind: 'netns',
    master: { address: '10.0.0.10', port: 5557 },
    agents: [{ name: 'agent-1', privateIp: '10.0.0.11' }],
    version: '2.12.1',
    nofile: 16384,
    cores: 2,
    login: 'root',
    cacheDir: '/opt/loadfleet-cache',
  });
  return { ...base, ...over };
}

describe('pins (ami/engines/*.json)', () => {
  it('gives every artifact a checksum of the right length, or says why it has none', () => {
    for (const spec of Object.values(ENGINE_SPECS)) {
      for (const [version, pins] of Object.entries(spec!.versions)) {
        for (const a of [...pins.ec2, ...pins.netns]) {
          const why = `${spec!.name} ${version} ${a.name}`;
          if (a.sha256) expect(a.sha256, why).toMatch(/^[0-9a-f]{64}$/);
          else if (a.sha512) expect(a.sha512, why).toMatch(/^[0-9a-f]{128}$/);
          else expect(a.unverified ?? a.unpublished, why).toMatch(/\w+/);
        }
        for (const a of pins.ec2) expect(a.url).toMatch(/^(https:\/\/|pypi:)/);
        for (const a of pins.netns) expect(a.url).toMatch(/^\/opt\/loadfleet-cache\//);
      }
      for (const kind of ['ec2', 'netns'] as const) {
        if (kind === 'netns' && spec!.localUnsupported) continue;
        // Every default is offered (nGrinder's war, with no published checksum, takes the user's or a recorded one at install).
        expect(versionProblem(spec!, spec!.defaultVersion[kind], kind)).toBeUndefined();
      }
    }
  });

  it("pins Artillery 2.0.21 to npm's tarball integrity", () => {
    const hex = artillery.versions['2.0.21']!.ec2[0]!.sha512!;
    expect(`sha512-${Buffer.from(hex, 'hex').toString('base64')}`).toBe('sha512-4viCw0LQnuc9SyGiBlMbvdfGbNZxQao3twRmyEqF7aIiWx4Vfn8ag3uVxo8tNUzInf6sMcTESm0RSUe9jl768w==');
  });

  it('moves local artifacts under the configured cache', () => {
    expect(artifactsOf(artillery, '2.0.21', 'netns', '/var/tmp/c')[0]!.url).toBe('/var/tmp/c/artillery-2.0.21.tgz');
  });
});

describe('resolveEngine', () => {
  it('takes the default version per host kind', () => {
    expect(resolveEngine('locust', undefined, 'netns').version).toBe('2.12.1');
    expect(resolveEngine('locust', undefined, 'ec2').version).toMatch(/^2\.4\d\.\d+$/);
  });

  it('fails when a version has no pinned checksum, naming the field and the known versions', () => {
    expect(() => resolveEngine('artillery', '2.0.34', 'netns')).toThrow(UsageError);
    expect(() => resolveEngine('artillery', '2.0.34', 'netns')).toThrow('engineVersion ("2.0.34") has no pinned checksum for artillery on the local target: known 2.0.21 (default 2.0.21)');
    expect(() => resolveEngine('locust', '2.12.1', 'ec2')).toThrow(/known 2\.4\d/);
  });

  it('fails when the local target cannot run the engine', () => {
    for (const name of ['k6', 'ngrinder', 'jmeter'] as const) {
      expect(() => resolveEngine(name, undefined, 'netns')).toThrow(UsageError);
      expect(() => resolveEngine(name, undefined, 'netns')).toThrow(`engine (${name}) cannot run on the local target: `);
    }
  });
});

describe('locust', () => {
  it('runs a master in web-UI mode on the controller, on the ports of stacks/engines.ts', () => {
    const [m, ...rest] = locust.services(ctx({ role: 'controller', host: { name: 'controller', privateIp: '10.0.0.10' } }));
    expect(rest).toEqual([]);
    expect(m!.name).toBe('locust-master');
    expect(m!.argv).toEqual(['/usr/bin/python3', LOCUST.debianFix, '-f', LOCUST.locustfile, '--master', '--master-bind-host', '0.0.0.0', '--master-bind-port', String(engineOf('locust').masterPort), '--web-host', '127.0.0.1', '--web-port', String(engineOf('locust').uiPort)]);
  });

  it('runs one worker per core on an agent, wired to the master from the outputs', () => {
    const s = locust.services(ctx({ cores: 4 }));
    expect(s.map((x) => x.name)).toEqual(['locust-worker@1', 'locust-worker@2', 'locust-worker@3', 'locust-worker@4']);
    expect(s[0]!.argv.slice(-5)).toEqual(['--worker', '--master-host', '10.0.0.10', '--master-port', '5557']);
    expect(new RegExp(engineOf('locust').agentProcess).test(s[0]!.argv.join(' '))).toBe(true);
    expect(s[0]!.nofile).toBe(16384);
  });

  it('uses the venv and an unprivileged user on EC2', () => {
    const s = locust.services(ctx({ hostKind: 'ec2', version: '2.42.2' }));
    expect(s[0]!.argv[0]).toBe('/opt/loadfleet/locust-2.42.2/venv/bin/locust');
    expect(s[0]!.user).toBe('loadfleet');
  });

  it('puts the Debian fix in one named place, only on the local target', () => {
    expect(DEBIAN_LOCUST_FIX).toContain('locust.__version__ = locust.runners.__version__ = "2.12.1"');
    expect(locust.installScript(ctx())).toContain(LOCUST.debianFix);
    expect(locust.installScript(ctx({ hostKind: 'ec2', version: '2.42.2' }))).not.toContain(LOCUST.debianFix);
  });

  it('keeps a locustfile `run` wrote: the default is written only when none is there', () => {
    expect(locust.installScript(ctx())).toContain(`[ -e ${LOCUST.locustfile} ] || put ${LOCUST.locustfile}`);
  });

  it("checks on the controller that the master reports each agent's workers", () => {
    const [c] = locust.checks!({ ...ctx({ role: 'controller' }), agentFacts: [{ name: 'agent-1', hostname: 'agent-1', cores: 2 }] });
    expect(c!.name).toBe('master sees workers');
    expect(c!.script).toContain('/stats/requests');
    expect(locust.checks!({ ...ctx(), agentFacts: [] })).toEqual([]);
  });

  it('restarts all its services through the supervisor', () => {
    expect(restartLocustScript('netns')).toContain('/etc/loadfleet/sv/*.owner');
    expect(restartLocustScript('ec2')).toContain('systemctl restart "$n.service"');
  });
});

describe('artillery', () => {
  it('has no service and installs only on agents', () => {
    expect(artillery.roles).toEqual(['agent']);
    expect(artillery.services(ctx({ version: '2.0.21' }))).toEqual([]);
  });

  it('verifies the sha512 before anything is put in place, and stages the launcher', () => {
    const local = artillery.installScript(ctx({ version: '2.0.21' }));
    expect(local.indexOf("verify '/opt/loadfleet-cache/artillery-2.0.21.tgz' artillery")).toBeLessThan(local.indexOf(`mv "$S" ${ARTILLERY.dir}`));
    const ec2 = artillery.installScript(ctx({ version: '2.0.21', hostKind: 'ec2' }));
    expect(ec2).toContain('PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1');
    expect(ec2).toContain('https://registry.npmjs.org/artillery/-/artillery-2.0.21.tgz');
    expect(ec2.indexOf('verify "$S/artillery-$V.tgz" artillery')).toBeLessThan(ec2.indexOf('npm install'));
  });
});

describe('supervisor renderings', () => {
  const spec = { name: 'locust-worker@1', argv: ['/usr/bin/python3', '/x y.py', '--worker'], workDir: '/etc/loadfleet/locust', processPattern: 'x', env: { A: 'b c' } };

  it('renders a restarting systemd template unit with the tuned nofile', () => {
    const u = systemdUnit(spec, 1048576, 'engine');
    expect(u).toContain('Restart=always');
    expect(u).toContain('LimitNOFILE=1048576');
    expect(u).toContain('ExecStart=/usr/bin/python3 "/x y.py" --worker');
    expect(u).toContain('Environment="A=b c"');
    const script = installServicesScript([spec, { ...spec, name: 'locust-worker@2' }], { hostKind: 'ec2', owner: 'engine', nofile: 1048576 });
    expect(script.match(/put \/etc\/systemd\/system\/locust-worker@\.service/g)).toHaveLength(1);
    // the unit the tune drop-in targets is the same template
    expect(PATHS.unitDropIn(engineOf('locust').agentUnit)).toBe('/etc/systemd/system/locust-worker@.service.d/90-loadfleet-limits.conf');
  });

  it('renders a netns run file that sets nofile and execs the quoted argv', () => {
    const r = netnsRunFile(spec, 16384);
    expect(r).toContain('ulimit -Sn 16384');
    expect(r).toContain("exec '/usr/bin/python3' '/x y.py' '--worker'");
    expect(r).toContain("export A='b c'");
  });

  it('refuses names that are not safe in a path or a unit name', () => {
    expect(() => installServicesScript([{ ...spec, name: '../x' }], { hostKind: 'netns', owner: 'engine', nofile: 1 })).toThrow(/service name/);
    expect(() => controlScript('stop', ['a b'], 'netns')).toThrow(/service name/);
  });

  it('reads status lines back', () => {
    const m = parseStatus('service a pid=12 nofile=16384/16384\nservice b down not running\n');
    expect(m.get('a')).toEqual({ name: 'a', pid: 12, nofileSoft: '16384', nofileHard: '16384' });
    expect(m.get('b')).toEqual({ name: 'b' });
  });
});

describe('doctor', () => {
  const out = ['time 1000.5', 'hostname agent-1', 'cores 2', 'disk 5242880', 'version 2.12.1', 'service locust-worker@1 pid=40 nofile=16384/16384', 'service locust-worker@2 pid=41 nofile=1024/4096', 'check reach master|FAIL|cannot connect to 10.0.0.10:5557'].join('\n');

  it('turns a probe into rows: version, each service with its limits, checks, disk', () => {
    const rows = hostRows('agent-1', parseProbeOutput(out), { version: '2.12.1', services: [{ name: 'locust-worker@1', nofile: 16384 }, { name: 'locust-worker@2', nofile: 16384 }, { name: 'locust-worker@3', nofile: 16384 }] });
    expect(rows.map((r) => [r.check, r.ok])).toEqual([
      ['engine version', true], ['service locust-worker@1', true], ['service locust-worker@2', false], ['service locust-worker@3', false], ['reach master', false], ['free disk', true],
    ]);
    expect(rows[2]!.detail).toContain('nofile 1024/4096, below the tuned 16384');
    expect(rows[3]!.detail).toContain('not installed');
  });

  it('fails a missing or other version', () => {
    expect(hostRows('h', parseProbeOutput('cores 1\ndisk 9999999'), { version: '2.12.1', services: [] })[0]).toMatchObject({ ok: false, detail: 'not installed (2.12.1 expected): run loadfleet install' });
    expect(sameVersionRow(new Map([['a', '1'], ['b', '2'], ['c', '1']]))?.detail).toBe('mixed versions: 1 on a, c; 2 on b');
    expect(sameVersionRow(new Map([['a', '1'], ['b', '1']]))).toBeUndefined();
  });

  it('compares clocks with the controller, not with us', () => {
    expect(clockOffset(1000, 999_000, 999_200)).toBeCloseTo(0.9);
    expect(clockRow('a', 5.2, 5.0).ok).toBe(true);
    expect(clockRow('a', 6.5, 5.0)).toMatchObject({ ok: false });
    expect(clockRow('a', 6.5, undefined).detail).toContain('controller is unreachable');
  });

  it('reads the clock in its own exec: the probe (seconds of TCP timeouts) is no part of the offset', () => {
    // The probe script reads no clock at all: its runtime must not count as skew.
    const s = probeScript({ hostKind: 'netns', owner: 'engine', versionScript: null, reach: [{ label: 'reach app', address: '10.0.0.20', port: 8080 }] });
    expect(s).not.toContain('date');
    expect(CLOCK_COMMAND).toBe('date +%s.%N');
    // A host exactly in time, read in a 20 ms round trip: offset 0 whatever the probe costs afterwards.
    expect(clockFrom('1000.010000000\n', 1_000_000, 1_000_020)).toBeCloseTo(0, 6);
    expect(clockFrom('1000.5', 999_000, 999_200)).toBeCloseTo(1.4, 6);
    expect(clockFrom('', 0, 1)).toBeUndefined();
    expect(clockFrom('date: invalid', 0, 1)).toBeUndefined();
    // Two agents in time with the controller stay green even when one waited out a 3 s timeout afterwards.
    expect(clockRow('agent-1', clockFrom('2000.001', 2_000_000, 2_000_002), clockFrom('2000.000', 1_999_999, 2_000_001)).ok).toBe(true);
  });

  it('probes with TCP connects from the host itself and never writes', () => {
    const s = probeScript({ hostKind: 'netns', owner: 'engine', versionScript: 'echo 1', reach: [{ label: 'reach master', address: '10.0.0.10', port: 5557 }] });
    expect(s).toContain('exec 3<>/dev/tcp/10.0.0.10/5557');
    expect(s).not.toMatch(/\b(rm|mv|kill|put)\b/);
  });
});
