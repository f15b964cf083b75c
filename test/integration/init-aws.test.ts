/** `init --target aws` prints a run command that `run` accepts as written: its --host is outside the fleet (issue 22). */
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadfleet } from '../harness/cli';
import { workspace } from '../harness/workspace';

const ws = workspace();
afterAll(() => ws.remove());

describe('init --target aws', () => {
  it('prints a run line with --allow-external-host beside --host (else run refuses it, exit 2)', async () => {
    const dir = path.join(ws.dir, 'awsfleet');
    const r = await loadfleet(['init', '--target', 'aws', '--name', 'initaws', dir], { LOADFLEET_HOME: ws.home }, { timeoutMs: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const runLine = r.stdout.split('\n').find((l) => /^ {2}loadfleet run /.test(l));
    expect(runLine).toMatch(/--host <your server's URL> --allow-external-host /);
  });
});
