/**
 * The build's stamp: the newest mtime and the count of scripts/**\/*.ts and stacks/**\/*.ts. build.mjs writes
 * it into dist/, loadfleet.mjs compares it at start so stale code never runs silently after a `git pull` or an
 * edit (a count catches a deleted file). An mtime walk of ~130 files: about a millisecond, no file is read.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const STAMP_FILE = 'sources.stamp';

export function sourcesStamp(root) {
  let newest = 0;
  let count = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // a folder that is not there (an install without sources): nothing to compare
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) {
        count++;
        newest = Math.max(newest, fs.statSync(p).mtimeMs);
      }
    }
  };
  walk(path.join(root, 'scripts'));
  walk(path.join(root, 'stacks'));
  return { count, stamp: `${Math.ceil(newest)} ${count}` };
}
