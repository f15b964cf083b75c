/** Reads the tuning templates under ami/tuning: the same files `tune` applies and `bake` bakes. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { TuningTemplates } from '../core/tuning';
import { projectPath } from './project-root';

export const TUNING_DIR = projectPath('ami', 'tuning');

export async function readTuningTemplates(dir = TUNING_DIR): Promise<TuningTemplates> {
  const read = (p: string) => fs.readFile(path.join(dir, p), 'utf8');
  const sysctl: Record<string, string> = {};
  for (const f of await fs.readdir(path.join(dir, 'sysctl'))) {
    if (f.endsWith('.conf')) sysctl[f.replace(/\.conf$/, '')] = await read(path.join('sysctl', f));
  }
  return { limits: await read('limits.conf'), sysctl, systemdManager: await read('systemd/manager.conf'), systemdUnit: await read('systemd/unit-limits.conf') };
}
