/** Where each host of the local target lives: namespace, links, address. Pure. */
import type { FleetConfig, Role } from '../../stacks/config';
import { parseCidr } from '../../stacks/config';
import { UsageError } from './errors';
import { hostGroups, hostName } from '../../stacks/topology';
import { isPrivateGroup } from '../../stacks/private-network';

export interface LocalHostPlan {
  readonly role: Role;
  readonly group: string;
  readonly name: string;
  /** Network namespace name; also the host's id in outputs. */
  readonly netns: string;
  /** veth ends: `rootIf` stays on the bridge, the other becomes eth0 inside the namespace. */
  readonly rootIf: string;
  readonly peerIf: string;
  readonly ip: string;
  /** Issue 18: on the private bridge (inside the controller's namespace), reached only through the controller. */
  readonly private?: boolean;
}

/**
 * Private agents on the local target (issue 18): the upper half of local.subnet on a second bridge that lives
 * inside the controller's network namespace (the controller routes between its two links). The machine's root
 * namespace gets an `unreachable` route for that half: no path from the machine to an agent but the door.
 */
export interface LocalPrivateNet {
  readonly bridge: string;
  readonly cidr: string;
  /** The controller's address on the private bridge: the private hosts' default route. */
  readonly gatewayIp: string;
  readonly prefixLength: number;
}

export interface LocalPlan {
  readonly bridge: string;
  readonly bridgeIp: string;
  readonly prefixLength: number;
  readonly hosts: readonly LocalHostPlan[];
  readonly privateNet?: LocalPrivateNet;
}

function ipOf(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** Hosts get .10, .11, … of local.subnet; .1 is the bridge. Interface names stay under 15 characters. */
export function planLocal(config: FleetConfig): LocalPlan {
  const net = parseCidr(config.local.subnet);
  if (!net) throw new UsageError(`local.subnet (${config.local.subnet}) is not a CIDR`);
  const p = config.local.prefix;
  const size = 2 ** (32 - net.bits);
  const split = isPrivateGroup(config, 'agent');
  const half = split ? size / 2 : size;
  const hosts: LocalHostPlan[] = [];
  let pub = 0;
  let priv = 0;
  for (const g of hostGroups(config)) {
    const isPriv = isPrivateGroup(config, g.role, g.namePrefix);
    for (let i = 0; i < g.count; i++) {
      const n = hosts.length;
      const k = isPriv ? priv++ : pub++;
      if (10 + k >= half - 1) {
        throw new UsageError(`local.subnet (${config.local.subnet}) has room for ${half - 11} ${split ? (isPriv ? 'private hosts in its upper half' : 'public hosts in its lower half (network.agents: private takes the upper half)') : 'hosts'}, the fleet has more: use a larger subnet, e.g. a /22`);
      }
      const name = hostName(g, i);
      hosts.push({ role: g.role, group: g.namePrefix, name, netns: `${p}-${config.name}-${name}`, rootIf: `${p}v${n}`, peerIf: `${p}p${n}`, ip: ipOf(net.base + (isPriv ? half : 0) + 10 + k), ...(isPriv ? { private: true } : {}) });
    }
  }
  const privateNet = split ? { bridge: `${p}br1`, cidr: `${ipOf(net.base + half)}/${net.bits + 1}`, gatewayIp: ipOf(net.base + half + 1), prefixLength: net.bits + 1 } : undefined;
  return { bridge: `${p}br0`, bridgeIp: ipOf(net.base + 1), prefixLength: net.bits, hosts, ...(privateNet ? { privateNet } : {}) };
}

/**
 * The per-host sshd configuration: the login user (config.sshUser) by key only, PAM on (so limits.d applies
 * to new sessions). As on Amazon Linux, root cannot log in unless root is the login user.
 */
export function sshdConfig(ip: string, login: string): string {
  return [
    '# written by loadfleet for a local-target host',
    'Port 22',
    `ListenAddress ${ip}`,
    'HostKey /etc/ssh/loadfleet_host_ed25519_key',
    `PermitRootLogin ${login === 'root' ? 'prohibit-password' : 'no'}`,
    `AllowUsers ${login}`,
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'UsePAM yes',
    'MaxStartups 200:30:400',
    'MaxSessions 64',
    'PidFile /run/sshd.pid',
    'PrintMotd no',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    '',
  ].join('\n');
}
