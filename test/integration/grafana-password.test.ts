/**
 * Grafana's admin password step, run for real with sh and curl against a stand-in that behaves as Grafana 11.3
 * does for what the step relies on (Grafana itself is EC2-only here):
 * - at its first start it creates admin with `[security] admin_password`, which grafana.ini takes from
 *   `$__file{path}` (grafana/grafana pkg/setting/expanders.go: fileExpander reads the file, TrimSpace);
 *   later starts never change an existing admin's password;
 * - GET /api/user with HTTP Basic answers 200 for a valid login, 401 otherwise (basic auth is on by default);
 * - the RPM's /usr/sbin/grafana-cli wrapper (packaging/wrappers/grafana-cli) runs `grafana cli` with
 *   cfg:default.paths.data=/var/lib/grafana, i.e. on the server's database: `admin reset-admin-password
 *   --password-from-stdin` changes the password the server checks. A CLI run without that data path "succeeds"
 *   on another database: the stand-in's `wrongdb` mode, which the step must catch.
 * Package manager, systemd and chown are stubs on PATH; chmod is wrapped to record each file's mode before it.
 */
import { execa } from 'execa';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { grafanaInstallScript, GRAFANA_PATHS } from '../../scripts/monitoring/grafana';
import { monitoringPins } from '../../scripts/monitoring/pins';
import { shellcheck } from '../harness/shellcheck';
import { requireTool } from '../harness/tools';

const PASSWORD = 'Zx9_generated-password-0123456789';

class GrafanaStandIn {
  /** admin's password in the server's database; undefined until the first start created admin. */
  admin: string | undefined;
  constructor(readonly dir: string) {}
  /** The first request after a (re)start stands for the start: admin created from grafana.ini if absent. */
  started = false;
  private start(): void {
    if (this.started) return;
    this.started = true;
    if (this.admin !== undefined) return;
    const ini = fs.readFileSync(path.join(this.dir, 'grafana.ini'), 'utf8');
    const m = /^admin_password = (.*)$/m.exec(ini);
    const raw = m ? m[1]! : 'admin';
    const file = /^\$__file\{(.*)\}$/.exec(raw);
    this.admin = file ? fs.readFileSync(file[1]!, 'utf8').trim() : raw;
  }
  handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    // The CLI wrapper stub leaves the password it set here (the server's database).
    const reset = path.join(this.dir, 'db-reset');
    if (fs.existsSync(reset)) {
      this.admin = fs.readFileSync(reset, 'utf8').trim();
      fs.rmSync(reset);
    }
    this.start();
    if (req.url === '/api/health') return void res.writeHead(200).end('{"database":"ok"}');
    if (req.url === '/api/user') {
      const [user, pass] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':');
      const ok = user === 'admin' && pass === this.admin;
      return void res.writeHead(ok ? 200 : 401).end(ok ? '{"login":"admin"}' : '{"message":"invalid username or password"}');
    }
    res.writeHead(404).end();
  }
}

let dir: string;
let stand: GrafanaStandIn;
let server: http.Server;
let port = 0;

beforeAll(async () => {
  requireTool('curl', 'apt-get install curl');
  server = http.createServer((req, res) => stand.handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loadfleet-grafana-'));
  stand = new GrafanaStandIn(dir);
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  stub('dnf', 'exit 0');
  stub('rpm', 'echo 11.3.0');
  stub('systemctl', 'exit 0');
  stub('chown', 'exit 0');
  // chmod as usual, after recording the mode the file had until then.
  stub('chmod', `for f; do [ -f "$f" ] && echo "$f $(stat -c %a "$f")" >> ${JSON.stringify(path.join(dir, 'modes'))}; done; exec /bin/chmod "$@"`);
  // The packaged wrapper: reset on the server's database (ok), or on another one (wrongdb: exit 0, nothing changes).
  stub('grafana-cli', `[ "$1 $2 $3" = "admin reset-admin-password --password-from-stdin" ] || exit 2\nif [ "$(cat ${JSON.stringify(path.join(dir, 'cli-mode'))})" = ok ]; then cat > ${JSON.stringify(path.join(dir, 'db-reset'))}; else cat > /dev/null; fi`);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

function run(mode: 'ok' | 'wrongdb' = 'ok') {
  fs.writeFileSync(path.join(dir, 'cli-mode'), mode);
  const paths = Object.fromEntries(Object.entries(GRAFANA_PATHS).map(([k, v]) => [k, path.join(dir, k === 'config' ? 'grafana.ini' : k === 'cli' ? 'bin/grafana-cli' : v.replace(/\//g, '_'))])) as Record<keyof typeof GRAFANA_PATHS, string>;
  const script = grafanaInstallScript(monitoringPins(), { 'fleet.json': '{}' }, PASSWORD, 'http://10.0.0.1:9090', { paths, port });
  return execa('sh', ['-s'], { input: script, reject: false, env: { PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin` }, extendEnv: false, timeout: 60_000 });
}

describe('Grafana admin password (issue 16.7-8, 20.11)', () => {
  it('a first start takes the password from grafana.ini through $__file{…}: admin logs in with it, admin/admin does not', async () => {
    const r = await run();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(stand.admin).toBe(PASSWORD);
    expect(fs.readFileSync(path.join(dir, 'grafana.ini'), 'utf8')).toMatch(/^admin_password = \$__file\{.*_etc_grafana_loadfleet-admin-password\}$/m);
    expect(r.stdout).not.toContain('changed grafana admin password');
  });

  it('an admin that already exists with admin/admin is reset through the packaged grafana-cli wrapper, and checked', async () => {
    stand.admin = 'admin';
    const r = await run();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('changed grafana admin password');
    expect(stand.admin).toBe(PASSWORD);
  });

  it('fails loudly when the reset "succeeds" on another database and the password did not take', async () => {
    stand.admin = 'admin';
    const r = await run('wrongdb');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('admin cannot log in with the password in');
    expect(r.stderr).toContain('the password did not take');
  });

  it('passes shellcheck as rendered for the monitoring host', () => {
    expect(shellcheck([{ label: 'grafana install', text: grafanaInstallScript(monitoringPins(), { 'fleet.json': '{}' }, PASSWORD, 'http://10.0.0.1:9090') }])).toEqual({});
  });

  it('creates the password file unreadable by others from the start (umask 077 before it is written)', async () => {
    const r = await run();
    expect(r.exitCode, r.stderr).toBe(0);
    const modes = fs.readFileSync(path.join(dir, 'modes'), 'utf8').trim().split('\n');
    const pw = modes.find((l) => l.includes('loadfleet-admin-password.loadfleet-tmp'));
    expect(pw, modes.join('\n')).toMatch(/ 600$/);
    expect((fs.statSync(path.join(dir, '_etc_grafana_loadfleet-admin-password')).mode & 0o777).toString(8)).toBe('640');
  });
});
