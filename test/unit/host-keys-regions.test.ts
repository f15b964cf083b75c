/** Issue 18 review item 4: console host keys are read in each host's own region. */
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { pinFirstContact, pinTargetsOf } from '../../scripts/actions/host-keys';
import { KnownHosts } from '../../scripts/adapters/ssh';
import type { Host } from '../../scripts/core/env-record';

describe('first contact across regions', () => {
  it('asks each region\'s EC2 client for its own instances\' console output only', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lf-pin-'));
    try {
      const asked: string[] = [];
      // One recorded client per region (a region mismatch moto cannot show: it answers for any id in any region).
      const client = (region: string) => ({
        send: async (cmd: { constructor: { name: string }; input: { InstanceId?: string } }) => {
          asked.push(`${region} ${cmd.constructor.name} ${cmd.input.InstanceId}`);
          return {};
        },
      });
      const hosts = [
        { role: 'controller', group: 'controller', name: 'controller', id: 'i-home1', publicIp: '3.0.0.1', privateIp: '10.0.0.1', region: 'us-east-1' },
        { role: 'agent', group: 'agent', name: 'agent-1', id: 'i-home2', publicIp: '3.0.0.2', privateIp: '10.0.0.2' },
        { role: 'agent', group: 'agent', name: 'agent-2', id: 'i-eu', publicIp: '34.0.0.3', privateIp: '10.0.0.2', region: 'eu-west-1' },
      ] as Host[];
      const r = await pinFirstContact('aws', 'us-east-1', new KnownHosts(path.join(dir, 'known_hosts')), pinTargetsOf(hosts), client as never);
      expect(r.pinned).toBe(0);
      expect(r.notes).toHaveLength(3); // empty consoles: each left to trust on first use, and said so
      const byRegion = (region: string) => [...new Set(asked.filter((a) => a.startsWith(`${region} `)).map((a) => a.split(' ')[2]))].sort();
      expect(byRegion('us-east-1')).toEqual(['i-home1', 'i-home2']);
      expect(byRegion('eu-west-1')).toEqual(['i-eu']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
