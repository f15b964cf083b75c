/**
 * The local target's dead-man switch. On AWS every host shuts itself down at the expiry; a local fleet has
 * no such host, so `up --target local` leaves a detached timer process (recorded in the env folder,
 * expiry.json) that runs `loadfleet down --env N --yes` at the expiry, with nobody running a command. It
 * retries while another command holds the env (the env lock), and `down` stops a timer still waiting.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectPath } from './project-root';

/** The marker in the timer's command line: how `disarm` knows a pid is still our sleeping timer. */
const MARKER = 'loadfleet-expiry-timer';
/**
 * A busy env (a soak test holding the env lock for hours) is waited for, not given up on: the timer keeps
 * trying every 30 s for up to 7 days past the expiry, so a forgotten fleet still goes once the run ends.
 */
const RETRY_SECONDS = 30;
const RETRIES = (7 * 24 * 3600) / RETRY_SECONDS;

interface TimerRecord {
  readonly pid: number;
  readonly expiresAt: string;
}

function isWaitingTimer(pid: number, env: string): boolean {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv.includes(MARKER) && argv.includes(env);
  } catch {
    return false;
  }
}

/** Stops the env's timer, unless it is this process's own (the timer's `down` must not end its parent). */
export function disarmLocalExpiry(envDir: string, env: string): void {
  const file = path.join(envDir, 'expiry.json');
  let rec: TimerRecord;
  try {
    rec = JSON.parse(fs.readFileSync(file, 'utf8')) as TimerRecord;
  } catch {
    return;
  }
  if (rec.pid !== process.ppid && isWaitingTimer(rec.pid, env)) {
    try {
      process.kill(-rec.pid, 'SIGTERM'); // its own process group: the sh and its sleep
    } catch {
      /* already gone */
    }
  }
  fs.rmSync(file, { force: true });
}

/**
 * (Re)arms the timer for `expiresAt`. `delaySeconds` overrides the wait (tests shrink it through
 * $LOADFLEET_LOCAL_EXPIRY_SECONDS, read in adapters/context.ts).
 */
export function armLocalExpiry(opts: { envDir: string; env: string; home: string; expiresAt: string; now: Date; delaySeconds?: number }): number {
  disarmLocalExpiry(opts.envDir, opts.env);
  const wait = opts.delaySeconds ?? Math.max(0, Math.ceil((Date.parse(opts.expiresAt) - opts.now.getTime()) / 1000));
  const script = [
    'sleep "$1"',
    'n=0',
    // exit 2 is "busy" (another command holds the env): wait and try again; anything else is final.
    `while :; do "$2" "$3" down --env "$4" --home "$5" --yes; rc=$?; [ "$rc" -ne 2 ] && exit "$rc"; n=$((n+1)); [ "$n" -ge ${RETRIES} ] && exit 2; sleep ${RETRY_SECONDS}; done`,
  ].join('\n');
  const log = fs.openSync(path.join(opts.envDir, 'expiry.log'), 'a', 0o600);
  const child = spawn('sh', ['-c', script, MARKER, String(wait), process.execPath, projectPath('scripts', 'loadfleet.mjs'), opts.env, opts.home], {
    detached: true,
    stdio: ['ignore', log, log],
    cwd: opts.envDir,
  });
  fs.closeSync(log);
  child.unref();
  const rec: TimerRecord = { pid: child.pid!, expiresAt: opts.expiresAt };
  fs.writeFileSync(path.join(opts.envDir, 'expiry.json'), JSON.stringify(rec), { mode: 0o600 });
  return rec.pid;
}
