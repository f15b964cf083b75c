import type { EnvContext } from '../adapters/context';
import type { FleetOutputs } from '../core/env-record';
import { UsageError } from '../core/errors';

export async function localUp(_ctx: EnvContext, _opts: { yes: boolean; quiet: boolean; expiresAt: string; fresh: boolean }): Promise<FleetOutputs> {
  throw new UsageError('--target local is not available in this version');
}
export async function localDown(_ctx: EnvContext, _opts: { yes: boolean; quiet: boolean }): Promise<void> {
  throw new UsageError('--target local is not available in this version');
}
