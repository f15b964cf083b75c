/**
 * The tag sweep: what kinds of resource an env can leave behind, the order that avoids dependency
 * errors, and when to give up. Pure.
 */
export const SWEEP_ORDER = [
  'instance',
  'spot-request',
  'volume',
  'network-interface',
  // A NAT gateway holds its Elastic IP and its network interface: deleted (and waited for) before the EIP.
  'nat-gateway',
  'elastic-ip',
  'internet-gateway',
  'subnet',
  'route-table',
  'security-group',
  'vpc',
  'key-pair',
  'image',
  'snapshot',
] as const;
export type SweepKind = (typeof SWEEP_ORDER)[number];

export interface Found {
  readonly kind: SweepKind;
  readonly id: string;
  readonly env: string;
  /** Name tag or other human hint. */
  readonly name?: string;
  /** For an image: its snapshots, deleted with it even when they carry no tag. */
  readonly snapshots?: readonly string[];
  /** For an internet gateway: the VPCs to detach it from; for an elastic IP: its association. */
  readonly attachedTo?: readonly string[];
  /** For an image: its own lifetime (`loadfleet:image-expires-at`), if it has one. */
  readonly imageExpiresAt?: string;
}

/** Found resources sorted by the order they must be deleted in. */
export function inSweepOrder(found: readonly Found[]): Found[] {
  return [...found].sort((a, b) => SWEEP_ORDER.indexOf(a.kind) - SWEEP_ORDER.indexOf(b.kind) || a.id.localeCompare(b.id));
}

export function countByKind(found: readonly Found[]): Partial<Record<SweepKind, number>> {
  const out: Partial<Record<SweepKind, number>> = {};
  for (const f of found) out[f.kind] = (out[f.kind] ?? 0) + 1;
  return out;
}

export function describeFound(found: readonly Found[]): string {
  return inSweepOrder(found).map((f) => `${f.kind} ${f.id}${f.name ? ` (${f.name})` : ''}`).join(', ');
}

/** A round that removed nothing means the rest needs a human: stop and name it. */
export function madeProgress(before: readonly Found[], after: readonly Found[]): boolean {
  const left = new Set(after.map((f) => `${f.kind}:${f.id}`));
  return before.some((f) => !left.has(`${f.kind}:${f.id}`)) || after.length < before.length;
}

/** Images whose own `loadfleet:image-expires-at` has passed. An image without one is kept. */
export function expiredImages<T extends { imageExpiresAt?: string }>(images: readonly T[], now: Date): T[] {
  return images.filter((i) => i.imageExpiresAt !== undefined && Number.isFinite(Date.parse(i.imageExpiresAt)) && Date.parse(i.imageExpiresAt) < now.getTime());
}

/** Envs whose `loadfleet:expires-at` has passed. Unparseable expiries are not guessed at. */
export function expiredEnvs(tags: readonly { env: string; expiresAt: string }[], now: Date): string[] {
  const latest = new Map<string, number>();
  for (const t of tags) {
    const at = Date.parse(t.expiresAt);
    if (!Number.isFinite(at)) continue;
    latest.set(t.env, Math.max(latest.get(t.env) ?? -Infinity, at));
  }
  return [...latest].filter(([, at]) => at < now.getTime()).map(([env]) => env).sort();
}
