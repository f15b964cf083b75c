/**
 * status: asks EC2 (or, on the local target, the host processes) live, and compares with the env's state.
 * Works from EC2 tags alone with `--env N --region R` when there is neither config nor env folder.
 */
import * as fs from 'node:fs/promises';
import { checkEnvName, settings, type CommonOptions } from '../adapters/context';
import { EnvDir } from '../adapters/env-dir';
import { UsageError } from '../core/errors';
import { formatStatus, localStatus, awsStatus, type StatusReport } from '../core/status';
import { egressLine, table } from '../core/summary';
import { egressIps } from '../core/door';
import type { FleetOutputs } from '../core/env-record';
import type { FleetCost } from '../core/cost';

export interface StatusOptions extends CommonOptions {
  readonly json: boolean;
  readonly region?: string;
}

export async function statusAction(opts: StatusOptions): Promise<void> {
  const report = await statusOf(opts, new Date());
  process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatStatus(report, table)}${report.egressIps ? `\n${egressLine(report.egressIps)}` : ''}\n`);
}

/** The report, plus the env folder's outputs as they were (null when there are none), for scripts. */
export async function statusOf(opts: StatusOptions, now: Date): Promise<StatusReport & { outputs: FleetOutputs | null; egressIps: { kind: string; ips: string[] } | null }> {
  const { report, outputs } = await observe(opts, now);
  return { ...report, outputs: outputs ?? null, egressIps: outputs ? egressIps(outputs) : null };
}

async function observe(opts: StatusOptions, now: Date): Promise<{ report: StatusReport; outputs?: FleetOutputs }> {
  const s = settings(opts);
  let name = opts.env === undefined ? undefined : checkEnvName(opts.env);
  let config: import('../../stacks/config').FleetConfig | undefined;
  if (opts.config) {
    config = (await (await import('../adapters/config-file')).loadConfig(opts.config, { needPrivateKey: false })).config;
    if (name && name !== config.name) throw new UsageError(`--env (${name}) does not match name (${config.name}) in ${opts.config}: drop one of them`);
    name = config.name;
  }
  if (!name) throw new UsageError('say which env: -c <fleet.yaml> or --env <name> (with --region when there is no env folder), or run it in the folder of loadfleet.yaml');
  const envDir = new EnvDir(s.home, name);
  const record = await envDir.readRecord();
  const outputs = record && record.status !== 'down' ? await envDir.readOutputs() : undefined;
  if (!config && record) config = await (await import('../adapters/config-file')).loadConfig(record.configPath, { needPrivateKey: false }).then((l) => l.config, () => undefined);

  // A failed up/down leaves its reason and the command that finishes the job in the record.
  const extra = { failure: record?.failure ?? null, ...(record?.failure ? { next: record.failure.next } : {}) };
  if (record?.target === 'local') {
    return { outputs, report: { ...localStatus({ env: name, status: record.status, outputs: outputs ?? emptyOutputs(name, record.expiresAt), alive: await aliveLocalHosts(envDir), now }), ...extra } };
  }
  const region = opts.region ?? config?.region ?? record?.region ?? process.env.AWS_REGION ?? 'us-east-1';
  if (opts.region && record && record.region !== opts.region) throw new UsageError(`--region (${opts.region}) is not the env's region (${record.region}): drop --region`);
  // The AWS SDK only here, when EC2 is really asked.
  const { ec2Client } = await import('../adapters/ec2');
  const { observeInstances } = await import('../adapters/ec2-status');
  const { findTagged } = await import('../adapters/sweep-ec2');
  const { loadPrices } = await import('../adapters/pricing');
  // Every region the env uses (agents spread over regions, issue 18): its record's, else its config's.
  const { recordRegions } = await import('../core/env-record');
  const { fleetRegions } = await import('../../stacks/regions');
  const regions = opts.region ? [opts.region] : record ? recordRegions(record) : config ? fleetRegions(config) : [region];
  const seen = await Promise.all(regions.map(async (r) => {
    const ec2 = ec2Client(r);
    return Promise.all([observeInstances(ec2, name), findTagged(ec2, name)]);
  }));
  const instances = seen.flatMap(([i]) => i);
  const tagged = seen.flatMap(([, t]) => t);
  const prices = await loadPrices();
  let estimate: FleetCost | undefined;
  if (config) estimate = await (await import('./cost')).estimate(config);
  const report = awsStatus({
    env: name, region, status: record?.status ?? (instances.some((i) => i.state === 'running' || i.state === 'pending') ? 'up (tags)' : 'unknown'),
    outputs, expiresAt: record?.status === 'down' ? undefined : record?.expiresAt, instances, tagged, stateIds: await stateIds(envDir.file('terraform.tfstate')), estimate, prices, now,
  });
  return { outputs, report: { ...report, ...(regions.length > 1 ? { regions } : {}), ...extra } };
}

function emptyOutputs(env: string, expiresAt: string): FleetOutputs {
  return { env, target: 'local', engine: '', expiresAt, sshUser: 'root', hosts: [], master: null };
}

/** Names of local hosts whose host process still runs (not a zombie). */
async function aliveLocalHosts(envDir: EnvDir): Promise<Set<string>> {
  const alive = new Set<string>();
  const { LocalHosts } = await import('../adapters/local-hosts');
  const pids = await new LocalHosts(envDir.localDir).pids();
  const outputs = await envDir.readOutputs();
  for (const [netns, pid] of Object.entries(pids)) {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const host = outputs?.hosts.find((o) => o.id === netns);
    if (cmdline && host) alive.add(host.name);
  }
  return alive;
}

/** Every resource id in a local Terraform state file; undefined when there is none (e.g. an S3 backend). */
async function stateIds(file: string): Promise<Set<string> | undefined> {
  let state: { resources?: { instances?: { attributes?: Record<string, unknown> }[] }[] };
  try {
    state = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  const ids = new Set<string>();
  for (const r of state.resources ?? []) {
    for (const i of r.instances ?? []) {
      for (const k of ['id', 'key_name', 'key_pair_id']) {
        const v = i.attributes?.[k];
        if (typeof v === 'string') ids.add(v);
      }
    }
  }
  return ids;
}
