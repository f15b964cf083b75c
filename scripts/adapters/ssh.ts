/** SSH with node-ssh, host keys pinned in the env's own known_hosts. */
import * as fs from 'node:fs/promises';
import { NodeSSH } from 'node-ssh';
import { decideHostKey, formatKey, hostKeyChangedMessage, knownHostsLine, parseKnownHosts } from '../core/known-hosts';
import { PermanentError, withTimeout, type ExecResult, type SshSession } from '../core/fanout';
import { DEFAULT_TIMING, type Timing } from '../core/timing';

/** known_hosts of one env: read once, new keys appended (first contact), changed keys refused. */
export class KnownHosts {
  private known?: Map<string, string[]>;
  private writes: Promise<void> = Promise.resolve();

  constructor(readonly file: string) {}

  async load(): Promise<Map<string, string[]>> {
    if (!this.known) {
      const text = await fs.readFile(this.file, 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return '';
        throw e;
      });
      this.known = parseKnownHosts(text);
    }
    return this.known;
  }

  /** Pins keys known in advance (the local target generates them; EC2 prints them to the console). */
  async pin(entries: readonly { host: string; key: string }[]): Promise<void> {
    const known = await this.load();
    const lines = entries.filter((e) => decideHostKey(known, e.host, e.key).kind === 'new');
    for (const e of lines) known.set(e.host, [...(known.get(e.host) ?? []), e.key]); // a host may have several keys
    if (lines.length > 0) await fs.appendFile(this.file, lines.map((e) => `${knownHostsLine(e.host, e.key)}\n`).join(''), { mode: 0o600 });
  }

  /** Returns undefined when the key may be used, else the refusal message. */
  async check(host: string, presented: string): Promise<string | undefined> {
    const known = await this.load();
    const d = decideHostKey(known, host, presented);
    if (d.kind === 'changed') return hostKeyChangedMessage(host, presented, d.expected, this.file);
    if (d.kind === 'new') {
      known.set(host, [presented]);
      this.writes = this.writes.then(() => fs.appendFile(this.file, `${knownHostsLine(host, presented)}\n`, { mode: 0o600 }));
      await this.writes;
    }
    return undefined;
  }

  async forget(host: string): Promise<void> {
    const known = await this.load();
    known.delete(host);
    const text = await fs.readFile(this.file, 'utf8').catch(() => '');
    await fs.writeFile(this.file, text.split('\n').filter((l) => l && !l.startsWith(`${host} `)).map((l) => `${l}\n`).join(''), { mode: 0o600 });
  }
}

export interface SshConnectOptions {
  readonly user: string;
  readonly privateKeyPath: string;
  readonly knownHosts: KnownHosts;
  readonly timing?: Timing;
  readonly port?: number;
}

const PERMANENT = /All configured authentication methods failed|Cannot parse privateKey|Encrypted private OpenSSH key/;

export async function connectSsh(address: string, opts: SshConnectOptions): Promise<SshSession> {
  const timing = opts.timing ?? DEFAULT_TIMING;
  const ssh = new NodeSSH();
  // ssh2's verifier is synchronous: look the key up after the handshake decision via a pre-loaded map.
  const known = await opts.knownHosts.load();
  let refusal: string | undefined;
  let presented: string | undefined;
  try {
    await ssh.connect({
      host: address,
      port: opts.port ?? 22,
      username: opts.user,
      privateKeyPath: opts.privateKeyPath,
      readyTimeout: timing.readyTimeoutMs,
      hostVerifier: (blob: Buffer) => {
        presented = formatKey(blob);
        const d = decideHostKey(known, address, presented);
        if (d.kind === 'changed') refusal = hostKeyChangedMessage(address, presented, d.expected, opts.knownHosts.file);
        return d.kind !== 'changed';
      },
    } as Parameters<NodeSSH['connect']>[0]);
  } catch (e) {
    ssh.dispose();
    if (refusal) throw new PermanentError(refusal);
    const msg = (e as Error).message;
    if (PERMANENT.test(msg)) throw new PermanentError(`login as ${opts.user} with ${opts.privateKeyPath} refused by ${address}: ${msg}. Is this the key the hosts were created with?`);
    throw new Error(`cannot connect to ${address}:${opts.port ?? 22}: ${msg}`);
  }
  if (presented) {
    const late = await opts.knownHosts.check(address, presented); // first contact: record the key
    if (late) {
      ssh.dispose();
      throw new PermanentError(late);
    }
  }
  return {
    async exec(command: string, o: { stdin?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
      const ms = o.timeoutMs ?? timing.stepTimeoutMs;
      try {
        const r = await withTimeout(ssh.execCommand(command, { stdin: o.stdin }), ms, `remote command on ${address}`);
        return { code: r.code, stdout: r.stdout, stderr: r.stderr };
      } catch (e) {
        ssh.dispose();
        throw e;
      }
    },
    close() {
      ssh.dispose();
    },
  };
}
