/** Runs the real `terraform` binary on a synthesized stack folder. No cdktf CLI involved. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { ExternalError, ToolMissingError } from '../core/errors';
import { summarizeEvents, type ApplyProgress } from '../core/terraform-events';

export interface TerraformOptions {
  /** Folder holding cdk.tf.json. */
  readonly stackDir: string;
  /** Where loadfleet writes its own CLI config when a plugin mirror is used. */
  readonly rcFile: string;
  /** A provider filesystem mirror: terraform then never downloads anything. */
  readonly pluginMirror?: string;
  /** Environment for terraform (AWS_* etc.); the caller passes process.env at the edge. */
  readonly env: NodeJS.ProcessEnv;
  /** Cancels a running terraform (it gets SIGINT and stops cleanly). */
  readonly signal?: AbortSignal;
}

export const INSTALL_TERRAFORM = 'install Terraform 1.5 or newer (HashiCorp packages or the release zip) and put it on PATH';

export class Terraform {
  constructor(private readonly opts: TerraformOptions) {}

  private async env(): Promise<NodeJS.ProcessEnv> {
    const env: NodeJS.ProcessEnv = { ...this.opts.env, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1', TF_INPUT: '0' };
    if (this.opts.pluginMirror) {
      await fs.mkdir(path.dirname(this.opts.rcFile), { recursive: true });
      await fs.writeFile(
        this.opts.rcFile,
        `# written by loadfleet: providers only from this mirror, never downloaded\nprovider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(this.opts.pluginMirror)}\n  }\n}\ndisable_checkpoint = true\n`,
      );
      env.TF_CLI_CONFIG_FILE = this.opts.rcFile;
    }
    return env;
  }

  private async run(args: string[], onLine?: (line: string) => void): Promise<string> {
    let child: ResultPromise;
    try {
      child = execa('terraform', [`-chdir=${this.opts.stackDir}`, ...args], {
        env: await this.env(),
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        cancelSignal: this.opts.signal,
        killSignal: 'SIGINT',
        forceKillAfterDelay: 120_000,
        lines: false,
      });
    } catch (e) {
      throw new ExternalError(`cannot start terraform: ${(e as Error).message}`);
    }
    if (onLine && child.stdout) {
      let buf = '';
      child.stdout.on('data', (chunk: Buffer) => {
        buf += chunk.toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          onLine(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    }
    const result = await child;
    if ((result as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String((result as { originalMessage?: string }).originalMessage ?? ''))) {
      throw new ToolMissingError('terraform', INSTALL_TERRAFORM);
    }
    if (result.isCanceled) throw new ExternalError(`terraform ${args[0]} was interrupted`);
    if (result.exitCode !== 0) {
      const out = String(result.stdout ?? '');
      const detail = onLine ? summarizeEvents(out.split('\n')).errors.join('\n') : '';
      throw new ExternalError(`terraform ${args[0]} failed (exit ${result.exitCode}):\n${detail || String(result.stderr ?? '').trim() || out.trim()}`);
    }
    return String(result.stdout ?? '');
  }

  async init(): Promise<void> {
    await this.run(['init', '-input=false', '-no-color']);
  }

  async apply(parallelism: number, onProgress?: (p: ApplyProgress) => void): Promise<void> {
    await this.runWithProgress(['apply', '-auto-approve', '-input=false', '-json', `-parallelism=${parallelism}`], onProgress);
  }

  async destroy(parallelism: number, onProgress?: (p: ApplyProgress) => void): Promise<void> {
    await this.runWithProgress(['destroy', '-auto-approve', '-input=false', '-json', `-parallelism=${parallelism}`], onProgress);
  }

  async output(): Promise<unknown> {
    return JSON.parse(await this.run(['output', '-json', '-no-color']));
  }

  async stateList(): Promise<string[]> {
    return (await this.run(['state', 'list', '-no-color'])).split('\n').filter(Boolean);
  }

  private async runWithProgress(args: string[], onProgress?: (p: ApplyProgress) => void): Promise<void> {
    const lines: string[] = [];
    await this.run(args, (line) => {
      lines.push(line);
      if (onProgress) onProgress(summarizeEvents(lines));
    });
  }
}

/** Fails loudly, with what to install, when terraform is not on PATH. */
export async function requireTerraform(): Promise<string> {
  try {
    const r = await execa('terraform', ['version', '-json'], { reject: false, stdin: 'ignore' });
    if (r.exitCode !== 0) throw new ToolMissingError('terraform', INSTALL_TERRAFORM);
    return (JSON.parse(String(r.stdout)) as { terraform_version: string }).terraform_version;
  } catch (e) {
    if (e instanceof ToolMissingError) throw e;
    throw new ToolMissingError('terraform', INSTALL_TERRAFORM);
  }
}
