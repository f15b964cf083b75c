/** The AWS target: synthesize in process, then the real terraform on the synthesized JSON. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { synthesize } from '../../stacks/app';
import type { LoadedConfig } from '../adapters/config-file';
import type { EnvDir } from '../adapters/env-dir';
import type { Settings } from '../adapters/context';
import { Terraform } from '../adapters/terraform';
import type { Role } from '../../stacks/config';
import type { AmiManifest } from '../core/bake';
import { UsageError } from '../core/errors';

export async function synthAws(loaded: LoadedConfig, envDir: EnvDir, expiresAt: string, outdir = envDir.synthDir) {
  const roleAmis = loaded.config.ami.baked ? await bakedAmis(envDir) : undefined;
  if (outdir === envDir.synthDir) await envDir.ensure();
  // Synthesis is synchronous: a umask of 077 for its duration makes every file it writes 0600, every folder 0700.
  const umask = process.umask(0o077);
  try {
    return synthesize({ config: loaded.config, publicKey: loaded.publicKey, expiresAt, roleAmis }, outdir);
  } finally {
    process.umask(umask);
  }
}

/** The env's baked images by role, from the manifest `loadfleet bake` writes. */
export async function bakedAmis(envDir: EnvDir): Promise<Partial<Record<Role, string>>> {
  let manifest: AmiManifest;
  try {
    manifest = JSON.parse(await fs.readFile(envDir.file('amis.json'), 'utf8')) as AmiManifest;
  } catch {
    throw new UsageError(`ami.baked is true but env "${envDir.name}" has no baked image (${envDir.file('amis.json')}): run "loadfleet bake" first, or set ami.baked: false`);
  }
  return Object.fromEntries(Object.entries(manifest).map(([role, e]) => [role, e!.amiId]));
}

export function terraformFor(envDir: EnvDir, s: Settings, stop: { signal?: AbortSignal; abandon?: AbortSignal } = {}): Terraform {
  return new Terraform({
    stackDir: path.join(envDir.synthDir, 'stacks', `loadfleet-${envDir.name}`),
    rcFile: envDir.file('terraform.rc'),
    pluginMirror: s.pluginMirror,
    env: s.processEnv,
    signal: stop.signal,
    abandon: stop.abandon,
  });
}

export async function hasSynth(envDir: EnvDir): Promise<boolean> {
  try {
    await fs.access(path.join(envDir.synthDir, 'stacks', `loadfleet-${envDir.name}`, 'cdk.tf.json'));
    return true;
  } catch {
    return false;
  }
}

