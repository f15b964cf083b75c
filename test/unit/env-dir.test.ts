import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EnvDir } from '../../scripts/adapters/env-dir';
import { exitCodeFor, ExternalError } from '../../scripts/core/errors';

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A LOADFLEET_HOME that is a file: every write under it fails with ENOTDIR (EACCES cannot be caused as root). */
function homeThatIsAFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-envdir-'));
  made.push(dir);
  const home = path.join(dir, 'home');
  fs.writeFileSync(home, 'not a folder');
  return home;
}

describe('env folder', () => {
  it('reports a folder it cannot create or a record it cannot write as external (1), naming the path', async () => {
    const env = new EnvDir(homeThatIsAFile(), 'demo');
    const ensure = await env.ensure().then(() => undefined, (e: unknown) => e);
    expect(ensure).toBeInstanceOf(ExternalError);
    expect(exitCodeFor(ensure)).toBe(1);
    expect((ensure as Error).message).toContain(env.dir);
    const write = await env.writeRecord({ name: 'demo' } as never).then(() => undefined, (e: unknown) => e);
    expect(exitCodeFor(write)).toBe(1);
    expect((write as Error).message).toMatch(/ENOTDIR/);
  });

  it('leaves no temp file behind when the rename fails', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-envdir-'));
    made.push(dir);
    const env = new EnvDir(dir, 'demo');
    await env.ensure();
    fs.mkdirSync(env.file('outputs.json')); // a folder where the file goes: rename fails
    fs.writeFileSync(path.join(env.file('outputs.json'), 'x'), '');
    const err = await env.writeOutputs({} as never).then(() => undefined, (e: unknown) => e);
    expect(exitCodeFor(err)).toBe(1);
    expect((err as Error).message).toContain(env.file('outputs.json'));
    expect(fs.readdirSync(env.dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('fails with exit 2 on an outputs.json whose host addresses are not IPv4, naming the host, the field and the value', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-envdir-'));
    made.push(home);
    const env = new EnvDir(home, 'demo');
    fs.mkdirSync(env.dir, { recursive: true });
    const host = (privateIp: string, publicIp = '') => ({ role: 'agent', group: 'agent', name: 'agent-1', id: 'i-1', publicIp, privateIp });
    const write = (hosts: unknown[], master: unknown = null) =>
      fs.writeFileSync(path.join(env.dir, 'outputs.json'), JSON.stringify({ env: 'demo', target: 'aws', engine: 'locust', expiresAt: '', sshUser: 'ec2-user', hosts, master }));
    for (const [hosts, master, said] of [
      [[host('10.0.0.1;touch /tmp/x')], null, 'hosts["agent-1"].privateIp ("10.0.0.1;touch /tmp/x") is not an IPv4 address'],
      [[host('10.0.0.1', '$(id)')], null, 'hosts["agent-1"].publicIp ("$(id)") is not an IPv4 address'],
      [[host('10.0.0.1')], { address: '10.0.0.256', port: 5557 }, 'master.address ("10.0.0.256") is not an IPv4 address'],
    ] as const) {
      write([...hosts], master);
      const e = await env.requireOutputs().then(() => undefined, (x: unknown) => x);
      expect(exitCodeFor(e)).toBe(2);
      expect((e as Error).message).toContain(said);
    }
    write([host('10.0.0.1', '54.0.0.1')], { address: '10.0.0.1', port: 5557 });
    expect((await env.requireOutputs()).hosts[0]!.publicIp).toBe('54.0.0.1');
  });
});
