/**
 * `loadfleet install --render DIR` (issue 16): for every engine on both targets, from the config alone (no env,
 * no outputs, no private key, no SSH), the scripts install would run per host, in order, with an index; every
 * rendered script passes shellcheck (warnings and errors) in the dialect of the host that runs it. Engines the
 * local target cannot run are refused as install refuses them (exit 2). That render equals what install sends
 * to a real host is proved in install.test.ts, on its fleet.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINE_NAMES } from '../../stacks/engines';
import { loadfleet } from '../harness/cli';
import { shellcheck, type ShellScript } from '../harness/shellcheck';
import { workspace } from '../harness/workspace';

const ws = workspace('lf-render-');
afterAll(() => ws.remove());
const env = { LOADFLEET_HOME: ws.home };
/** A checksum a user would give for nGrinder's war (none is published). */
const WAR_SHA256 = 'a'.repeat(64);
const LOCAL_ONLY_NOT = new Set(['k6', 'jmeter', 'ngrinder']);

function config(engine: string, target: 'aws' | 'local'): string {
  return ws.writeConfig(`${engine}-${target}.yaml`, {
    name: `r${engine}${target}`.slice(0, 20),
    engine: engine as never,
    target,
    agents: { count: 2 },
    targets: [{ name: 'app', ports: [8080] }],
    local: { prefix: 'lr', subnet: '10.231.99.0/24' },
    ...(engine === 'ngrinder' ? { engineSha256: WAR_SHA256 } : {}),
  });
}

/** Every file under dir, relative. */
function filesUnder(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

describe('install --render', () => {
  const scripts: ShellScript[] = [];

  for (const engine of ENGINE_NAMES) {
    for (const target of ['aws', 'local'] as const) {
      it(`${engine} on ${target}: ${target === 'local' && LOCAL_ONLY_NOT.has(engine) ? 'refused as install refuses it (exit 2)' : 'writes per host the steps and an index, touching nothing else'}`, async () => {
        const cfg = config(engine, target);
        const out = path.join(ws.dir, `out-${engine}-${target}`);
        const r = await loadfleet(['install', '-c', cfg, '--render', out, '--render-cores', '3'], env);
        if (target === 'local' && LOCAL_ONLY_NOT.has(engine)) {
          expect(r.exitCode, r.stderr).toBe(2);
          expect(r.stderr).toContain(`engine (${engine}) cannot run on the local target`);
          expect(fs.existsSync(out)).toBe(false);
          return;
        }
        expect(r.exitCode, r.stderr).toBe(0);
        const files = filesUnder(out);
        const index = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
        // Every host of the config: the engine's, and (monitoring on by default) the target and monitoring hosts.
        for (const host of ['controller', 'agent-1', 'agent-2', 'app-1', 'monitoring']) {
          expect(files.filter((f) => f.startsWith(`${host}/`)).length, host).toBeGreaterThan(0);
          expect(index).toMatch(new RegExp(`^\\| ${host} \\|`, 'm'));
        }
        // Each listed step is a file, numbered in order; the engine's own install on its roles.
        for (const line of index.split('\n').filter((l) => /^\| [a-z]/.test(l) && !l.startsWith('| host'))) {
          const [, host, , , steps] = line.split('|').map((c) => c.trim());
          const names = steps!.split(', ');
          names.forEach((n, i) => expect(n.startsWith(`${String(i).padStart(2, '0')}-`), n).toBe(true));
          for (const n of names) expect(files).toContain(`${host}/${n}`);
        }
        expect(files).toContain(`controller/00-probe.sh`);
        expect(fs.readFileSync(path.join(out, 'agent-1/00-probe.sh'), 'utf8')).toBe('nproc; hostname');
        expect(index).toContain('Cores: 3 per host');
        // Readable copies of the files the scripts write: e.g. the engine's units (EC2) or run files (local).
        const copies = files.filter((f) => f.includes('/files/'));
        if (engine !== 'artillery') expect(copies.some((f) => target === 'aws' ? /^controller\/files\/etc\/systemd\/system\/.+\.service$/.test(f) : /^controller\/files\/etc\/loadfleet\/sv\/.+\/run$/.test(f)), copies.join(' ')).toBe(true);
        expect(copies.some((f) => f.startsWith('monitoring/files/'))).toBe(true);
        expect(index).toContain(target === 'local' ? 'the ones `up --target local` gives' : 'placeholders from 192.0.2.0/24');
        if (target === 'local') expect(index).toMatch(/\| controller \| controller \| 10\.231\.99\.10 \|/);
        // No SSH, nothing created for the env: no known_hosts, no secret written anywhere in the env folder.
        expect(fs.existsSync(path.join(ws.home, `r${engine}${target}`.slice(0, 20)))).toBe(false);
        if (engine === 'ngrinder' || target === 'aws') expect(index).toContain('RENDERxPLACEHOLDERxNOTxTHExSECRET');
        for (const f of files.filter((x) => x.endsWith('.sh'))) {
          scripts.push({ label: `${engine} ${target} ${f}`, text: fs.readFileSync(path.join(out, f), 'utf8'), dialect: target === 'local' ? 'dash' : 'sh' });
        }
      }, 120_000);
    }
  }

  it('every rendered script passes shellcheck (warnings and errors)', () => {
    // Every engine on EC2 and the local engines locally, monitoring's scripts (node_exporter, Prometheus, Grafana) too.
    expect(new Set(scripts.map((s) => s.label.split(' ').slice(0, 2).join(' '))).size).toBe(ENGINE_NAMES.length + 2);
    expect(scripts.some((s) => s.label.endsWith('monitoring-grafana.sh'))).toBe(true);
    expect(scripts.some((s) => s.label.startsWith('ngrinder aws controller/') && s.label.endsWith('-secret.sh'))).toBe(true);
    expect(shellcheck(scripts)).toEqual({});
  });

  it('refuses a folder that is not empty, and a bad --render-cores, with exit 2 before writing', async () => {
    const cfg = config('locust', 'aws');
    const full = path.join(ws.dir, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'old.sh'), 'echo old\n');
    const r = await loadfleet(['install', '-c', cfg, '--render', full], env);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`--render (${full}) is not empty`);
    expect(filesUnder(full)).toEqual(['old.sh']);
    const bad = await loadfleet(['install', '-c', cfg, '--render', path.join(ws.dir, 'bad'), '--render-cores', 'zero'], env);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--render-cores');
    expect(fs.existsSync(path.join(ws.dir, 'bad'))).toBe(false);
  }, 60_000);

  it('nGrinder without a war checksum is refused as install refuses it; --trust-first-download renders the recording download', async () => {
    const cfg = ws.writeConfig('ng-nosha.yaml', { name: 'rngnosha', engine: 'ngrinder', agents: { count: 1 }, monitoring: { enabled: false } });
    const refused = await loadfleet(['install', '-c', cfg, '--render', path.join(ws.dir, 'ng-refused')], env);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('--trust-first-download');
    const out = path.join(ws.dir, 'ng-trust');
    const r = await loadfleet(['install', '-c', cfg, '--render', out, '--trust-first-download'], env);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'controller/01-install-ngrinder.sh'), 'utf8')).toContain('loadfleet-sha256');
  }, 60_000);
});
