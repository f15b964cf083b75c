/**
 * `loadfleet init`'s pure half: the starter config (commented, valid as written), the engine's starter
 * script, and the choices made from what the machine has (a free local subnet and prefix, the highest
 * nofile this machine lets a process have). The adapter (scripts/actions/init.ts) gathers those facts.
 */
import { NAME_RE, parseCidr } from '../../stacks/config';
import { UsageError } from './errors';
import type { EngineName } from '../../stacks/engines';
import { TARGET_PATHS } from '../run/target-server';

/** The schema's default for tuning.nofile (what EC2 takes). */
export const DEFAULT_NOFILE = 1_048_576;

/** What the machine allows: the process hard limit, fs.nr_open, and whether CAP_SYS_RESOURCE lets root go above the hard limit. */
export interface NofileFacts {
  readonly hardLimit: number | 'unlimited';
  readonly nrOpen: number;
  readonly capSysResource: boolean;
}

/**
 * The highest nofile a local-target host can give its processes: fs.nr_open is machine-wide (a namespace host
 * cannot raise it), and without CAP_SYS_RESOURCE no process here may raise its hard limit above the one it has
 * (pam_limits then silently yields that limit). With a reason, for messages.
 */
export function nofileCap(f: NofileFacts): { cap: number; why: string } {
  if (!f.capSysResource && f.hardLimit !== 'unlimited' && f.hardLimit < f.nrOpen) {
    return { cap: f.hardLimit, why: `this machine's hard limit on open files is ${f.hardLimit} and loadfleet lacks CAP_SYS_RESOURCE to raise it` };
  }
  return { cap: f.nrOpen, why: `fs.nr_open is ${f.nrOpen} on this machine (machine-wide: a local host cannot raise it)` };
}

/** The starter's nofile for the local target: the largest power of two within the cap (headroom below it), at most the default. */
export function starterNofile(cap: number): number {
  let n = 1024;
  while (n * 2 <= cap && n * 2 <= DEFAULT_NOFILE) n *= 2;
  return n;
}

const ipOf = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

function overlaps(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y) return false;
  const bits = Math.min(x.bits, y.bits);
  const block = 2 ** (32 - bits);
  return Math.floor(x.base / block) === Math.floor(y.base / block);
}

/** The CIDRs of `used` that overlap `cidr` (addresses and routes of the machine, as a.b.c.d/n). */
export function overlapping(cidr: string, used: readonly string[]): string[] {
  return used.filter((u) => overlaps(cidr, u));
}

/** The first 10.231.N.0/24 that no address or route of the machine overlaps. */
export function freeLocalSubnet(used: readonly string[]): string {
  for (let n = 0; n < 256; n++) {
    const candidate = `${ipOf((10 << 24) + (231 << 16) + (n << 8))}/24`;
    if (overlapping(candidate, used).length === 0) return candidate;
  }
  throw new UsageError('no free /24 in 10.231.0.0/16 on this machine: free one, or write loadfleet.yaml by hand with local.subnet set to a private /24 that no address or route of this machine overlaps');
}

/** The first prefix (lf, lf2, … lf9, la … lz) whose bridge `<prefix>br0` is not a link of the machine. */
export function freePrefix(links: readonly string[]): string {
  const candidates = ['lf', ...[2, 3, 4, 5, 6, 7, 8, 9].map((i) => `lf${i}`), ...'abcdeghijklmnopqrstuvwxyz'.split('').map((c) => `l${c}`)];
  const taken = new Set(links);
  const free = candidates.find((p) => !taken.has(`${p}br0`) && ![...taken].some((l) => l.startsWith(`${p}v`) || l.startsWith(`${p}p`)));
  if (!free) throw new UsageError('every starter prefix is in use on this machine: write loadfleet.yaml by hand with local.prefix set to a short name that no link of this machine starts with');
  return free;
}

/** An env name from a folder name: lower-case, dashes, 2-24 characters; "fleet" when nothing usable is left. */
export function nameFromFolder(folder: string): string {
  const n = folder.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').slice(0, 24).replace(/-+$/, '');
  return NAME_RE.test(n) ? n : 'fleet';
}

/** The starter script's file name per engine. */
export const STARTER_SCRIPT: Readonly<Partial<Record<EngineName, string>>> = {
  locust: 'locustfile.py',
  k6: 'script.js',
  artillery: 'scenario.yml',
};

/** The starter test for each engine: requests to the local target's nginx paths (README, "loadfleet serve"). */
export function starterScript(engine: EngineName): string | undefined {
  switch (engine) {
    case 'locust':
      return `# A starter Locust test (loadfleet init). run sends it to every agent; the host is --host, by default
# http://<first target host>:<its first port>, where \`loadfleet serve\` answers ${TARGET_PATHS.join(', ')} on the local target.
from locust import HttpUser, between, task


class Visitor(HttpUser):
    wait_time = between(0.1, 0.5)

    @task(3)
    def home(self):
        self.client.get("/")

    @task(1)
    def items(self):
        self.client.get("/api/items")
`;
    case 'k6':
      return `// A starter k6 test (loadfleet init). LOADFLEET_HOST is --host, by default http://<first target host>:<its first port>,
// where \`loadfleet serve\` answers ${TARGET_PATHS.join(', ')} on the local target.
import http from 'k6/http';
import { check, sleep } from 'k6';

export default function () {
  const res = http.get(\`\${__ENV.LOADFLEET_HOST}/api/items\`);
  check(res, { 'status is 200': (r) => r.status === 200 });
  sleep(0.2);
}
`;
    case 'artillery':
      return `# A starter Artillery test (loadfleet init). run replaces config.target with --host (by default
# http://<first target host>:<its first port>) and the phases with --users/--rate/--duration.
config:
  target: "http://placeholder"
scenarios:
  - name: browse
    flow:
      - get:
          url: "/"
      - get:
          url: "/api/items"
`;
    default:
      // JMeter and nGrinder read the target from their own plan/script (scripts/run/load.ts jmeterProps passes only
      // the load; nGrinder's param): no starter is written rather than one nobody ran here.
      return undefined;
  }
}

export interface StarterInput {
  readonly name: string;
  readonly target: 'local' | 'aws';
  readonly engine: EngineName;
  /** publicKeyPath as written (relative to the config's folder, or absolute). */
  readonly publicKeyPath: string;
  readonly keyNote: string;
  /** local only */
  readonly subnet?: string;
  readonly prefix?: string;
  readonly nofile?: { value: number; why: string };
  readonly now: Date;
}

/** The starter config: every line valid as written, each choice commented with why. */
export function starterConfig(i: StarterInput): string {
  const local = i.target === 'local';
  const lines = [
    `# loadfleet starter config, written by "loadfleet init --target ${i.target} --engine ${i.engine}" on ${i.now.toISOString().slice(0, 10)}.`,
    '# Commands run in this folder find it (or pass -c / set LOADFLEET_CONFIG); env state goes to .loadfleet/ beside it.',
    '# Every field, its type and default: README.md, "Config reference".',
    `name: ${i.name}                 # the env's name: tags, folder names, host names`,
    `target: ${i.target}                # where "loadfleet up" builds the hosts: local (namespace hosts here) or aws (EC2)`,
    `engine: ${i.engine}                # locust, k6, artillery, jmeter or ngrinder`,
    'access:',
    local
      ? '  sshCidrs: [127.0.0.1/32]     # who may SSH and open the UIs: unused by the local target, required by the schema'
      : '  sshCidrs: [203.0.113.7/32]   # CHANGE THIS to your own address (curl https://checkip.amazonaws.com)/32: only it may SSH and open the UIs',
    'keyPair:',
    `  publicKeyPath: ${i.publicKeyPath}   # ${i.keyNote}`,
    '  # privateKeyPath: defaults to publicKeyPath without ".pub"; only the public key ever leaves this machine',
    'agents:',
    `  count: 2                     # load generators${local ? '' : ' (c5.large by default: see agents.instanceType)'}`,
  ];
  if (local) {
    lines.push(
      'targets:',
      `  # A host for the system under test: "loadfleet serve" starts nginx on its first port, answering`,
      `  # / (a page), /api/items (JSON), /static/big (64 KiB) and /slow (queued above 20 requests/s).`,
      '  - { name: app, count: 1, ports: [8080] }',
    );
  } else {
    lines.push(
      'targets: []                    # your own servers; or hosts loadfleet creates, e.g. - { name: app, count: 1, ports: [8080] }',
    );
  }
  lines.push('monitoring:', '  enabled: true                # node_exporter on every host, Prometheus on a monitoring host');
  if (i.nofile) lines.push('tuning:', `  nofile: ${i.nofile.value}               # open files per process: ${i.nofile.why}`);
  if (local) {
    lines.push(
      'local:',
      `  subnet: ${i.subnet}        # free on this machine when init ran (no address or route overlaps it)`,
      `  prefix: ${i.prefix}                   # names of namespaces and links (${i.prefix}br0, ${i.prefix}-${i.name}-agent-1, …)`,
    );
  }
  lines.push('ttlHours: 4                    # dead-man switch: every host stops this many hours after up', '');
  return lines.join('\n');
}
