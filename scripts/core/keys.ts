/** Pure checks on SSH key material. */

const PUBLIC_KEY_RE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/;

/** Returns a problem (with the fix) when `content` is not one OpenSSH public key, else undefined. */
export function checkPublicKey(content: string): string | undefined {
  if (/PRIVATE KEY/.test(content)) {
    return 'is a PRIVATE key: point keyPair.publicKeyPath at the matching .pub file (the private key never leaves this machine)';
  }
  const lines = content.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (lines.length !== 1 || !PUBLIC_KEY_RE.test(lines[0] ?? '')) {
    return 'is not an OpenSSH public key (one line like "ssh-ed25519 AAAA... you@host"): point it at the .pub file ssh-keygen wrote';
  }
  return undefined;
}
