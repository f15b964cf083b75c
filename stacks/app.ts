import { App } from './cdk';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FleetStack, stackName, type FleetStackProps } from './fleet-stack';

export interface SynthResult {
  /** Folder holding cdk.tf.json: terraform's working directory. */
  readonly stackDir: string;
  readonly stackName: string;
}

/**
 * Synthesizes the env's stack into `outdir`. The local state file sits at `<outdir>/../terraform.tfstate`,
 * i.e. in the env folder, beside the synthesized code rather than inside it.
 */
export function synthesize(props: Omit<FleetStackProps, 'localStatePath'>, outdir: string): SynthResult {
  // 0700 on every folder this creates (the env folder included, when it is the first to exist): the
  // synthesized code holds the public key and the state beside it names every host.
  fs.mkdirSync(outdir, { recursive: true, mode: 0o700 });
  const app = new App({ outdir, skipValidation: false });
  const name = stackName(props.config.name);
  const stackDir = path.join(outdir, 'stacks', name);
  const localStatePath = path.relative(stackDir, path.join(outdir, '..', 'terraform.tfstate'));
  new FleetStack(app, name, { ...props, localStatePath });
  app.synth();
  return { stackDir, stackName: name };
}
