/**
 * nGrinder's description: controller service, agents fetching their package from the controller, and
 * the step that makes sure admin/admin does not survive install. Rendered here (no nGrinder on this
 * machine); exercised on AWS only.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NGRINDER_PORTS } from '../../stacks/engines';
import { readOrCreateSecret } from '../../scripts/adapters/secret-file';
import { ExternalError } from '../../scripts/core/errors';
import {
  AGENT_DOWNLOAD_DELAY_S,
  AGENT_DOWNLOAD_TRIES,
  NGRINDER_ADMIN_PASSWORD_FILE,
  ngrinderAdminPasswordScript,
  ngrinderFor,
  ngrinderPasswordFrom,
  NGRINDER_PINS,
  NGRINDER_WAR,
  ngrinder,
} from '../../scripts/engines/ngrinder';
import { UsageError } from '../../scripts/core/errors';
import { trustedDigests } from '../../scripts/engines/ec2-steps';
import type { InstallContext } from '../../scripts/engines/types';

/** Exists only in this test: no checksum is published for the war (ami/engines/ngrinder.json); a user gives one (engineSha256). */
const FIXTURE_SHA256 = '0'.repeat(64);
const WAR_URL = NGRINDER_PINS.versions['3.5.9-p1']!.ec2[0]!.url;
const spec = ngrinderFor(NGRINDER_PINS);

function ctx(role: InstallContext['role']): InstallContext {
  return {
    env: 'demo',
    role,
    hostKind: 'ec2',
    host: role === 'controller' ? { name: 'controller', privateIp: '10.0.1.10' } : { name: 'agent-1', privateIp: '10.0.1.21' },
    master: { address: '10.0.1.10', port: NGRINDER_PORTS.agentController },
    agents: [{ name: 'agent-1', privateIp: '10.0.1.21' }],
    version: '3.5.9-p1',
    nofile: 65536,
    cores: 2,
    login: 'ec2-user',
    cacheDir: '/opt/loadfleet-cache',
    digests: { [NGRINDER_WAR]: FIXTURE_SHA256 },
  };
}

describe('nGrinder controller', () => {
  const script = spec.installScript(ctx('controller'));
  const [service] = spec.services(ctx('controller'));

  it('installs Corretto 11 and the war only after its checksum matched', () => {
    expect(script).toContain('dnf install -y -q java-11-amazon-corretto-headless');
    expect(script).toContain(`fetch_verified '${WAR_URL}' sha256 '${FIXTURE_SHA256}' "$tmp"`);
    expect(script.indexOf('fetch_verified \'')).toBeLessThan(script.indexOf('mv -f "$tmp" \'/opt/loadfleet/ngrinder/ngrinder-controller-3.5.9-p1.war\''));
    expect(script).not.toContain('loadfleet-sha256');
  });

  it('fails when no sha256 is given for the war and trust on first download was not asked for, naming both ways out', () => {
    const e = (() => {
      try {
        ngrinder.installScript({ ...ctx('controller'), digests: undefined });
      } catch (x) {
        return x as Error;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(UsageError);
    expect(e.message).toContain('engineSha256');
    expect(e.message).toContain('loadfleet install --trust-first-download');
    expect(e.message).toContain(WAR_URL);
  });

  it('with --trust-first-download downloads the war without a digest to compare and prints its sha256 for install to record', () => {
    const trusting = ngrinder.installScript({ ...ctx('controller'), digests: undefined, trustFirstDownload: true });
    expect(trusting).not.toContain('fetch_verified \'');
    expect(trusting).toContain(`-o "$tmp" '${WAR_URL}'`);
    expect(trusting).toContain('echo "loadfleet-sha256 ngrinder-controller $(cat \'/opt/loadfleet/ngrinder/ngrinder-controller-3.5.9-p1.war.sha256\')"');
    expect(trustedDigests(`changed x\nloadfleet-sha256 ngrinder-controller ${'a'.repeat(64)}\n`)).toEqual({ 'ngrinder-controller': 'a'.repeat(64) });
    // A recorded digest wins over trust: the download is checked against it.
    expect(ngrinder.installScript({ ...ctx('controller'), trustFirstDownload: true })).toContain(`fetch_verified '${WAR_URL}' sha256 '${FIXTURE_SHA256}'`);
  });

  it('runs unprivileged, with its own tmpdir, never resetting admin to admin/admin', () => {
    expect(service).toMatchObject({ name: 'ngrinder-controller', user: 'ngrinder', workDir: '/var/lib/loadfleet/ngrinder' });
    expect(service!.argv).toEqual(expect.arrayContaining(['-Djava.io.tmpdir=/var/lib/loadfleet/ngrinder/tmp', '-Dcontroller.admin_password_reset=false', '--ngrinder-home', '/var/lib/loadfleet/ngrinder']));
    expect(service!.argv[0]).toBe('/opt/loadfleet/java-11/bin/java');
  });

  it('gets only the capability to bind the UI port below 1024', () => {
    expect(NGRINDER_PORTS.ui).toBeLessThan(1024);
    const dropIn = /^put '\/etc\/systemd\/system\/ngrinder-controller\.service\.d\/10-loadfleet-bind\.conf' 0644 '([^']+)'$/m.exec(script);
    expect(Buffer.from(dropIn![1]!, 'base64').toString()).toBe('[Service]\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n');
  });
});

describe('nGrinder agent', () => {
  const script = spec.installScript(ctx('agent'));
  const [service] = spec.services(ctx('agent'));

  it("fetches its package from the controller's /agent/download, retrying like the official Docker agent", () => {
    expect([AGENT_DOWNLOAD_TRIES, AGENT_DOWNLOAD_DELAY_S]).toEqual([30, 10]);
    // -L: the route answers 302 to /agent/download/<package>.tar (AgentDownloadController, ngrinder-3.5.9-p1-20240613).
    expect(script).toContain(`until curl -fsSL --max-time 60 -o "$tmp/agent.tar" 'http://10.0.1.10:${NGRINDER_PORTS.ui}/agent/download'; do`);
    expect(script).toContain('[ "$i" -lt 30 ] ||');
    expect(script).toContain('sleep 10');
    expect(script).not.toContain('fetch_verified');
  });

  it('refuses a package of another version than the controller it was asked to match', () => {
    expect(script).toContain('ngrinder-agent/lib/ngrinder-core-3.5.9-p1.jar');
  });

  it('runs as a service pointed at controller:16001, taken from the outputs', () => {
    expect(service).toMatchObject({ name: 'ngrinder-agent', user: 'ngrinder', processPattern: 'org\\.ngrinder\\.NGrinderAgentStarter' });
    // No -o: removed in 3.5.0; JCommander 1.32 rejects it and the agent exits (NGrinderAgentStarterParam, 3.5.9-p1).
    expect(service!.argv).toEqual(['/opt/loadfleet/ngrinder-agent/run_agent.sh', '-ch', '10.0.1.10', '-cp', String(NGRINDER_PORTS.agentController)]);
  });

  it('installs only Java and its user when there is no controller yet (an image bake)', () => {
    const baked = spec.installScript({ ...ctx('agent'), master: null, host: { name: 'builder', privateIp: '' } });
    expect(baked).toContain('dnf install -y -q java-11-amazon-corretto-headless');
    expect(baked).toContain('useradd --system');
    expect(baked).not.toContain('/agent/download');
  });
});

describe('nGrinder admin password', () => {
  const password = ngrinderPasswordFrom(new Uint8Array(64).map((_, i) => (i * 37) % 248));
  const script = ngrinderAdminPasswordScript({ password, passwordFile: `/home/u/.loadfleet/demo/${NGRINDER_ADMIN_PASSWORD_FILE}` });

  it('keeps the password off every command line: curl reads credentials from its stdin', () => {
    const lines = script.split('\n').filter((l) => l.includes(password));
    expect(lines).toEqual([`pw='${password}'`]);
    expect(script).not.toMatch(/curl [^|]*(-u |--user )/);
    expect(script.match(/curl [^\n]*-K -/g)).toHaveLength(2);
  });

  it('changes admin only while it still has the default, and checks the result', () => {
    expect(script).toMatch(/if \[ "\$\(status admin "\$pw"\)" = 200 \]; then\n {2}:\nelif \[ "\$\(status admin admin\)" = 200 \]; then/);
    expect(script).toContain('setpw admin admin "$pw"');
    expect(script).toContain('[ "$(status admin admin)" != 200 ] || fail "admin/admin still works after the change"');
    expect(script).toContain('-X PUT "$base/user/api/$2"');
  });

  it('fails, saying how to recover, when admin accepts neither the stored password nor the default', () => {
    expect(script).toMatch(/else\n {2}fail "admin accepts neither the password in \/home\/u\/\.loadfleet\/demo\/ngrinder-admin-password nor the default/);
  });

  it('gives the other seeded accounts a random password when theirs is still their name', () => {
    expect(script).toContain('for u in user superuser system; do');
    expect(script).toContain('if [ "$(status "$u" "$u")" = 200 ]; then');
  });

  it('waits for the controller on its health check, on the UI port', () => {
    expect(script).toContain(`base=http://127.0.0.1:${NGRINDER_PORTS.ui}`);
    expect(script).toContain('until curl -fsS -o /dev/null --max-time 5 "$base/check/healthcheck"; do');
  });

  it.each(['admin', 'short1234', 'has space and more than twenty', "quote'inside-the-password-xx"])('fails when the password is %j', (bad) => {
    expect(() => ngrinderAdminPasswordScript({ password: bad, passwordFile: 'f' })).toThrow(/20-64 letters and digits/);
  });
});

describe('the secret install keeps for nGrinder', () => {
  it('is the admin password, generated on the controller role and applied by the admin-password step', () => {
    const secret = spec.secret!;
    expect(secret).toMatchObject({ role: 'controller', file: NGRINDER_ADMIN_PASSWORD_FILE });
    const value = secret.generate(new Uint8Array(64).map((_, i) => i * 3));
    expect(value).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(secret.applyScript(value, '/p/f')).toBe(ngrinderAdminPasswordScript({ password: value, passwordFile: '/p/f' }));
  });
});

describe('ngrinderPasswordFrom', () => {
  it('makes 24 letters and digits from random bytes, skipping the bytes that would bias it', () => {
    const p = ngrinderPasswordFrom(new Uint8Array([248, 249, 255, 0, 61, 62, ...Array.from({ length: 30 }, (_, i) => i)]));
    expect(p).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(p.slice(0, 3)).toBe('A9A');
  });

  it('fails when there are not enough usable bytes', () => {
    expect(() => ngrinderPasswordFrom(new Uint8Array(30).fill(250))).toThrow(/more random bytes/);
  });
});

describe('readOrCreateSecret', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'loadfleet-secret-'));
    dirs.push(d);
    return path.join(d, NGRINDER_ADMIN_PASSWORD_FILE);
  };

  it('stores a new secret with mode 0600, then returns the stored one', async () => {
    const file = tmp();
    const first = await readOrCreateSecret(file, () => 'firstSecretValue0000000');
    expect(first).toEqual({ value: 'firstSecretValue0000000', file, created: true });
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const again = await readOrCreateSecret(file, () => 'anotherValue00000000000');
    expect(again).toEqual({ value: 'firstSecretValue0000000', file, created: false });
  });

  it('fails when the stored file is readable by others', async () => {
    const file = tmp();
    fs.writeFileSync(file, 'x\n', { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    await expect(readOrCreateSecret(file, () => 'v')).rejects.toThrow(ExternalError);
    await expect(readOrCreateSecret(file, () => 'v')).rejects.toThrow(/chmod 600/);
  });
});
