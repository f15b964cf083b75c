/**
 * Entry for the cdktf CLI (`cdktf synth` / `cdktf deploy`, see cdktf.json): reads the config named by
 * $LOADFLEET_CONFIG (default fleet.yaml) and synthesizes into ./cdktf.out. loadfleet itself does not need
 * this file: it synthesizes in process (stacks/app.ts) and runs terraform directly.
 */
import { loadConfig } from '../scripts/adapters/config-file';
import { EnvDir } from '../scripts/adapters/env-dir';
import { settings } from '../scripts/adapters/context';
import { expiryFor } from '../scripts/core/env-record';
import { synthesize } from './app';

const loaded = await loadConfig(process.env.LOADFLEET_CONFIG ?? 'fleet.yaml');
const record = await new EnvDir(settings({}).home, loaded.config.name).readRecord();
const result = synthesize(
  { config: loaded.config, publicKey: loaded.publicKey, expiresAt: expiryFor(record, loaded.config.ttlHours, new Date()) },
  process.env.CDKTF_OUTDIR ?? 'cdktf.out',
);
console.log(`synthesized ${result.stackName} into ${result.stackDir}`);
