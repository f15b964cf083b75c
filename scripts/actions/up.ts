import * as path from 'node:path';
import { UsageError } from '../core/errors';
import { shQuote } from '../core/safe-text';
import { expiryFor, fromTerraformOutputs, type EnvRecord, type FleetOutputs, type TargetKind } from '../core/env-record';
import { describePlan, formatOutputs } from '../core/summary';
import { egressIps } from '../core/door';
import { parallelismFor, progressText } from '../core/terraform-events';
import { resolveEnv, type CommonOptions } from '../adapters/context';
import type { EnvDir } from '../adapters/env-dir';
import { confirmChange } from '../adapters/prompt';
import { runSteps } from '../adapters/progress';
import { synthAws, terraformFor } from './aws';
import { requireTerraform, TerraformInterrupted } from '../adapters/terraform';
import { hostCount } from '../../stacks/topology';
import { withInterrupts } from './signals';
import { sweepRegions } from './sweep';
import { fleetRegions } from '../../stacks/regions';
import { describeFound } from '../core/sweep';
import { checkEngineConfig } from '../engines/index';

export interface UpOptions extends CommonOptions {
  readonly yes: boolean;
  readonly json: boolean;
  /** --target; unset: the config's `target` (default aws). */
  readonly target?: TargetKind;
  /** Keep what a failed first `up` created, for debugging; by default it is destroyed again. */
  readonly keepOnFailure: boolean;
  /** Refuse when the estimated hourly cost is over this (USD); overrides the config's maxCostPerHour. */
  readonly maxCostPerHour?: string;
}

/** The command that finishes a clean-up by hand (named in messages and in a failed record). */
export function downCommand(env: string, home?: string): string {
  // Single quotes: the user pastes this into a shell, where `$` or a backtick inside double quotes would expand.
  return `loadfleet down --env ${env}${home ? ` --home ${shQuote(home)}` : ''} --yes`;
}

/**
 * The --home a printed down command needs: none where `--env N` alone finds the env again ($LOADFLEET_HOME names
 * this home), else this home, so the command works from any folder (the env lives beside its config).
 */
export function homeToName(home: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.LOADFLEET_HOME && path.resolve(env.LOADFLEET_HOME) === home ? undefined : home;
}

export async function upAction(opts: UpOptions): Promise<void> {
  const ctx = await resolveEnv(opts, true);
  const loaded = ctx.loaded!;
  const { config } = loaded;
  const { envDir, record } = ctx;
  const target: TargetKind = opts.target ?? config.target;
  if (record && record.status !== 'down' && record.target !== target) {
    throw new UsageError(`env "${config.name}" is up on target ${record.target}: run "loadfleet down" first, or use --target ${record.target}`);
  }
  const now = new Date();
  const expiresAt = expiryFor(record, config.ttlHours, now);
  // A first up: nothing of this env is known to be in use, so a failure removes everything it made.
  const fresh = !record || record.status === 'down' || record.status === 'failed';
  // The engine and version install will need, checked before any host exists (install would refuse later).
  checkEngineConfig(config, target === 'local' ? 'netns' : 'ec2');

  if (target === 'local') {
    // The hosts share this machine's limits: a nofile above them would fail at tune, after the hosts exist (issue 22).
    const { nofileCap, starterNofile } = await import('../core/init');
    const cap = nofileCap(await (await import('../adapters/machine')).nofileFacts());
    if (config.tuning.nofile > cap.cap) {
      throw new UsageError(`tuning.nofile (${config.tuning.nofile}${config.tuning.nofile === 1_048_576 ? ', the default' : ''}) is more than the local target's hosts may have: ${cap.why}. Set tuning.nofile: ${starterNofile(cap.cap)} (at most ${cap.cap}) in ${loaded.path}`);
    }
  }
  if (!opts.yes && !process.stdin.isTTY) await confirmChange('', { yes: false, verb: 'up' }); // refuses before anything runs
  if (target === 'local') {
    const { localUp } = await import('./local');
    const outputs = await localUp(ctx, { yes: opts.yes, quiet: opts.json, expiresAt, fresh, later: downCommand(config.name, homeToName(ctx.settings.home)) });
    const { armLocalExpiry } = await import('../adapters/local-expiry');
    armLocalExpiry({ envDir: envDir.dir, env: config.name, home: ctx.settings.home, expiresAt, now, delaySeconds: ctx.settings.localExpirySeconds });
    report(outputs, opts.json);
    return;
  }

  // Whose account this goes into, asked before anything is written or created (issue 22.10): no credentials or
  // wrong ones are exit 2 naming what to set, and leave no env record behind.
  const who = await (await import('../adapters/sts')).callerIdentity(config.region);
  process.stderr.write(`AWS account ${who.account} as ${who.arn} (region ${config.region})\n`);
  // The estimate, and the refusal of one over the limit, come before anything is created.
  await (await import('./cost')).checkCost(config, opts.maxCostPerHour);
  await requireTerraform();
  const later = downCommand(config.name, homeToName(ctx.settings.home));
  await withInterrupts(async (signal, abandon) => {
    const tf = terraformFor(envDir, ctx.settings, { signal, abandon });
    const parallelism = parallelismFor(hostCount(config));
    let started = false;
    let applying = false;
    try {
      await runSteps(
        [
          { title: 'Synthesize Terraform JSON', run: async () => void (await synthAws(loaded, envDir, expiresAt)) },
          {
            title: 'Confirm',
            skip: opts.yes,
            run: async () => confirmChange(`Create or update ${describePlan(config, config.region)}, expiring ${expiresAt}?`, { yes: opts.yes, verb: 'up' }),
          },
          {
            title: 'terraform init',
            run: async () => {
              if (signal.aborted) throw new TerraformInterrupted('init', false);
              await envDir.writeRecord({
                name: config.name, target: 'aws', configPath: loaded.path, region: config.region, engine: config.engine,
                ttlHours: config.ttlHours, expiresAt, status: fresh ? 'creating' : record!.status, updatedAt: now.toISOString(),
                // Every region this up may create something in, and those an earlier up used (down and sweep cover them all).
                ...regionsField([...fleetRegions(config), ...(record?.regions ?? [])]),
              });
              started = true;
              await tf.init();
            },
          },
          {
            title: `terraform apply (parallelism ${parallelism})`,
            run: async (r) => {
              applying = true;
              await tf.apply(parallelism, (p) => r(progressText(p, 'created')));
            },
          },
          {
            title: 'Read outputs',
            run: async () => {
              const outputs = fromTerraformOutputs(await tf.output(), config.sshUser);
              await envDir.writeOutputs(outputs);
              await envDir.writeRecord({ ...(await envDir.readRecord())!, status: 'up', failure: undefined, updatedAt: new Date().toISOString() });
            },
          },
        ],
        { quiet: opts.json },
      );
    } catch (err) {
      if (started && fresh && !opts.keepOnFailure) {
        await undoFirstUp({ envDir, settings: ctx.settings, regions: fleetRegions(config), parallelism, abandon, later, applied: applying });
      } else if (started) {
        process.stderr.write(`up ${signal.aborted ? 'was interrupted' : 'failed'} part-way: what exists is in the state. Run "loadfleet up" again to finish, or "${later}" to remove it.\n`);
      }
      throw err;
    }
  }, { later });
  report((await envDir.readOutputs())!, opts.json);
}

interface UndoContext {
  readonly envDir: EnvDir;
  readonly settings: Parameters<typeof terraformFor>[1];
  /** Every region the stack can have created something in. */
  readonly regions: readonly string[];
  readonly parallelism: number;
  readonly abandon: AbortSignal;
  readonly later: string;
  /** Whether apply ran: before it, nothing can be in the state and the sweep alone is the proof. */
  readonly applied: boolean;
}

/**
 * After a failed or interrupted first `up`: terraform destroy, then the tag sweep (which also finds what
 * never reached the state). The record says `down` only when the sweep's final listing is empty; otherwise
 * `failed`, with the command that finishes the job.
 */
async function undoFirstUp(u: UndoContext): Promise<void> {
  const { envDir } = u;
  const write = (t: string) => process.stderr.write(t);
  write(`up of ${envDir.name} did not finish; destroying what this first "up" created, then sweeping its tag (use --keep-on-failure to keep it)…\n`);
  const problems: string[] = [];
  if (u.applied && !u.abandon.aborted) {
    try {
      await terraformFor(envDir, u.settings, { signal: u.abandon }).destroy(u.parallelism);
    } catch (e) {
      problems.push(`terraform destroy: ${(e as Error).message}`);
    }
  }
  let proven = false;
  if (!u.abandon.aborted) {
    try {
      const swept = await sweepRegions(u.regions, envDir.name, { keepImages: true, signal: u.abandon, abandon: u.abandon });
      proven = swept.left.length === 0;
      write(`clean-up: terraform destroy ${!u.applied ? 'not needed (apply never ran)' : problems.length ? `failed (${problems[0]!.replace(/^terraform destroy: /, '').split('\n').find((l) => l.trim())?.trim() ?? 'no message'})` : 'done'}; the tag sweep removed ${swept.removed.length} resource(s) terraform did not${swept.removed.length ? ` (${describeFound(swept.removed)})` : ''}, and a fresh listing of loadfleet:env=${envDir.name}${u.regions.length > 1 ? ` in ${u.regions.join(', ')}` : ''} finds nothing.\n`);
    } catch (e) {
      problems.push(`tag sweep: ${(e as Error).message}`);
    }
  }
  const record = (await envDir.readRecord()) as EnvRecord;
  if (proven) {
    await envDir.removeOutputs();
    await envDir.writeRecord({ ...record, status: 'down', failure: undefined, updatedAt: new Date().toISOString() });
    return;
  }
  const reason = u.abandon.aborted ? 'the clean-up after a failed first up was abandoned' : `the clean-up after a failed first up did not finish: ${problems.join('; ')}`;
  await envDir.writeRecord({ ...record, status: 'failed', failure: { reason, next: u.later }, updatedAt: new Date().toISOString() });
  write(`${reason}\nresources of env ${envDir.name} may be left: run "${u.later}"\n`);
}

/** The record's `regions`, only when the env spans more than one (records of one region stay as they were). */
function regionsField(regions: readonly string[]): { regions?: string[] } {
  const distinct = [...new Set(regions)];
  return distinct.length > 1 ? { regions: distinct } : {};
}

function report(outputs: FleetOutputs, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify({ ...outputs, egressIps: egressIps(outputs) }, null, 2)}\n` : `${formatOutputs(outputs, new Date())}\n`);
}
