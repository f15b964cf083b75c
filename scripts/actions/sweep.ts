/** Removes everything that carries an env's tag, round after round, until a listing comes back empty. */
import { ec2Client, type Ec2Port } from '../adapters/ec2';
import { countCalls, deleteFound, envExpiries, findTagged, imagesWithLifetime } from '../adapters/sweep-ec2';
import { confirmChange } from '../adapters/prompt';
import { checkEnvName, discoverConfig, homeFor, settings } from '../adapters/context';
import * as path from 'node:path';
import { loadConfig } from '../adapters/config-file';
import { ExternalError, UsageError } from '../core/errors';
import { countByKind, describeFound, expiredEnvs, expiredImages, inSweepOrder, madeProgress, SWEEP_ORDER, type Found, type SweepKind } from '../core/sweep';
import { SWEEP } from '../core/timing';
import * as fs from 'node:fs/promises';
import type { EC2Client } from '@aws-sdk/client-ec2';
import { EnvDir } from '../adapters/env-dir';
import { recordRegions } from '../core/env-record';
import { fleetRegions } from '../../stacks/regions';
import { listRegions } from '../adapters/regions-ec2';

export interface SweepReport {
  readonly env: string;
  readonly removed: Found[];
  readonly rounds: number;
  /** The final listing: empty, or sweep failed. */
  readonly left: Found[];
  /** The regions swept, when more than one. */
  readonly regions?: string[];
}

export interface SweepOptions {
  readonly keepImages?: boolean;
  readonly onRound?: (round: number, found: Found[]) => void;
  readonly maxRounds?: number;
  /** Stops between rounds (Ctrl-C during `down`: the round in flight finishes). */
  readonly signal?: AbortSignal;
  /** Abandons at once (Ctrl-C pressed to give up): the wait for instances ends, no further deletion or round starts. */
  readonly abandon?: AbortSignal;
}

export async function sweepEnv(ec2: Ec2Port, env: string, opts: SweepOptions = {}): Promise<SweepReport> {
  const kinds = opts.keepImages ? new Set<SweepKind>(SWEEP_ORDER.filter((k) => k !== 'image' && k !== 'snapshot')) : undefined;
  const removed: Found[] = [];
  let previous: Found[] | undefined;
  let lastErrors = '';
  for (let round = 1; round <= (opts.maxRounds ?? SWEEP.maxRounds); round++) {
    if (opts.signal?.aborted || opts.abandon?.aborted) throw new ExternalError(`sweep of env ${env} was stopped after ${round - 1} round(s): run "loadfleet sweep --env ${env}" to finish`);
    const found = await findTagged(ec2, env, kinds);
    if (found.length === 0) return { env, removed, rounds: round - 1, left: [] };
    if (previous && !madeProgress(previous, found)) {
      throw new ExternalError(`sweep of env ${env} made no progress in round ${round - 1}; still there: ${describeFound(found)}${lastErrors ? `\nlast errors: ${lastErrors}` : ''}`);
    }
    opts.onRound?.(round, found);
    const outcome = await deleteFound(ec2, inSweepOrder(found), { waitSeconds: SWEEP.instanceWaitSeconds, signal: opts.abandon });
    removed.push(...outcome.removed);
    lastErrors = outcome.errors.map((e) => `${e.found.kind} ${e.found.id}: ${e.message}`).join('; ');
    previous = found;
  }
  const left = await findTagged(ec2, env, kinds);
  if (left.length > 0) throw new ExternalError(`sweep of env ${env} gave up after ${opts.maxRounds ?? SWEEP.maxRounds} rounds; still there: ${describeFound(left)}`);
  return { env, removed, rounds: opts.maxRounds ?? SWEEP.maxRounds, left };
}
/**
 * The sweep in each region an env uses (agents spread over regions, issue 18), one after the other; the
 * report adds them up and names the regions. A failing region does not stop the others (their agents would
 * keep running): every region is swept, then one error names each region that failed and why.
 */
export async function sweepRegions(regions: readonly string[], env: string, opts: SweepOptions = {}, client: (region: string) => Ec2Port = ec2Client): Promise<SweepReport> {
  const removed: Found[] = [];
  const failed: string[] = [];
  let rounds = 0;
  for (const region of regions) {
    try {
      const r = await sweepEnv(client(region), env, opts);
      removed.push(...r.removed);
      rounds = Math.max(rounds, r.rounds);
    } catch (e) {
      failed.push(`${region}: ${(e as Error).message}`);
    }
  }
  if (failed.length > 0) {
    const done = regions.length - failed.length;
    throw new ExternalError(
      `sweep of env ${env} failed in ${failed.length} of ${regions.length} region(s)${done > 0 ? ` (the other ${done} swept clean, ${removed.length} resource(s) removed)` : ''}:\n${failed.map((f) => `  ${f}`).join('\n')}\nrun "loadfleet sweep --env ${env}" again to finish`,
    );
  }
  return { env, removed, rounds, left: [], ...(regions.length > 1 ? { regions: [...regions] } : {}) };
}

export function formatSweep(r: SweepReport): string {
  const counts = Object.entries(countByKind(r.removed)).map(([k, n]) => `${n} ${k}${n === 1 ? '' : 's'}`).join(', ');
  const where = r.regions && r.regions.length > 1 ? ` in ${r.regions.join(', ')}` : '';
  return `env ${r.env}: removed ${counts || 'nothing (nothing carried its tag)'} in ${r.rounds} round(s); a fresh listing of loadfleet:env=${r.env}${where} finds nothing.`;
}

export interface SweepCliOptions {
  readonly env?: string;
  readonly config?: string;
  readonly expired: boolean;
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly json: boolean;
  /** --region, repeatable. */
  readonly region?: string[];
  /** --all-regions: every region EC2 lists for the account. */
  readonly allRegions?: boolean;
  /** --home: one more folder of env folders to scan (--expired), or the one holding --env's record. */
  readonly home?: string;
}

/**
 * The env homes `sweep --expired` scans (issue 22): --home, $LOADFLEET_HOME, the .loadfleet beside each config
 * discovery can find (-c FILE, $LOADFLEET_CONFIG, ./loadfleet.yaml) and the legacy ./.loadfleet where envs lived
 * before they moved beside their config, each once, in that order. An expired env whose record sits in any of
 * them is found; one that sits elsewhere needs --home.
 */
export function sweepHomes(opts: { home?: string; config?: string }, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const homes: string[] = [];
  if (opts.home !== undefined) homes.push(homeFor({ home: opts.home }, env, cwd));
  if (env.LOADFLEET_HOME) homes.push(homeFor({}, { LOADFLEET_HOME: env.LOADFLEET_HOME }, cwd));
  const configs = [opts.config, discoverConfig(env, cwd), discoverConfig({}, cwd)].filter((c): c is string => c !== undefined);
  for (const c of configs) homes.push(path.join(path.dirname(path.resolve(cwd, c)), '.loadfleet'));
  homes.push(path.resolve(cwd, '.loadfleet'));
  return [...new Set(homes)];
}

/**
 * Where to sweep: --region (repeatable) or --all-regions when given; else, for --env, the regions the env's
 * record lists (agents spread over regions, issue 18), else the config's; for --expired, the default region
 * plus every region a record in this home names. Fleet regions first, in order, no duplicates.
 */
async function regionsToSweep(opts: SweepCliOptions, loaded: { config: import('../../stacks/config').FleetConfig } | undefined, fallback: string, homes: readonly string[]): Promise<string[]> {
  if (opts.allRegions && opts.region?.length) throw new UsageError('--all-regions and --region say the same thing two ways: drop one of them');
  if (opts.region?.length) return [...new Set(opts.region)];
  if (opts.allRegions) return listRegions(ec2Client(fallback));
  const home = homeFor({ home: opts.home, config: opts.config });
  if (!opts.expired && (opts.env !== undefined || loaded)) {
    const name = opts.env ?? loaded!.config.name;
    const record = await new EnvDir(home, name).readRecord().catch(() => undefined);
    if (record && record.target === 'aws') return recordRegions(record);
    if (loaded) return fleetRegions(loaded.config);
    return [fallback];
  }
  const fromRecords: string[] = loaded ? fleetRegions(loaded.config) : [];
  for (const h of homes) {
    for (const name of await fs.readdir(h).catch(() => [] as string[])) {
      const record = await new EnvDir(h, name).readRecord().catch(() => undefined);
      if (record?.target === 'aws') fromRecords.push(...recordRegions(record));
    }
  }
  return [...new Set([fallback, ...fromRecords])];
}

export async function sweepAction(opts: SweepCliOptions): Promise<void> {
  if (!!opts.env === opts.expired && !opts.config) throw new UsageError('say what to sweep: --env <name> or --expired (one of them)');
  if (opts.env !== undefined) checkEnvName(opts.env);
  for (const r of opts.region ?? []) if (!/^[a-z]{2}(-gov)?-[a-z]+-\d$/.test(r)) throw new UsageError(`--region (${JSON.stringify(r)}) is not an AWS region name such as eu-west-1`);
  const loaded = opts.config ? await loadConfig(opts.config, { needPrivateKey: false }) : undefined;
  const fallback = loaded?.config.region ?? settings({}).processEnv.AWS_REGION ?? 'us-east-1';
  // --expired scans every home discovery can find (records name regions; local fleets live there only).
  const homes = opts.expired ? sweepHomes(opts) : [];
  const regions = await regionsToSweep(opts, loaded, fallback, homes);
  const region = regions[0]!;
  // Local fleets carry no EC2 tags: --expired also takes down expired local envs under the homes.
  const local = opts.expired ? await (await import('./sweep-local')).sweepExpiredLocal(homes, new Date(), { dryRun: opts.dryRun, yes: opts.yes }) : undefined;
  if (local && !opts.json) process.stderr.write(`${(await import('./sweep-local')).formatLocalSweep(local, homes)}\n`);
  const scanned = opts.expired ? { homes } : {};
  const now = new Date();
  // --expired removes an expired env's fleet, never its baked images: images have their own lifetime
  // (ami.ttlDays → loadfleet:image-expires-at) and only those past it go.
  const kinds = opts.expired ? new Set<SweepKind>(SWEEP_ORDER.filter((k) => k !== 'image' && k !== 'snapshot')) : undefined;
  const plans: { region: string; client: EC2Client; calls: () => number; envs: string[]; images: Found[] }[] = [];
  for (const r of regions) {
    const { client, calls } = countCalls(ec2Client(r));
    const envs = opts.expired ? expiredEnvs(await envExpiries(client), now) : [opts.env ?? loaded!.config.name];
    const images = opts.expired ? expiredImages(await imagesWithLifetime(client), now) : [];
    plans.push({ region: r, client, calls, envs, images });
  }
  const multi = regions.length > 1;
  const where = (r: string) => (multi ? ` (${r})` : '');
  if (opts.dryRun) {
    const listing = [];
    for (const p of plans) for (const env of p.envs) listing.push({ env, ...(multi ? { region: p.region } : {}), found: inSweepOrder(await findTagged(p.client, env, kinds)) });
    const images = plans.flatMap((p) => p.images);
    if (opts.json) process.stdout.write(`${JSON.stringify({ region, ...(multi ? { regions } : {}), envs: listing, expiredImages: images, ...scanned, ...(local ? { local } : {}) }, null, 2)}\n`);
    else {
      for (const l of listing) process.stdout.write(`env ${l.env}${'region' in l ? ` (${l.region})` : ''}: ${l.found.length} resources${l.found.length ? `: ${describeFound(l.found)}` : ''}\n`);
      if (images.length) process.stdout.write(`expired images: ${describeFound(images)}\n`);
    }
    return;
  }
  const allEnvs = [...new Set(plans.flatMap((p) => p.envs))];
  const allImages = plans.flatMap((p) => p.images);
  if (allEnvs.length === 0 && allImages.length === 0) {
    process.stdout.write(opts.json ? `${JSON.stringify({ region, ...(multi ? { regions } : {}), swept: [], removedImages: [], ...scanned, ...(local ? { local } : {}) })}\n` : `no expired env or image in ${regions.join(', ')}\n`);
    return;
  }
  const what = [allEnvs.length ? `everything tagged loadfleet:env = ${allEnvs.join(', ')}${opts.expired ? ' (baked images kept)' : ''}` : '', allImages.length ? `${allImages.length} expired image(s) and their snapshots` : ''].filter(Boolean).join(', and ');
  await confirmChange(`Delete ${what} in ${regions.join(', ')}?`, { yes: opts.yes, verb: 'sweep' });
  const reports: SweepReport[] = [];
  const removed: Found[] = [];
  const errors: string[] = [];
  for (const p of plans) {
    for (const env of p.envs) {
      const r = await sweepEnv(p.client, env, { keepImages: opts.expired, onRound: (n, f) => !opts.json && process.stderr.write(`sweep ${env}${where(p.region)} round ${n}: ${f.length} resources\n`) });
      reports.push(multi ? { ...r, regions: [p.region] } : r);
    }
    const gone = p.images.length ? await deleteFound(p.client, p.images, { waitSeconds: SWEEP.instanceWaitSeconds }) : { removed: [], errors: [] };
    removed.push(...gone.removed);
    errors.push(...gone.errors.map((e) => `${e.found.id}${where(p.region)}: ${e.message}`));
  }
  const apiCalls = plans.reduce((n, p) => n + p.calls(), 0);
  if (opts.json) process.stdout.write(`${JSON.stringify({ region, ...(multi ? { regions } : {}), swept: reports, removedImages: removed, apiCalls, ...scanned, ...(local ? { local } : {}) }, null, 2)}\n`);
  else {
    for (const r of reports) process.stdout.write(`${formatSweep(r)}\n`);
    if (removed.length) process.stdout.write(`removed expired images: ${describeFound(removed)}\n`);
  }
  if (errors.length) throw new ExternalError(`could not remove expired images: ${errors.join('; ')}`);
}
