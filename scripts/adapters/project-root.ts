/**
 * The project's root folder (where package.json, ami/ and scripts/ live), found from wherever this code
 * runs: from the TypeScript sources (scripts/adapters/) under tsx or vitest, or from the bundle in dist/.
 * Why one module: after bundling, `import.meta.dirname` names dist/ in every chunk, so a path computed
 * relative to a source file would be wrong. Every file the CLI ships beside its code is found from here
 * (the build refuses `import.meta.dirname` anywhere else: scripts/build/build.mjs).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function findRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'ami', 'tuning')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`loadfleet: cannot find the project root (package.json and ami/tuning) above ${start}`);
  }
}

export const PROJECT_ROOT = findRoot(import.meta.dirname);

/** A path inside the project, e.g. projectPath('ami', 'tuning'). */
export const projectPath = (...parts: string[]): string => path.join(PROJECT_ROOT, ...parts);
