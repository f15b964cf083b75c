/**
 * No AWS credentials is the user's setup, not a bug: the CLI exits 1 and says what to set. The endpoint
 * points at a closed loopback port, so even a bug that skipped the credential check could not reach AWS.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startMoto } from '../harness/moto';
import { PLUGIN_MIRROR } from '../harness/tools';
import { loadfleet } from '../harness/cli';
import { workspace } from '../harness/workspace';

const ws = workspace();
afterAll(() => ws.remove());

const NO_CREDENTIALS: Record<string, string | undefined> = {
  LOADFLEET_HOME: ws.home,
  AWS_ACCESS_KEY_ID: undefined,
  AWS_SECRET_ACCESS_KEY: undefined,
  AWS_SESSION_TOKEN: undefined,
  AWS_PROFILE: undefined,
  AWS_DEFAULT_PROFILE: undefined,
  AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
  AWS_ROLE_ARN: undefined,
  AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
  AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
  AWS_CONFIG_FILE: '/nonexistent/config',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
};

describe('without AWS credentials', () => {
  it('sweep --dry-run exits 1 (not 70) and names the variables to set', async () => {
    const r = await loadfleet(['sweep', '--env', 'demo', '--dry-run'], NO_CREDENTIALS, { timeoutMs: 120_000 });
    expect(r.stderr).toMatch(/Could not load credentials/);
    expect(r.stderr).toMatch(/AWS_PROFILE/);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.exitCode).toBe(1);
  });
});

/** Issue 22.10: an AWS `up` asks STS who the credentials are before it writes or creates anything. */
describe('up on AWS checks the credentials first', () => {
  const fleet = () => ws.writeConfig('fleet.yaml', { name: 'credcheck', agents: { count: 1 }, targets: [{ name: 'app', ports: [8080] }] });
  const noRecord = () => expect(fs.existsSync(path.join(ws.home, 'credcheck', 'env.json'))).toBe(false);

  it('fails when there are no credentials: exit 2 naming what to set, no terraform, no env record', async () => {
    const r = await loadfleet(['up', '-c', fleet(), '--yes'], { ...NO_CREDENTIALS, LOADFLEET_TF_PLUGIN_MIRROR: PLUGIN_MIRROR }, { timeoutMs: 120_000 });
    expect(r.stderr).toMatch(/no AWS credentials found/);
    expect(r.stderr).toMatch(/AWS_PROFILE/);
    expect(r.stderr).toMatch(/Nothing was created/);
    expect(r.stderr).not.toMatch(/terraform|may be left/i);
    expect(r.exitCode).toBe(2);
    noRecord();
  });

  it('fails when moto (checking credentials) refuses them: exit 2, the code AWS gave, no env record', async () => {
    const moto = await startMoto({ INITIAL_NO_AUTH_ACTION_COUNT: '0' });
    try {
      const r = await loadfleet(['up', '-c', fleet(), '--yes'], { ...moto.env, LOADFLEET_HOME: ws.home, LOADFLEET_TF_PLUGIN_MIRROR: PLUGIN_MIRROR }, { timeoutMs: 120_000 });
      expect(r.stderr).toMatch(/AWS refused the credentials \(InvalidClientTokenId/);
      expect(r.stderr).not.toMatch(/terraform|may be left/i);
      expect(r.exitCode).toBe(2);
      noRecord();
    } finally {
      await moto.stop();
    }
  });

  it('prints the account and ARN before the cost estimate (moto: account 123456789012)', async () => {
    const moto = await startMoto();
    try {
      // A cost limit nobody meets: up stops right after the identity and the estimate, before anything exists.
      const r = await loadfleet(['up', '-c', fleet(), '--yes', '--max-cost-per-hour', '0.0001'], { ...moto.env, LOADFLEET_HOME: ws.home, LOADFLEET_TF_PLUGIN_MIRROR: PLUGIN_MIRROR }, { timeoutMs: 120_000 });
      expect(r.stderr).toMatch(/AWS account 123456789012 as arn:aws:sts::123456789012:user\/moto \(region us-east-1\)/);
      expect(r.stderr.indexOf('AWS account')).toBeLessThan(r.stderr.indexOf('--max-cost-per-hour'));
      expect(r.exitCode).toBe(2);
      noRecord();
    } finally {
      await moto.stop();
    }
  });
});
