/**
 * `sweep --expired` on the local target: every env folder under the home whose record is a local fleet,
 * not down, past its expiry, is taken down with the real `down` (a child process, so it takes the env lock
 * like any command). The AWS side of sweep cannot see these: they carry no EC2 tags.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { execa } from 'execa';
import { EnvDir } from '../adapters/env-dir';
import { projectPath } from '../adapters/project-root';
import { confirmChange } from '../adapters/prompt';

export interface LocalSweep {
  readonly env: string;
  /** The folder of env folders the record was found in. */
  readonly home: string;
  readonly expiresAt: string;
  readonly removed: boolean;
  readonly error?: string;
}

export async function expiredLocalEnvs(homes: readonly string[], now: Date): Promise<{ env: string; home: string; expiresAt: string }[]> {
  const out: { env: string; home: string; expiresAt: string }[] = [];
  for (const home of homes) {
    for (const name of await fs.readdir(home).catch(() => [] as string[])) {
      const record = await new EnvDir(home, name).readRecord().catch(() => undefined);
      if (record?.target === 'local' && record.status !== 'down' && Date.parse(record.expiresAt) <= now.getTime()) out.push({ env: name, home, expiresAt: record.expiresAt });
    }
  }
  return out;
}

export async function sweepExpiredLocal(homes: readonly string[], now: Date, opts: { dryRun: boolean; yes: boolean }): Promise<LocalSweep[]> {
  const out: LocalSweep[] = [];
  const expired = await expiredLocalEnvs(homes, now);
  if (expired.length > 0 && !opts.dryRun) await confirmChange(`Take down the expired local envs ${expired.map((e) => e.env).join(', ')}?`, { yes: opts.yes, verb: 'sweep' });
  for (const e of expired) {
    if (opts.dryRun) {
      out.push({ ...e, removed: false });
      continue;
    }
    const r = await execa(process.execPath, [projectPath('scripts', 'loadfleet.mjs'), 'down', '--env', e.env, '--home', e.home, '--yes'], { reject: false, stdin: 'ignore' });
    out.push({ ...e, removed: r.exitCode === 0, ...(r.exitCode === 0 ? {} : { error: `down exited ${r.exitCode}: ${String(r.stderr).trim()}` }) });
  }
  return out;
}

export function formatLocalSweep(s: readonly LocalSweep[], homes: readonly string[]): string {
  const scanned = `env homes scanned: ${homes.map((h) => path.resolve(h)).join(', ')}`;
  if (s.length === 0) return `${scanned}\nno expired local env in them`;
  return [scanned, ...s.map((e) => `local env ${e.env} in ${e.home} (expired ${e.expiresAt}): ${e.removed ? 'removed' : e.error ?? 'would be removed (dry run)'}`)].join('\n');
}
