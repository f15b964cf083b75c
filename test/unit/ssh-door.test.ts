import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { KnownHosts, closeDoors, connectSsh } from '../../scripts/adapters/ssh';

/** A loopback port nobody listens on: bound by us, then closed. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('the jump host door (issue 18 review, item 1)', () => {
  afterAll(() => closeDoors());

  it('a refused jump host is a rejected promise naming it, not an uncaught exception', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'lf-door-'));
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const port = await closedPort();
      const p = connectSsh('10.99.0.5', {
        user: 'ec2-user',
        privateKeyPath: path.join(dir, 'id'),
        knownHosts: new KnownHosts(path.join(dir, 'known_hosts')),
        via: '127.0.0.1',
        viaPort: port,
      });
      await expect(p).rejects.toThrow(new RegExp(`cannot connect to the jump host 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`));
      await new Promise((r) => setTimeout(r, 200)); // let any late socket error surface
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
