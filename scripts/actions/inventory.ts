import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as os from 'node:os';
import { checkEnvName, resolveEnv, settings, type CommonOptions } from '../adapters/context';
import { EnvDir } from '../adapters/env-dir';
import { engineOf, type EngineName } from '../../stacks/engines';
import { loadConfig } from '../adapters/config-file';
import { UsageError } from '../core/errors';
import { FORMATS, hostsFromTags, inventoryFrom, render, type Inventory, type InventoryFormat } from '../core/inventory';
import type { FleetOutputs } from '../core/env-record';

export interface InventoryOptions extends CommonOptions {
  readonly region?: string;
  readonly user?: string;
  readonly key?: string;
  readonly format: string;
  readonly output?: string;
  readonly fromTags: boolean;
}

export async function loadInventory(opts: CommonOptions & { fromTags?: boolean; region?: string; user?: string; key?: string }): Promise<Inventory> {
  if (opts.fromTags && !opts.config && opts.env) {
    checkEnvName(opts.env); // an EC2 tag filter: a wildcard would match other envs
    const s = settings(opts);
    const envDir = new EnvDir(s.home, opts.env);
    if (!(await envDir.readRecord())) return fromTagsAlone(opts.env, opts, envDir);
  }
  const ctx = await resolveEnv(opts, false, false);
  const { envDir, record, loaded } = ctx;
  if (!record && !loaded) throw new UsageError(`env "${envDir.name}" is unknown in ${ctx.settings.home}: run "loadfleet up" first, or pass -c <fleet.yaml> (and --home if the env folder is elsewhere)`);
  const region = loaded?.config.region ?? record?.region ?? 'us-east-1';
  const config = loaded ?? (record ? await loadConfig(record.configPath, { needPrivateKey: false }).catch(() => undefined) : undefined);
  const privateKeyPath = opts.key ?? config?.privateKeyPath;
  if (!privateKeyPath) throw new UsageError(`env "${envDir.name}" has no config to name its key: pass -c <fleet.yaml> or --key <private key>`);
  let outputs: FleetOutputs;
  if (opts.fromTags) {
    const name = config?.config.name ?? envDir.name;
    const hosts = await hostsOfTags(name, region);
    const engineName = (config?.config.engine ?? record?.engine) as EngineName;
    const engine = engineOf(engineName);
    const controller = hosts.find((h) => h.role === 'controller');
    outputs = {
      env: name, target: 'aws', engine: engineName, expiresAt: '', sshUser: opts.user ?? config?.config.sshUser ?? 'ec2-user', hosts,
      master: controller && engine.masterPort !== null ? { address: controller.privateIp, port: engine.masterPort } : null,
    };
  } else {
    outputs = await envDir.requireOutputs();
  }
  return inventoryFrom(outputs, { region, privateKeyPath, knownHostsFile: envDir.knownHosts });
}

async function hostsOfTags(env: string, region: string) {
  // The AWS SDK only for --from-tags: a plain inventory reads the env folder and loads none of it.
  const { ec2Client, instancesOfEnv } = await import('../adapters/ec2');
  const hosts = hostsFromTags(env, await instancesOfEnv(ec2Client(region), env));
  if (hosts.length === 0) throw new UsageError(`no running instance is tagged loadfleet:env=${env} in ${region}: check --env and --region`);
  return hosts;
}

/** Neither config nor env folder (a lost laptop, a colleague's fleet): EC2 tags alone, as sweep works. */
async function fromTagsAlone(env: string, opts: { region?: string; user?: string; key?: string }, envDir: EnvDir): Promise<Inventory> {
  const region = opts.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const hosts = await hostsOfTags(env, region);
  const privateKeyPath = opts.key ?? path.join(os.homedir(), '.ssh', 'id_ed25519');
  const user = opts.user ?? 'ec2-user';
  process.stderr.write(
    `inventory of ${env} from EC2 tags alone (no config, no env folder): user ${user}${opts.user ? '' : ' (--user to change)'}, key ${privateKeyPath}${opts.key ? '' : ' (--key to change)'}; ` +
      `engine and master unknown; host keys are not pinned here yet (${envDir.knownHosts})\n`,
  );
  const outputs: FleetOutputs = { env, target: 'aws', engine: 'unknown', expiresAt: '', sshUser: user, hosts, master: null };
  return inventoryFrom(outputs, { region, privateKeyPath, knownHostsFile: envDir.knownHosts });
}

export async function inventoryAction(opts: InventoryOptions): Promise<void> {
  if (!(FORMATS as readonly string[]).includes(opts.format)) {
    throw new UsageError(`--format (${opts.format}) is not a known format: use one of ${FORMATS.join(', ')}`);
  }
  const inv = await loadInventory(opts);
  // The door's ControlPath (~/.ssh/lf-%C) needs the folder: ssh does not fall back when it cannot bind there.
  if (inv.hosts.some((h) => h.publicIp === '' && h.role !== 'controller')) await fs.mkdir(path.join(os.homedir(), '.ssh'), { recursive: true, mode: 0o700 });
  const text = render(inv, opts.format as InventoryFormat);
  if (opts.output) {
    await fs.mkdir(path.dirname(path.resolve(opts.output)), { recursive: true });
    await fs.writeFile(opts.output, text, { mode: 0o644 });
    process.stderr.write(`wrote ${opts.format} inventory to ${opts.output}\n`);
  } else {
    process.stdout.write(text);
  }
}
