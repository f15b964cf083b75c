/**
 * Facts about this machine that the local target depends on: its IPv4 networks (addresses and routes, with
 * the link each is on), its links, and how many open files a process may have. Read-only.
 */
import * as fs from 'node:fs/promises';
import { execa } from 'execa';
import type { NofileFacts } from '../core/init';

export interface MachineNetwork {
  /** a.b.c.d/n */
  readonly cidr: string;
  readonly link: string;
  readonly kind: 'address' | 'route';
}

/** Addresses (as their network) and routes of the root namespace; empty when `ip` is missing (not Linux). */
export async function machineNetworks(): Promise<MachineNetwork[]> {
  const out: MachineNetwork[] = [];
  const addr = await execa('ip', ['-4', '-o', 'addr', 'show'], { reject: false, stdin: 'ignore' });
  for (const line of String(addr.stdout ?? '').split('\n')) {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\d+\.\d+\.\d+\.\d+\/\d+)/.exec(line);
    if (m) out.push({ link: m[1]!, cidr: m[2]!, kind: 'address' });
  }
  const route = await execa('ip', ['-4', 'route', 'show'], { reject: false, stdin: 'ignore' });
  for (const line of String(route.stdout ?? '').split('\n')) {
    const m = /^(\d+\.\d+\.\d+\.\d+)(\/\d+)?\s.*\bdev\s+(\S+)/.exec(line);
    if (m) out.push({ link: m[3]!, cidr: `${m[1]}${m[2] ?? '/32'}`, kind: 'route' });
  }
  return out;
}

export async function machineLinks(): Promise<string[]> {
  const r = await execa('ip', ['-o', 'link', 'show'], { reject: false, stdin: 'ignore' });
  return String(r.stdout ?? '').split('\n').flatMap((l) => {
    const m = /^\d+:\s+([^:@\s]+)/.exec(l);
    return m ? [m[1]!] : [];
  });
}

/** This process's hard nofile limit, fs.nr_open, and CAP_SYS_RESOURCE (bit 24 of CapEff). */
export async function nofileFacts(): Promise<NofileFacts> {
  const limits = await fs.readFile('/proc/self/limits', 'utf8').catch(() => '');
  const hard = /^Max open files\s+\S+\s+(\S+)/m.exec(limits)?.[1];
  const nrOpen = Number((await fs.readFile('/proc/sys/fs/nr_open', 'utf8').catch(() => '1048576')).trim());
  const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(await fs.readFile('/proc/self/status', 'utf8').catch(() => ''))?.[1];
  return {
    hardLimit: hard === undefined || hard === 'unlimited' ? 'unlimited' : Number(hard),
    nrOpen: Number.isFinite(nrOpen) ? nrOpen : 1_048_576,
    capSysResource: capEff === undefined ? false : (BigInt(`0x${capEff}`) & (1n << 24n)) !== 0n,
  };
}
