/** Which config a command uses when -c is not given. Tiny on purpose: the CLI's preAction hook loads it for every verb. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { refuseControlChars } from '../core/safe-text';

/** The config a command finds by itself, next to where it runs (as package.json for npm). */
export const DEFAULT_CONFIG_FILE = 'loadfleet.yaml';

/**
 * The config used when -c is not given: $LOADFLEET_CONFIG, else ./loadfleet.yaml when it exists
 * (undefined when neither). Read at the edge only (the CLI's preAction hook and settings()).
 */
export function discoverConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | undefined {
  if (env.LOADFLEET_CONFIG) return path.resolve(cwd, refuseControlChars('LOADFLEET_CONFIG', env.LOADFLEET_CONFIG));
  const here = path.join(cwd, DEFAULT_CONFIG_FILE);
  return fs.existsSync(here) ? here : undefined;
}

