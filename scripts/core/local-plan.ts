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
  /** Fixed MAC of the host's eth0 (macOf its address): what the other hosts' permanent neighbour entries name. */
  readonly mac: string;
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
  /** Fixed MAC of the bridge (a bridge otherwise takes the lowest MAC of its ports, which changes as hosts come and go). */
  readonly bridgeMac: string;
  readonly prefixLength: number;
  readonly hosts: readonly LocalHostPlan[];
  readonly privateNet?: LocalPrivateNet;
}

function ipOf(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/**
 * A Linux bridge takes at most BR_MAX_PORTS - 1 = 1023 ports (net/bridge/br_private.h: BR_PORT_BITS 10, port 0
 * reserved): measured here, the 1024th `ip link set … master` fails with "Exchange full" (test/scale/bridge-limits.sh).
 */
export const MAX_BRIDGE_PORTS = 1023;

/** A locally administered MAC (02:…) from an IPv4 address: 02:4c:46 ("LF") and the address's low 24 bits. */
export function macOf(ip: string): string {
  const [, b, c, d] = ip.split('.').map(Number);
  return ['02', '4c', '46', ...[b!, c!, d!].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}

/**
 * Permanent neighbour entries (no ARP) for one host: the bridge's address, and the hosts it talks to — an agent
 * the controller, targets and monitoring host ("hubs"); a hub every host. Why (issue 19, measured with 1,023
 * bare namespaces on one bridge, test/scale/bridge-limits.sh): an ARP request is a broadcast the bridge copies
 * to every port in one go, into the CPU's backlog of net.core.netdev_max_backlog (1000) packets, so past ~1,000
 * ports the oldest ports (the controller is the first host) never hear it: EHOSTUNREACH; and the neighbour
 * table is one table for all namespaces (gc_thresh3 1024 entries machine-wide; entries younger than 5 s are
 * never collected), which 2+ entries per host overflow. Permanent entries send no ARP and are exempt from
 * that count (net/core/neighbour.c: neigh_alloc's exempt_from_gc for NUD_PERMANENT).
 */
export function staticNeighbours(plan: LocalPlan, h: LocalHostPlan): { ip: string; mac: string }[] {
  // Private hosts (issue 18) sit on the controller's second bridge, another link: they keep ARP there (their
  // gateway's MAC is that bridge's), and no host of the main bridge names them (they are routed, not neighbours).
  if (h.private) return [];
  const hub = (x: LocalHostPlan) => x.role !== 'agent';
  const peers = plan.hosts.filter((x) => x !== h && !x.private && (hub(h) || hub(x)));
  return [{ ip: plan.bridgeIp, mac: plan.bridgeMac }, ...peers.map((x) => ({ ip: x.ip, mac: x.mac }))];
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
  const total = hostGroups(config).reduce((n, g) => n + g.count, 0);
  if (total > MAX_BRIDGE_PORTS) {
    throw new UsageError(`the fleet has ${total} hosts; the local target puts them all on one Linux bridge, which takes at most ${MAX_BRIDGE_PORTS} (the kernel's BR_MAX_PORTS): use fewer agents (agents.count) or targets, or --target aws`);
  }
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
      const ip = ipOf(net.base + (isPriv ? half : 0) + 10 + k);
      hosts.push({ role: g.role, group: g.namePrefix, name, netns: `${p}-${config.name}-${name}`, rootIf: `${p}v${n}`, peerIf: `${p}p${n}`, ip, mac: macOf(ip), ...(isPriv ? { private: true } : {}) });
    }
  }
  const privateNet = split ? { bridge: `${p}br1`, cidr: `${ipOf(net.base + half)}/${net.bits + 1}`, gatewayIp: ipOf(net.base + half + 1), prefixLength: net.bits + 1 } : undefined;
  return { bridge: `${p}br0`, bridgeIp: ipOf(net.base + 1), bridgeMac: macOf(ipOf(net.base + 1)), prefixLength: net.bits, hosts, ...(privateNet ? { privateNet } : {}) };
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
