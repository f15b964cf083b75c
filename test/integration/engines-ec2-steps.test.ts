/**
 * The parts of the JMeter / k6 / nGrinder install steps that can run on this machine, run for real with
 * sh, curl and coreutils: the verified download (a checksum mismatch stops and leaves the host as it was)
 * and nGrinder's admin-password step against a loopback stand-in for the controller's REST API (nGrinder
 * itself cannot run here: the stand-in answers like nGrinder's SecurityConfig and UserApiController do, so
 * it checks the script's own logic: credentials on stdin, idempotence, the recovery path).
 */
import { execa, execaSync } from 'execa';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { installFileStep, installTarballStep, preamble, trustedDigests, trustFirstFileStep } from '../../scripts/engines/ec2-steps';
import { ngrinderAdminPasswordScript, ngrinderPasswordFrom } from '../../scripts/engines/ngrinder';
import { requireTool } from '../harness/tools';

function sh(script: string) {
  return execaSync('sh', ['-s'], { input: script, reject: false });
}

/** Async, so that the stand-in server in this process can answer while the script runs. */
function shAsync(script: string) {
  return execa('sh', ['-s'], { input: script, reject: false, timeout: 120_000 });
}

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

describe('verified downloads (file:// stands in for the release URL)', () => {
  let dir: string;
  let archive: string;
  let digest: string;
  beforeAll(() => {
    requireTool('curl', 'apt-get install curl');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loadfleet-fetch-'));
    fs.mkdirSync(path.join(dir, 'src/k6-v9.9.9-linux-amd64'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'src/k6-v9.9.9-linux-amd64/k6'), '#!/bin/sh\necho k6 v9.9.9\n', { mode: 0o755 });
    archive = path.join(dir, 'k6.tar.gz');
    execaSync('tar', ['-czf', archive, '-C', path.join(dir, 'src'), 'k6-v9.9.9-linux-amd64']);
    digest = sha256(archive);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const tarball = (parent: string, want: string) =>
    [...preamble('k6'), ...installTarballStep({ url: `file://${archive}`, algo: 'sha256', digest: want }, parent, 'k6-v9.9.9-linux-amd64', 'k6'), 'exit 0', ''].join('\n');

  it('installs a tree whose checksum matches, once', () => {
    const parent = path.join(dir, 'ok');
    const first = sh(tarball(parent, digest));
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain(`changed installed ${parent}/k6-v9.9.9-linux-amd64`);
    expect(fs.readFileSync(`${parent}/k6-v9.9.9-linux-amd64/.loadfleet-sha256`, 'utf8')).toBe(`${digest}\n`);
    const again = sh(tarball(parent, digest));
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toBe('');
  });

  it('fails when the checksum differs, saying so, and leaves nothing behind', () => {
    const parent = path.join(dir, 'bad');
    const r = sh(tarball(parent, 'f'.repeat(64)));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`install k6: checksum mismatch for file://${archive}: expected sha256 ${'f'.repeat(64)}, got ${digest}; nothing was installed`);
    expect(fs.readdirSync(parent)).toEqual([]);
  });

  it('fails when the checksum differs and keeps the version already installed intact', () => {
    const parent = path.join(dir, 'upgrade');
    expect(sh(tarball(parent, digest)).exitCode).toBe(0);
    const r = sh(tarball(parent, 'e'.repeat(64)));
    expect(r.exitCode).toBe(1);
    expect(fs.readdirSync(parent)).toEqual(['k6-v9.9.9-linux-amd64']);
    expect(fs.readFileSync(`${parent}/k6-v9.9.9-linux-amd64/.loadfleet-sha256`, 'utf8')).toBe(`${digest}\n`);
  });

  it('fails when a single file (the nGrinder war) has another checksum, leaving no file and no partial download', () => {
    const dest = path.join(dir, 'war/ngrinder-controller-x.war');
    const script = (want: string) => [...preamble('ngrinder'), ...installFileStep({ url: `file://${archive}`, algo: 'sha256', digest: want }, dest), 'exit 0', ''].join('\n');
    const bad = sh(script('d'.repeat(64)));
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toContain('checksum mismatch');
    expect(fs.readdirSync(path.dirname(dest))).toEqual([]);
    const good = sh(script(digest));
    expect(good.exitCode, good.stderr).toBe(0);
    expect(sha256(dest)).toBe(digest);
    expect(sh(script(digest)).stdout).toBe('');
  });

  it('trusts the first download of a file with no published checksum, prints its sha256 for install to record, and later installs check against it', () => {
    const dest = path.join(dir, 'trust/ngrinder-controller-x.war');
    const first = sh([...preamble('ngrinder'), ...trustFirstFileStep({ name: 'ngrinder-controller', url: `file://${archive}` }, dest), 'exit 0', ''].join('\n'));
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toContain(`changed installed ${dest} (no published checksum: trusted on first download, sha256 ${digest})`);
    expect(trustedDigests(first.stdout)).toEqual({ 'ngrinder-controller': digest });
    expect(sha256(dest)).toBe(digest);
    // The next install passes the recorded digest back: nothing to do.
    const next = sh([...preamble('ngrinder'), ...installFileStep({ url: `file://${archive}`, algo: 'sha256', digest }, dest), 'exit 0', ''].join('\n'));
    expect(next.exitCode, next.stderr).toBe(0);
    expect(next.stdout).toBe('');
    // A changed download upstream no longer matches the record: refused, the trusted file kept.
    const other = path.join(dir, 'other.war');
    fs.writeFileSync(other, 'not the war that was trusted');
    fs.rmSync(dest);
    const changed = sh([...preamble('ngrinder'), ...installFileStep({ url: `file://${other}`, algo: 'sha256', digest }, dest), 'exit 0', ''].join('\n'));
    expect(changed.exitCode).toBe(1);
    expect(changed.stderr).toContain('checksum mismatch');
    expect(fs.existsSync(dest)).toBe(false);
  });
});

/** Answers like nGrinder 3.5's controller for what the step uses: health check, HTTP Basic, PUT /user/api/{id} (form). */
class ControllerStandIn {
  readonly users = new Map([
    ['admin', 'admin'],
    ['user', 'user'],
    ['superuser', 'superuser'],
    ['system', 'system'],
  ]);
  /** Command lines of every process while a request carrying credentials was being served. */
  readonly cmdlinesDuringRequests: string[] = [];
  unhealthyChecks = 2;
  private server = http.createServer((req, res) => this.handle(req, res));

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/check/healthcheck') {
        res.writeHead(this.unhealthyChecks-- > 0 ? 503 : 200).end('{}');
        return;
      }
      for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        try {
          this.cmdlinesDuringRequests.push(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
        } catch {
          // the process ended meanwhile
        }
      }
      const [user, pass] = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString().split(':');
      if (!user || this.users.get(user) !== pass) {
        res.writeHead(401).end();
        return;
      }
      const put = /^\/user\/api\/(\w+)$/.exec(req.url ?? '');
      if (req.method === 'GET' && req.url === '/user/api/profile') res.writeHead(200).end('{}');
      else if (req.method === 'PUT' && put && user === 'admin' && req.headers['content-type'] === 'application/x-www-form-urlencoded') {
        const password = new URLSearchParams(body).get('password');
        if (!password) res.writeHead(400).end();
        else {
          this.users.set(put[1]!, password);
          res.writeHead(200).end('{}');
        }
      } else res.writeHead(403).end();
    });
  }
}

describe("nGrinder's admin-password step against a stand-in controller", () => {
  let controller: ControllerStandIn;
  let port: number;
  const password = ngrinderPasswordFrom(Uint8Array.from({ length: 64 }, (_, i) => (i * 53 + 11) % 248));
  const step = (pw: string) => ngrinderAdminPasswordScript({ password: pw, passwordFile: '/env/ngrinder-admin-password', uiPort: port, waitTries: 10, waitDelayS: 0 });

  beforeAll(async () => {
    requireTool('curl', 'apt-get install curl');
    controller = new ControllerStandIn();
    port = await controller.start();
  });
  afterAll(async () => controller.stop());
  afterEach(() => controller.cmdlinesDuringRequests.splice(0));

  it('replaces admin/admin and the other seeded passwords once the controller answers, without the password on any command line', async () => {
    const r = await shAsync(step(password));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      'changed ngrinder admin password (kept in /env/ngrinder-admin-password)',
      'changed ngrinder user password (random, not kept: reset it as admin to use that account)',
      'changed ngrinder superuser password (random, not kept: reset it as admin to use that account)',
      'changed ngrinder system password (random, not kept: reset it as admin to use that account)',
    ]);
    expect(controller.users.get('admin')).toBe(password);
    for (const u of ['user', 'superuser', 'system']) expect(controller.users.get(u)).toMatch(/^[A-Za-z0-9]{20,}$/);
    expect(controller.cmdlinesDuringRequests.some((c) => c.includes('curl'))).toBe(true);
    expect(controller.cmdlinesDuringRequests.filter((c) => c.includes(password) || c.includes('admin:admin'))).toEqual([]);
  });

  it('changes nothing on a rerun with the stored password', async () => {
    const r = await shAsync(step(password));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(controller.users.get('admin')).toBe(password);
  });

  it('fails when admin accepts neither the stored password nor the default, saying how to recover', async () => {
    const other = ngrinderPasswordFrom(Uint8Array.from({ length: 64 }, (_, i) => (i * 29 + 5) % 248));
    const r = await shAsync(step(other));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('ngrinder admin password: admin accepts neither the password in /env/ngrinder-admin-password nor the default');
    expect(controller.users.get('admin')).toBe(password);
  });
});
