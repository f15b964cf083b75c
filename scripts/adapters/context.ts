/**
 * Where a command's config, env folder and environment come from. The only place that reads
 * process.env for loadfleet's own settings.
 */
import * as path from 'node:path';
import { EnvDir } from './env-dir';
import { loadConfig, type LoadedConfig } from './config-file';
import { UsageError } from '../core/errors';
import { refuseControlChars } from '../core/safe-text';
import { DEFAULT_CONFIG_FILE, discoverConfig } from './config-discovery';

export { DEFAULT_CONFIG_FILE, discoverConfig };
import { NAME_RE } from '../../stacks/config';
import type { EnvRecord } from '../core/env-record';

export interface CommonOptions {
  readonly config?: string;
  readonly env?: string;
  readonly home?: string;
}

/**
 * The folder of env folders: --home, else $LOADFLEET_HOME, else .loadfleet BESIDE the config (-c, or the one
 * discoverConfig finds), so `-c /tmp/ux/fleet.yaml` reaches the same env from any folder; ./.loadfleet only when
 * there is no config at all (`--env` alone, from a folder without loadfleet.yaml).
 */
export function homeFor(opts: CommonOptions, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  if (opts.home !== undefined) return path.resolve(cwd, refuseControlChars('--home', opts.home));
  if (env.LOADFLEET_HOME) return path.resolve(cwd, refuseControlChars('LOADFLEET_HOME', env.LOADFLEET_HOME));
  const config = opts.config ?? discoverConfig(env, cwd);
  return path.join(config ? path.dirname(path.resolve(cwd, config)) : cwd, '.loadfleet');
}

export interface Settings {
  /** Base folder of env folders: --home, else $LOADFLEET_HOME, else .loadfleet beside the config (homeFor) */
  readonly home: string;
  /** Provider mirror for offline terraform: $LOADFLEET_TF_PLUGIN_MIRROR */
  readonly pluginMirror?: string;
  /** Local target: seconds until the expiry timer fires, instead of the expiry ($LOADFLEET_LOCAL_EXPIRY_SECONDS; for tests). */
  readonly localExpirySeconds?: number;
  readonly processEnv: NodeJS.ProcessEnv;
}

export function settings(opts: CommonOptions): Settings {
  return {
    home: homeFor(opts),
    pluginMirror: process.env.LOADFLEET_TF_PLUGIN_MIRROR || undefined,
    localExpirySeconds: process.env.LOADFLEET_LOCAL_EXPIRY_SECONDS ? Number(process.env.LOADFLEET_LOCAL_EXPIRY_SECONDS) : undefined,
    processEnv: process.env,
  };
}

/**
 * `--env` names a folder and becomes an EC2 tag filter: only the config's name rule passes, so a
 * wildcard (`demo*`) cannot match other envs and a path (`../x`) cannot leave the env folder.
 */
export function checkEnvName(name: string, flag = '--env'): string {
  if (!NAME_RE.test(name)) {
    throw new UsageError(`${flag} (${JSON.stringify(name)}) is not an env name: 2-24 lower-case letters, digits and dashes, starting with a letter (the config's name rule)`);
  }
  return name;
}

export interface EnvContext {
  readonly settings: Settings;
  readonly envDir: EnvDir;
  readonly record?: EnvRecord;
  /** Present when -c was given, or the env record names a readable config. */
  readonly loaded?: LoadedConfig;
}

/** Resolves -c / --env to an env folder; `needConfig` makes the config mandatory. */
/**
 * The env's folder, and its record. Where the home was not chosen (--home, $LOADFLEET_HOME) and the env has no
 * record beside the config, an env folder in ./.loadfleet (where envs lived before they moved beside their
 * config, and where `--env N` alone looks) is used instead, said on stderr: an env must never look gone —
 * `down` would say "nothing to destroy" while its hosts keep billing.
 */
async function envDirFor(opts: CommonOptions, s: Settings, name: string): Promise<{ settings: Settings; envDir: EnvDir; record: Awaited<ReturnType<EnvDir['readRecord']>> }> {
  const envDir = new EnvDir(s.home, name);
  const record = await envDir.readRecord();
  if (record || opts.home !== undefined || s.processEnv.LOADFLEET_HOME) return { settings: s, envDir, record };
  const home = path.resolve('.loadfleet');
  if (home === s.home) return { settings: s, envDir, record };
  const other = new EnvDir(home, name);
  const found = await other.readRecord();
  if (!found) return { settings: s, envDir, record };
  process.stderr.write(`note: env "${name}" was found in ${home} (not beside the config, ${s.home}): using it; pass --home ${home} to say so\n`);
  return { settings: { ...s, home }, envDir: other, record: found };
}

export async function resolveEnv(opts: CommonOptions, needConfig: boolean, needPrivateKey = true): Promise<EnvContext> {
  const s0 = settings(opts);
  if (opts.config) {
    const loaded = await loadConfig(opts.config, { needPrivateKey });
    if (opts.env) checkEnvName(opts.env);
    if (opts.env && opts.env !== loaded.config.name) {
      throw new UsageError(`--env (${opts.env}) does not match name (${loaded.config.name}) in ${opts.config}: drop one of them`);
    }
    const { settings: s, envDir, record } = await envDirFor(opts, s0, loaded.config.name);
    return { settings: s, envDir, record, loaded };
  }
  if (!opts.env) throw new UsageError(`say which env: -c <fleet.yaml> or --env <name> (or run it in the folder of ${DEFAULT_CONFIG_FILE}, or set LOADFLEET_CONFIG)`);
  checkEnvName(opts.env);
  const { settings: s, envDir, record } = await envDirFor(opts, s0, opts.env);
  if (needConfig) {
    if (!record) throw new UsageError(`env "${opts.env}" is unknown in ${s.home}: pass -c <fleet.yaml>`);
    return { settings: s, envDir, record, loaded: await loadConfig(record.configPath, { needPrivateKey }) };
  }
  return { settings: s, envDir, record };
}
