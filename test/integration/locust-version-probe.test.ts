/**
 * doctor's Locust version probe on EC2, run for real with sh and python3 on a scratch tree: two complete
 * venvs (the old one stays after an engineVersion change), units that start the new one. The venvs are
 * real enough for importlib.metadata (pyvenv.cfg + a dist-info), which is what the probe asks.
 */
import { execaSync } from 'execa';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { locustEc2VersionScript } from '../../scripts/engines/locust';
import { systemdUnit } from '../../scripts/core/supervise';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-locust-ver-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const opt = path.join(root, 'opt');
const units = path.join(root, 'units');

function venv(version: string): void {
  const d = path.join(opt, `locust-${version}`);
  const py = execaSync('python3', ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).stdout.trim();
  const site = path.join(d, 'venv', 'lib', `python${py}`, 'site-packages', `locust-${version}.dist-info`);
  fs.mkdirSync(site, { recursive: true });
  fs.writeFileSync(path.join(site, 'METADATA'), `Metadata-Version: 2.1\nName: locust\nVersion: ${version}\n`);
  fs.writeFileSync(path.join(d, 'venv', 'pyvenv.cfg'), 'home = /usr/bin\ninclude-system-site-packages = false\n');
  fs.symlinkSync('/usr/bin/python3', path.join(d, 'venv', 'bin', 'python'));
  fs.writeFileSync(path.join(d, '.complete'), '');
}

const probe = () => execaSync('sh', ['-s'], { input: locustEc2VersionScript(opt, units), reject: false });

describe('the Locust version doctor compares (EC2 layout)', () => {
  it('is the version the units start, not every venv left on disk', () => {
    fs.mkdirSync(path.join(opt), { recursive: true });
    fs.mkdirSync(path.join(opt, 'locust-2.24.0', 'venv', 'bin'), { recursive: true });
    fs.mkdirSync(path.join(opt, 'locust-2.31.0', 'venv', 'bin'), { recursive: true });
    venv('2.24.0');
    venv('2.31.0');
    // No unit yet (a baked image): every complete venv counts.
    expect(probe().stdout.trim()).toBe('2.24.0,2.31.0');
    fs.mkdirSync(units, { recursive: true });
    const spec = { name: 'locust-worker@1', argv: [`${opt}/locust-2.31.0/venv/bin/locust`, '--worker'], workDir: '/', processPattern: 'locust' };
    fs.writeFileSync(path.join(units, 'locust-worker@.service'), systemdUnit(spec, 16384, 'engine'));
    const r = probe();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('2.31.0');
  });
});
