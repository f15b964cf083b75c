/** SSH with node-ssh, host keys pinned in the env's own known_hosts. */
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
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
  /**
   * The jump host (issue 18: private agents behind the controller): the session is a direct-tcpip channel of
   * ONE shared, multiplexed connection to this address (its key pinned like any host's), never a login of its
   * own on it. @default none: a direct TCP connection
   */
  readonly via?: string;
  /** The jump host's SSH port. @default 22 */
  readonly viaPort?: number;
}

interface Door {
  readonly ssh: NodeSSH;
  readonly socket: net.Socket;
  channels: number;
}

/** One connection per jump host, user and key, shared by every session of this process. */
const doors = new Map<string, Promise<Door>>();

/** How many SSH connections this process opened to jump hosts (tests and the bench count them). */
export const doorStats = { connections: 0 };

async function openDoor(via: string, opts: SshConnectOptions): Promise<Door> {
  const key = `${opts.user}@${via}:${opts.viaPort ?? 22}|${opts.privateKeyPath}|${opts.knownHosts.file}`;
  let door = doors.get(key);
  if (!door) {
    door = (async () => {
      const timing = opts.timing ?? DEFAULT_TIMING;
      const viaPort = opts.viaPort ?? 22;
      const known = await opts.knownHosts.load();
      // Our own socket: unref'd while no channel is open, so an idle door never keeps the process alive.
      // Its 'error' listener is attached at once and the door waits for 'connect' before ssh2 takes the socket
      // (which then listens itself): a refused or unreachable jump host is a rejected promise, never an
      // uncaught exception (issue 18 review, item 1).
      const socket = net.connect({ host: via, port: viaPort });
      try {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no answer within ${timing.readyTimeoutMs} ms`)), timing.readyTimeoutMs);
          socket.once('error', (e) => (clearTimeout(timer), reject(e)));
          socket.once('connect', () => (clearTimeout(timer), socket.removeAllListeners('error'), resolve()));
        });
      } catch (e) {
        socket.destroy();
        throw new Error(`cannot connect to the jump host ${via}:${viaPort}: ${(e as Error).message}`);
      }
      const ssh = new NodeSSH();
      let refusal: string | undefined;
      let presented: string | undefined;
      try {
        await ssh.connect({
          sock: socket,
          host: via,
          username: opts.user,
          privateKeyPath: opts.privateKeyPath,
          readyTimeout: timing.readyTimeoutMs,
          hostVerifier: (blob: Buffer) => {
            presented = formatKey(blob);
            const d = decideHostKey(known, via, presented);
            if (d.kind === 'changed') refusal = hostKeyChangedMessage(via, presented, d.expected, opts.knownHosts.file);
            return d.kind !== 'changed';
          },
        } as Parameters<NodeSSH['connect']>[0]);
      } catch (e) {
        ssh.dispose();
        socket.destroy();
        if (refusal) throw new PermanentError(`jump host: ${refusal}`);
        const msg = (e as Error).message;
        if (PERMANENT.test(msg)) throw new PermanentError(`login as ${opts.user} with ${opts.privateKeyPath} refused by the jump host ${via}: ${msg}`);
        throw new Error(`cannot connect to the jump host ${via}:${viaPort}: ${msg}`);
      }
      if (presented) {
        const late = await opts.knownHosts.check(via, presented);
        if (late) {
          ssh.dispose();
          throw new PermanentError(`jump host: ${late}`);
        }
      }
      doorStats.connections++;
      const d: Door = { ssh, socket, channels: 0 };
      socket.unref();
      const forget = () => {
        if (doors.get(key) === door) doors.delete(key);
      };
      socket.once('close', forget);
      ssh.connection?.once('error', forget);
      return d;
    })();
    doors.set(key, door);
    door.catch(() => doors.delete(key));
  }
  return door;
}

/** A direct-tcpip channel to address:port through the door, counted so the door's socket is ref'd only while used. */
async function throughDoor(via: string, address: string, port: number, opts: SshConnectOptions): Promise<Duplex> {
  const door = await openDoor(via, opts);
  const conn = door.ssh.connection;
  if (!conn) throw new Error(`the jump host ${via} closed the connection`);
  // Counted (and the socket ref'd) from the request on: an unref'd socket with a pending open would let Node exit.
  if (door.channels++ === 0) door.socket.ref();
  const release = () => {
    if (--door.channels === 0) door.socket.unref();
  };
  let stream: Duplex;
  try {
    stream = await new Promise<Duplex>((resolve, reject) =>
      conn.forwardOut('127.0.0.1', 0, address, port, (err: Error | undefined, ch: Duplex) => (err ? reject(new Error(`cannot reach ${address}:${port} through the jump host ${via}: ${err.message}`)) : resolve(ch))),
    );
  } catch (e) {
    release();
    throw e;
  }
  let closed = false;
  stream.once('close', () => {
    if (closed) return;
    closed = true;
    release();
  });
  return stream;
}

/** Closes every shared jump connection of this process (tests; a long-lived process that is done with a fleet). */
export function closeDoors(): void {
  for (const d of doors.values()) d.then((x) => (x.ssh.dispose(), x.socket.destroy()), () => undefined);
  doors.clear();
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
    const sock = opts.via ? await throughDoor(opts.via, address, opts.port ?? 22, opts) : undefined;
    await ssh.connect({
      ...(sock ? { sock } : {}),
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
    if (e instanceof PermanentError) throw e;
    const msg = (e as Error).message;
    if (PERMANENT.test(msg)) throw new PermanentError(`login as ${opts.user} with ${opts.privateKeyPath} refused by ${address}: ${msg}. Is this the key the hosts were created with?`);
    throw new Error(`cannot connect to ${address}:${opts.port ?? 22}${opts.via && !msg.includes(opts.via) ? ` through the jump host ${opts.via}` : ''}: ${msg}`);
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
