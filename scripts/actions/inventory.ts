import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { engineOf, type EngineName } from '../../stacks/engines';
import { loadConfig } from '../adapters/config-file';
import { UsageError } from '../core/errors';
import { FORMATS, hostsFromTags, inventoryFrom, render, type Inventory, type InventoryFormat } from '../core/inventory';
import type { FleetOutputs } from '../core/env-record';

export interface InventoryOptions extends CommonOptions {
  readonly format: string;
  readonly output?: string;
  readonly fromTags: boolean;
}

export async function loadInventory(opts: CommonOptions & { fromTags?: boolean }): Promise<Inventory> {
  const ctx = await resolveEnv(opts, false);
  const { envDir, record, loaded } = ctx;
  if (!record && !loaded) throw new UsageError(`env "${envDir.name}" is unknown in ${ctx.settings.home}: run "loadfleet up" first, or pass -c <fleet.yaml> (and --home if the env folder is elsewhere)`);
  const region = loaded?.config.region ?? record?.region ?? 'us-east-1';
  const config = loaded ?? (record ? await loadConfig(record.configPath).catch(() => undefined) : undefined);
  const privateKeyPath = config?.privateKeyPath;
  if (!privateKeyPath) throw new UsageError(`env "${envDir.name}" has no config to name its key: pass -c <fleet.yaml>`);
  let outputs: FleetOutputs;
  if (opts.fromTags) {
    if (!loaded) throw new UsageError('--from-tags needs -c <fleet.yaml> (for the region, engine and user)');
    // The AWS SDK only for --from-tags: a plain inventory reads the env folder and loads none of it.
    const { ec2Client, instancesOfEnv } = await import('../adapters/ec2');
    const hosts = hostsFromTags(loaded.config.name, await instancesOfEnv(ec2Client(region), loaded.config.name));
    if (hosts.length === 0) throw new UsageError(`no running instance is tagged loadfleet:env=${loaded.config.name} in ${region}`);
    const engine = engineOf(loaded.config.engine as EngineName);
    const controller = hosts.find((h) => h.role === 'controller');
    outputs = {
      env: loaded.config.name, target: 'aws', engine: loaded.config.engine, expiresAt: '', sshUser: loaded.config.sshUser, hosts,
      master: controller && engine.masterPort !== null ? { address: controller.privateIp, port: engine.masterPort } : null,
    };
  } else {
    outputs = await envDir.requireOutputs();
  }
  return inventoryFrom(outputs, { region, privateKeyPath, knownHostsFile: envDir.knownHosts });
}

export async function inventoryAction(opts: InventoryOptions): Promise<void> {
  if (!(FORMATS as readonly string[]).includes(opts.format)) {
    throw new UsageError(`--format (${opts.format}) is not a known format: use one of ${FORMATS.join(', ')}`);
  }
  const text = render(await loadInventory(opts), opts.format as InventoryFormat);
  if (opts.output) {
    await fs.mkdir(path.dirname(path.resolve(opts.output)), { recursive: true });
    await fs.writeFile(opts.output, text, { mode: 0o644 });
    process.stderr.write(`wrote ${opts.format} inventory to ${opts.output}\n`);
  } else {
    process.stdout.write(text);
  }
}
