import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { consolePins, fingerprint, parseConsoleHostKeys, parseKnownHosts } from '../../scripts/core/known-hosts';

// A console output as Amazon Linux 2023 prints it (serial console: CRLF), with real keys.
const CONSOLE = fs.readFileSync(path.join(import.meta.dirname, 'fixtures/console-al2023.txt'), 'utf8');
const ED = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJV8YVg7JXI5fFE2wvNg8aSnDLi7wfAhL6ydCAz9BCUI';
const ECDSA = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIb5utjGnNk/QJfKVUBG69/Zz1UYuK18ik1EBk0FoIKTs24lFSMM2n42pQNcywnyeq76lyUZrvr6BqODC6ZI1F4=';

describe('host keys from the EC2 console output', () => {
  it('reads the keys cloud-init printed between the SSH HOST KEY KEYS markers, matching its fingerprints', () => {
    const keys = parseConsoleHostKeys(CONSOLE);
    expect(keys).toEqual([ECDSA, ED]);
    // the same keys the fingerprint block announced
    expect(keys.map(fingerprint)).toEqual(['SHA256:+Cnu0B+C+V0qiM3d1kD9ykFioPo1YKD/tRNpXuS+i28', 'SHA256:NXBg6gOPxQhx8ZYBYJog99CxVECHP4x4iQkTPUqcpUE']);
  });

  it('gives nothing for a console without the block, or with a block cut off before its end', () => {
    expect(parseConsoleHostKeys('Linux version 2.6.16-xenU\nBIOS-provided physical RAM map:\n')).toEqual([]);
    expect(parseConsoleHostKeys(CONSOLE.slice(0, CONSOLE.indexOf('-----END SSH HOST KEY KEYS-----')))).toEqual([]);
  });

  it('takes the last complete block (a reboot prints another) and skips lines that are not keys', () => {
    const other = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAUU03p86sVDxvZB9hmLfNn647teuXctp+2fcmHI9NW';
    const text = `${CONSOLE}\n-----BEGIN SSH HOST KEY KEYS-----\nnoise line\n[  1.0] ${other} root@x\n-----END SSH HOST KEY KEYS-----\n`;
    expect(parseConsoleHostKeys(text)).toEqual([other]);
  });

  it('refuses a line whose blob is not a key of the type it claims', () => {
    const fake = `-----BEGIN SSH HOST KEY KEYS-----\nssh-rsa ${ED.split(' ')[1]} root@x\n-----END SSH HOST KEY KEYS-----\n`;
    expect(parseConsoleHostKeys(fake)).toEqual([]);
  });
});

describe('pinning before first contact', () => {
  const hosts = [
    { name: 'controller', address: '54.0.0.10', id: 'i-0c' },
    { name: 'agent-1', address: '54.0.0.11', id: 'i-0a1' },
    { name: 'agent-2', address: '54.0.0.12', id: 'i-0a2' },
  ];

  it('pins every console key of new hosts, leaves pinned hosts alone, and names each host left to trust on first use', () => {
    const known = parseKnownHosts('54.0.0.10 ssh-ed25519 AAAAold\n');
    const consoles = new Map([
      ['i-0c', { keys: [ED] }],
      ['i-0a1', { keys: [ECDSA, ED] }],
      ['i-0a2', { unavailable: 'no console output yet (EC2 publishes it a few minutes after boot)' }],
    ]);
    const r = consolePins(hosts, known, consoles);
    expect(r.pins).toEqual([{ host: '54.0.0.11', key: ECDSA }, { host: '54.0.0.11', key: ED }]);
    expect(r.notes).toEqual([
      'agent-2 (i-0a2): host key not pinned from the console (no console output yet (EC2 publishes it a few minutes after boot)): trusting the key it presents on first contact and recording it in known_hosts',
    ]);
  });
});
