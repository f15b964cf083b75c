/**
 * No AWS credentials is the user's setup, not a bug: the CLI exits 1 and says what to set. The endpoint
 * points at a closed loopback port, so even a bug that skipped the credential check could not reach AWS.
 */
import { afterAll, describe, expect, it } from 'vitest';
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
