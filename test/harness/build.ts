/**
 * vitest global set-up: builds dist/ from the current sources before any test runs, so the CLI under test
 * (scripts/loadfleet.mjs → dist/) is never a stale build, however the tests are started.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

export default function setup(): void {
  const root = path.resolve(import.meta.dirname, '../..');
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build', 'build.mjs'), '--quiet'], { cwd: root, stdio: 'inherit' });
}
