import type { Role } from '../config';

export type TagRole = Role | 'network' | 'fleet';

/** Per-resource tags; env, expiry and user tags come from the provider's default_tags. */
export function roleTags(_env: string, role: TagRole, name: string): Record<string, string> {
  return { 'loadfleet:role': role, Name: name };
}

/** Tags every resource of an env carries, set at creation through the provider's default_tags. */
export function envTags(env: string, expiresAt: string, extra: Record<string, string>): Record<string, string> {
  return { ...extra, 'loadfleet:env': env, 'loadfleet:expires-at': expiresAt };
}
