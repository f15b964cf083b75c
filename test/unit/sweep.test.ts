import { describe, expect, it } from 'vitest';
import { countByKind, expiredEnvs, inSweepOrder, madeProgress, type Found } from '../../scripts/core/sweep';

const f = (kind: Found['kind'], id: string): Found => ({ kind, id, env: 'e' });

describe('sweep order', () => {
  it('deletes instances first, groups before their VPC, images before snapshots', () => {
    const order = inSweepOrder([f('snapshot', 's'), f('vpc', 'v'), f('security-group', 'g'), f('image', 'a'), f('instance', 'i'), f('key-pair', 'k'), f('internet-gateway', 'w'), f('subnet', 'n')]);
    expect(order.map((x) => x.kind)).toEqual(['instance', 'internet-gateway', 'subnet', 'security-group', 'vpc', 'key-pair', 'image', 'snapshot']);
    expect(countByKind(order)).toMatchObject({ instance: 1, snapshot: 1 });
  });

  it('sees progress only when something went away', () => {
    expect(madeProgress([f('vpc', 'v'), f('subnet', 'n')], [f('vpc', 'v')])).toBe(true);
    expect(madeProgress([f('vpc', 'v')], [f('vpc', 'v')])).toBe(false);
  });

  it('finds envs whose latest expiry has passed, ignoring unparseable ones', () => {
    const now = new Date('2026-11-23T12:00:00Z');
    expect(expiredEnvs([
      { env: 'old', expiresAt: '2026-11-23T11:00:00Z' },
      { env: 'new', expiresAt: '2026-11-23T13:00:00Z' },
      { env: 'mixed', expiresAt: '2026-11-23T10:00:00Z' },
      { env: 'mixed', expiresAt: '2026-11-24T10:00:00Z' },
      { env: 'junk', expiresAt: 'tomorrow' },
    ], now)).toEqual(['old']);
  });
});
