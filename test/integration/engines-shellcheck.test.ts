/**
 * Every script any engine in the registry renders — install steps, supervised services (the systemd
 * installer with its units, the local supervisor's run files), version probes, doctor checks — passes
 * shellcheck, for every role, host kind and pinned version. Engines that cannot run here (JMeter, k6,
 * nGrinder) are checked this way and by their port and pin tests; they are exercised only on AWS.
 * (nGrinder's secret script and its bake-time install are among them.) An integration test: it writes
 * temporary files and starts shellcheck, which fails loudly when missing (requireTool), never skips.
 */
import { describe, expect, it } from 'vitest';
import type { Role } from '../../stacks/config';
import { engineOf, type EngineName } from '../../stacks/engines';
import { installServicesScript, netnsRunFile, systemdUnit } from '../../scripts/core/supervise';
import type { HostKind } from '../../scripts/core/tuning';
import { ENGINE_SPECS } from '../../scripts/engines/index';
import type { DoctorContext, EngineSpec, InstallContext } from '../../scripts/engines/types';
import { shellcheck, type ShellScript } from '../harness/shellcheck';

const AGENTS = [
  { name: 'agent-1', privateIp: '10.0.1.21' },
  { name: 'agent-2', privateIp: '10.0.1.22' },
];
const CONTROLLER_IP = '10.0.1.10';
/** Marks a checksum that exists only in this test, for an artifact with no published one (nGrinder's war). */
const FIXTURE_SHA256 = '0'.repeat(64);

function contextFor(name: EngineName, role: Role, kind: HostKind, version: string): DoctorContext {
  const engine = engineOf(name);
  const host = role === 'controller' ? { name: 'controller', privateIp: CONTROLLER_IP } : AGENTS[0]!;
  const ctx: InstallContext = {
    env: 'demo',
    role,
    hostKind: kind,
    host,
    master: engine.masterPort === null ? null : { address: CONTROLLER_IP, port: engine.masterPort },
    agents: AGENTS,
    version,
    nofile: 65536,
    cores: 2,
    login: 'ec2-user',
    cacheDir: '/opt/loadfleet-cache',
    // Artifacts with no published checksum (nGrinder's war) get the one a user would give (engineSha256).
    digests: Object.fromEntries((ENGINE_SPECS[name]?.versions[version]?.[kind] ?? []).filter((a) => a.unpublished).map((a) => [a.name, FIXTURE_SHA256])),
  };
  return { ...ctx, agentFacts: AGENTS.map((a, i) => ({ name: a.name, hostname: `ip-10-0-1-2${i + 1}`, cores: 2 })) };
}

/** What a spec renders for one host. */
function rendered(spec: EngineSpec, role: Role, kind: HostKind, version: string): ShellScript[] {
  const ctx = contextFor(spec.name, role, kind, version);
  const label = `${spec.name} ${version} ${kind} ${role}`;
  const services = spec.services(ctx);
  const dialect: ShellScript['dialect'] = kind === 'netns' ? 'dash' : 'sh';
  const out: ShellScript[] = [
    { label: `${label} installScript`, text: spec.installScript(ctx), dialect },
    { label: `${label} installServicesScript`, text: installServicesScript(services, { hostKind: kind, owner: 'engine', nofile: ctx.nofile }), dialect },
    { label: `${label} versionScript`, text: spec.versionScript(ctx), dialect },
    ...(spec.checks?.(ctx) ?? []).map((c) => ({ label: `${label} check "${c.name}"`, text: c.script, dialect })),
  ];
  if (spec.secret && spec.secret.role === role) {
    const value = spec.secret.generate(new Uint8Array(64).map((_, i) => (i * 7) % 240));
    out.push({ label: `${label} secret "${spec.secret.what}"`, text: spec.secret.applyScript(value, '/home/u/.loadfleet/demo/secret'), dialect });
  }
  for (const s of services) {
    if (kind === 'netns') out.push({ label: `${label} run file ${s.name}`, text: netnsRunFile(s, ctx.nofile), dialect });
    // The unit's command line, read as sh: catches quoting that systemd would split differently.
    const exec = /^ExecStart=(.*)$/m.exec(systemdUnit(s, ctx.nofile, 'engine'))![1]!;
    if (kind === 'ec2') out.push({ label: `${label} unit ${s.name} ExecStart`, text: `#!/bin/sh\nexec ${exec}\n` });
  }
  return out;
}

/** Every (engine, role, kind, version) the registry can install, with the fixture pins above. */
function everything(): { scripts: ShellScript[]; covered: Set<string> } {
  const scripts: ShellScript[] = [];
  const covered = new Set<string>();
  for (const real of Object.values(ENGINE_SPECS)) {
    const spec = real!;
    for (const kind of ['ec2', 'netns'] as const) {
      if (kind === 'netns' && spec.localUnsupported) continue;
      for (const [version, pins] of Object.entries(spec.versions)) {
        if (pins[kind].length === 0) continue;
        for (const role of spec.roles) {
          scripts.push(...rendered(spec, role, kind, version));
          covered.add(`${spec.name}/${kind}`);
        }
        if (kind === 'ec2' && spec.roles.includes('controller') && (pins.ec2.some((a) => a.unpublished))) {
          // install --trust-first-download: the unpublished artifact downloaded once, its sha256 printed for the record.
          const trust = { ...contextFor(spec.name, 'controller', kind, version), digests: {}, trustFirstDownload: true };
          scripts.push({ label: `${spec.name} ${version} trust-first-download controller installScript`, text: spec.installScript(trust) });
        }
        if (kind === 'ec2' && spec.roles.includes('agent')) {
          // An agent image bake: no controller, no address yet (scripts/actions/install.ts bakeEngine).
          const bake = { ...contextFor(spec.name, 'agent', kind, version), master: null, agents: [], host: { name: 'builder', privateIp: '' } };
          scripts.push({ label: `${spec.name} ${version} bake agent installScript`, text: spec.installScript(bake) });
        }
      }
    }
  }
  return { scripts, covered };
}

describe('rendered engine scripts', () => {
  const { scripts, covered } = everything();

  it('cover every engine of the registry on EC2, and the local engines on the local target', () => {
    const specs = Object.values(ENGINE_SPECS).map((s) => s!);
    expect(specs.map((s) => s.name).sort()).toEqual(expect.arrayContaining(['jmeter', 'k6', 'ngrinder']));
    for (const s of specs) {
      expect(covered, s.name).toContain(`${s.name}/ec2`);
      if (!s.localUnsupported) expect(covered, s.name).toContain(`${s.name}/netns`);
    }
  });

  it('pass shellcheck (warnings and errors)', () => {
    expect(scripts.length).toBeGreaterThan(10);
    expect(shellcheck(scripts)).toEqual({});
  });

  it('fails when a script has a shellcheck finding (the check itself can fail)', () => {
    const findings = shellcheck([
      { label: 'broken', text: '#!/bin/sh\nfor f in one; do rm -rf "$dir/$f"; done\n' },
      { label: 'fine', text: '#!/bin/sh\ndir=/tmp/x\nrm -rf "$dir"\n' },
    ]);
    expect(Object.keys(findings)).toEqual(['broken']);
    expect(findings.broken).toMatch(/SC2154/);
    expect(findings.broken).toMatch(/SC2043/);
  });
});
