/** What loadfleet remembers about an env between commands, and the outputs every later step reads. Pure. */
import { z, type Zod } from '../../stacks/zod';
import { expiryFrom } from '../../stacks/deadman';

export const TARGETS = ['aws', 'local'] as const;
export type TargetKind = (typeof TARGETS)[number];

export const ENV_STATUSES = ['creating', 'up', 'down', 'failed'] as const;
export type EnvStatus = (typeof ENV_STATUSES)[number];

export const envRecordSchema = z.object({
  name: z.string(),
  target: z.enum(TARGETS),
  configPath: z.string(),
  region: z.string(),
  engine: z.string(),
  ttlHours: z.number(),
  expiresAt: z.string(),
  /**
   * creating: an `up` started; up: outputs are current; down: destroyed, and a tag sweep found nothing;
   * failed: a clean-up did not finish (interrupted, or AWS said no): `next` says what to run.
   */
  status: z.enum(ENV_STATUSES),
  /** Every region the env uses, its own first (agents spread over regions, issue 18). @default [region] */
  regions: z.array(z.string()).optional(),
  /** With status failed: why, and the command that finishes the job. */
  failure: z.object({ reason: z.string(), next: z.string() }).optional(),
  updatedAt: z.string(),
});
export type EnvRecord = Zod.infer<typeof envRecordSchema>;

export const hostSchema = z.object({
  role: z.enum(['controller', 'agent', 'target', 'monitoring']),
  group: z.string(),
  name: z.string(),
  id: z.string(),
  publicIp: z.string(),
  privateIp: z.string(),
  /** The host's region, when the env's agents span regions. */
  region: z.string().optional(),
});
export type Host = Zod.infer<typeof hostSchema>;

export const outputsSchema = z.object({
  env: z.string(),
  target: z.enum(TARGETS),
  engine: z.string(),
  expiresAt: z.string(),
  sshUser: z.string(),
  hosts: z.array(hostSchema),
  master: z.object({ address: z.string(), port: z.number() }).nullable(),
  /** Issue 18: how the agents reach the internet and the addresses a target must allowlist (absent in older outputs). */
  egress: z.object({ kind: z.string(), ips: z.array(z.string()) }).optional(),
});
export type FleetOutputs = Zod.infer<typeof outputsSchema>;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Host addresses reach ssh command lines, shell lines on the hosts and config files: an outputs.json edited by
 * hand (or by anyone who can write the env folder) must not carry anything but IPv4 addresses there.
 * Throws naming the host, the field and the value.
 */
export function checkOutputAddresses(o: FleetOutputs): FleetOutputs {
  for (const h of o.hosts) {
    if (!IPV4.test(h.privateIp)) throw new Error(`hosts[${JSON.stringify(h.name)}].privateIp (${JSON.stringify(h.privateIp)}) is not an IPv4 address`);
    if (h.publicIp !== '' && !IPV4.test(h.publicIp)) throw new Error(`hosts[${JSON.stringify(h.name)}].publicIp (${JSON.stringify(h.publicIp)}) is not an IPv4 address (nor empty)`);
  }
  for (const ip of o.egress?.ips ?? []) if (!IPV4.test(ip)) throw new Error(`egress.ips (${JSON.stringify(ip)}) is not an IPv4 address`);
  if (o.master && !IPV4.test(o.master.address)) throw new Error(`master.address (${JSON.stringify(o.master.address)}) is not an IPv4 address`);
  return o;
}

const tfOutputsSchema = z.object({
  hosts: z.object({
    value: z.array(z.object({ role: hostSchema.shape.role, group: z.string(), name: z.string(), id: z.string(), public_ip: z.string().nullable(), private_ip: z.string(), region: z.string().optional() })),
  }),
  master: z.object({ value: z.object({ address: z.string(), port: z.number() }).nullable() }),
  env: z.object({ value: z.object({ name: z.string(), engine: z.string(), expires_at: z.string() }) }),
  egress: z.object({ value: z.object({ kind: z.string(), ips: z.array(z.string().nullable()) }) }).optional(),
});

/** `terraform output -json` → the fleet's outputs. Throws with the reason when the shape is wrong. */
export function fromTerraformOutputs(json: unknown, sshUser: string): FleetOutputs {
  const parsed = tfOutputsSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`terraform outputs are not what loadfleet wrote (${parsed.error.issues.map((i) => i.path.join('.') + ': ' + i.message).join('; ')}): was the state made by another version?`);
  }
  const o = parsed.data;
  // Hosts name their region only when the env spans several: one-region outputs stay as they were.
  const multi = new Set(o.hosts.value.map((h) => h.region)).size > 1;
  return {
    env: o.env.value.name,
    target: 'aws',
    engine: o.env.value.engine,
    expiresAt: o.env.value.expires_at,
    sshUser,
    hosts: o.hosts.value.map((h) => ({ role: h.role, group: h.group, name: h.name, id: h.id, publicIp: h.public_ip ?? '', privateIp: h.private_ip, ...(h.region && multi ? { region: h.region } : {}) })),
    master: o.master.value,
    ...(o.egress ? { egress: { kind: o.egress.value.kind, ips: o.egress.value.ips.filter((ip): ip is string => !!ip) } } : {}),
  };
}

/** Every region an env's record says it uses, its own first. */
export function recordRegions(r: Pick<EnvRecord, 'region' | 'regions'>): string[] {
  return [...new Set([r.region, ...(r.regions ?? [])])];
}

/** "2h 5m left" / "expired 10m ago". */
export function describeExpiry(expiresAt: string, now: Date): string {
  const ms = Date.parse(expiresAt) - now.getTime();
  const mins = Math.round(Math.abs(ms) / 60_000);
  const text = `${Math.floor(mins / 60)}h ${mins % 60}m`;
  return ms >= 0 ? `${text} left` : `expired ${text} ago`;
}

/**
 * The expiry to use for an `up`: the one recorded at the first `up` while the env lives and ttlHours is
 * unchanged, so re-running changes nothing. Never one in the past: after the dead-man switch fired (the
 * record may still say up) the recreated hosts get a fresh expiry, or they would have no switch at all.
 */
export function expiryFor(record: EnvRecord | undefined, ttlHours: number, now: Date): string {
  const live = record && (record.status === 'up' || record.status === 'creating');
  if (live && record.ttlHours === ttlHours && Date.parse(record.expiresAt) > now.getTime()) return record.expiresAt;
  return expiryFrom(now, ttlHours);
}

/** One line for `status`: what state the env is in and, when failed, what to run. */
export function describeStatus(record: EnvRecord, now: Date): string {
  const head = `env ${record.name}: ${record.status} on ${record.target}, ${recordRegions(record).join(' + ')}; expires ${record.expiresAt} (${describeExpiry(record.expiresAt, now)})`;
  return record.status === 'failed' && record.failure ? `${head}\n  ${record.failure.reason}\n  run: ${record.failure.next}` : head;
}
