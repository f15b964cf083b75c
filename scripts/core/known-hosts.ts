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
  // Never advise removing a pinned key without saying how to tell a rebuilt host from an impostor (issue 22): another
  // env's host on an overlapping local.subnet, or a man in the middle, presents a different key too.
  const localKeys = file.replace(/known_hosts$/, 'local/<host>/etc-upper/ssh/loadfleet_host_ed25519_key.pub');
  return (
    `host key of ${host} CHANGED: it presented ${fingerprint(presented)}, ${file} pins ${expected.map(fingerprint).join(', ')}. ` +
    'Refusing to connect: this is what a man-in-the-middle looks like, or another fleet answering on this address. ' +
    `Tell a rebuilt host from an impostor by its key, not by its answer: on AWS the new key's fingerprint is in the instance's console output (aws ec2 get-console-output --instance-id <id>: the SSH HOST KEY block), on the local target run ssh-keygen -lf ${localKeys} on this machine. ` +
    `Only when that fingerprint is ${fingerprint(presented)}, remove the old key with: ssh-keygen -R ${host} -f ${file}`
  );
}

export const CONSOLE_KEYS_BEGIN = '-----BEGIN SSH HOST KEY KEYS-----';
export const CONSOLE_KEYS_END = '-----END SSH HOST KEY KEYS-----';
const KEY_LINE = /(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)\s+([A-Za-z0-9+/]+={0,2})(?:\s|$)/;

/** True when a base64 blob really is an SSH public key of the named type (its first field says so). */
function blobMatches(type: string, b64: string): boolean {
  try {
    const blob = Buffer.from(b64, 'base64');
    return blob.length > 4 && blob.readUInt32BE(0) === type.length && formatKey(blob) === `${type} ${b64}`;
  } catch {
    return false;
  }
}

/**
 * Host keys from an EC2 console output: cloud-init prints them at first boot between
 * `-----BEGIN SSH HOST KEY KEYS-----` and `-----END SSH HOST KEY KEYS-----`, one "type base64 comment" per
 * line (lines may carry a console prefix, and `\r`). The last complete block wins (a reboot prints another);
 * an unterminated block (output cut off) gives nothing. Returns "type base64" strings.
 */
export function parseConsoleHostKeys(console: string): string[] {
  const lines = console.replace(/\r/g, '').split('\n');
  let keys: string[] = [];
  let block: string[] | undefined;
  for (const line of lines) {
    if (line.includes(CONSOLE_KEYS_BEGIN)) block = [];
    else if (line.includes(CONSOLE_KEYS_END)) {
      if (block) keys = block;
      block = undefined;
    } else if (block) {
      const m = KEY_LINE.exec(line);
      if (m && blobMatches(m[1]!, m[2]!)) block.push(`${m[1]} ${m[2]}`);
    }
  }
  return [...new Set(keys)];
}

/** What the console of one instance gave: its host keys, or why there are none. */
export type ConsoleKeys = { readonly keys: readonly string[] } | { readonly unavailable: string };

export interface ConsolePins {
  /** known_hosts entries to add (address → key), before first contact. */
  readonly pins: readonly { host: string; key: string }[];
  /** One line per host that could not be pinned: it will be trusted on first use. */
  readonly notes: readonly string[];
}

/**
 * Pins for hosts not yet in known_hosts, from their console keys. Hosts already pinned are left alone (a
 * changed key is refused at connect time, never overwritten here).
 */
export function consolePins(hosts: readonly { name: string; address: string; id: string }[], known: Map<string, string[]>, consoles: ReadonlyMap<string, ConsoleKeys>): ConsolePins {
  const pins: { host: string; key: string }[] = [];
  const notes: string[] = [];
  for (const h of hosts) {
    if ((known.get(h.address) ?? []).length > 0) continue;
    const c = consoles.get(h.id);
    if (c && 'keys' in c && c.keys.length > 0) {
      for (const key of c.keys) pins.push({ host: h.address, key });
    } else {
      const why = !c ? 'its console output was not read' : 'unavailable' in c ? c.unavailable : 'its console output lists no host key';
      notes.push(`${h.name} (${h.id}): host key not pinned from the console (${why}): trusting the key it presents on first contact and recording it in known_hosts`);
    }
  }
  return { pins, notes };
}
