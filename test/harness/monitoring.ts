/** Helpers for monitoring tests: Prometheus's HTTP API and the processes of a local fleet's hosts. */
import * as fs from 'node:fs';

export interface PromVector {
  metric: Record<string, string>;
  value: [number, string];
}

export async function promQuery(base: string, query: string): Promise<PromVector[]> {
  const r = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query })}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: PromVector[] } };
  if (body.status !== 'success') throw new Error(`query ${query} failed: ${body.error}`);
  return body.data!.result;
}

/** Polls until `check` returns true (or throws the last reason at the deadline). */
export async function eventually<T>(what: string, fn: () => Promise<T>, check: (v: T) => boolean, deadlineMs = 60_000, pollMs = 1_000): Promise<T> {
  const until = Date.now() + deadlineMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await fn();
      if (check(last)) return last;
    } catch (e) {
      lastErr = e;
    }
    if (Date.now() > until) throw new Error(`${what}: not reached in ${deadlineMs / 1000} s; last: ${JSON.stringify(last) ?? String(lastErr)}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Processes (this machine's PIDs) living in the network namespaces of the given hosts, whose command line
 * matches. A host is named by the PID of its init (LocalHosts.pids()): its /proc/PID/ns/net identifies the
 * namespace without relying on /run/netns, which other runs on the machine may mount or unmount.
 */
export function processesInNetns(hostPids: Readonly<Record<string, number>>, cmd: RegExp): { pid: number; cmdline: string; netns: string }[] {
  const inodes = new Map<string, string>();
  for (const [name, pid] of Object.entries(hostPids)) {
    try {
      inodes.set(fs.readlinkSync(`/proc/${pid}/ns/net`), name);
    } catch {
      /* host already gone */
    }
  }
  const out: { pid: number; cmdline: string; netns: string }[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const netns = inodes.get(fs.readlinkSync(`/proc/${d}/ns/net`));
      if (!netns) continue;
      const cmdline = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (cmd.test(cmdline)) out.push({ pid: Number(d), cmdline, netns });
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Whether a PID still runs something (a zombie's cmdline reads empty). */
export function alive(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';
  } catch {
    return false;
  }
}

/** PIDs of ssh processes forwarding the given local port (what `loadfleet tunnel` starts). */
export function sshForwards(localPort: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv[0] === 'ssh' && argv.some((a) => a.startsWith(`127.0.0.1:${localPort}:`))) out.push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}
