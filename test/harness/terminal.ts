/**
 * The CLI started as a terminal starts a foreground job: its own process group, so that
 * `interrupt()` sends SIGINT to the whole group, exactly as Ctrl-C in a terminal does.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { BIN, type CliResult } from './cli';

export interface Job {
  /** What the job printed so far. */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Ctrl-C: SIGINT to every process of the job's process group. */
  interrupt(): void;
  /** Resolves when the job exits. */
  readonly done: Promise<CliResult>;
  /** Polls `check` until it is true (or the job ends, or `timeoutMs` passes: then it throws). */
  waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs?: number, intervalMs?: number): Promise<void>;
}

/** Whether a process whose command line contains every one of `words` is running (from /proc). */
export function processRunning(words: readonly string[]): boolean {
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let cmd: string;
    try {
      cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const args = cmd.split('\0');
    if (words.every((w) => args.some((a) => a.includes(w)))) return true;
  }
  return false;
}

export function startJob(args: string[], env: Record<string, string | undefined>): Job {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  let exited = false;
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => {
      exited = true;
      resolve({ exitCode: code ?? (signal ? 128 : -1), stdout: out, stderr: err });
    }),
  );
  const pgid = child.pid!;
  return {
    stdout: () => out,
    stderr: () => err,
    interrupt: () => process.kill(-pgid, 'SIGINT'),
    done,
    async waitFor(what, check, timeoutMs = 300_000, intervalMs = 25) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (await check()) return;
        if (exited) throw new Error(`the job ended before ${what}:\n${err}`);
        if (Date.now() > deadline) {
          process.kill(-pgid, 'SIGKILL');
          throw new Error(`timed out waiting for ${what}:\n${err}`);
        }
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    },
  };
}
