/**
 * Issue 18: the same fan-out (`tune`: connect, apply, read the limits in a new session) on 100
 * local agents reached directly and through the door (network.agents: private: one connection to the controller,
 * every agent's session a channel on it). Prints the wall time of each (median of 3) and the controller's logins.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { localFleet } from '../harness/local-fleet';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(label: string, prefix: string, subnet: string, network: 'public' | 'private'): Promise<void> {
  const fleet = await localFleet(`door${network.slice(0, 3)}`, prefix, subnet, { network: { agents: network }, agents: { count: 100 }, monitoring: { enabled: false } });
  try {
    const times: number[] = [];
    const log = path.join(fleet.hostDir('controller'), 'init.log');
    const before = (fs.readFileSync(log, 'utf8').match(/Accepted publickey/g) ?? []).length;
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const r = await fleet.cli(['tune', '--env', fleet.name, '--hosts', Array.from({ length: 100 }, (_, k) => `agent-${k + 1}`).join(',')]);
      if (r.exitCode !== 0) throw new Error(`${label}: tune failed (${r.exitCode}): ${r.stderr.slice(-2000)}`);
      times.push(Date.now() - t0);
    }
    const logins = (fs.readFileSync(log, 'utf8').match(/Accepted publickey/g) ?? []).length - before;
    console.log(`${label}: tune on 100 agents (apply + verify in a new session): median ${(median(times) / 1000).toFixed(2)} s (${times.map((t) => (t / 1000).toFixed(2)).join(', ')}); logins on the controller for 3 runs: ${logins}`);
  } finally {
    await fleet.remove();
  }
}

await measure('direct', 'bd', '10.231.120.0/24', 'public');
await measure('through the door', 'bp', '10.231.121.0/24', 'private');
