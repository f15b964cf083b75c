/**
 * The dead-man switch's scripts, checked by shellcheck and run for real by bash against an IMDSv2-shaped
 * HTTP server on loopback (token PUT, tag GET). Only `shutdown` is a stand-in: the real one would stop
 * this machine.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { deadmanCheckScript, deadmanUserData, FALLBACK_HOURS } from '../../stacks/deadman';
import { requireTool } from '../harness/tools';

let dir: string;
let server: http.Server;
let imds: string;
/** What the fake IMDS answers for the tag: a value, or null for 404 (tag not exposed). */
let tag: string | null = null;
const tokens = new Set<string>();

beforeAll(async () => {
  requireTool('shellcheck', 'apt-get install shellcheck');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-deadman-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  // The stand-in records its arguments instead of stopping the machine.
  fs.writeFileSync(path.join(dir, 'bin', 'shutdown'), `#!/bin/sh\necho "$@" >> ${dir}/shutdown.log\n`, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'check'), deadmanCheckScript('demo'), { mode: 0o755 });
  server = http.createServer((req, res) => {
    if (req.method === 'PUT' && req.url === '/latest/api/token' && req.headers['x-aws-ec2-metadata-token-ttl-seconds']) {
      const t = `tok-${tokens.size}`;
      tokens.add(t);
      return void res.end(t);
    }
    // IMDSv2 only: no token, no answer (as with http_tokens = required)
    if (!tokens.has(String(req.headers['x-aws-ec2-metadata-token'] ?? ''))) return void res.writeHead(401).end();
    if (req.method === 'GET' && req.url === '/latest/meta-data/tags/instance/loadfleet:expires-at' && tag !== null) return void res.end(tag);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  imds = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
});

async function check(state: string) {
  const r = await execa('bash', [path.join(dir, 'check')], {
    env: { PATH: `${dir}/bin:${process.env.PATH}`, LOADFLEET_IMDS: imds, LOADFLEET_DEADMAN_DIR: path.join(dir, state) },
    reject: false,
  });
  const log = path.join(dir, 'shutdown.log');
  const shutdown = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
  fs.rmSync(log, { force: true });
  return { exitCode: r.exitCode, shutdown, stored: (f: string) => fs.readFileSync(path.join(dir, state, f), 'utf8').trim() };
}
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

describe('dead-man switch scripts', () => {
  it('pass shellcheck (the check and the whole user data)', async () => {
    fs.writeFileSync(path.join(dir, 'user-data'), deadmanUserData('demo'));
    for (const f of ['check', 'user-data']) {
      const r = await execa('shellcheck', ['-s', 'bash', path.join(dir, f)], { reject: false });
      expect(r.exitCode, `${f}: ${r.stdout}`).toBe(0);
    }
  });

  it('does nothing before the tag\'s time, shuts down after it, and follows a moved tag', async () => {
    tag = iso(Date.now() + 3600_000);
    const early = await check('s1');
    expect(early.exitCode).toBe(0);
    expect(early.shutdown).toBe('');
    expect(Number(early.stored('expires-at'))).toBe(Math.floor(Date.parse(tag) / 1000));

    tag = iso(Date.now() - 60_000); // the TTL was shortened: a tag update, nothing else
    const late = await check('s1');
    expect(late.shutdown).toBe('-h now loadfleet env demo expired\n');
  });

  it('uses the last expiry it read when the tag becomes unreadable', async () => {
    tag = iso(Date.now() - 3600_000);
    await check('s2'); // reads and stores a past expiry (and shuts down)
    tag = null;
    const r = await check('s2');
    expect(r.shutdown).toBe('-h now loadfleet env demo expired\n');
  });

  it('falls back to the longest TTL when the tag was never readable', async () => {
    tag = null;
    const before = Math.floor(Date.now() / 1000);
    const r = await check('s3');
    expect(r.shutdown).toBe('');
    const fallback = Number(r.stored('fallback-at'));
    expect(fallback).toBeGreaterThanOrEqual(before + FALLBACK_HOURS * 3600);
    expect(fallback).toBeLessThanOrEqual(before + FALLBACK_HOURS * 3600 + 60);
    // the fallback is fixed at the first check, not pushed back by each later one
    expect(Number((await check('s3')).stored('fallback-at'))).toBe(fallback);
  });
});
