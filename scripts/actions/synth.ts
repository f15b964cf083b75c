import * as path from 'node:path';
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { synthAws } from './aws';
import { expiryFor } from '../core/env-record';
import { checkEngineConfig } from '../engines/index';

export interface SynthOptions extends CommonOptions {
  readonly out?: string;
  readonly json: boolean;
}

/** Writes the env's Terraform JSON (cdk.tf.json) without touching AWS. */
export async function synthAction(opts: SynthOptions): Promise<void> {
  const ctx = await resolveEnv(opts, true, false);
  const loaded = ctx.loaded!;
  checkEngineConfig(loaded.config, 'ec2'); // synth writes the AWS stack: the engine must install on EC2
  const expiresAt = expiryFor(ctx.record, loaded.config.ttlHours, new Date());
  const result = await synthAws(loaded, ctx.envDir, expiresAt, opts.out ? path.resolve(opts.out) : undefined);
  const file = path.join(result.stackDir, 'cdk.tf.json');
  const { estimate, formatCost } = await import('./cost');
  const cost = await estimate(loaded.config);
  process.stdout.write(opts.json ? `${JSON.stringify({ stack: result.stackName, file, expiresAt, cost })}\n` : `synthesized ${result.stackName} → ${file}\n${formatCost(cost)}\n`);
}
