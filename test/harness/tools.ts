import { execaSync } from 'execa';
import * as fs from 'node:fs';

/** A tool the tests need: fails the test with what to install, never skips. */
export function requireTool(name: string, install: string): string {
  const r = execaSync('sh', ['-c', `command -v ${name}`], { reject: false });
  if (r.exitCode !== 0) throw new Error(`${name} is not installed: ${install} (bash scripts/setup.sh installs the test prerequisites)`);
  return String(r.stdout).trim();
}

export const PLUGIN_MIRROR = process.env.LOADFLEET_TF_PLUGIN_MIRROR || '/opt/tf-plugins';

export function requireTerraformOffline(): void {
  requireTool('terraform', 'install Terraform 1.11 (the machine image ships it)');
  if (!fs.existsSync(`${PLUGIN_MIRROR}/registry.terraform.io/hashicorp/aws`)) {
    throw new Error(`no hashicorp/aws provider in the mirror ${PLUGIN_MIRROR}: set LOADFLEET_TF_PLUGIN_MIRROR to a filesystem mirror holding hashicorp/aws 5.100.0`);
  }
}
