#!/usr/bin/env node
// Entry point for `npx loadfleet`: runs the JavaScript build in dist/ (made by `npm run build`, which
// scripts/setup.sh, `npm test` and npm's `prepare` run). Nothing is compiled at start.
let cli;
try {
  cli = await import('../dist/cli.js');
} catch (err) {
  if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !String(err.message).includes('dist/cli.js')) throw err;
  process.stderr.write('loadfleet: the build is missing (dist/cli.js): run "npm run build" (or bash scripts/setup.sh) in the project folder\n');
  process.exit(70);
}
process.exitCode = await cli.main(process.argv);
