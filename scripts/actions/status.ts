import { resolveEnv, type CommonOptions } from '../adapters/context';
import { describeStatus } from '../core/env-record';
import { formatOutputs } from '../core/summary';

export interface StatusOptions extends CommonOptions {
  readonly json: boolean;
}

export async function statusAction(opts: StatusOptions): Promise<void> {
  const ctx = await resolveEnv(opts, false);
  const { envDir, record } = ctx;
  const outputs = await envDir.readOutputs();
  const now = new Date();
  if (opts.json) {
    process.stdout.write(
      `${JSON.stringify({ env: envDir.name, status: record?.status ?? 'unknown', target: record?.target ?? null, expiresAt: record?.expiresAt ?? null, failure: record?.failure ?? null, outputs: outputs ?? null }, null, 2)}\n`,
    );
    return;
  }
  if (!record) {
    process.stdout.write(`env ${envDir.name}: unknown here (no ${envDir.file('env.json')})\n`);
    return;
  }
  process.stdout.write(`${describeStatus(record, now)}\n`);
  if (outputs && record.status !== 'down') process.stdout.write(`${formatOutputs(outputs, now)}\n`);
}
