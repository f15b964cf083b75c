/**
 * `loadfleet init [DIR]`: a starter config that works as written (choices made from what this machine has),
 * a key pair, and a starter script for the engine; then the next commands. Never overwrites a config.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { execa } from 'execa';
import { ENGINE_NAMES, type EngineName } from '../../stacks/engines';
import { NAME_RE } from '../../stacks/config';
import { ToolMissingError, UsageError } from '../core/errors';
import { DEFAULT_NOFILE, STARTER_SCRIPT, freeLocalSubnet, freePrefix, nameFromFolder, nofileCap, starterConfig, starterNofile, starterScript } from '../core/init';
import { DEFAULT_CONFIG_FILE } from '../adapters/config-discovery';
import { loadConfig } from '../adapters/config-file';
import { checkEngineConfig } from '../engines/index';
import { machineLinks, machineNetworks, nofileFacts } from '../adapters/machine';

export interface InitOptions {
  readonly target?: string;
  readonly engine?: string;
  readonly name?: string;
  /** An existing public key to reference instead of creating a pair. */
  readonly key?: string;
  readonly force?: boolean;
}

const exists = (p: string) => fs.access(p).then(() => true, () => false);

export async function initAction(dirArg: string | undefined, opts: InitOptions): Promise<void> {
  const dir = path.resolve(dirArg ?? '.');
  const target = opts.target ?? (process.platform === 'linux' && process.getuid?.() === 0 ? 'local' : 'aws');
  if (target !== 'local' && target !== 'aws') throw new UsageError(`--target (${target}) must be local or aws`);
  const engine = (opts.engine ?? 'locust') as EngineName;
  if (!ENGINE_NAMES.includes(engine)) throw new UsageError(`--engine (${opts.engine}) must be one of ${ENGINE_NAMES.join(', ')}`);
  // The config must work as written: an engine the target cannot run is refused now, not at `up` (exit 2).
  checkEngineConfig({ engine }, target === 'local' ? 'netns' : 'ec2');
  const name = opts.name ?? nameFromFolder(path.basename(dir));
  if (!NAME_RE.test(name)) throw new UsageError(`--name (${JSON.stringify(name)}) is not an env name: 2-24 lower-case letters, digits and dashes, starting with a letter`);
  const configFile = path.join(dir, DEFAULT_CONFIG_FILE);
  if ((await exists(configFile)) && !opts.force) throw new UsageError(`${configFile} exists already: edit it, or pass --force to replace it (init never overwrites a config otherwise)`);
  await fs.mkdir(dir, { recursive: true });
  const notes: string[] = [];

  // The key pair: an existing public key (--key), else one made here, in keys/ beside the config (0700, ignored by git).
  let publicKeyPath: string;
  let keyNote: string;
  if (opts.key) {
    const abs = path.resolve(opts.key);
    if (!abs.endsWith('.pub') || !(await exists(abs))) throw new UsageError(`--key (${opts.key}) must be an existing public key file ending in .pub (its private key beside it, without .pub)`);
    publicKeyPath = abs;
    keyNote = 'your existing key (--key)';
  } else {
    const keyDir = path.join(dir, 'keys');
    const priv = path.join(keyDir, 'id_ed25519');
    await fs.mkdir(keyDir, { recursive: true, mode: 0o700 });
    await fs.chmod(keyDir, 0o700);
    await fs.writeFile(path.join(keyDir, '.gitignore'), '# private keys: never commit them\n*\n');
    if (await exists(priv)) {
      keyNote = 'the key pair found in keys/ (kept)';
    } else {
      const r = await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `loadfleet-${name}`, '-f', priv], { reject: false, stdin: 'ignore' });
      if (r.exitCode !== 0) {
        if ((r as { code?: string }).code === 'ENOENT') throw new ToolMissingError('ssh-keygen', 'apt-get install openssh-client');
        throw new UsageError(`ssh-keygen could not create ${priv}: ${String(r.stderr).trim()}`);
      }
      keyNote = 'created by init (ed25519, no passphrase, 0600; keys/ is git-ignored)';
      notes.push(`created key pair ${priv} (.pub)`);
    }
    publicKeyPath = 'keys/id_ed25519.pub';
  }

  let local: { subnet: string; prefix: string; nofile: { value: number; why: string } } | undefined;
  if (target === 'local') {
    const nets = await machineNetworks();
    const subnet = freeLocalSubnet(nets.map((n) => n.cidr));
    const prefix = freePrefix(await machineLinks());
    const cap = nofileCap(await nofileFacts());
    const value = starterNofile(cap.cap);
    local = { subnet, prefix, nofile: { value, why: value < DEFAULT_NOFILE ? `below the cap, since ${cap.why}` : 'the default; this machine allows it' } };
  }
  const text = starterConfig({ name, target, engine, publicKeyPath, keyNote, subnet: local?.subnet, prefix: local?.prefix, nofile: local?.nofile, now: new Date() });
  await fs.writeFile(configFile, text, { mode: 0o644 });
  // Works as written: the same load every command does (schema, key files), before saying so.
  await loadConfig(configFile);

  const scriptName = STARTER_SCRIPT[engine];
  const script = starterScript(engine);
  if (scriptName && script) {
    const file = path.join(dir, scriptName);
    if (await exists(file)) notes.push(`kept the existing ${file}`);
    else {
      await fs.writeFile(file, script, { mode: 0o644 });
      notes.push(`wrote ${file}`);
    }
  } else notes.push(`no starter script for ${engine}: write your own (README, "run")`);

  const lf = 'loadfleet';
  const here = path.resolve('.') === dir ? [] : [`  cd ${dir}`];
  const next =
    target === 'local'
      ? [
          ...here,
          `  ${lf} up                                                # the hosts, on ${local!.subnet}`,
          `  ${lf} tune && ${lf} install && ${lf} serve        # limits, the engine, nginx on the target`,
          `  ${lf} run ${scriptName ? `--script ${scriptName}` : '--script <your script>'} --users 10 --duration 30s`,
          `when done: ${lf} down`,
        ]
      : [
          ...here,
          `  edit access.sshCidrs in ${DEFAULT_CONFIG_FILE}: your own address/32`,
          `  ${lf} up                                                # EC2 hosts; shows the hourly cost and asks first`,
          `  ${lf} tune && ${lf} install`,
          `  ${lf} run ${scriptName ? `--script ${scriptName}` : '--script <your script>'} --host <your server's URL> --allow-external-host --users 10 --duration 30s`, // a server outside the fleet must be named as such (issue 22.9)
          `when done: ${lf} down   (the dead-man switch stops every host after ttlHours anyway)`,
        ];
  process.stdout.write(
    [
      `wrote ${configFile} (target ${target}, engine ${engine}${local ? `, subnet ${local.subnet}, prefix ${local.prefix}, tuning.nofile ${local.nofile.value}` : ''})`,
      ...notes,
      'next:',
      ...next,
      '',
    ].join('\n'),
  );
}
