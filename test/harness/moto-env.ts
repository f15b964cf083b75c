/** One moto_server, a workspace and the environment that points the CLI at both, for one test file. */
import { afterAll, beforeAll } from 'vitest';
import { startMoto, type Moto } from './moto';
import { workspace, type Workspace } from './workspace';
import { PLUGIN_MIRROR, requireTerraformOffline } from './tools';

export interface MotoEnv {
  moto: Moto;
  ws: Workspace;
  env: Record<string, string>;
}

/** Registers beforeAll/afterAll; the returned object is filled in before the first test runs. */
export function useMotoEnv(): MotoEnv {
  const ctx = {} as MotoEnv;
  beforeAll(async () => {
    requireTerraformOffline();
    ctx.moto = await startMoto();
    ctx.ws = workspace();
    ctx.env = { ...ctx.moto.env, LOADFLEET_HOME: ctx.ws.home, LOADFLEET_TF_PLUGIN_MIRROR: PLUGIN_MIRROR };
  });
  afterAll(async () => {
    await ctx.moto?.stop();
    ctx.ws?.remove();
  });
  return ctx;
}

export const ZERO = { instances: 0, vpcs: 0, subnets: 0, securityGroups: 0, keyPairs: 0, volumes: 0, images: 0, snapshots: 0 };
