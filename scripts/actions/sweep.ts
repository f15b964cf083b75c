/** Removes everything that carries an env's tag, round after round, until a listing comes back empty. */
import { ec2Client, type Ec2Port } from '../adapters/ec2';
import { countCalls, deleteFound, envExpiries, findTagged } from '../adapters/sweep-ec2';
import { confirmChange } from '../adapters/prompt';
import { settings } from '../adapters/context';
import { loadConfig } from '../adapters/config-file';
import { ExternalError, UsageError } from '../core/errors';
import { countByKind, describeFound, expiredEnvs, inSweepOrder, madeProgress, SWEEP_ORDER, type Found, type SweepKind } from '../core/sweep';
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
}

export async function sweepEnv(ec2: Ec2Port, env: string, opts: SweepOptions = {}): Promise<SweepReport> {
  const kinds = opts.keepImages ? new Set<SweepKind>(SWEEP_ORDER.filter((k) => k !== 'image' && k !== 'snapshot')) : undefined;
  const removed: Found[] = [];
  let previous: Found[] | undefined;
  let lastErrors = '';
  for (let round = 1; round <= (opts.maxRounds ?? SWEEP.maxRounds); round++) {
    const found = await findTagged(ec2, env, kinds);
    if (found.length === 0) return { env, removed, rounds: round - 1, left: [] };
    if (previous && !madeProgress(previous, found)) {
      throw new ExternalError(`sweep of env ${env} made no progress in round ${round - 1}; still there: ${describeFound(found)}${lastErrors ? `\nlast errors: ${lastErrors}` : ''}`);
    }
    opts.onRound?.(round, found);
    const outcome = await deleteFound(ec2, inSweepOrder(found), { waitSeconds: SWEEP.instanceWaitSeconds });
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
  const loaded = opts.config ? await loadConfig(opts.config) : undefined;
  const region = opts.region ?? loaded?.config.region ?? settings({}).processEnv.AWS_REGION ?? 'us-east-1';
  // Local fleets carry no EC2 tags: --expired also takes down expired local envs under the home.
  const local = opts.expired ? await (await import('./sweep-local')).sweepExpiredLocal(settings({}).home, new Date(), { dryRun: opts.dryRun, yes: opts.yes }) : undefined;
  if (local && !opts.json) process.stderr.write(`${(await import('./sweep-local')).formatLocalSweep(local, settings({}).home)}\n`);
  const { client, calls } = countCalls(ec2Client(region));
  let envs: string[];
  if (opts.expired) envs = expiredEnvs(await envExpiries(client), new Date());
  else envs = [opts.env ?? loaded!.config.name];
  if (opts.dryRun) {
    const listing = [];
    for (const env of envs) listing.push({ env, found: inSweepOrder(await findTagged(client, env)) });
    if (opts.json) process.stdout.write(`${JSON.stringify({ region, envs: listing, ...(local ? { local } : {}) }, null, 2)}\n`);
    else for (const l of listing) process.stdout.write(`env ${l.env}: ${l.found.length} resources${l.found.length ? `: ${describeFound(l.found)}` : ''}\n`);
    return;
  }
  if (envs.length === 0) {
    process.stdout.write(opts.json ? `${JSON.stringify({ region, swept: [], ...(local ? { local } : {}) })}\n` : `no expired env in ${region}\n`);
    return;
  }
  await confirmChange(`Delete everything tagged loadfleet:env = ${envs.join(', ')} in ${region}?`, { yes: opts.yes, verb: 'sweep' });
  const reports: SweepReport[] = [];
  for (const env of envs) reports.push(await sweepEnv(client, env, { onRound: (n, f) => !opts.json && process.stderr.write(`sweep ${env} round ${n}: ${f.length} resources\n`) }));
  if (opts.json) process.stdout.write(`${JSON.stringify({ region, swept: reports, apiCalls: calls(), ...(local ? { local } : {}) }, null, 2)}\n`);
  else for (const r of reports) process.stdout.write(`${formatSweep(r)}\n`);
}
