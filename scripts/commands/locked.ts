/** The env lock around a verb that writes state (up, down, tune, install, bake): see scripts/adapters/lock.ts. */
import * as path from 'node:path';
import type { CommonOptions } from '../adapters/context';

export async function locked<T>(opts: CommonOptions, command: string, work: () => Promise<T>): Promise<T> {
  const { settings } = await import('../adapters/context');
  // The env's name: --env, else the config's (validated again by the action; a bad config fails there).
  let name = opts.env;
  if (!name && opts.config) name = (await (await import('../adapters/config-file')).loadConfig(opts.config)).config.name;
  if (!name) return work(); // the action says which flag is missing
  if (opts.env) (await import('../adapters/context')).checkEnvName(name); // never a lock path outside the home
  const { withEnvLock } = await import('../adapters/lock');
  return withEnvLock(path.join(settings(opts).home, name), name, command, work);
}
