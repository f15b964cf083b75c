/** Runs the real `terraform` binary on a synthesized stack folder. No cdktf CLI involved. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { ExternalError, ToolMissingError } from '../core/errors';
import { foldEvent, NO_PROGRESS, summarizeEvents, type ApplyProgress } from '../core/terraform-events';

export interface TerraformOptions {
  /** Folder holding cdk.tf.json. */
  readonly stackDir: string;
  /** Where loadfleet writes its own CLI config when a plugin mirror is used. */
  readonly rcFile: string;
  /** A provider filesystem mirror: terraform then never downloads anything. */
  readonly pluginMirror?: string;
  /** Environment for terraform (AWS_* etc.); the caller passes process.env at the edge. */
  readonly env: NodeJS.ProcessEnv;
  /** Asks a running terraform to stop: it gets exactly one SIGINT and finishes what is in flight. */
  readonly signal?: AbortSignal;
  /** Gives up on a stopping terraform: a second SIGINT (terraform exits at once), then SIGKILL. */
  readonly abandon?: AbortSignal;
  /** SIGKILL a terraform that has not stopped this long after its SIGINT. @default 15 minutes */
  readonly forceKillAfterMs?: number;
}

export const INSTALL_TERRAFORM = 'install Terraform 1.5 or newer (HashiCorp packages or the release zip) and put it on PATH';

/** terraform stopped because loadfleet was interrupted (Ctrl-C / SIGTERM), not because it failed. */
export class TerraformInterrupted extends ExternalError {
  constructor(readonly command: string, readonly abandoned: boolean, said = '') {
    super(interruptMessage(command, abandoned, said));
    this.name = 'TerraformInterrupted';
  }
}

/** What happened, in terraform's own words where it gave them. */
function interruptMessage(command: string, abandoned: boolean, said: string): string {
  if (abandoned) return `terraform ${command} was abandoned: a second SIGINT made it exit at once (what it was creating may be missing from its state; the tag sweep finds it)`;
  if (/Two interrupts received/.test(said)) return `terraform ${command} received two interrupts and exited at once (what it was creating may be missing from its state)`;
  return `terraform ${command} was interrupted: it got one SIGINT${/Gracefully shutting down/.test(said) ? ' and shut down gracefully' : ''}`;
}

/** One change terraform plans for a resource (from `terraform plan -json`). */
export interface PlannedChange {
  readonly address: string;
  /** create, update, delete, replace, noop, read, move, remove, import */
  readonly action: string;
  /** For an update: the attributes whose value changes. */
  readonly changed: readonly string[];
  /** For each changed attribute: its value before and after (`unknown` when only known after apply). */
  readonly values?: Record<string, { before: unknown; after: unknown }>;
}

export class Terraform {
  constructor(private readonly opts: TerraformOptions) {}

  private async env(): Promise<NodeJS.ProcessEnv> {
    const env: NodeJS.ProcessEnv = { ...this.opts.env, TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1', TF_INPUT: '0' };
    if (this.opts.pluginMirror) {
      await fs.mkdir(path.dirname(this.opts.rcFile), { recursive: true, mode: 0o700 });
      await fs.writeFile(
        this.opts.rcFile,
        `# written by loadfleet: providers only from this mirror, never downloaded\nprovider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(this.opts.pluginMirror)}\n  }\n}\ndisable_checkpoint = true\n`,
        { mode: 0o600 },
      );
      env.TF_CLI_CONFIG_FILE = this.opts.rcFile;
    }
    return env;
  }

  private async run(args: string[], onLine?: (line: string) => void): Promise<string> {
    const { signal, abandon } = this.opts;
    if (signal?.aborted) throw new TerraformInterrupted(args[0]!, false);
    const env = await this.env();
    let child: ResultPromise;
    // umask 077 while spawning (inherited by terraform): the state it writes names every host and the
    // key pair, so terraform.tfstate, its backup and .terraform/ are private to the user (0600/0700).
    const umask = process.umask(0o077);
    try {
      child = execa('terraform', [`-chdir=${this.opts.stackDir}`, ...args], {
        env,
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        // Its own process group: a terminal's Ctrl-C reaches loadfleet only, and loadfleet forwards exactly
        // one SIGINT. (Two make terraform exit at once and lose the resource it was creating from state.)
        detached: true,
        cleanup: false,
        forceKillAfterDelay: false,
        lines: false,
      });
    } catch (e) {
      throw new ExternalError(`cannot start terraform: ${(e as Error).message}`);
    } finally {
      process.umask(umask);
    }
    const pid = child.pid;
    let interrupted = false;
    let abandoned = false;
    let forceKill: NodeJS.Timeout | undefined;
    const send = (sig: NodeJS.Signals, group = false) => {
      if (pid === undefined || child.exitCode !== null) return;
      try {
        process.kill(group ? -pid : pid, sig);
      } catch {
        /* already gone */
      }
    };
    const onAbort = () => {
      if (interrupted) return;
      interrupted = true;
      send('SIGINT');
      forceKill = setTimeout(() => send('SIGKILL', true), this.opts.forceKillAfterMs ?? 15 * 60_000);
      forceKill.unref();
    };
    const onAbandon = () => {
      abandoned = true;
      if (!interrupted) onAbort();
      send('SIGINT'); // terraform's own "exit now"
      setTimeout(() => send('SIGKILL', true), 5_000).unref();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    abandon?.addEventListener('abort', onAbandon, { once: true });
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
    let result;
    try {
      result = await child;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      abandon?.removeEventListener('abort', onAbandon);
      if (forceKill) clearTimeout(forceKill);
      await this.tightenModes();
    }
    if ((result as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String((result as { originalMessage?: string }).originalMessage ?? ''))) {
      throw new ToolMissingError('terraform', INSTALL_TERRAFORM);
    }
    if (interrupted && result.exitCode !== 0) throw new TerraformInterrupted(args[0]!, abandoned, `${String(result.stdout ?? '')}\n${String(result.stderr ?? '')}`);
    if (result.exitCode !== 0) {
      const out = String(result.stdout ?? '');
      const detail = onLine ? summarizeEvents(out.split('\n')).errors.join('\n') : '';
      throw new ExternalError(`terraform ${args[0]} failed (exit ${result.exitCode ?? result.signal}):\n${detail || String(result.stderr ?? '').trim() || out.trim()}`);
    }
    return String(result.stdout ?? '');
  }

  /**
   * Some files terraform writes with an explicit 0644 whatever the umask (.terraform.lock.hcl): take
   * group and other bits off what it leaves in the stack folder and beside the state.
   */
  private async tightenModes(): Promise<void> {
    for (const dir of [this.opts.stackDir, path.dirname(this.opts.rcFile)]) {
      const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (!e.isFile()) continue;
        const file = path.join(dir, e.name);
        const st = await fs.stat(file).catch(() => undefined);
        if (st && (st.mode & 0o077) !== 0) await fs.chmod(file, st.mode & 0o700).catch(() => undefined);
      }
    }
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

  /** What an apply would change, per resource, without changing anything. */
  async plan(): Promise<PlannedChange[]> {
    const planFile = 'loadfleet.tfplan';
    try {
      await this.run(['plan', '-input=false', '-no-color', '-lock=false', `-out=${planFile}`]);
      const json = JSON.parse(await this.run(['show', '-json', '-no-color', planFile])) as { resource_changes?: TfResourceChange[] };
      return (json.resource_changes ?? []).map(plannedChange);
    } finally {
      await fs.rm(path.join(this.opts.stackDir, planFile), { force: true });
    }
  }

  async output(): Promise<unknown> {
    return JSON.parse(await this.run(['output', '-json', '-no-color']));
  }

  async stateList(): Promise<string[]> {
    return (await this.run(['state', 'list', '-no-color'])).split('\n').filter(Boolean);
  }

  private async runWithProgress(args: string[], onProgress?: (p: ApplyProgress) => void): Promise<void> {
    // One parse per line: the progress so far is folded, never recomputed from all lines.
    let progress = NO_PROGRESS;
    await this.run(args, (line) => {
      const next = foldEvent(progress, line);
      if (next !== progress) {
        progress = next;
        onProgress?.(progress);
      }
    });
  }
}

interface TfResourceChange {
  address: string;
  change: { actions: string[]; before?: Record<string, unknown> | null; after?: Record<string, unknown> | null; after_unknown?: Record<string, unknown> };
}

/** Key order and set order do not make a change. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)]));
  return v;
}

function plannedChange(rc: TfResourceChange): PlannedChange {
  const a = rc.change.actions;
  const action = a.length === 2 ? 'replace' : a[0] === 'no-op' || !a[0] ? 'noop' : a[0];
  const before = rc.change.before ?? {};
  const after = rc.change.after ?? {};
  const unknown = rc.change.after_unknown ?? {};
  const same = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
  const changed = action === 'update' ? Object.keys({ ...before, ...after }).filter((k) => !same(before[k], unknown[k] === true ? '(unknown)' : after[k])).sort() : [];
  const values = Object.fromEntries(changed.map((k) => [k, { before: before[k], after: unknown[k] === true ? 'unknown' : after[k] }]));
  return { address: rc.address, action, changed, values };
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
