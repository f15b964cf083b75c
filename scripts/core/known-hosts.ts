/** Host-key pinning: known_hosts lines in OpenSSH format, and the decision for a presented key. Pure. */
import { createHash } from 'node:crypto';

/** "ssh-ed25519 AAAA…" from a raw SSH public-key blob (its first field names the type). */
export function formatKey(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  const type = blob.subarray(4, 4 + len).toString('ascii');
  return `${type} ${blob.toString('base64')}`;
}

export function fingerprint(key: string): string {
  const b64 = key.split(' ')[1] ?? '';
  return `SHA256:${createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** host → keys, from known_hosts text (plain host names only; hashed entries are not written by us). */
export function parseKnownHosts(text: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [hosts, type, b64] = t.split(/\s+/);
    if (!hosts || !type || !b64) continue;
    for (const h of hosts.split(',')) map.set(h, [...(map.get(h) ?? []), `${type} ${b64}`]);
  }
  return map;
}

export function knownHostsLine(host: string, key: string): string {
  return `${host} ${key}`;
}

export type HostKeyDecision = { kind: 'match' } | { kind: 'new' } | { kind: 'changed'; expected: string[] };

export function decideHostKey(known: Map<string, string[]>, host: string, presented: string): HostKeyDecision {
  const keys = known.get(host);
  if (!keys || keys.length === 0) return { kind: 'new' };
  return keys.includes(presented) ? { kind: 'match' } : { kind: 'changed', expected: keys };
}

export function hostKeyChangedMessage(host: string, presented: string, expected: string[], file: string): string {
  return `host key of ${host} CHANGED: it presented ${fingerprint(presented)}, ${file} pins ${expected.map(fingerprint).join(', ')}. Refusing to connect (this is what a man-in-the-middle looks like). If the host was really replaced, remove the old key with: ssh-keygen -R ${host} -f ${file}`;
}
