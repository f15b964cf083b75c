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

/**
 * Field 22 of a /proc/<pid>/stat line (starttime: clock ticks after boot; proc(5)). The command name (field 2)
 * is in parentheses and may hold spaces and ")": fields are counted after the last ")". Field 3 (state) is the
 * first token there, so field 22 is the 20th.
 */
export function parseStartTime(stat: string): string | undefined {
  const close = stat.lastIndexOf(')');
  if (close < 0) return undefined;
  const v = stat.slice(close + 1).trim().split(/\s+/)[19];
  return v && /^\d+$/.test(v) ? v : undefined;
}

/** A process's start time (parseStartTime), or undefined without /proc or when it is gone. */
export function processStartTime(pid: number): string | undefined {
  try {
    return parseStartTime(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Whether a lock's holder still runs: its pid is alive AND, when the lock recorded the holder's start time
 * (pidStart), the process with that pid now started at that very time. A pid reused by another process
 * after the holder died (a reboot, a long-lived machine) has another start time: the lock is stale.
 */
export function holderAlive(holder: { readonly pid?: unknown; readonly pidStart?: unknown } | undefined): boolean {
  const pid = holder?.pid;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return false;
  if (!alive(pid)) return false;
  if (typeof holder!.pidStart !== 'string') return true; // a lock written before pidStart existed: the pid is all there is
  const now = processStartTime(pid);
  return now === undefined || now === holder!.pidStart;
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

/** What a taker saw in a lock file: its inode and its exact bytes (pid and since included). */
export interface LockSeen {
  readonly ino: number;
  readonly raw: string;
}

/**
 * The takeover decision: the stale lock may be removed only if the file there now is the very one judged dead
 * (same inode AND same bytes; inodes are reused, and a holder's bytes carry its pid and start time).
 */
export function mayRemoveStale(seen: LockSeen, now: LockSeen | undefined): boolean {
  return now !== undefined && now.ino === seen.ino && now.raw === seen.raw;
}

function look(file: string): LockSeen | undefined {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      return { ino: fs.fstatSync(fd).ino, raw: fs.readFileSync(fd, 'utf8') };
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Takes the lock `file` for `record` (its pid is this process). Returns undefined when taken, or what the live
 * holder wrote. Correct with any number of racing takers:
 * - the lock appears complete or not at all: the record is written to a per-process file, then link()ed into
 *   place (link fails if the lock exists), so nobody ever reads a half-written lock and calls it stale;
 * - only one process at a time may remove a stale lock: it must first create `<file>.takeover` (O_EXCL), then
 *   removes the lock only if it is still the exact one it judged dead (mayRemoveStale). A fresh lock made by a
 *   faster taker is never removed. A takeover file left by a taker killed in those few microseconds is not
 *   removed automatically (that would reopen the race): the error names it.
 */
export function takeLockFile<R extends { readonly pid: number }>(file: string, record: R, busy: string): Record<string, unknown> | undefined {
  const mine = `${file}.${process.pid}.new`;
  const guard = `${file}.takeover`;
  // The holder's start time beside its pid: a later process given the same pid is not mistaken for it.
  const pidStart = processStartTime(process.pid);
  const content = JSON.stringify(pidStart === undefined ? record : { ...record, pidStart });
  for (let attempt = 0; attempt < 50; attempt++) {
    fs.writeFileSync(mine, content, { mode: 0o600 });
    try {
      fs.linkSync(mine, file);
      return undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      fs.rmSync(mine, { force: true });
    }
    const seen = look(file);
    if (!seen) continue; // released meanwhile
    let holder: Record<string, unknown> | undefined;
    try {
      holder = JSON.parse(seen.raw) as Record<string, unknown>;
    } catch {
      holder = undefined; // unreadable (never half-written, see above): stale
    }
    if (holder?.pid !== process.pid && holderAlive(holder)) return holder;
    try {
      fs.writeFileSync(guard, String(process.pid), { flag: 'wx', mode: 0o600 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const other = Number(look(guard)?.raw);
      if (Number.isInteger(other) && other > 0 && other !== process.pid && !alive(other)) {
        throw new UsageError(`${busy}: a takeover of the stale lock ${file} was cut short (pid ${other} is gone); remove ${guard}, then run this again`);
      }
      pause(10); // another process is taking it over right now: look again
      continue;
    }
    try {
      if (mayRemoveStale(seen, look(file))) fs.rmSync(file, { force: true });
    } finally {
      fs.rmSync(guard, { force: true });
    }
  }
  throw new UsageError(`${busy}: could not take the lock ${file}; another loadfleet command keeps taking it: try again`);
}

/** Removes `file` only if it is this process's lock. */
export function releaseLockFile(file: string): void {
  if (readHolder(file)?.pid === process.pid) fs.rmSync(file, { force: true });
}

/** Takes the env's lock or throws a UsageError naming who holds it. Returns the release function. */
export function lockEnv(envDir: string, env: string, command: string): () => void {
  const created = !fs.existsSync(envDir);
  fs.mkdirSync(envDir, { recursive: true, mode: 0o700 });
  const file = path.join(envDir, 'lock');
  const me: Holder = { pid: process.pid, command, since: new Date().toISOString() };
  const holder = takeLockFile(file, me, `env "${env}"`) as Holder | undefined;
  if (holder) {
    throw new UsageError(`env "${env}" is busy: "loadfleet ${holder.command}" (pid ${holder.pid}) has been working on it since ${holder.since}; wait for it to finish, then run this again`);
  }
  const release = () => {
    releaseLockFile(file);
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
