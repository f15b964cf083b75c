/**
 * Issue 22.11: answering "n" at a confirmation is not a usage error. It exits 1 ("not done"; documented in
 * --help and the README), says nothing was changed, and changes nothing. A real terminal (util-linux
 * `script` gives the CLI a pty) answers the question; the env points at a closed loopback endpoint, so
 * nothing could reach AWS even if the answer were ignored.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../harness/cli';
import { requireTool } from '../harness/tools';
import { workspace } from '../harness/workspace';
import { shQuote } from '../../scripts/core/safe-text';

const ws = workspace();
afterAll(() => ws.remove());

describe('a declined confirmation', () => {
  it('down answered "n" on a terminal exits 1 with "cancelled: nothing was changed" and keeps the record', async () => {
    requireTool('script', 'install util-linux (it provides script(1))');
    // GIVEN an AWS env's record (as `up` leaves it)
    const dir = path.join(ws.home, 'decline');
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const record = { name: 'decline', target: 'aws', configPath: '/nonexistent/fleet.yaml', region: 'us-east-1', engine: 'locust', ttlHours: 4, expiresAt: '2099-01-01T00:00:00.000Z', status: 'up', updatedAt: '2026-01-01T00:00:00.000Z' };
    fs.writeFileSync(path.join(dir, 'env.json'), JSON.stringify(record), { mode: 0o600 });
    // WHEN the user answers n
    const r = await execa('script', ['-qec', `${shQuote(process.execPath)} ${shQuote(BIN)} down --env decline`, '/dev/null'], {
      input: 'n\n',
      reject: false,
      timeout: 120_000,
      env: { ...process.env, LOADFLEET_HOME: ws.home, AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' },
    });
    // THEN
    const out = String(r.stdout);
    expect(out).toMatch(/Destroy env decline .*\[y\/N\]/);
    expect(out).toMatch(/down cancelled: nothing was changed/);
    expect(r.exitCode, out).toBe(1);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'env.json'), 'utf8'))).toEqual(record);
  });
});
