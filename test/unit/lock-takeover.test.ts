import { describe, expect, it } from 'vitest';
import { mayRemoveStale } from '../../scripts/adapters/lock';

describe('stale lock takeover decision', () => {
  const dead = { ino: 41, raw: '{"pid":123,"command":"up","since":"2026-11-25T10:00:00.000Z"}' };

  it('removes the lock only when it is still the dead holder that was read', () => {
    expect(mayRemoveStale(dead, { ...dead })).toBe(true);
  });

  it('keeps a fresh lock made by a faster taker (other bytes)', () => {
    expect(mayRemoveStale(dead, { ino: 41, raw: '{"pid":456,"command":"tune","since":"2026-11-25T10:00:05.000Z"}' })).toBe(false);
  });

  it('keeps a fresh lock that reuses the inode and even the pid, since it started later', () => {
    expect(mayRemoveStale(dead, { ino: 41, raw: '{"pid":123,"command":"up","since":"2026-11-25T10:00:09.000Z"}' })).toBe(false);
  });

  it('keeps a new file with the same bytes but another inode', () => {
    expect(mayRemoveStale(dead, { ino: 42, raw: dead.raw })).toBe(false);
  });

  it('does nothing when the lock is already gone', () => {
    expect(mayRemoveStale(dead, undefined)).toBe(false);
  });
});
