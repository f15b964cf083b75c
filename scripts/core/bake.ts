/** The image bake, Packer-style: named steps, build tags, the builder's watchdog, the AMI manifest. Pure. */
import type { Role } from '../../stacks/config';
import { checkPublicKey } from './keys';

export const BAKE_STEPS = ['source-image', 'key-pair', 'security-group', 'instance', 'tune', 'create-image', 'wait-image', 'finish', 'manifest'] as const;
export type BakeStep = (typeof BAKE_STEPS)[number];

export const BAKE_ROLES = ['agent', 'target'] as const satisfies readonly Role[];
export type BakeRole = (typeof BAKE_ROLES)[number];

/** lf-<env>-<role>-<yyyymmddhhmmss>-<4 hex>: on every resource of the bake, and in the AMI name. */
export function buildId(env: string, role: BakeRole, now: Date, random = Math.random()): string {
  const suffix = Math.floor(random * 0x10000).toString(16).padStart(4, '0');
  return `lf-${env}-${role}-${now.toISOString().replace(/[-:T]/g, '').slice(0, 14)}-${suffix}`;
}

/** Images outlive the fleet: their own, optional lifetime, never the fleet's `loadfleet:expires-at`. */
export const IMAGE_EXPIRES_TAG = 'loadfleet:image-expires-at';

/**
 * Tags of the image and its snapshots. No `loadfleet:expires-at` (that would make `sweep --expired` delete
 * a kept image hours after the bake); with ami.ttlDays, `loadfleet:image-expires-at` instead.
 */
export function imageTags(env: string, role: BakeRole, build: string, imageExpiresAt?: string): { Key: string; Value: string }[] {
  return [
    { Key: 'loadfleet:env', Value: env },
    { Key: 'loadfleet:role', Value: role },
    { Key: 'loadfleet:build', Value: build },
    ...(imageExpiresAt ? [{ Key: IMAGE_EXPIRES_TAG, Value: imageExpiresAt }] : []),
    { Key: 'Name', Value: build },
  ];
}

/** Tags of the bake's temporary resources (builder, key pair, group): they expire with the build. */
export function bakeTags(env: string, role: BakeRole, build: string, expiresAt: string): { Key: string; Value: string }[] {
  return [
    { Key: 'loadfleet:env', Value: env },
    { Key: 'loadfleet:role', Value: role },
    { Key: 'loadfleet:build', Value: build },
    { Key: 'loadfleet:expires-at', Value: expiresAt },
    { Key: 'Name', Value: build },
  ];
}

/** An abandoned builder shuts itself down (and, with shutdown behaviour terminate, is gone). */
export function watchdogUserData(limitMinutes: number): string {
  return `#!/bin/bash\n# loadfleet bake watchdog: a builder left behind terminates itself.\nshutdown -h +${Math.max(1, Math.ceil(limitMinutes))} "loadfleet bake time limit reached"\n`;
}

/** Removes one public key line from authorized_keys (the temporary bake key) without touching others. */
export function removeKeyScript(publicKey: string): string {
  if (checkPublicKey(publicKey)) throw new Error('not an OpenSSH public key');
  const body = publicKey.trim().split(/\s+/)[1]!;
  return `set -e\nf="$HOME/.ssh/authorized_keys"\n[ -f "$f" ] || exit 0\ngrep -vF '${body}' "$f" > "$f.loadfleet" || true\ncat "$f.loadfleet" > "$f"\nrm -f "$f.loadfleet"\n! grep -qF '${body}' "$f"\n`;
}

export interface ManifestEntry {
  readonly amiId: string;
  readonly build: string;
  readonly sourceAmi: string;
  readonly region: string;
  readonly createdAt: string;
}
export type AmiManifest = Partial<Record<BakeRole, ManifestEntry>>;
