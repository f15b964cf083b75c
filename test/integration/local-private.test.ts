/**
 * Issue 18, part 1 on the local target: private agents on a second bridge inside the controller's namespace,
 * an `unreachable` route for them in the machine's root namespace. tune, install, doctor, a real distributed
 * Locust run, the inventories (real ssh, ansible-inventory, ansible ping) work only through the door; a direct
 * connection from the machine fails. Traffic only to these hosts' addresses; the run is bounded.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { requireTool } from '../harness/tools';
import { countServed, TARGET_SERVER } from '../../scripts/run/target-server';
import { HOME_LOCUSTFILE, runDirOf } from '../harness/run-output';
import type { RunSummary } from '../../scripts/run/summary';

const PREFIX = 'lp';
const SUBNET = '10.231.96.0/24';
let fleet: LocalFleet;
let sshc: string;

/** sshd's own log of a host (its stderr goes to init.log): how many logins it accepted. */
const logins = (host: string) => (fs.readFileSync(path.join(fleet.hostDir(host), 'init.log'), 'utf8').match(/Accepted publickey/g) ?? []).length;
const viaDoor = (host: string, command: string) => execa('ssh', ['-F', sshc, '-o', 'BatchMode=yes', host, command], { reject: false, stdin: 'ignore', timeout: 30_000 });

beforeAll(async () => {
  requireTool('ansible', 'apt-get install ansible');
  fleet = await localFleet('ptest', PREFIX, SUBNET, { network: { agents: 'private' }, agents: { count: 2 }, targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: false } });
  sshc = path.join(fleet.ws.dir, 'ssh_config');
  expect((await fleet.cli(['inventory', '--env', 'ptest', '-f', 'ssh', '-o', sshc])).exitCode).toBe(0);
});

afterAll(async () => {
  const pids = fleet ? Object.values(await fleet.pids()) : [];
  await fleet?.remove();
  expect(await leftoversOf(PREFIX, pids)).toEqual([]);
  expect((await execa('ip', ['route', 'show', 'type', 'unreachable'])).stdout).not.toContain('10.231.96.128/25');
});

describe('private agents on the local target (one door)', () => {
  it('puts the agents on the private half with no public address, and the machine cannot reach them directly', async () => {
    const o = fleet.outputs();
    expect(o.hosts.map((h) => `${h.name}@${h.publicIp || '-'}/${h.privateIp}`)).toEqual([
      'controller@10.231.96.10/10.231.96.10', 'agent-1@-/10.231.96.138', 'agent-2@-/10.231.96.139', 'app-1@10.231.96.11/10.231.96.11',
    ]);
    expect(o.egress).toEqual({ kind: 'routed', ips: ['10.231.96.138', '10.231.96.139'] });
    // direct: no route from the root namespace (fails at once, nothing sent)
    const direct = await fleet.ssh('agent-1', 'true');
    expect(direct.exitCode).toBe(255);
    expect(direct.stderr).toMatch(/Network is unreachable|No route to host/);
    const tcp = await execa('bash', ['-c', 'exec 3<>/dev/tcp/10.231.96.138/22'], { reject: false, timeout: 10_000 });
    expect(tcp.exitCode).not.toBe(0);
    // through the door (ssh_config ProxyJump, the controller's key pinned): works
    const r = await viaDoor('agent-1', 'hostname; ip -o -4 addr show eth0 | awk \'{print $4}\'; ip route show default');
    expect(r.stderr).toBe('');
    expect(r.stdout.trim().split('\n')).toEqual(['agent-1', '10.231.96.138/25', 'default via 10.231.96.129 dev eth0']);
    expect(fs.readFileSync(sshc, 'utf8')).toMatch(/Host agent-1\n {2}ProxyJump controller\n/);
  });

  it('tunes every host through ONE connection to the controller', async () => {
    const before = { controller: logins('controller'), a1: logins('agent-1') };
    const r = await fleet.cli(['tune', '--env', 'ptest', '--verbose']);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/4\/4 hosts reached/);
    expect(r.stdout).toMatch(/^agent-2\s+nofile hard\s+16384\s+16384\s+ok$/m);
    // The controller itself: its two sessions (apply, verify in a new session) + the one door connection.
    expect(logins('controller') - before.controller).toBe(3);
    expect(logins('agent-1') - before.a1).toBe(2);
  });

  it('renders an Ansible inventory whose ProxyCommand (pinned keys, ControlMaster) real ansible uses', async () => {
    const ini = path.join(fleet.ws.dir, 'inv.ini');
    expect((await fleet.cli(['inventory', '--env', 'ptest', '-f', 'ansible', '-o', ini])).exitCode).toBe(0);
    const list = JSON.parse((await execa('ansible-inventory', ['-i', ini, '--list'])).stdout);
    const args = list._meta.hostvars['ptest-agent-1'].ansible_ssh_common_args as string;
    expect(args).toMatch(/ProxyCommand=ssh .*StrictHostKeyChecking=yes.*ControlMaster=auto.* -W %h:%p 10\.231\.96\.10'$/);
    expect(list._meta.hostvars['ptest-app-1'].ansible_ssh_common_args).not.toContain('ProxyCommand');
    const ping = await execa('ansible', ['all', '-i', ini, '-m', 'ping', '-o', '-f', '4'], { reject: false, env: { ANSIBLE_HOST_KEY_CHECKING: 'True' } });
    expect(ping.stdout.match(/SUCCESS/g), ping.stdout + ping.stderr).toHaveLength(4);
    const json = JSON.parse((await fleet.cli(['inventory', '--env', 'ptest', '-f', 'json'])).stdout);
    expect(json.egressIps).toEqual({ kind: 'routed', ips: ['10.231.96.138', '10.231.96.139'] });
    const status = await fleet.cli(['status', '--env', 'ptest']);
    expect(status.stdout).toContain('egress IPs to allowlist: 10.231.96.138, 10.231.96.139');
  });

  it('installs, passes doctor and runs a real distributed Locust test through the door; nginx saw only the agents', async () => {
    const install = await fleet.cli(['install', '-c', fleet.config]);
    expect(install.exitCode, install.stderr + install.stdout).toBe(0);
    expect((await fleet.cli(['serve', '-c', fleet.config])).exitCode).toBe(0);
    const doctor = await fleet.cli(['doctor', '-c', fleet.config, '--wait', '60']);
    expect(doctor.exitCode, doctor.stdout + doctor.stderr).toBe(0);
    fs.writeFileSync(path.join(fleet.ws.dir, 'home.py'), HOME_LOCUSTFILE);
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', path.join(fleet.ws.dir, 'home.py'), '--users', '4', '--rate', '4', '--duration', '5s', '--skip-doctor']);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    const s = JSON.parse(fs.readFileSync(path.join(runDirOf(r.stdout), 'summary.json'), 'utf8')) as RunSummary;
    const log = (await viaDoor('app-1', `cat ${TARGET_SERVER.accessLog}`)).stdout;
    expect(s.total.requests).toBeGreaterThan(20);
    expect(countServed(log) - s.total.requests).toBeGreaterThanOrEqual(0);
    expect(countServed(log) - s.total.requests).toBeLessThanOrEqual(8);
    expect(s.generators.map((g) => g.name)).toEqual(['agent-1', 'agent-2']);
    // The independent check of "egress IPs to allowlist": the client addresses nginx logged.
    const clients = new Set(log.split('\n').filter(Boolean).map((l) => l.trim().split(' ').at(-1)));
    expect([...clients].sort()).toEqual(['10.231.96.138', '10.231.96.139']);
  });
});
