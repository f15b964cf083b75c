/**
 * First contact with an env's hosts, shared by every command that opens SSH (tune, install, doctor, run):
 * on AWS, the keys each instance printed to its console are pinned before the first connection, so
 * no command trusts the first key it sees while another would have checked it. A host whose console has
 * no keys is left to trust-on-first-use, and the command says so. The local target pinned its generated
 * keys at `up`: nothing to do there.
 */
import type { KnownHosts } from '../adapters/ssh';
import type { Step } from '../adapters/progress';
import type { Host, TargetKind } from '../core/env-record';
import type { Ec2Port } from '../adapters/ec2';

export interface PinTarget {
  readonly name: string;
  readonly address: string;
  readonly id: string;
  /** The instance's region when the env's agents span regions (issue 18). @default the fleet's region */
  readonly region?: string;
}

/**
 * Pins what the console has for hosts not yet known; returns one note per host left to trust on first use.
 * Each host's console is read in its own region (issue 18 review item 4): the home region's client knows
 * nothing of a remote agent, which then fell back to trust-on-first-use.
 */
export async function pinFirstContact(
  target: TargetKind,
  region: string,
  knownHosts: KnownHosts,
  hosts: readonly PinTarget[],
  client?: (region: string) => Ec2Port,
): Promise<{ pinned: number; notes: readonly string[] }> {
  if (target !== 'aws' || hosts.length === 0) return { pinned: 0, notes: [] };
  const [{ pinFromConsole }, { ec2Client }] = await Promise.all([import('../adapters/console-keys'), import('../adapters/ec2')]);
  const byRegion = new Map<string, PinTarget[]>();
  for (const h of hosts) byRegion.set(h.region ?? region, [...(byRegion.get(h.region ?? region) ?? []), h]);
  let pinned = 0;
  const notes: string[] = [];
  for (const [r, group] of byRegion) {
    const out = await pinFromConsole((client ?? ec2Client)(r), knownHosts, group);
    pinned += out.pinned;
    notes.push(...out.notes);
  }
  return { pinned, notes };
}

/** The same as a progress step (none on the local target); `notes` receives the hosts left to TOFU. */
export function firstContactSteps(target: TargetKind, region: string, knownHosts: KnownHosts, hosts: readonly PinTarget[], notes: (n: readonly string[]) => void): Step[] {
  if (target !== 'aws') return [];
  return [{
    title: 'Pin host keys from the EC2 console output',
    run: async (report) => {
      const r = await pinFirstContact(target, region, knownHosts, hosts);
      notes(r.notes);
      report(`${r.pinned} pinned, ${r.notes.length} left to trust on first use`);
    },
  }];
}

/**
 * The hosts a command reaches, once each, as pin targets: every list a command connects to (the engine's
 * hosts, the monitoring host, node_exporter's every host) must be pinned, not only the engine's.
 */
export function pinTargetsOf(...lists: readonly (readonly Host[])[]): PinTarget[] {
  const seen = new Map<string, PinTarget>();
  for (const h of lists.flat()) if (!seen.has(h.name)) seen.set(h.name, { name: h.name, address: h.publicIp || h.privateIp, id: h.id, ...(h.region ? { region: h.region } : {}) });
  return [...seen.values()];
}
