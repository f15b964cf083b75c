/**
 * FleetConfig: the one description of an environment. Schema, defaults and validation live here and
 * nowhere else. Pure: no file, network or environment access (the edge reads files; see
 * scripts/adapters/config-file.ts).
 */
import { z, type Zod } from './zod';
import { ENGINE_NAMES } from './engines';
import { ConfigError, formatPath, type ConfigProblem } from './config-error';
import { MAX_AGENTS, checkRegions, withRegionCount } from './regions';
import { parseCidr } from './cidr';
import { checkPrivateNetwork, privateNetworkFields, targetNetworkField } from './private-network';

export { MAX_AGENTS };
/** The kernel's ceiling for fs.nr_open (and so for any nofile limit). */
export const MAX_NOFILE = 1_073_741_816;
/** Tags we own; user tags may not use this prefix (nor AWS's own). */
export const TAG_PREFIX = 'loadfleet:';

/** An env name: also a tag value, an EC2 filter value, a folder name and part of resource names. */
export const NAME_RE = /^[a-z][a-z0-9-]{0,22}[a-z0-9]$/;
const REGION_RE = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const INSTANCE_TYPE_RE = /^[a-z][a-z0-9-]*\d[a-z0-9-]*\.[a-z0-9]+$/;
const AMI_RE = /^ami-[0-9a-f]{8,17}$/;

/** Parses "a.b.c.d/n"; returns undefined when it is not a valid IPv4 CIDR. */
export { parseCidr };

export function isWorldCidr(cidr: string): boolean {
  return parseCidr(cidr)?.bits === 0;
}

/**
 * Without access.allowWorld, the widest prefix sshCidrs may hold: a /8 is a whole organisation's block;
 * anything wider is most of some continent's addresses, and [0.0.0.0/1, 128.0.0.0/1] is the world.
 */
export const WIDEST_ADMIN_PREFIX = 8;
/** Without access.allowWorld, how many addresses sshCidrs may cover together: two /8s. */
export const MAX_ADMIN_ADDRESSES = 2 ** 25;

/** Addresses the CIDRs cover together (overlaps counted once). */
export function addressesCovered(cidrs: readonly string[]): number {
  const ranges = cidrs
    .map(parseCidr)
    .filter((c): c is { base: number; bits: number } => c !== undefined)
    .map(({ base, bits }) => {
      const size = 2 ** (32 - bits);
      const start = Math.floor(base / size) * size;
      return [start, start + size] as const;
    })
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = 0;
  for (const [from, to] of ranges) {
    if (to <= end) continue;
    total += to - Math.max(from, end);
    end = to;
  }
  return total;
}

const cidr = z.string().refine((v) => parseCidr(v) !== undefined, {
  message: 'is not an IPv4 CIDR: write it as a.b.c.d/n, e.g. 203.0.113.7/32',
});

const instanceType = (fallback: string) =>
  z
    .string()
    .regex(INSTANCE_TYPE_RE, { message: 'is not an EC2 instance type: write it like c5.large or t3.small' })
    .default(fallback);

const port = z
  .number()
  .int({ message: 'must be a whole number' })
  .min(1, { message: 'must be a port between 1 and 65535' })
  .max(65535, { message: 'must be a port between 1 and 65535' });

const targetSchema = z.strictObject({
  /** Group name; hosts are called `<name>-1`, `<name>-2`, … */
  name: z.string().regex(/^[a-z][a-z0-9]{0,15}$/, {
    message: 'must be lower-case letters and digits, starting with a letter, at most 16 characters',
  }),
  /** @default 1 */
  count: z.number().int().min(1, { message: 'must be at least 1 (drop the target group instead)' }).max(100, {
    message: 'must be at most 100 per group',
  }).default(1),
  /** @default t3.small */
  instanceType: instanceType('t3.small'),
  /** Ports the load generators may reach. @default [8080] */
  ports: z.array(port).min(1, { message: 'must list at least one port' }).default([8080]),
  ...targetNetworkField,
});

const stateSchema = z.discriminatedUnion('backend', [
  z.strictObject({ backend: z.literal('local') }),
  z.strictObject({
    backend: z.literal('s3'),
    bucket: z.string().min(3, { message: 'must name an existing S3 bucket' }),
    /** @default loadfleet/<name>/terraform.tfstate */
    key: z.string().optional(),
    /** @default the fleet's region */
    region: z.string().regex(REGION_RE).optional(),
    /** Optional DynamoDB lock table; without it S3's own lock file is used. */
    dynamodbTable: z.string().optional(),
  }),
]);

export const fleetSchema = z
  .strictObject({
    /** Env name: tags, state folder, stack name. */
    name: z.string().regex(NAME_RE, {
      message: 'must be 2-24 characters of lower-case letters, digits and dashes, starting with a letter',
    }),
    /** Where `up` builds the hosts when --target is not given: aws (EC2) or local (namespace hosts on this machine). @default aws */
    target: z.enum(['aws', 'local'], { message: 'must be aws or local' }).default('aws'),
    /** @default us-east-1 */
    region: z.string().regex(REGION_RE, { message: 'is not an AWS region name such as us-east-1' }).default('us-east-1'),
    /** @default locust */
    engine: z.enum(ENGINE_NAMES, { message: `must be one of ${ENGINE_NAMES.join(', ')}` }).default('locust'),
    /**
     * Exact engine version to install; must be one with pinned checksums in ami/engines/versions.json.
     * @default the engine's pinned default (see README, "install")
     */
    engineVersion: z.string().regex(/^[0-9][0-9A-Za-z.+-]*$/, { message: 'must be a version like 2.12.1' }).optional(),
    /**
     * sha256 of the engine artifact that has no published checksum (nGrinder's controller war): install
     * refuses a download that does not match it. Without it, `install --trust-first-download` records the
     * first download's sha256 in the env folder instead. @default none
     */
    engineSha256: z.string().regex(/^[0-9a-f]{64}$/, { message: 'must be a sha256 as 64 lower-case hex digits (sha256sum FILE)' }).optional(),
    access: z.strictObject({
      /** Who may SSH and open the web UIs. Required. */
      sshCidrs: z.array(cidr).min(1, { message: 'must list at least one CIDR, e.g. your address as 203.0.113.7/32' }),
      /** 0.0.0.0/0, prefixes wider than /8 and sets covering more than two /8s are refused unless this is true. @default false */
      allowWorld: z.boolean().default(false),
    }),
    keyPair: z.strictObject({
      /** The user's public key; only this ever reaches AWS. */
      publicKeyPath: z.string().min(1),
      /** @default publicKeyPath without ".pub" */
      privateKeyPath: z.string().min(1).optional(),
    }),
    /** Login user on the hosts, on both targets (the local target creates it with passwordless sudo). @default ec2-user (Amazon Linux) */
    sshUser: z.string().regex(/^[a-z_][a-z0-9_-]*$/).default('ec2-user'),
    controller: z.strictObject({ instanceType: instanceType('c5.large') }).default({ instanceType: 'c5.large' }),
    /** @default { count: 3, instanceType: c5.large, capacity: on-demand } */
    agents: z
      .strictObject({
        /** @default 3, or the sum of agents.regions */
        count: z
          .number()
          .int({ message: 'must be a whole number' })
          .min(1, { message: 'must be at least 1' })
          .max(MAX_AGENTS, { message: `must be at most ${MAX_AGENTS}: split the fleet into several envs` })
          .optional(),
        /** @default c5.large */
        instanceType: instanceType('c5.large'),
        /** @default on-demand */
        capacity: z.enum(['on-demand', 'spot'], { message: 'must be on-demand or spot' }).default('on-demand'),
        /** Highest hourly spot price; @default the on-demand price */
        spotMaxPrice: z.string().regex(/^\d+(\.\d+)?$/).optional(),
        /**
         * Agents per region, e.g. { us-east-1: 4, eu-west-1: 2 }: count is then their sum (or left out). The
         * controller and monitoring stay in the fleet's region. @default all agents in the fleet's region
         */
        regions: z.record(z.string().regex(REGION_RE, { message: 'is not an AWS region name such as eu-west-1' }), z.number().int({ message: 'must be a whole number' }).min(1, { message: 'must be at least 1 (drop the region instead)' }).max(MAX_AGENTS, { message: `must be at most ${MAX_AGENTS}` })).optional(),
      })
      .transform(withRegionCount)
      .default({ count: 3, instanceType: 'c5.large', capacity: 'on-demand' }),
    /** @default [] */
    targets: z.array(targetSchema).default([]),
    monitoring: z
      .strictObject({
        /** @default true */
        enabled: z.boolean().default(true),
        /** @default t3.small */
        instanceType: instanceType('t3.small'),
      })
      .default({ enabled: true, instanceType: 't3.small' }),
    /** null: latest Amazon Linux 2023. baked: agents and targets use this env's images from `loadfleet bake`. @default { id: null, baked: false } */
    ami: z
      .strictObject({
        id: z.string().regex(AMI_RE, { message: 'must be an AMI id like ami-0123456789abcdef0, or null' }).nullable().default(null),
        baked: z.boolean().default(false),
        /**
         * Lifetime of baked images, in days: tagged `loadfleet:image-expires-at`, and `sweep --expired` removes
         * them after it. Unset: images are kept until `down` (without --keep-ami) or `sweep --env`. @default unset
         */
        ttlDays: z.number().min(1, { message: 'must be at least 1 (day)' }).max(3650).optional(),
      })
      .default({ id: null, baked: false }),
    network: z
      .strictObject({
        /** @default 10.42.0.0/16 */
        vpcCidr: cidr.default('10.42.0.0/16'),
        /** @default 10.42.0.0/20 */
        subnetCidr: cidr.default('10.42.0.0/20'),
        ...privateNetworkFields,
      })
      .default({ vpcCidr: '10.42.0.0/16', subnetCidr: '10.42.0.0/20', agents: 'public', privateSubnetCidr: '10.42.16.0/20', natInstanceType: 't3.micro' }),
    /** Root volume size of every host, GiB. @default 20 */
    rootVolumeGb: z.number().int().min(8).max(1024).default(20),
    /** EC2 detailed monitoring (extra cost). @default false */
    detailedMonitoring: z.boolean().default(false),
    /** `up` refuses a fleet whose estimated hourly cost (USD) is over this, before creating anything. @default no limit */
    maxCostPerHour: z.number().positive({ message: 'must be a positive number of US dollars per hour' }).optional(),
    /** Dead-man switch: every host shuts down (and so terminates) this many hours after `up`. @default 4 */
    ttlHours: z
      .number()
      .min(0.25, { message: 'must be at least 0.25 (15 minutes)' })
      .max(168, { message: 'must be at most 168 (one week): long-lived fleets are what this switch prevents' })
      .default(4),
    /** Extra tags on every resource. @default {} */
    tags: z.record(z.string(), z.string().max(256)).default({}),
    /** Where Terraform keeps state. @default { backend: local } (in the env folder) */
    state: stateSchema.default({ backend: 'local' }),
    tuning: z
      .strictObject({
        /** Open files per process, soft and hard. @default 1048576 */
        nofile: z.number().int().min(1024).max(MAX_NOFILE).default(1_048_576),
        /** Processes per user, soft and hard. @default 65535 */
        nproc: z.number().int().min(1024).max(4_194_304).default(65_535),
      })
      .default({ nofile: 1_048_576, nproc: 65_535 }),
    /** The local target (network-namespace hosts on this machine). */
    local: z
      .strictObject({
        /** A /24 or larger private range; .1 is the bridge. @default 10.231.0.0/24 */
        subnet: cidr.default('10.231.0.0/24'),
        /** Short prefix for namespaces and links so two runs can coexist. @default lf */
        prefix: z.string().regex(/^[a-z][a-z0-9]{0,3}$/, { message: 'must be 1-4 lower-case letters or digits' }).default('lf'),
        /**
         * The machine's folder of engine artifacts staged by scripts/setup.sh (the hosts cannot download);
         * must be under /opt or /var, which the hosts share with the machine. @default /opt/loadfleet-cache
         */
        engineCache: z
          .string()
          .regex(/^\/(opt|var)\/[A-Za-z0-9._\/-]+$/, { message: 'must be an absolute path under /opt or /var (the folders the local hosts share with the machine)' })
          .refine((p) => !p.split('/').includes('..'), { message: 'must not contain ".." (it would leave /opt or /var)' })
          .default('/opt/loadfleet-cache'),
      })
      .default({ subnet: '10.231.0.0/24', prefix: 'lf', engineCache: '/opt/loadfleet-cache' }),
  })
  .superRefine((c, ctx) => {
    if (!c.access.allowWorld) {
      let wide = false;
      c.access.sshCidrs.forEach((v, i) => {
        const bits = parseCidr(v)?.bits;
        if (bits === 0) {
          ctx.addIssue({
            code: 'custom',
            path: ['access', 'sshCidrs', i],
            message: 'opens SSH and the UIs to the whole internet: use your own address (e.g. 203.0.113.7/32), or set access.allowWorld: true if you really mean it',
          });
        } else if (bits !== undefined && bits < WIDEST_ADMIN_PREFIX) {
          wide = true;
          ctx.addIssue({
            code: 'custom',
            path: ['access', 'sshCidrs', i],
            message: `opens SSH and the UIs to ${2 ** (32 - bits)} addresses (wider than /${WIDEST_ADMIN_PREFIX}): use your own address (e.g. 203.0.113.7/32) or your network's range, or set access.allowWorld: true if you really mean it`,
          });
        }
      });
      const covered = addressesCovered(c.access.sshCidrs);
      if (!wide && covered > MAX_ADMIN_ADDRESSES && !c.access.sshCidrs.some(isWorldCidr)) {
        ctx.addIssue({
          code: 'custom',
          path: ['access', 'sshCidrs'],
          message: `together open SSH and the UIs to ${covered} addresses (more than two /8s, ${MAX_ADMIN_ADDRESSES}): list only your own addresses or networks, or set access.allowWorld: true if you really mean it`,
        });
      }
    }
    const seen = new Set<string>();
    c.targets.forEach((t, i) => {
      if (seen.has(t.name)) {
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: 'is used by another target group: give each group its own name' });
      }
      seen.add(t.name);
      if (['controller', 'agent', 'monitoring'].includes(t.name)) {
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: 'is a reserved role name: pick another name' });
      }
    });
    for (const key of Object.keys(c.tags)) {
      if (key.startsWith(TAG_PREFIX) || key.startsWith('aws:') || key === 'Name') {
        ctx.addIssue({ code: 'custom', path: ['tags', key], message: `is set by loadfleet itself: use a key that does not start with "${TAG_PREFIX}" or "aws:" and is not "Name"` });
      } else if (!/^[A-Za-z0-9+\-=._:@]+$/.test(key)) {
        // Hosts read their expiry through instance metadata tags; with those on, AWS refuses such keys.
        ctx.addIssue({ code: 'custom', path: ['tags', key], message: 'may use only letters, digits and + - = . _ : @ (no "/" or spaces: instance metadata tags, which the dead-man switch reads, refuse them)' });
      }
    }
    const vpc = parseCidr(c.network.vpcCidr);
    const subnet = parseCidr(c.network.subnetCidr);
    if (vpc && subnet && (subnet.bits < vpc.bits || Math.floor(subnet.base / 2 ** (32 - vpc.bits)) !== Math.floor(vpc.base / 2 ** (32 - vpc.bits)))) {
      ctx.addIssue({ code: 'custom', path: ['network', 'subnetCidr'], message: `must lie inside network.vpcCidr (${c.network.vpcCidr})` });
    }
    checkRegions(c, ctx);
    checkPrivateNetwork(c, ctx);
    if (c.network.agents === 'private' && c.agents.regions && Object.keys(c.agents.regions).some((r) => r !== c.region)) {
      // Each is built (issue 18 parts 1 and 2), not yet together: a remote region would need its own door and NAT.
      ctx.addIssue({ code: 'custom', path: ['network', 'agents'], message: `private agents cannot yet be spread over regions (agents.regions names ${Object.keys(c.agents.regions).filter((r) => r !== c.region).join(', ')}): keep agents in region ${c.region}, or set network.agents: public` });
    }
    const local = parseCidr(c.local.subnet);
    if (local && local.bits > 24) {
      ctx.addIssue({ code: 'custom', path: ['local', 'subnet'], message: 'must be a /24 or larger so every host gets an address' });
    }
  });

export type FleetConfig = Zod.output<typeof fleetSchema>;
export type FleetConfigInput = Zod.input<typeof fleetSchema>;
export type Role = 'controller' | 'agent' | 'target' | 'monitoring';

export { ConfigError, formatPath, formatProblem, type ConfigProblem } from './config-error';

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = raw;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p as string];
  }
  return cur;
}

/** zod's type names as a reader says them (issue 22: "must be a array", "must be a int"). */
const TYPE_WORDS: Record<string, string> = { array: 'a list', int: 'a whole number', object: 'a mapping (key: value)', undefined: 'absent', bigint: 'a whole number', nan: 'a number' };

/** The field names the schema allows at a path (numbers step into list items), from its JSON schema. */
function knownFieldsAt(at: readonly PropertyKey[]): string[] {
  type J = { properties?: Record<string, J>; items?: J; anyOf?: J[]; oneOf?: J[] };
  let cur: J | undefined = z.toJSONSchema(fleetSchema, { io: 'input', unrepresentable: 'any' }) as J;
  for (const p of at) {
    if (!cur) return [];
    if (typeof p === 'number') cur = cur.items;
    else cur = cur.properties?.[String(p)] ?? (cur.anyOf ?? cur.oneOf)?.find((u) => u.properties?.[String(p)])?.properties?.[String(p)];
  }
  if (!cur) return [];
  return [...new Set([...Object.keys(cur.properties ?? {}), ...(cur.anyOf ?? cur.oneOf ?? []).flatMap((u) => Object.keys(u.properties ?? {}))])];
}

/** The known field a misspelt one most likely meant: same letters in another case, or at most 2 edits away. */
export function closestField(key: string, known: readonly string[]): string | undefined {
  const exact = known.find((k) => k.toLowerCase() === key.toLowerCase());
  if (exact) return exact;
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    return d[a.length]![b.length]!;
  };
  const best = known.map((k) => ({ k, d: dist(key.toLowerCase(), k.toLowerCase()) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.min(2, Math.floor(key.length / 2)) ? best.k : undefined;
}

/** Turns zod's issues into problems that name the field, show the value and say the fix. */
function toProblems(raw: unknown, issues: readonly Zod.core.$ZodIssue[]): ConfigProblem[] {
  return issues.flatMap((issue): ConfigProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const near = closestField(key, knownFieldsAt(issue.path));
        return {
          path: formatPath([...issue.path, key]),
          value: undefined,
          message: `is not a known field: ${near ? `did you mean ${formatPath([...issue.path, near])}? ` : ''}remove it or check its spelling (see the config reference in README.md)`,
        };
      });
    }
    const value = valueAt(raw, issue.path);
    let message = issue.message;
    if (issue.code === 'invalid_type' && value === undefined) message = 'is required';
    else if (issue.code === 'invalid_type') message = `must be ${TYPE_WORDS[issue.expected] ?? `a ${issue.expected}`}`;
    return [{ path: formatPath(issue.path) || '(top level)', value, message }];
  });
}

/** Validates a parsed config document. Every problem is reported at once. */
export function validateFleetConfig(raw: unknown, source = 'config'): FleetConfig {
  const result = fleetSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(source, toProblems(raw, result.error.issues));
  return result.data;
}

/** The private key that pairs with the configured public key. */
export function privateKeyPathOf(config: Pick<FleetConfig, 'keyPair'>): string {
  return config.keyPair.privateKeyPath ?? config.keyPair.publicKeyPath.replace(/\.pub$/, '');
}
