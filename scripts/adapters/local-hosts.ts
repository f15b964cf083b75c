/**
 * The local target's hosts: one network namespace each on a private bridge, private mount/uts/pid
 * namespaces with their own /etc, and their own sshd. Every process, namespace and link made is
 * recorded (before it is made) in the env folder, so teardown finds it even after a crash.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { ExternalError, ToolMissingError, UsageError } from '../core/errors';
import { sshdConfig, staticNeighbours, type LocalHostPlan, type LocalPlan } from '../core/local-plan';
import { projectPath } from './project-root';

const INIT = projectPath('scripts', 'adapters', 'host-init.sh');

interface HostState {
  readonly netns: string;
  readonly rootIf: string;
  readonly ip: string;
  readonly dir: string;
  pid?: number;
}

const KEY = 'etc-upper/ssh/loadfleet_host_ed25519_key';

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(() => true, () => false);
}

async function readHostKey(dir: string): Promise<string> {
  return (await fs.readFile(path.join(dir, `${KEY}.pub`), 'utf8')).split(' ').slice(0, 2).join(' ');
}
interface LocalState {
  bridge: string;
  /** Issue 18: the private half, blocked in the root namespace by an `unreachable` route (removed on destroy). */
  privateCidr?: string;
  /** The login user the hosts were made for (absent in older state: root). */
  login?: string;
  hosts: HostState[];
}

export interface CreatedHost {
  readonly plan: LocalHostPlan;
  /** "ssh-ed25519 AAAA…": pinned in the env's known_hosts before first contact. */
  readonly hostKey: string;
}

async function sh(cmd: string, args: string[]): Promise<void> {
  const r = await execa(cmd, args, { reject: false, stdin: 'ignore' });
  if (r.exitCode !== 0) throw new ExternalError(`${cmd} ${args.join(' ')} failed: ${String(r.stderr).trim() || `exit ${r.exitCode}`}`);
}

async function quiet(cmd: string, args: string[]): Promise<boolean> {
  return (await execa(cmd, args, { reject: false, stdin: 'ignore' })).exitCode === 0;
}

/** Fails with what is missing (root, Linux, a tool) before anything is made. */
export async function requireLocalSupport(login = 'root'): Promise<void> {
  if (process.platform !== 'linux') throw new UsageError(`--target local needs Linux (network namespaces); this is ${process.platform}: use --target aws`);
  if (process.getuid?.() !== 0) throw new UsageError('--target local needs root (it creates network namespaces and mounts): run it as root, e.g. with sudo');
  const tools: [string, string][] = [
    ['ip', 'apt-get install iproute2'],
    ['unshare', 'apt-get install util-linux'],
    ['/usr/sbin/sshd', 'apt-get install openssh-server'],
    ['ssh-keygen', 'apt-get install openssh-client'],
    // A non-root login gets passwordless sudo inside each host, as ec2-user has on Amazon Linux.
    ...(login === 'root' ? [] : ([['sudo', 'apt-get install sudo'], ['useradd', 'apt-get install passwd']] as [string, string][])),
  ];
  for (const [tool, install] of tools) {
    if (!(await quiet('sh', ['-c', `command -v ${tool}`]))) throw new ToolMissingError(tool, install);
  }
}

export class LocalHosts {
  constructor(private readonly dir: string) {}

  private get stateFile(): string {
    return path.join(this.dir, 'hosts.json');
  }

  private async readState(): Promise<LocalState | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.stateFile, 'utf8')) as LocalState;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  /**
   * The bridge this env's state file names (undefined before a first up, and after down). Also when no host is
   * recorded yet: a first `up` killed after writing the state, before any host, leaves this env's own bridge
   * behind (issue 22), and the next `up` must recognise it as its own (create() removes and remakes it), not
   * blame "another env".
   */
  async recordedBridge(): Promise<string | undefined> {
    return (await this.readState())?.bridge;
  }

  private async writeState(state: LocalState): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await fs.writeFile(`${this.stateFile}.tmp`, JSON.stringify(state, null, 2));
    await fs.rename(`${this.stateFile}.tmp`, this.stateFile);
  }

  /**
   * Creates every host. When this env's hosts already exist with the same plan, live hosts are kept as they
   * are and dead ones restarted (`up` twice is a no-op); a different plan (or login user) replaces them all.
   * On a failure, a first creation removes everything it made; a re-creation leaves the running hosts alone.
   */
  async create(plan: LocalPlan, authorizedKey: string, login: string, onHost?: (h: LocalHostPlan, kept: boolean) => void): Promise<CreatedHost[]> {
    const existing = await this.readState();
    if (existing && ((existing.login ?? 'root') !== login || existing.bridge !== plan.bridge || existing.hosts.length !== plan.hosts.length || existing.hosts.some((h, i) => h.netns !== plan.hosts[i]!.netns || h.ip !== plan.hosts[i]!.ip))) {
      await this.destroy();
    }
    const state: LocalState = (await this.readState()) ?? { bridge: plan.bridge, login, hosts: [], ...(plan.privateNet ? { privateCidr: plan.privateNet.cidr } : {}) };
    const first = state.hosts.length === 0;
    // A state naming this bridge with no host is this env's own killed first up: destroy() above removed it.
    // A bridge still there is not in this env's state, so another env's: never taken.
    if (state.hosts.length === 0 && (await quiet('ip', ['link', 'show', plan.bridge]))) {
      throw new UsageError(`bridge ${plan.bridge} already exists and is not this env's: another env uses local.prefix "${plan.bridge.replace(/br0$/, '')}"; give this one its own local.prefix and local.subnet`);
    }
    await this.writeState(state);
    try {
      if (!(await quiet('ip', ['link', 'show', plan.bridge]))) {
        // A fixed MAC: the hosts' permanent neighbour entry for the bridge's address names it (staticNeighbours).
        await sh('ip', ['link', 'add', plan.bridge, 'address', plan.bridgeMac, 'type', 'bridge']);
        await sh('ip', ['addr', 'add', `${plan.bridgeIp}/${plan.prefixLength}`, 'dev', plan.bridge]);
        await sh('ip', ['link', 'set', plan.bridge, 'up']);
      } else await sh('ip', ['link', 'set', plan.bridge, 'address', plan.bridgeMac]); // a bridge made before MACs were fixed
      if (plan.privateNet && !(await quiet('sh', ['-c', `ip route show type unreachable ${plan.privateNet.cidr} | grep -q .`]))) {
        // No path from the machine to a private host but the controller (issue 18): fails at once, sends nothing.
        await sh('ip', ['route', 'add', 'unreachable', plan.privateNet.cidr]);
      }
      const created: CreatedHost[] = [];
      for (const [i, h] of plan.hosts.entries()) {
        const dir = path.join(this.dir, h.name);
        let hs = state.hosts[i];
        if (hs && hs.pid && (await isOurs(hs.pid, hs.dir))) {
          created.push({ plan: h, hostKey: await readHostKey(dir) });
          onHost?.(h, true);
          continue;
        }
        if (!hs) {
          hs = { netns: h.netns, rootIf: h.rootIf, ip: h.ip, dir };
          state.hosts.push(hs);
          await this.writeState(state);
        }
        const hostKey = (await exists(path.join(dir, KEY))) ? await readHostKey(dir) : await this.prepareHostDir(dir, h, authorizedKey, login);
        created.push({ plan: h, hostKey });
        if (!(await quiet('ip', ['netns', 'pids', h.netns]))) await this.wire(plan, h);
        hs.pid = this.startInit(h, dir, login);
        await this.writeState(state);
        onHost?.(h, false);
      }
      return created;
    } catch (e) {
      if (first) await this.destroy().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Namespace, veth pair on the bridge, address, permanent neighbour entries (staticNeighbours), links up. With
   * private agents (issue 18) a private host's veth ends on the second bridge inside the controller's namespace,
   * its default route is the controller, the controller forwards between its links, and every public host routes
   * the private half through it.
   */
  private async wire(plan: LocalPlan, h: LocalHostPlan): Promise<void> {
    const pn = plan.privateNet;
    const controller = plan.hosts.find((x) => x.role === 'controller')!;
    await quiet('ip', ['link', 'del', h.rootIf]);
    await sh('ip', ['netns', 'add', h.netns]);
    await sh('ip', ['link', 'add', h.rootIf, 'type', 'veth', 'peer', 'name', h.peerIf, 'address', h.mac]);
    const inPrivate = pn !== undefined && h.private === true;
    if (inPrivate) {
      await sh('ip', ['link', 'set', h.rootIf, 'netns', controller.netns]);
      await sh('ip', ['-n', controller.netns, 'link', 'set', h.rootIf, 'master', pn.bridge, 'up']);
    } else {
      await sh('ip', ['link', 'set', h.rootIf, 'master', plan.bridge, 'up']);
    }
    await sh('ip', ['link', 'set', h.peerIf, 'netns', h.netns]);
    if (!inPrivate) await sh('ip', ['neigh', 'replace', h.ip, 'lladdr', h.mac, 'nud', 'permanent', 'dev', plan.bridge]);
    // One `ip` for everything inside the namespace (a hub's entries name every host).
    const batch = [
      `link set ${h.peerIf} name eth0`,
      `addr add ${h.ip}/${inPrivate ? pn.prefixLength : plan.prefixLength} dev eth0`,
      ...staticNeighbours(plan, h).map((n) => `neigh replace ${n.ip} lladdr ${n.mac} nud permanent dev eth0`),
      'link set eth0 up',
      'link set lo up',
    ];
    if (pn) {
      if (inPrivate) batch.push(`route add default via ${pn.gatewayIp}`);
      else if (h === controller) batch.push(`link add ${pn.bridge} type bridge`, `addr add ${pn.gatewayIp}/${pn.prefixLength} dev ${pn.bridge}`, `link set ${pn.bridge} up`);
      else batch.push(`route add ${pn.cidr} via ${controller.ip}`);
    }
    const r = await execa('ip', ['-n', h.netns, '-batch', '-'], { reject: false, input: `${batch.join('\n')}\n` });
    if (r.exitCode !== 0) throw new ExternalError(`ip -n ${h.netns} -batch (wiring ${h.name}) failed: ${String(r.stderr).trim() || `exit ${r.exitCode}`}`);
    if (pn && h === controller) await sh('ip', ['netns', 'exec', h.netns, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1']);
  }

  /** The host's private folders; a non-root login user is created by host-init.sh inside the host. */
  private async prepareHostDir(dir: string, h: LocalHostPlan, authorizedKey: string, login: string): Promise<string> {
    await fs.rm(dir, { recursive: true, force: true });
    for (const sub of ['etc-upper/ssh', 'etc-work', 'root/.ssh', 'home', 'log', 'tmp']) await fs.mkdir(path.join(dir, sub), { recursive: true });
    await fs.chmod(path.join(dir, 'root'), 0o700);
    await fs.chmod(path.join(dir, 'root/.ssh'), 0o700);
    await fs.chmod(path.join(dir, 'home'), 0o755);
    await fs.chmod(path.join(dir, 'tmp'), 0o1777);
    const keyLine = `${authorizedKey.trim()}\n`;
    if (login === 'root') await fs.writeFile(path.join(dir, 'root/.ssh/authorized_keys'), keyLine, { mode: 0o600 });
    else await fs.writeFile(path.join(dir, 'login_authorized_keys'), keyLine, { mode: 0o600 });
    const key = path.join(dir, KEY);
    await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `loadfleet-${h.name}`, '-f', key]);
    await fs.writeFile(path.join(dir, 'etc-upper/ssh/loadfleet_sshd_config'), sshdConfig(h.ip, login));
    await fs.writeFile(path.join(dir, 'etc-upper/hostname'), `${h.name}\n`);
    // sudo looks its own host name up and warns on every call when it does not resolve.
    const machineHosts = await fs.readFile('/etc/hosts', 'utf8').catch(() => '127.0.0.1 localhost\n');
    await fs.writeFile(path.join(dir, 'etc-upper/hosts'), `${machineHosts.trimEnd()}\n127.0.1.1 ${h.name}\n`);
    return readHostKey(dir);
  }

  private startInit(h: LocalHostPlan, dir: string, login: string): number {
    const child = spawn(
      'ip',
      ['netns', 'exec', h.netns, 'unshare', '--mount', '--uts', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private', '/bin/sh', INIT, dir, h.name, login],
      { detached: true, stdio: ['ignore', 'ignore', 'ignore'] },
    );
    child.unref();
    if (child.pid === undefined) throw new ExternalError(`could not start host ${h.name}`);
    return child.pid;
  }

  /** Idempotent: removes every recorded process, namespace, link and the bridge, then proves it. */
  async destroy(): Promise<{ hosts: number }> {
    const state = await this.readState();
    if (!state) return { hosts: 0 };
    for (const h of state.hosts) {
      // End only what we started: the recorded PID, and only if it still runs our init for this host.
      if (h.pid && (await isOurs(h.pid, h.dir))) {
        try {
          process.kill(h.pid, 'SIGKILL'); // unshare --fork ignores SIGTERM; --kill-child takes PID 1 with it
        } catch {
          /* already gone */
        }
        await waitGone(h.pid);
      }
    }
    for (const h of state.hosts) {
      await quiet('ip', ['netns', 'del', h.netns]);
      await quiet('ip', ['link', 'del', h.rootIf]);
    }
    await quiet('ip', ['link', 'del', state.bridge]);
    if (state.privateCidr) await quiet('ip', ['route', 'del', 'unreachable', state.privateCidr]);
    const left = await this.leftovers(state);
    if (left.length > 0) throw new ExternalError(`local hosts not fully removed: ${left.join(', ')}`);
    if ((await execa('ip', ['netns', 'list'], { reject: false })).stdout.trim() === '') {
      await quiet('umount', ['/run/netns']);
      await fs.rmdir('/run/netns').catch(() => undefined);
    }
    await fs.rm(this.stateFile, { force: true });
    for (const h of state.hosts) await fs.rm(h.dir, { recursive: true, force: true });
    return { hosts: state.hosts.length };
  }

  /** What of a state still exists: processes, namespaces, links, mounts. */
  private async leftovers(state: LocalState): Promise<string[]> {
    const left: string[] = [];
    const namespaces = new Set((await execa('ip', ['netns', 'list'], { reject: false })).stdout.split('\n').map((l) => l.split(' ')[0]));
    const mounts = await fs.readFile('/proc/mounts', 'utf8');
    for (const h of state.hosts) {
      if (h.pid && (await isOurs(h.pid, h.dir))) left.push(`process ${h.pid}`);
      if (namespaces.has(h.netns)) left.push(`netns ${h.netns}`);
      if (await quiet('ip', ['link', 'show', h.rootIf])) left.push(`link ${h.rootIf}`);
      if (mounts.includes(`/run/netns/${h.netns} `)) left.push(`mount /run/netns/${h.netns}`);
    }
    if (await quiet('ip', ['link', 'show', state.bridge])) left.push(`bridge ${state.bridge}`);
    if (state.privateCidr && (await execa('ip', ['route', 'show', 'type', 'unreachable', state.privateCidr], { reject: false })).stdout.trim() !== '') left.push(`route unreachable ${state.privateCidr}`);
    return left;
  }

  /** PIDs of running host inits, for tests and status. */
  async pids(): Promise<Record<string, number>> {
    const state = await this.readState();
    return Object.fromEntries((state?.hosts ?? []).filter((h) => h.pid).map((h) => [h.netns, h.pid!]));
  }
}

async function isOurs(pid: number, dir: string): Promise<boolean> {
  try {
    const cmdline = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmdline.includes(dir) && cmdline.includes(INIT);
  } catch {
    return false;
  }
}

/** Until the process is gone or a zombie (its cmdline reads empty). */
async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline === '') return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
