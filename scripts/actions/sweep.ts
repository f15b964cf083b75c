/** Removes everything that carries an env's tag, round after round, until a listing comes back empty. */
import { ec2Client, type Ec2Port } from '../adapters/ec2';
import { countCalls, deleteFound, envExpiries, findTagged, imagesWithLifetime } from '../adapters/sweep-ec2';
import { confirmChange } from '../adapters/prompt';
import { checkEnvName, settings } from '../adapters/context';
import { loadConfig } from '../adapters/config-file';
import { ExternalError, UsageError } from '../core/errors';
import { countByKind, describeFound, expiredEnvs, expiredImages, inSweepOrder, madeProgress, SWEEP_ORDER, type Found, type SweepKind } from '../core/sweep';
import { SWEEP } from '../core/timing';

export interface SweepReport {
  readonly env: string;
  readonly removed: Found[];
  readonly rounds: number;
  /** The final listing: empty, or sweep failed. */
  readonly left: Found[];
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
export function formatSweep(r: SweepReport): string {
  const counts = Object.entries(countByKind(r.removed)).map(([k, n]) => `${n} ${k}${n === 1 ? '' : 's'}`).join(', ');
  return `env ${r.env}: removed ${counts || 'nothing (nothing carried its tag)'} in ${r.rounds} round(s); a fresh listing of loadfleet:env=${r.env} finds nothing.`;
}

export interface SweepCliOptions {
  readonly env?: string;
  readonly config?: string;
  readonly expired: boolean;
  readonly dryRun: boolean;
  readonly yes: boolean;
  readonly json: boolean;
  readonly region?: string;
}

export async function sweepAction(opts: SweepCliOptions): Promise<void> {
  if (!!opts.env === opts.expired && !opts.config) throw new UsageError('say what to sweep: --env <name> or --expired (one of them)');
  if (opts.env !== undefined) checkEnvName(opts.env);
  const loaded = opts.config ? await loadConfig(opts.config, { needPrivateKey: false }) : undefined;
  const region = opts.region ?? loaded?.config.region ?? settings({}).processEnv.AWS_REGION ?? 'us-east-1';
  // Local fleets carry no EC2 tags: --expired also takes down expired local envs under the home.
  const local = opts.expired ? await (await import('./sweep-local')).sweepExpiredLocal(settings({}).home, new Date(), { dryRun: opts.dryRun, yes: opts.yes }) : undefined;
  if (local && !opts.json) process.stderr.write(`${(await import('./sweep-local')).formatLocalSweep(local, settings({}).home)}\n`);
  const { client, calls } = countCalls(ec2Client(region));
  const now = new Date();
  let envs: string[];
  if (opts.expired) envs = expiredEnvs(await envExpiries(client), now);
  else envs = [opts.env ?? loaded!.config.name];
  // --expired removes an expired env's fleet, never its baked images: images have their own lifetime
  // (ami.ttlDays → loadfleet:image-expires-at) and only those past it go.
  const kinds = opts.expired ? new Set<SweepKind>(SWEEP_ORDER.filter((k) => k !== 'image' && k !== 'snapshot')) : undefined;
  const images = opts.expired ? expiredImages(await imagesWithLifetime(client), now) : [];
  if (opts.dryRun) {
    const listing = [];
    for (const env of envs) listing.push({ env, found: inSweepOrder(await findTagged(client, env, kinds)) });
    if (opts.json) process.stdout.write(`${JSON.stringify({ region, envs: listing, expiredImages: images, ...(local ? { local } : {}) }, null, 2)}\n`);
    else {
      for (const l of listing) process.stdout.write(`env ${l.env}: ${l.found.length} resources${l.found.length ? `: ${describeFound(l.found)}` : ''}\n`);
      if (images.length) process.stdout.write(`expired images: ${describeFound(images)}\n`);
    }
    return;
  }
  if (envs.length === 0 && images.length === 0) {
    process.stdout.write(opts.json ? `${JSON.stringify({ region, swept: [], removedImages: [], ...(local ? { local } : {}) })}\n` : `no expired env or image in ${region}\n`);
    return;
  }
  const what = [envs.length ? `everything tagged loadfleet:env = ${envs.join(', ')}${opts.expired ? ' (baked images kept)' : ''}` : '', images.length ? `${images.length} expired image(s) and their snapshots` : ''].filter(Boolean).join(', and ');
  await confirmChange(`Delete ${what} in ${region}?`, { yes: opts.yes, verb: 'sweep' });
  const reports: SweepReport[] = [];
  for (const env of envs) {
    reports.push(await sweepEnv(client, env, { keepImages: opts.expired, onRound: (n, f) => !opts.json && process.stderr.write(`sweep ${env} round ${n}: ${f.length} resources\n`) }));
  }
  const removedImages = images.length ? await deleteFound(client, images, { waitSeconds: SWEEP.instanceWaitSeconds }) : { removed: [], errors: [] };
  if (opts.json) process.stdout.write(`${JSON.stringify({ region, swept: reports, removedImages: removedImages.removed, apiCalls: calls(), ...(local ? { local } : {}) }, null, 2)}\n`);
  else {
    for (const r of reports) process.stdout.write(`${formatSweep(r)}\n`);
    if (removedImages.removed.length) process.stdout.write(`removed expired images: ${describeFound(removedImages.removed)}\n`);
  }
  if (removedImages.errors.length) {
    throw new ExternalError(`could not remove expired images: ${removedImages.errors.map((e) => `${e.found.id}: ${e.message}`).join('; ')}`);
  }
}
