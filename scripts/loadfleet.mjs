#!/usr/bin/env node
// Entry point for `npx loadfleet`: runs the JavaScript build in dist/ (made by `npm run build`, which
// scripts/setup.sh, `npm test` and npm's `prepare` run). Nothing is compiled at start, unless the sources
// changed since that build (a `git pull`, an edit): then it rebuilds first, so stale code never runs silently.
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { STAMP_FILE, sourcesStamp } from './build/sources-stamp.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const now = sourcesStamp(root);
let built = '';
try {
  built = fs.readFileSync(`${root}dist/${STAMP_FILE}`, 'utf8').trim();
} catch {
  /* no build, or one from before stamps: rebuilt below */
}
if (now.count > 0 && built !== now.stamp) {
  try {
    createRequire(import.meta.url).resolve('esbuild');
  } catch {
    process.stderr.write(`loadfleet: ${built ? 'the sources changed since the last build (dist/)' : 'the build is missing or has no stamp (dist/)'} and esbuild is not installed: run "npm install && npm run build" (or bash scripts/setup.sh) in the project folder\n`);
    process.exit(70);
  }
  process.stderr.write('loadfleet: the sources changed since the last build: rebuilding dist/\n');
  // stdout goes to stderr: a command's --json output stays clean.
  const r = spawnSync(process.execPath, [`${root}scripts/build/build.mjs`, '--quiet'], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0) {
    process.stderr.write('loadfleet: the sources changed since the last build and rebuilding dist/ failed (above): fix it, then run "npm run build"\n');
    process.exit(70);
  }
}
let cli;
try {
  cli = await import('../dist/cli.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli.js')) throw err;
  process.stderr.write('loadfleet: the build is missing (dist/cli.js): run "npm run build" (or bash scripts/setup.sh) in the project folder\n');
  process.exit(70);
}
process.exitCode = await cli.main(process.argv);
