/**
 * The local target's lifecycle edges on real namespace hosts: a failed first up leaves nothing, a failed
 * re-up keeps the running fleet, and sshUser root logs in as root (the other tests use ec2-user).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execa, execaSync } from 'execa';
import { loadfleet } from '../harness/cli';
import { leftoversOf, requireLocalTools } from '../harness/local-fleet';
import { workspace } from '../harness/workspace';
import { LocalHosts } from '../../scripts/adapters/local-hosts';
import type { FleetOutputs } from '../../scripts/core/env-record';

const PREFIX = 'lc';
const NAME = 'lcyc';
requireLocalTools();
const ws = workspace('lf-lc-');
const env = { LOADFLEET_HOME: ws.home };
const envDir = path.join(ws.home, NAME);
const base = { name: NAME, local: { prefix: PREFIX, subnet: '10.231.79.0/24' }, agents: { count: 1 }, targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: false }, tuning: { nofile: 16384 } };
const config = ws.writeConfig('fleet.yaml', { ...base, sshUser: 'root' });
const seenPids: number[] = [];

const pids = async () => {
  const p = await new LocalHosts(path.join(envDir, 'local')).pids();
  seenPids.push(...Object.values(p));
  return p;
};
const outputs = () => JSON.parse(fs.readFileSync(path.join(envDir, 'outputs.json'), 'utf8')) as FleetOutputs;
const ssh = async (user: string, ip: string, command: string) => {
  const r = await execa('ssh', ['-i', ws.privateKeyPath, '-o', `UserKnownHostsFile=${path.join(envDir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', `${user}@${ip}`, command], { reject: false, stdin: 'ignore', timeout: 20_000 });
  return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout).trim(), stderr: String(r.stderr) };
};
const status = async () => JSON.parse((await loadfleet(['status', '--env', NAME, '--json'], env)).stdout).status as string;
/** Processes still running anything from this workspace (a host init names its folder). */
const processesOfWorkspace = () =>
  fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(ws.dir);
    } catch {
      return false;
    }
  });

afterAll(async () => {
  await loadfleet(['down', '--env', NAME, '--yes'], env).catch(() => undefined);
  await new LocalHosts(path.join(envDir, 'local')).destroy().catch(() => undefined);
  ws.remove();
  expect(await leftoversOf(PREFIX, seenPids)).toEqual([]);
});

describe('local target lifecycle', () => {
  it('fails when a first up cannot log in, and removes everything it made', async () => {
    const other = path.join(ws.dir, 'other_key');
    execaSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const wrongKey = ws.writeConfig('wrong-key.yaml', { ...base, sshUser: 'root', keyPair: { publicKeyPath: ws.publicKeyPath, privateKeyPath: other } });
    const r = await loadfleet(['up', '--target', 'local', '-c', wrongKey, '--yes', '--json'], env);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/local hosts did not accept a login: controller: login as root with .*other_key refused by 10\.231\.79\.10/);
    expect(await leftoversOf(PREFIX, [])).toEqual([]);
    expect(processesOfWorkspace()).toEqual([]);
    expect(fs.existsSync(path.join(envDir, 'local', 'controller'))).toBe(false);
    expect(await status()).toBe('down');
  });

  it('logs in as root when sshUser is root, and tunes without sudo', async () => {
    const up = await loadfleet(['up', '--target', 'local', '-c', config, '--yes', '--json'], env);
    expect(up.exitCode).toBe(0);
    expect(outputs()).toMatchObject({ sshUser: 'root' });
    await pids();
    const r = await ssh('root', '10.231.79.11', 'id -u; ls /home | wc -l');
    expect(r.stdout.split('\n')).toEqual(['0', '0']);
    expect((await ssh('ec2-user', '10.231.79.11', 'true')).exitCode).toBe(255); // no such login here
    const tune = await loadfleet(['tune', '--env', NAME, '--verbose'], env);
    expect(tune.exitCode).toBe(0);
    expect(tune.stdout).toMatch(/^agent-1\s+sysctl net\.ipv4\.ip_local_reserved_ports\s+22,5557,8080,8089,9100\s+22,5557,8080,8089,9100\s+ok$/m);
  });

  it('keeps the running fleet when a re-up fails, and the next up repairs it', async () => {
    const before = await pids();
    // agent-1 dies, and its restart cannot work: its sshd config is broken.
    const sshd = path.join(envDir, 'local', 'agent-1', 'etc-upper/ssh/loadfleet_sshd_config');
    const good = fs.readFileSync(sshd, 'utf8');
    process.kill(before[`${PREFIX}-${NAME}-agent-1`]!, 'SIGKILL');
    fs.appendFileSync(sshd, 'NoSuchOption yes\n');
    try {
      const r = await loadfleet(['up', '--target', 'local', '-c', config, '--yes', '--json'], env);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/local hosts did not accept a login: agent-1: cannot connect to 10\.231\.79\.11:22/);
      expect(r.stderr).toMatch(/env lcyc was already up: its running hosts were kept/);
      const after = await pids();
      for (const host of ['controller', 'app-1']) expect(after[`${PREFIX}-${NAME}-${host}`]).toBe(before[`${PREFIX}-${NAME}-${host}`]);
      expect((await ssh('root', '10.231.79.10', 'hostname')).stdout).toBe('controller');
      expect(await status()).toBe('up');
      expect(outputs().hosts).toHaveLength(3);
    } finally {
      fs.writeFileSync(sshd, good);
    }
    const again = await loadfleet(['up', '--target', 'local', '-c', config, '--yes', '--json'], env);
    expect(again.exitCode).toBe(0);
    expect((await ssh('root', '10.231.79.11', 'hostname')).stdout).toBe('agent-1');
    expect((await pids())[`${PREFIX}-${NAME}-controller`]).toBe(before[`${PREFIX}-${NAME}-controller`]);
  });

  it('removes everything on down', async () => {
    const down = await loadfleet(['down', '--env', NAME, '--yes'], env);
    expect(down.exitCode).toBe(0);
    expect(await leftoversOf(PREFIX, seenPids)).toEqual([]);
  });
});
