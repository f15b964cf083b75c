import { UsageError } from '../core/errors';
import { fromTerraformOutputs, type FleetOutputs, type TargetKind } from '../core/env-record';
import { describePlan, formatOutputs } from '../core/summary';
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { confirmChange } from '../adapters/prompt';
import { runSteps } from '../adapters/progress';
import { expiryFor, parallelismFor, progressText, synthAws, terraformFor } from './aws';
import { requireTerraform } from '../adapters/terraform';
import { hostCount } from '../../stacks/topology';
import { withInterrupts } from './signals';

export interface UpOptions extends CommonOptions {
  readonly yes: boolean;
  readonly json: boolean;
  readonly target: TargetKind;
  /** Keep what a failed first `up` created, for debugging; by default it is destroyed again. */
  readonly keepOnFailure: boolean;
  /** Refuse when the estimated hourly cost is over this (USD); overrides the config's maxCostPerHour. */
  readonly maxCostPerHour?: string;
}

export async function upAction(opts: UpOptions): Promise<void> {
  const ctx = await resolveEnv(opts, true);
  const loaded = ctx.loaded!;
  const { config } = loaded;
  const { envDir, record } = ctx;
  if (record && record.status !== 'down' && record.target !== opts.target) {
    throw new UsageError(`env "${config.name}" is up on target ${record.target}: run "loadfleet down" first, or use --target ${record.target}`);
  }
  const now = new Date();
  const expiresAt = expiryFor(record, config.ttlHours, now);
  const fresh = !record || record.status === 'down';

  if (!opts.yes && !process.stdin.isTTY) await confirmChange('', { yes: false, verb: 'up' }); // refuses before anything runs
  if (opts.target === 'local') {
    const { localUp } = await import('./local');
    const outputs = await localUp(ctx, { yes: opts.yes, quiet: opts.json, expiresAt, fresh });
    const { armLocalExpiry } = await import('../adapters/local-expiry');
    armLocalExpiry({ envDir: envDir.dir, env: config.name, home: ctx.settings.home, expiresAt, now, delaySeconds: ctx.settings.localExpirySeconds });
    report(outputs, opts.json);
    return;
  }

  // The estimate, and the refusal of one over the limit, come before anything is created.
  await (await import('./cost')).checkCost(config, opts.maxCostPerHour);
  await requireTerraform();
  await withInterrupts(async (signal) => {
    const tf = terraformFor(envDir, ctx.settings, signal);
    const parallelism = parallelismFor(hostCount(config));
    let applied = false;
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
              await envDir.writeRecord({
                name: config.name, target: 'aws', configPath: loaded.path, region: config.region, engine: config.engine,
                ttlHours: config.ttlHours, expiresAt, status: 'creating', updatedAt: now.toISOString(),
              });
              await tf.init();
            },
          },
          { title: `terraform apply (parallelism ${parallelism})`, run: async (r) => { applied = true; await tf.apply(parallelism, (p) => r(progressText(p, 'created'))); } },
          {
            title: 'Read outputs',
            run: async () => {
              const outputs = fromTerraformOutputs(await tf.output(), config.sshUser);
              await envDir.writeOutputs(outputs);
              await envDir.writeRecord({ ...(await envDir.readRecord())!, status: 'up', updatedAt: new Date().toISOString() });
            },
          },
        ],
        { quiet: opts.json },
      );
    } catch (err) {
      if (applied && fresh && !opts.keepOnFailure) {
        process.stderr.write(`up failed; destroying what this first "up" of ${config.name} created (use --keep-on-failure to keep it)…\n`);
        const cleanup = terraformFor(envDir, ctx.settings);
        await cleanup.destroy(parallelism).catch((e: Error) => process.stderr.write(`cleanup failed too: ${e.message}\nrun "loadfleet down --env ${config.name} --yes"\n`));
        await envDir.writeRecord({ ...(await envDir.readRecord())!, status: 'down', updatedAt: new Date().toISOString() });
      } else if (applied) {
        process.stderr.write(`up failed part-way: what exists is in the state. Run "loadfleet up" again to finish, or "loadfleet down" to remove it.\n`);
      }
      throw err;
    }
  });
  report((await envDir.readOutputs())!, opts.json);
}

function report(outputs: FleetOutputs, json: boolean): void {
  process.stdout.write(json ? `${JSON.stringify(outputs, null, 2)}\n` : `${formatOutputs(outputs, new Date())}\n`);
}
