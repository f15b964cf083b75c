import { resolveEnv, type CommonOptions } from '../adapters/context';
import { confirmChange } from '../adapters/prompt';
import { runSteps } from '../adapters/progress';
import { hasSynth, parallelismFor, progressText, terraformFor } from './aws';
import { requireTerraform } from '../adapters/terraform';
import { withInterrupts } from './signals';
import { ec2Client } from '../adapters/ec2';
import { formatSweep, sweepEnv, type SweepReport } from './sweep';

export interface DownOptions extends CommonOptions {
  readonly yes: boolean;
  readonly json: boolean;
  /** Keep the env's baked AMIs and their snapshots. */
  readonly keepAmi: boolean;
}

/** Destroys an env. Idempotent: an env that is already gone (or never came up) is a success. */
export async function downAction(opts: DownOptions): Promise<void> {
  const ctx = await resolveEnv(opts, false);
  const { envDir, record } = ctx;
  if (!record) {
    process.stderr.write(`env "${envDir.name}" has no record in ${ctx.settings.home}: nothing to destroy here.\n`);
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
  let sweep: SweepReport | undefined;
  await withInterrupts(async (signal) => {
    const tf = terraformFor(envDir, ctx.settings, signal);
    const synthesized = await hasSynth(envDir);
    await runSteps(
      [
        {
          title: 'Confirm',
          skip: opts.yes,
          run: async () => confirmChange(`Destroy env ${envDir.name} (${outputs?.hosts.length ?? 'unknown number of'} hosts) in ${record.region}?`, { yes: opts.yes, verb: 'down' }),
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
            if (left.length > 0) throw new Error(`terraform state still holds ${left.length} resources: ${left.join(', ')}`);
          },
        },
        {
          title: `Sweep everything tagged loadfleet:env=${envDir.name}${opts.keepAmi ? ' (keeping AMIs)' : ', baked AMIs and snapshots included'}`,
          run: async (r) => {
            sweep = await sweepEnv(ec2Client(record.region), envDir.name, { keepImages: opts.keepAmi, onRound: (n, f) => r(`round ${n}: ${f.length} resources`) });
          },
        },
      ],
      { quiet: opts.json },
    );
  });
  await envDir.removeOutputs();
  await envDir.writeRecord({ ...record, status: 'down', updatedAt: new Date().toISOString() });
  if (opts.json) process.stdout.write(`${JSON.stringify({ env: envDir.name, status: 'down', swept: sweep?.removed ?? [], left: sweep?.left ?? [] })}\n`);
  else process.stdout.write(`env ${envDir.name} destroyed. After terraform destroy, the tag sweep: ${sweep ? formatSweep(sweep) : 'skipped'}\n`);
}
