/**
 * The local target on real hosts: network namespaces with their own sshd, reached with real ssh,
 * node-ssh and Ansible. Traffic goes only to these hosts' addresses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { requireTool } from '../harness/tools';

const PREFIX = 'lt';
let fleet: LocalFleet;

beforeAll(async () => {
  requireTool('ansible', 'apt-get install ansible');
  fleet = await localFleet('ltest', PREFIX, '10.231.77.0/24', { agents: { count: 3 }, targets: [{ name: 'app', ports: [8080] }] });
});

afterAll(async () => {
  const pids = fleet ? Object.values(await fleet.pids()) : [];
  await fleet?.remove();
  expect(await leftoversOf(PREFIX, pids)).toEqual([]);
});

describe('local target', () => {
  it('creates every host with its own address, hostname and sshd, the config\'s user (ec2-user) by key only, no root login', async () => {
    const o = fleet.outputs();
    expect(o).toMatchObject({ target: 'local', sshUser: 'ec2-user', master: { address: '10.231.77.10', port: 5557 } });
    expect(o.hosts.map((h) => `${h.name}@${h.privateIp}`)).toEqual([
      'controller@10.231.77.10', 'agent-1@10.231.77.11', 'agent-2@10.231.77.12', 'agent-3@10.231.77.13', 'app-1@10.231.77.14', 'monitoring@10.231.77.15',
    ]);
    const r = await fleet.ssh('agent-2', 'hostname; ip -o -4 addr show eth0 | awk \'{print $4}\'');
    expect(r.stdout.split('\n')).toEqual(['agent-2', '10.231.77.12/24']);
    // as on Amazon Linux: a plain user with passwordless sudo, its home private to the host
    const who = await fleet.ssh('agent-2', 'id -un; sudo -n id -u; ls /home');
    expect(who.stderr).toBe('');
    expect(who.stdout.split('\n')).toEqual(['ec2-user', '0', 'ec2-user']);
    expect(fs.existsSync('/home/ec2-user')).toBe(false);
    // root cannot log in, even with the fleet's key
    const root = await execa('ssh', ['-i', fleet.ws.privateKeyPath, '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${path.join(fleet.ws.home, 'ltest', 'known_hosts')}`, 'root@10.231.77.11', 'true'], { reject: false, stdin: 'ignore' });
    expect(root.exitCode).toBe(255);
    expect(root.stderr).toMatch(/Permission denied/);
    // password login is off: ssh without the key is refused
    const nokey = await execa('ssh', ['-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'PreferredAuthentications=password', 'root@10.231.77.11', 'true'], { reject: false, stdin: 'ignore' });
    expect(nokey.exitCode).toBe(255);
  });

  it('wires permanent neighbour entries (no ARP, outside the machine-wide neighbour-table count): agents know the bridge and the hubs, hubs every host (issue 19)', async () => {
    const perm = async (host: string) => (await execa('ip', ['-n', `${PREFIX}-ltest-${host}`, 'neigh', 'show', 'nud', 'permanent', 'dev', 'eth0'])).stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean).sort();
    const hubs = ['10.231.77.10', '10.231.77.14', '10.231.77.15']; // controller, app-1, monitoring
    expect(await perm('agent-2')).toEqual(['10.231.77.1', ...hubs].sort());
    expect(await perm('controller')).toEqual(['10.231.77.1', '10.231.77.11', '10.231.77.12', '10.231.77.13', '10.231.77.14', '10.231.77.15'].sort());
    const root = (await execa('ip', ['neigh', 'show', 'nud', 'permanent', 'dev', `${PREFIX}br0`])).stdout;
    expect(root).toMatch(/^10\.231\.77\.11 lladdr 02:4c:46:e7:4d:0b PERMANENT\s*$/m);
    // and the fixed MACs are what the hosts' interfaces carry: a login over them works
    expect((await fleet.ssh('agent-2', "cat /sys/class/net/eth0/address")).stdout.trim()).toBe('02:4c:46:e7:4d:0c');
    expect((await fleet.ssh('agent-2', "timeout 3 bash -c 'exec 3<>/dev/tcp/10.231.77.10/22' && echo reached")).stdout.trim()).toBe('reached');
  });

  it('keeps running hosts on a second up (nothing replaced)', async () => {
    const before = await fleet.pids();
    const up = await fleet.cli(['up', '--target', 'local', '-c', fleet.config, '--yes', '--json']);
    expect(up.exitCode).toBe(0);
    expect(await fleet.pids()).toEqual(before);
  });

  it('renders inventories that real ansible-inventory, ansible and ssh accept', async () => {
    const ini = path.join(fleet.ws.dir, 'inv.ini');
    const yml = path.join(fleet.ws.dir, 'inv.yml');
    const sshc = path.join(fleet.ws.dir, 'ssh_config');
    for (const [fmt, file] of [['ansible', ini], ['ansible-yaml', yml], ['ssh', sshc]]) {
      expect((await fleet.cli(['inventory', '--env', 'ltest', '-f', fmt!, '-o', file!])).exitCode).toBe(0);
    }
    for (const file of [ini, yml]) {
      const list = JSON.parse((await execa('ansible-inventory', ['-i', file, '--list'])).stdout);
      expect(list.agents.hosts).toEqual(['ltest-agent-1', 'ltest-agent-2', 'ltest-agent-3']);
      expect(list.fleet_ltest.children).toEqual(expect.arrayContaining(['controller', 'agents', 'targets', 'monitoring']));
      expect(list._meta.hostvars['ltest-agent-1']).toMatchObject({ ansible_host: '10.231.77.11', locust_master_host: '10.231.77.10', master_port: 5557 });
    }
    const ping = await execa('ansible', ['all', '-i', ini, '-m', 'ping', '-o', '-f', '10'], { reject: false, env: { ANSIBLE_HOST_KEY_CHECKING: 'True' } });
    expect(ping.stdout.match(/SUCCESS/g)).toHaveLength(6);
    // become (sudo) works for the non-root login, as playbooks on EC2 need it
    const become = await execa('ansible', ['all', '-i', yml, '-b', '-m', 'command', '-a', 'id -u', '-o', '-f', '10'], { reject: false, env: { ANSIBLE_HOST_KEY_CHECKING: 'True' } });
    expect(become.exitCode).toBe(0);
    expect(become.stdout.match(/CHANGED \| rc=0 \| \(stdout\) 0$/gm)).toHaveLength(6);
    const plain = await execa('ansible', ['agents', '-i', ini, '-m', 'command', '-a', 'id -un', '-o'], { reject: false, env: { ANSIBLE_HOST_KEY_CHECKING: 'True' } });
    expect(plain.stdout.match(/\(stdout\) ec2-user$/gm)).toHaveLength(3);
    const ssh = await execa('ssh', ['-F', sshc, '-o', 'BatchMode=yes', 'app-1', 'hostname; id -un; sudo -n id -u'], { reject: false, stdin: 'ignore' });
    expect(ssh.stdout.trim().split('\n')).toEqual(['app-1', 'ec2-user', '0']);
    const json = JSON.parse((await fleet.cli(['inventory', '--env', 'ltest', '-f', 'json'])).stdout);
    expect(json.hosts).toHaveLength(6);
  });

  it('tunes one host and not its neighbour; a new session sees it', async () => {
    const defaults = await fleet.ssh('agent-2', 'cat /proc/sys/net/ipv4/ip_local_port_range; awk \'/^Max open files/ {print $4}\' /proc/self/limits');
    const r = await fleet.cli(['tune', '--env', 'ltest', '--hosts', 'agent-1', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.hosts.map((h: { host: string }) => h.host)).toEqual(['agent-1']);
    expect(report.hosts[0].value.rows.every((row: { ok: boolean }) => row.ok)).toBe(true);

    const tuned = await fleet.ssh('agent-1', 'cat /proc/sys/net/ipv4/ip_local_port_range; awk \'/^Max open files/ {print $4, $5}\' /proc/self/limits; ls /etc/security/limits.d');
    expect(tuned.stdout.split('\n')).toEqual(['1024\t65535', '16384 16384', '90-loadfleet.conf']);
    const neighbour = await fleet.ssh('agent-2', 'cat /proc/sys/net/ipv4/ip_local_port_range; awk \'/^Max open files/ {print $4}\' /proc/self/limits; ls /etc/security/limits.d | grep -c loadfleet');
    expect(neighbour.stdout.split('\n').slice(0, 2).join('\n')).toBe(defaults.stdout.trim());
    expect(neighbour.stdout.split('\n')[2]).toBe('0');
  });

  it('tunes every host, lands exactly, and a rerun changes nothing', async () => {
    const first = await fleet.cli(['tune', '--env', 'ltest', '--verbose']);
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^agent-3\s+nofile hard\s+16384\s+16384\s+ok$/m);
    expect(first.stdout).toMatch(/^app-1\s+sysctl net\.core\.somaxconn\s+65535\s+65535\s+ok$/m);
    const limits = fs.readFileSync(path.join(fleet.hostDir('agent-3'), 'etc-upper/security/limits.d/90-loadfleet.conf'), 'utf8');
    const again = await fleet.cli(['tune', '--env', 'ltest']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/6\/6 hosts reached; 0 changed, 6 already as requested; \d+ settings ok \(--verbose or --json lists every setting\)$/m);
    expect(again.stdout).not.toMatch(/\sok$/m); // no row per setting without --verbose (issue 19)
    expect(fs.readFileSync(path.join(fleet.hostDir('agent-3'), 'etc-upper/security/limits.d/90-loadfleet.conf'), 'utf8')).toBe(limits);
    const verify = await fleet.cli(['tune', '--env', 'ltest', '--verify-only']);
    expect(verify.exitCode).toBe(0);
  });

  it('checks a running agent\'s own limits and says to restart one started before tuning', async () => {
    expect((await fleet.cli(['tune', '--env', 'ltest', '--hosts', 'agent-2'])).exitCode).toBe(0);
    // A stand-in agent process (named like a Locust worker) still running with the old limit.
    const start = await fleet.ssh('agent-2', "ulimit -n 1024; cd /tmp; setsid nohup bash -c 'exec -a \"locust --worker --master-host 10.231.77.10\" sleep 120' >/dev/null 2>&1 </dev/null & echo started");
    expect(start.stdout.trim()).toBe('started');
    const r = await fleet.cli(['tune', '--env', 'ltest', '--hosts', 'agent-2', '--verify-only']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^agent-2\s+agent pid \d+ nofile\s+16384\/16384\s+1024\/1024\s+SHORT: the process started before tuning .*restart it$/m);
    await fleet.ssh('agent-2', "pkill -f 'locust --worker'");
    expect((await fleet.cli(['tune', '--env', 'ltest', '--hosts', 'agent-2', '--verify-only'])).exitCode).toBe(0);
  });

  it('fails when more is asked than the host allows, and says why', async () => {
    const greedy = fleet.ws.writeConfig('greedy.yaml', { name: 'ltest', local: { prefix: PREFIX, subnet: '10.231.77.0/24' }, agents: { count: 3 }, targets: [{ name: 'app', ports: [8080] }], tuning: { nofile: 50000 } });
    const r = await fleet.cli(['tune', '-c', greedy, '--hosts', 'agent-1', '--verify-only']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/^agent-1\s+nofile hard\s+50000\s+16384\s+SHORT: /m);
    expect(r.stderr).toMatch(/1 host\(s\) short of the requested limits/);
    // and with the change applied, the reason names the host's own cap
    const applied = await fleet.cli(['tune', '-c', greedy, '--hosts', 'agent-1']);
    expect(applied.exitCode).toBe(1);
    expect(applied.stdout).toMatch(/agent-1\s+nofile hard\s+50000\s+(\d+)\s+SHORT: the host caps the hard limit at \1/);
    expect((await fleet.cli(['tune', '--env', 'ltest', '--hosts', 'agent-1'])).exitCode).toBe(0); // back to what fits
  });

  it('finishes the other hosts when one sshd is dead, one host is unreachable and one refuses the key; the rerun completes', async () => {
    const pids = await fleet.pids();
    process.kill(pids['lt-ltest-agent-1']!, 'SIGKILL'); // the host and its sshd die; its address answers with RST
    await execa('ip', ['-n', 'lt-ltest-agent-2', 'link', 'set', 'eth0', 'down']); // unreachable
    const keys = fleet.authorizedKeys('agent-3');
    const goodKey = fs.readFileSync(keys, 'utf8');
    fs.writeFileSync(keys, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAUU03p86sVDxvZB9hmLfNn647teuXctp+2fcmHI9NW someone-else\n');
    try {
      const r = await fleet.cli(['tune', '--env', 'ltest', '--connect-attempts', '2', '--connect-timeout', '3', '--verbose']);
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/^agent-1\s+-.*FAILED: cannot connect to 10\.231\.77\.11:22: connect ECONNREFUSED/m);
      expect(r.stdout).toMatch(/^agent-2\s+-.*FAILED: cannot connect to 10\.231\.77\.12:22: .*(Timed out|EHOSTUNREACH|ETIMEDOUT)/m);
      expect(r.stdout).toMatch(/^agent-3\s+-.*FAILED: login as ec2-user with .* refused by 10\.231\.77\.13/m);
      expect(r.stdout).toMatch(/^controller\s+nofile hard\s+16384\s+16384\s+ok$/m);
      expect(r.stdout).toMatch(/3\/6 hosts reached/);
      expect(r.stderr).toMatch(/3 host\(s\) failed/);
    } finally {
      fs.writeFileSync(keys, goodKey);
      await execa('ip', ['-n', 'lt-ltest-agent-2', 'link', 'set', 'eth0', 'up']);
    }
    const up = await fleet.cli(['up', '--target', 'local', '-c', fleet.config, '--yes']); // restarts the dead host only
    expect(up.exitCode).toBe(0);
    const rerun = await fleet.cli(['tune', '--env', 'ltest']);
    expect(rerun.exitCode, rerun.stderr).toBe(0);
    expect(rerun.stdout).toMatch(/6\/6 hosts reached; 0 changed, 6 already as requested/);
  });

  it('fails only the host whose sudo wants a password, says why, and finishes the others', async () => {
    const sudoers = path.join(fleet.hostDir('app-1'), 'etc-upper/sudoers.d/90-cloud-init-users');
    const good = fs.readFileSync(sudoers, 'utf8');
    expect(good).toBe('ec2-user ALL=(ALL) NOPASSWD:ALL\n');
    expect((await fleet.ssh('app-1', "sudo -n sh -c 'echo \"ec2-user ALL=(ALL) ALL\" > /etc/sudoers.d/90-cloud-init-users'")).exitCode).toBe(0);
    try {
      const r = await fleet.cli(['tune', '--env', 'ltest']);
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/^app-1\s+-.*FAILED: applying the tuning: login "ec2-user" cannot become root without a password \(sudo: a password is required\): give ec2-user passwordless sudo/m);
      // Only what fails is listed without --verbose: the 5 tuned hosts are the summary's count (issue 19).
      expect(r.stdout).not.toMatch(/^agent-1\s/m);
      expect(r.stdout).toMatch(/5\/6 hosts reached/);
      expect(r.stderr).toMatch(/1 host\(s\) failed/);
    } finally {
      fs.writeFileSync(sudoers, good, { mode: 0o440 });
    }
    expect((await fleet.ssh('app-1', 'sudo -n true')).exitCode).toBe(0);
  });

  it('fails when an apply step fails, naming the step, and does not claim the host tuned', async () => {
    // The systemd drop-in folder is a plain file: the write step cannot succeed (nothing verifies it on a
    // namespace host, so only the apply script itself can tell).
    expect((await fleet.ssh('monitoring', 'sudo -n rm -rf /etc/systemd/system.conf.d && sudo -n touch /etc/systemd/system.conf.d')).exitCode).toBe(0);
    try {
      const r = await fleet.cli(['tune', '--env', 'ltest', '--hosts', 'monitoring,controller', '--verbose']);
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/^monitoring\s+-.*FAILED: applying the tuning failed \(exit 1\): loadfleet: step write \/etc\/systemd\/system\.conf\.d\/90-loadfleet-limits\.conf failed: mkdir: cannot create directory .*\/etc\/systemd\/system\.conf\.d.*: File exists/m);
      expect(r.stdout).toMatch(/^controller\s+nofile hard\s+16384\s+16384\s+ok$/m);
      expect(r.stderr).toMatch(/1 host\(s\) failed/);
      // the error went to a private temporary file that is gone, not to a fixed /tmp path
      expect(fs.readdirSync(path.join(fleet.hostDir('monitoring'), 'tmp'))).toEqual([]);
    } finally {
      await fleet.ssh('monitoring', 'sudo -n rm -f /etc/systemd/system.conf.d');
    }
    expect((await fleet.cli(['tune', '--env', 'ltest', '--hosts', 'monitoring'])).exitCode).toBe(0);
  });

  it('reserves the fleet\'s listening ports on every host, as the kernel prints them back', async () => {
    const r = await fleet.ssh('agent-1', 'cat /proc/sys/net/ipv4/ip_local_reserved_ports');
    expect(r.stdout.trim()).toBe('22,3000,5557,8080,8089,9090,9100');
  });

  it('refuses a host whose key changed, and names the fix', async () => {
    const known = path.join(fleet.ws.home, 'ltest', 'known_hosts');
    const original = fs.readFileSync(known, 'utf8');
    const other = fs.readFileSync(fleet.ws.publicKeyPath, 'utf8').split(' ').slice(0, 2).join(' ');
    fs.writeFileSync(known, original.replace(/^10\.231\.77\.15 .*$/m, `10.231.77.15 ${other}`));
    try {
      const r = await fleet.cli(['tune', '--env', 'ltest', '--verify-only']);
      expect(r.exitCode).toBe(1);
      expect(r.stdout).toMatch(/^monitoring\s+-.*FAILED: host key of 10\.231\.77\.15 CHANGED: .*ssh-keygen -R 10\.231\.77\.15 -f/m);
      expect(r.stdout).toMatch(/5\/6 hosts reached/);
    } finally {
      fs.writeFileSync(known, original);
    }
  });

  it('fails with a clear usage error on an unknown format, a missing key, or unreadable state', async () => {
    const fmt = await fleet.cli(['inventory', '--env', 'ltest', '-f', 'terraform']);
    expect(fmt.exitCode).toBe(2);
    expect(fmt.stderr).toMatch(/--format \(terraform\) is not a known format: use one of ansible, ansible-yaml, ssh, file_sd, hosts, json/);
    const nokey = fleet.ws.writeConfig('nokey.yaml', { name: 'ltest', keyPair: { publicKeyPath: '/nonexistent/id.pub' } });
    const k = await fleet.cli(['inventory', '-c', nokey]);
    expect(k.exitCode).toBe(2);
    expect(k.stderr).toMatch(/keyPair\.publicKeyPath \("\/nonexistent\/id\.pub"\) cannot be read \(ENOENT\)/);
    const outputs = path.join(fleet.ws.home, 'ltest', 'outputs.json');
    const saved = fs.readFileSync(outputs, 'utf8');
    fs.writeFileSync(outputs, '{ not json');
    try {
      const bad = await fleet.cli(['inventory', '--env', 'ltest']);
      expect(bad.exitCode).toBe(2);
      expect(bad.stderr).toMatch(/outputs\.json is unreadable/);
    } finally {
      fs.writeFileSync(outputs, saved);
    }
  });

  it('removes every process, namespace, link and mount on down, and down again succeeds', async () => {
    const pids = Object.values(await fleet.pids());
    const down = await fleet.cli(['down', '--env', 'ltest', '--yes']);
    expect(down.exitCode, down.stderr).toBe(0);
    expect(await leftoversOf(PREFIX, pids)).toEqual([]);
    expect((await fleet.cli(['down', '--env', 'ltest', '--yes'])).exitCode).toBe(0);
    const status = JSON.parse((await fleet.cli(['status', '--env', 'ltest', '--json'])).stdout);
    expect(status).toMatchObject({ status: 'down', target: 'local', outputs: null });
  });
});
