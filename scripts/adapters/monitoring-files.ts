/** Reads the dashboards shipped in ami/monitoring/dashboards: the same files Grafana is provisioned with. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { projectPath } from './project-root';

export const DASHBOARDS_DIR = projectPath('ami', 'monitoring', 'dashboards');

/** file name → JSON text, sorted by name. */
export async function readDashboards(dir = DASHBOARDS_DIR): Promise<Record<string, string>> {
  const files = (await fs.readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  return Object.fromEntries(await Promise.all(files.map(async (f) => [f, await fs.readFile(path.join(dir, f), 'utf8')] as const)));
}
