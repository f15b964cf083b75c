/** The env lock around a verb that writes state (up, down, tune, install, bake): see scripts/adapters/lock.ts. */
import * as path from 'node:path';
import type { CommonOptions } from '../adapters/context';

/** `before` (optional) runs with the env folder before the lock is taken, e.g. run's check for a run still going. */
export async function locked<T>(opts: CommonOptions, command: string, work: () => Promise<T>, before?: (envDir: string) => Promise<void>): Promise<T> {
  const { settings } = await import('../adapters/context');
  // The env's name: --env, else the config's (validated again by the action; a bad config fails there).
  let name = opts.env;
  if (!name && opts.config) name = (await (await import('../adapters/config-file')).loadConfig(opts.config, { needPrivateKey: false })).config.name;
  if (!name) return work(); // the action says which flag is missing
  if (opts.env) (await import('../adapters/context')).checkEnvName(name); // never a lock path outside the home
  const { withEnvLock } = await import('../adapters/lock');
  const envDir = path.join(settings(opts).home, name);
  if (before) await before(envDir);
  return withEnvLock(envDir, name, command, work);
}
