/** A local-target fleet for one test file: made with the real CLI, always removed afterwards. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { loadfleet, type CliResult } from './cli';
import { requireTool } from './tools';
import { workspace, type Workspace } from './workspace';
import { LocalHosts } from '../../scripts/adapters/local-hosts';
import { shQuote } from '../../scripts/core/safe-text';
import type { FleetConfigInput } from '../../stacks/config';
import type { FleetOutputs } from '../../scripts/core/env-record';

export interface LocalFleet {
  readonly ws: Workspace;
  readonly config: string;
  readonly env: Record<string, string>;
  readonly name: string;
  outputs(): FleetOutputs;
  cli(args: string[]): Promise<CliResult>;
  /** Runs a command on a host through plain OpenSSH as the env's login user: a brand-new session every time. */
  ssh(host: string, command: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  /** The same as root: through `sudo -n` when the fleet logs in as another user (as on EC2). */
  sshRoot(host: string, command: string): Promise<{ exitCode: number; stdout: string; stderr: string }>;
  hostDir(host: string): string;
  /** The login user's authorized_keys of a host, as seen from the machine. */
  authorizedKeys(host: string): string;
  pids(): Promise<Record<string, number>>;
  remove(): Promise<void>;
}

export function requireLocalTools(): void {
  if (process.getuid?.() !== 0) throw new Error('the local-target tests need root (network namespaces): run them as root');
  requireTool('ip', 'apt-get install iproute2');
  requireTool('sshd', 'apt-get install openssh-server');
  requireTool('ssh', 'apt-get install openssh-client');
}

export async function localFleet(name: string, prefix: string, subnet: string, extra: Partial<FleetConfigInput> = {}): Promise<LocalFleet> {
  requireLocalTools();
  const ws = workspace(`lf-${name}-`);
  const config = ws.writeConfig('fleet.yaml', { name, local: { prefix, subnet }, tuning: { nofile: 16384 }, ...extra });
  const env = { LOADFLEET_HOME: ws.home };
  const envDir = path.join(ws.home, name);
  const fleet: LocalFleet = {
    ws, config, env, name,
    outputs: () => JSON.parse(fs.readFileSync(path.join(envDir, 'outputs.json'), 'utf8')) as FleetOutputs,
    cli: (args) => loadfleet(args, env),
    sshRoot: (host, command) => fleet.ssh(host, fleet.outputs().sshUser === 'root' ? command : `sudo -n sh -c ${shQuote(command)}`),
    async ssh(host, command) {
      const h = fleet.outputs().hosts.find((x) => x.name === host)!;
      const r = await execa('ssh', ['-i', ws.privateKeyPath, '-o', `UserKnownHostsFile=${path.join(envDir, 'known_hosts')}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5', `${fleet.outputs().sshUser}@${h.privateIp}`, command], { reject: false, stdin: 'ignore', timeout: 20_000 });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
    hostDir: (host) => path.join(envDir, 'local', host),
    authorizedKeys: (host) => authorizedKeysIn(path.join(envDir, 'local', host), fleet.outputs().sshUser),
    pids: () => new LocalHosts(path.join(envDir, 'local')).pids(),
    async remove() {
      await loadfleet(['down', '--env', name, '--yes'], env).catch(() => undefined);
      await new LocalHosts(path.join(envDir, 'local')).destroy().catch(() => undefined); // even if the CLI failed
      ws.remove();
    },
  };
  const up = await fleet.cli(['up', '--target', 'local', '-c', config, '--yes', '--json']);
  if (up.exitCode !== 0) {
    await fleet.remove();
    throw new Error(`local up failed (${up.exitCode}): ${up.stderr}`);
  }
  return fleet;
}

/** Where a local host keeps its login user's authorized_keys (root's under root/, others' under home/). */
export function authorizedKeysIn(hostDir: string, user: string): string {
  return path.join(hostDir, user === 'root' ? 'root' : `home/${user}`, '.ssh/authorized_keys');
}

/** Proof that nothing of a prefix is left on the machine. */
export async function leftoversOf(prefix: string, pids: number[]): Promise<string[]> {
  const left: string[] = [];
  const ns = (await execa('ip', ['netns', 'list'], { reject: false })).stdout;
  left.push(...ns.split('\n').filter((l) => l.startsWith(`${prefix}-`)).map((l) => `netns ${l.split(' ')[0]}`));
  const links = (await execa('ip', ['-o', 'link', 'show'], { reject: false })).stdout;
  left.push(...links.split('\n').map((l) => l.split(': ')[1]?.split('@')[0] ?? '').filter((n) => new RegExp(`^${prefix}(br0|v\\d+|p\\d+)$`).test(n)).map((n) => `link ${n}`));
  for (const pid of pids) if (fs.existsSync(`/proc/${pid}`) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '') left.push(`process ${pid}`);
  const mounts = fs.readFileSync('/proc/mounts', 'utf8');
  left.push(...mounts.split('\n').filter((l) => l.includes(`/run/netns/${prefix}-`)).map((l) => `mount ${l.split(' ')[1]}`));
  return left;
}
