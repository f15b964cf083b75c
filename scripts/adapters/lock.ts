/**
 * One command at a time per env: `up`, `down`, `tune`, `install`, `bake` and `run` hold `<env folder>/lock` while they run, so the
 * env's state is never written by two processes. A second command refuses at once, naming the holder;
 * a lock left by a process that no longer runs (kill -9, a crash) is taken over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UsageError } from '../core/errors';

interface Holder {
  readonly pid: number;
  readonly command: string;
  readonly since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie still answers kill 0; its cmdline reads empty.
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').length > 0;
  } catch {
    return true; // no /proc: trust kill
  }
}

function readHolder(file: string): Holder | undefined {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Holder;
    return Number.isInteger(h.pid) ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Takes the env's lock or throws a UsageError naming who holds it. Returns the release function. */
export function lockEnv(envDir: string, env: string, command: string): () => void {
  const created = !fs.existsSync(envDir);
  fs.mkdirSync(envDir, { recursive: true, mode: 0o700 });
  const file = path.join(envDir, 'lock');
  const me: Holder = { pid: process.pid, command, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(me), { flag: 'wx', mode: 0o600 });
      const release = () => {
        if (readHolder(file)?.pid === process.pid) fs.rmSync(file, { force: true });
        process.off('exit', release);
        // A folder made only for the lock (e.g. `down` of an unknown env) is not left behind.
        if (created) {
          try {
            fs.rmdirSync(envDir);
          } catch {
            /* the command wrote something there: keep it */
          }
        }
      };
      // Released on every path, Ctrl-C and uncaught errors included (exit handlers run for both).
      process.on('exit', release);
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = readHolder(file);
    if (holder && holder.pid !== process.pid && alive(holder.pid)) {
      throw new UsageError(`env "${env}" is busy: "loadfleet ${holder.command}" (pid ${holder.pid}) has been working on it since ${holder.since}; wait for it to finish, then run this again`);
    }
    // Stale (its process is gone) or unreadable: take it over. Renaming first makes only one taker win.
    const stale = `${file}.stale-${process.pid}`;
    try {
      fs.renameSync(file, stale);
      fs.rmSync(stale, { force: true });
    } catch {
      /* another process took it over first: try again */
    }
  }
  throw new UsageError(`env "${env}": could not take its lock (${file}); another loadfleet command keeps taking it: try again`);
}

/** Runs `work` holding the env's lock. */
export async function withEnvLock<T>(envDir: string, env: string, command: string, work: () => Promise<T>): Promise<T> {
  const release = lockEnv(envDir, env, command);
  try {
    return await work();
  } finally {
    release();
  }
}
