import { resolveEnv, type CommonOptions } from '../adapters/context';
import { confirmChange } from '../adapters/prompt';
import { runSteps } from '../adapters/progress';
import { hasSynth, terraformFor } from './aws';
import { parallelismFor, progressText } from '../core/terraform-events';
import { ExternalError } from '../core/errors';
import { requireTerraform } from '../adapters/terraform';
import { withInterrupts } from './signals';
import { formatSweep, sweepRegions, type SweepReport } from './sweep';
import { recordRegions } from '../core/env-record';
import { downCommand, homeToName } from './up';

export interface DownOptions extends CommonOptions {
  readonly yes: boolean;
  readonly json: boolean;
  /** Keep the env's baked AMIs and their snapshots. */
  readonly keepAmi: boolean;
}

/** Destroys an env. Idempotent: an env that is already gone (or never came up) is a success. */
export async function downAction(opts: DownOptions): Promise<void> {
  const ctx = await resolveEnv(opts, false, false);
  const { envDir, record } = ctx;
  if (!record) {
    process.stderr.write(`env "${envDir.name}" has no record in ${ctx.settings.home}: nothing to destroy here. (An env made from a config in another folder keeps its record beside that config: pass -c <that config> or --home <its .loadfleet folder>; on AWS, \`loadfleet sweep --env ${envDir.name}\` finds its resources by tag.)\n`);
    return;
  }
  if (record.target === 'local') {
    if (!opts.yes && !process.stdin.isTTY) await confirmChange('', { yes: false, verb: 'down' });
    const { localDown } = await import('./local');
    await localDown(ctx, { yes: opts.yes, quiet: opts.json });
    (await import('../adapters/local-expiry')).disarmLocalExpiry(envDir.dir, envDir.name);
    return;
  }
  if (!opts.yes && !process.stdin.isTTY) await confirmChange('', { yes: false, verb: 'down' }); // refuses before anything runs
  await requireTerraform();
  const outputs = await envDir.readOutputs();
  const later = downCommand(envDir.name, homeToName(ctx.settings.home));
  let sweep: SweepReport | undefined;
  let confirmed = opts.yes;
  try {
    await withInterrupts(async (signal, abandon) => {
      const tf = terraformFor(envDir, ctx.settings, { signal, abandon });
      const synthesized = await hasSynth(envDir);
      await runSteps(
        [
          {
            title: 'Confirm',
            skip: opts.yes,
            run: async () => {
              await confirmChange(`Destroy env ${envDir.name} (${outputs?.hosts.length ?? 'unknown number of'} hosts) in ${recordRegions(record).join(', ')}?`, { yes: opts.yes, verb: 'down' });
              confirmed = true;
            },
          },
          { title: 'terraform init', skip: !synthesized, run: async () => tf.init() },
          {
            title: 'terraform destroy',
            skip: !synthesized,
            run: async (r) => tf.destroy(parallelismFor(outputs?.hosts.length ?? 10), (p) => r(progressText(p, 'destroyed'))),
          },
          {
            title: 'Check the state is empty',
            skip: !synthesized,
            run: async () => {
              const left = await tf.stateList();
              if (left.length > 0) throw new ExternalError(`terraform state still holds ${left.length} resources: ${left.join(', ')}`);
            },
          },
          {
            title: `Sweep everything tagged loadfleet:env=${envDir.name}${opts.keepAmi ? ' (keeping AMIs)' : ', baked AMIs and snapshots included'}`,
            run: async (r) => {
              sweep = await sweepRegions(recordRegions(record), envDir.name, { keepImages: opts.keepAmi, signal, abandon, onRound: (n, f) => r(`round ${n}: ${f.length} resources`) });
            },
          },
        ],
        { quiet: opts.json },
      );
    }, { later });
  } catch (err) {
    // Whatever stopped it, the env is neither up nor provably gone: say so, and what finishes the job.
    if (confirmed) {
      const reason = `down did not finish: ${(err as Error).message.split('\n')[0]}`;
      await envDir.writeRecord({ ...record, status: 'failed', failure: { reason, next: later }, updatedAt: new Date().toISOString() });
      process.stderr.write(`${reason}\nrun "${later}" to finish.\n`);
    }
    throw err;
  }
  await envDir.removeOutputs();
  await envDir.writeRecord({ ...record, status: 'down', failure: undefined, updatedAt: new Date().toISOString() });
  if (opts.json) process.stdout.write(`${JSON.stringify({ env: envDir.name, status: 'down', swept: sweep?.removed ?? [], left: sweep?.left ?? [] })}\n`);
  else process.stdout.write(`env ${envDir.name} destroyed. After terraform destroy, the tag sweep: ${sweep ? formatSweep(sweep) : 'skipped'}\n`);
}
