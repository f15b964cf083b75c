#!/usr/bin/env node
/**
 * Builds the CLI once into dist/ (plain JavaScript), so that no command compiles TypeScript at start.
 * esbuild bundles our sources (scripts/, stacks/) and leaves every npm package external: Node loads
 * those natively, CommonJS through require, exactly as from the sources. Code splitting keeps each
 * `await import()` of an action a separate chunk, so `--version` or `status` never load the AWS SDK,
 * cdktf or ssh2. Run by `npm run build`, `npm test`, scripts/setup.sh and the tests' global set-up.
 *
 * Usage: node scripts/build/build.mjs [--quiet]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { build } from 'esbuild';
import { STAMP_FILE, sourcesStamp } from './sources-stamp.mjs';

const ROOT = path.resolve(import.meta.dirname, '../..');
const OUT = path.join(ROOT, 'dist');
const quiet = process.argv.includes('--quiet');

// After bundling, import.meta.dirname names dist/ in every chunk: files shipped beside the code must be
// found through scripts/adapters/project-root.ts. Refuse the build rather than ship a wrong path.
const guard = {
  name: 'project-root-guard',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await fs.promises.readFile(args.path, 'utf8');
      const rel = path.relative(ROOT, args.path);
      if (rel !== path.join('scripts', 'adapters', 'project-root.ts') && /import\.meta\.(dirname|filename)|__dirname|__filename/.test(text)) {
        return { errors: [{ text: `${rel} uses import.meta.dirname (or __dirname): in dist/ it would name dist/. Use projectPath() from scripts/adapters/project-root.ts` }] };
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

const t0 = performance.now();
// Build beside dist/ and swap it in, so a CLI already running (another test file) never sees half a build.
const tmp = `${OUT}.tmp-${process.pid}`;
// Taken before bundling: a source saved during the build makes the next start rebuild.
const { stamp } = sourcesStamp(ROOT);
await build({
  absWorkingDir: ROOT,
  entryPoints: { cli: 'scripts/cli.ts' },
  outdir: tmp,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.5',
  packages: 'external',
  chunkNames: 'chunks/[name]-[hash]',
  sourcemap: 'linked',
  logLevel: 'warning',
  plugins: [guard],
});
fs.writeFileSync(path.join(tmp, STAMP_FILE), `${stamp}\n`);
const old = `${OUT}.old-${process.pid}`;
// Two builds at once (two test runs in one checkout): each retries the swap until its own lands.
for (let attempt = 0; ; attempt++) {
  try {
    fs.renameSync(OUT, old);
  } catch (e) {
    if (e.code !== 'ENOENT') throw e;
  }
  try {
    fs.renameSync(tmp, OUT);
    break;
  } catch (e) {
    if (!['EEXIST', 'ENOTEMPTY'].includes(e.code) || attempt >= 5) throw e;
  }
}
fs.rmSync(old, { recursive: true, force: true });
if (!quiet) console.log(`build: dist/ in ${Math.round(performance.now() - t0)} ms`);
