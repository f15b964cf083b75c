// cdktf's Jest matchers (toHaveResourceWithProperties, toBeValidTerraform, …) work in vitest once
// `expect` is global. Testing.app() leaves a temp dir per call: keep them in one folder we remove.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, expect } from 'vitest';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'loadfleet-test-'));
process.env.TMPDIR = base;
(globalThis as { expect?: unknown }).expect = expect;
const { Testing } = await import('cdktf');
Testing.setupJest();

afterAll(() => {
  fs.rmSync(base, { recursive: true, force: true });
});
