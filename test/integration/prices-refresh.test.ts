/**
 * `prices --refresh` when the Price List endpoint is unreachable: a closed loopback port (127.0.0.1:9,
 * nothing listens; no other address is ever asked). Exit 1 with the network's words, no cache written,
 * and the offline table still in use.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadfleet } from '../harness/cli';

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-prices-'));
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe('prices --refresh', () => {
  it('fails when the Price List endpoint is unreachable, and leaves the cache absent', async () => {
    const env = {
      HOME: home, XDG_CACHE_HOME: path.join(home, 'cache'), LOADFLEET_PRICES: undefined,
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_PROFILE: undefined,
    };
    const cache = path.join(home, 'cache', 'loadfleet', 'prices.json');
    const r = await loadfleet(['prices', '--refresh', '--region', 'us-east-1', '--types', 'c5.large'], env, { timeoutMs: 120_000 });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/GetProducts \(c5\.large, us-east-1\) failed: .*ECONNREFUSED 127\.0\.0\.1:9.*the price table in use is unchanged/);
    expect(fs.existsSync(cache)).toBe(false);
    // THEN the table in use is still the offline one
    const shown = await loadfleet(['prices'], env);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toMatch(/^prices from the offline table/);
    expect(shown.stdout).toMatch(/c5\.large\s+\$0\.085\/h/);
  });
});
