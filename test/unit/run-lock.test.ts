import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assertNoRunGoing } from '../../scripts/actions/run';
import { UsageError } from '../../scripts/core/errors';

const dirs: string[] = [];
const runsDir = (lock?: string) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'runs-'));
  dirs.push(d);
  if (lock !== undefined) fs.writeFileSync(path.join(d, '.lock'), lock);
  return d;
};
afterEach(() => dirs.splice(0).forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

describe('run lock check (before the env lock)', () => {
  it('names the run still going (its pid alive)', async () => {
    const err = await assertNoRunGoing(runsDir(JSON.stringify({ pid: process.pid, runId: '20261125-160000-abcd' }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(`run 20261125-160000-abcd is still going on this env (loadfleet pid ${process.pid}): wait for it, or stop it with Ctrl-C`);
  });

  it('passes with no lock, a lock of a dead pid, or an unreadable lock', async () => {
    await expect(assertNoRunGoing(runsDir())).resolves.toBeUndefined();
    await expect(assertNoRunGoing(runsDir(JSON.stringify({ pid: 2 ** 22 + 7, runId: 'x' })))).resolves.toBeUndefined();
    await expect(assertNoRunGoing(runsDir('{not json'))).resolves.toBeUndefined();
  });
});
