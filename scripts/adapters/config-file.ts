/** Reads a fleet config from disk (YAML or JSON), validates it, and reads the public key it names. */
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError, validateFleetConfig, privateKeyPathOf, type ConfigProblem, type FleetConfig } from '../../stacks/config';
import { UsageError } from '../core/errors';
import { checkPublicKey } from '../core/keys';
import { hasControlChars } from '../core/safe-text';

export interface LoadedConfig {
  readonly config: FleetConfig;
  /** Absolute path of the config file. */
  readonly path: string;
  /** Contents of the public key file. */
  readonly publicKey: string;
  /** Absolute paths of the key pair. */
  readonly publicKeyPath: string;
  readonly privateKeyPath: string;
}

export function expandHome(p: string, base: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(base, p);
}

export async function parseConfigText(text: string, file: string): Promise<unknown> {
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new ConfigError(file, [{ path: '(file)', value: undefined, message: `is not valid JSON: ${(e as Error).message}` }]);
    }
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(file, doc.errors.map((e) => ({ path: '(file)', value: undefined, message: `is not valid YAML: ${e.message}` })));
  }
  return doc.toJS();
}

/**
 * needPrivateKey: the command logs into hosts (up, tune, install, serve, doctor, run, tunnel, bake), so an
 * unreadable private key is a config error now (exit 2) rather than SSH's after the hosts are built. Commands
 * that never log in (synth, status, down, inventory, sweep, runs, compare) do not need it.
 */
export async function loadConfig(file: string, { needPrivateKey = true }: { needPrivateKey?: boolean } = {}): Promise<LoadedConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await fs.readFile(abs, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}. Pass an existing YAML or JSON file with -c.`);
  }
  const raw = await parseConfigText(text, abs);
  const base = path.dirname(abs);
  // Collect schema problems and key-file problems together so the user sees everything at once.
  let config: FleetConfig | undefined;
  const problems: ConfigProblem[] = [];
  try {
    config = validateFleetConfig(raw, abs);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    problems.push(...e.problems);
  }
  const keyPath = (raw as { keyPair?: { publicKeyPath?: unknown } } | null)?.keyPair?.publicKeyPath;
  let publicKey = '';
  let publicKeyPath = '';
  if (typeof keyPath === 'string' && keyPath.length > 0) {
    publicKeyPath = expandHome(keyPath, base);
    let content: string | undefined;
    try {
      content = await fs.readFile(publicKeyPath, 'utf8');
    } catch (e) {
      problems.push({
        path: 'keyPair.publicKeyPath',
        value: keyPath,
        message: `cannot be read (${(e as NodeJS.ErrnoException).code}): create a key with ssh-keygen -t ed25519 and point at its .pub file`,
      });
    }
    if (content !== undefined) {
      const problem = checkPublicKey(content);
      if (problem) problems.push({ path: 'keyPair.publicKeyPath', value: keyPath, message: problem });
      else publicKey = content.trim();
    }
  }
  const privateKeyPath = config ? expandHome(privateKeyPathOf(config), base) : '';
  // Every login needs it: found here (exit 2, the field named) rather than by SSH after the hosts are built.
  if (config && publicKey && needPrivateKey) {
    const access = await fs.access(privateKeyPath, fsConstants.R_OK).then(() => undefined, (e: NodeJS.ErrnoException) => e.code ?? e.message);
    if (access !== undefined) {
      const given = config.keyPair.privateKeyPath;
      problems.push({
        path: 'keyPair.privateKeyPath',
        value: given ?? privateKeyPath,
        message: `cannot be read (${access})${given === undefined ? ' — unset, so it defaults to keyPair.publicKeyPath without ".pub"' : ''}: point keyPair.privateKeyPath at the private key that pairs with ${publicKeyPath}, or create a pair with ssh-keygen -t ed25519 -f <file>`,
      });
    }
  }
  // The key path is written into ssh_config and the Ansible inventory: a newline there would add directives.
  for (const [field, value] of [['keyPair.publicKeyPath', publicKeyPath], ['keyPair.privateKeyPath', privateKeyPath]] as const) {
    if (hasControlChars(value)) problems.push({ path: field, value, message: 'contains a control character: use a path without control characters (newlines, tabs, escapes)' });
  }
  if (problems.length > 0 || !config) throw new ConfigError(abs, problems);
  return { config, path: abs, publicKey, publicKeyPath, privateKeyPath };
}
