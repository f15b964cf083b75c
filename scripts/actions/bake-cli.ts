import { resolveEnv, type CommonOptions } from '../adapters/context';
import { ec2Client } from '../adapters/ec2';
import { confirmChange } from '../adapters/prompt';
import { UsageError } from '../core/errors';
import { positiveNumber } from '../core/flags';
import { BAKE_ROLES, type BakeRole } from '../core/bake';
import { bake, DEFAULT_BAKE, type BakeResult } from './bake';
import { withInterrupts } from './signals';
import { checkEngineConfig } from '../engines/index';

export interface BakeCliOptions extends CommonOptions {
  readonly role: string;
  readonly yes: boolean;
  readonly json: boolean;
  readonly timeLimit?: string;
  readonly pollSeconds?: string;
  readonly imageTimeout?: string;
}


export async function bakeAction(opts: BakeCliOptions): Promise<void> {
  const roles: BakeRole[] = opts.role === 'all' ? [...BAKE_ROLES] : (BAKE_ROLES as readonly string[]).includes(opts.role) ? [opts.role as BakeRole] : [];
  if (roles.length === 0) throw new UsageError(`--role (${opts.role}) must be agent, target or all`);
  const timeLimitMinutes = positiveNumber('--time-limit', opts.timeLimit, DEFAULT_BAKE.timeLimitMinutes);
  const pollMs = positiveNumber('--poll-seconds', opts.pollSeconds, DEFAULT_BAKE.pollMs / 1000) * 1000;
  const imageTimeoutMs = positiveNumber('--image-timeout', opts.imageTimeout, DEFAULT_BAKE.imageTimeoutMs / 60_000) * 60_000;
  const ctx = await resolveEnv(opts, true);
  const loaded = ctx.loaded!;
  // An agent image carries the engine: a version install would refuse fails before any builder exists.
  if (roles.includes('agent')) checkEngineConfig(loaded.config, 'ec2');
  await confirmChange(`Bake ${roles.join(' and ')} image(s) for env ${loaded.config.name} in ${loaded.config.region} (a temporary builder instance, key pair and security group)?`, { yes: opts.yes, verb: 'bake' });
  const results: BakeResult[] = [];
  // What an abandoned clean-up leaves carries the env's tag: the sweep finds it (without --yes: it lists
  // what it would delete, images of earlier bakes included, and asks first).
  const later = `loadfleet sweep --env ${loaded.config.name} --region ${loaded.config.region}`;
  await withInterrupts(async (signal, abandon) => {
    for (const role of roles) {
      results.push(
        await bake(loaded, ctx.envDir, { ...DEFAULT_BAKE, role, timeLimitMinutes, pollMs, imageTimeoutMs }, {
          ec2: ec2Client(loaded.config.region), signal, abandon, log: (l) => process.stderr.write(`${l}\n`),
        }),
      );
    }
  }, { later });
  if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else for (const r of results) process.stdout.write(`${r.build}: ${r.amiId} (removed the temporary ${r.removed.join(', ')}); recorded in ${ctx.envDir.file('amis.json')}\n`);
}
