/**
 * No Artillery load without a live owner (issue 20: "no load without a live owner", as Locust's watchdog does).
 * Artillery has no master and ends only when its phases end, so after the release a killed loadfleet used to
 * leave every agent sending until then (a `--duration 2h` run: two hours). Pure: the sh the driver runs.
 *
 * Each agent's run folder holds an owner file that every call `run` makes refreshes (the readiness polls, each
 * tick: about once a second). A watchdog started with Artillery (detached: it outlives the SSH session and
 * loadfleet) stops the load when that file has not been refreshed for ARTILLERY_OWNER.staleS seconds, or when
 * the run's deadline (ready wait + duration + grace) passed: first loadfleet's stop file (each worker ends its
 * thread within 0.1 s and flushes its counters, so the figures stay readable), then TERM and KILL to Artillery's
 * session. It exits by itself once Artillery has exited (a normal end, or `run`'s own stop) or the run folder
 * is gone (collected), so it never signals a recycled PID for long.
 */
import { shQuote } from '../core/safe-text';

/** The owner rule's bounds (the same as Locust's: scripts/run/locust-control.ts LOCUST_OWNER). */
export const ARTILLERY_OWNER = {
  /** Seconds without a refresh before the watchdog stops the load (ticks refresh every second). */
  staleS: 15,
  /** Seconds past the planned duration Artillery may run before the watchdog stops it anyway. */
  graceS: 30,
};

export const artilleryOwnerFile = (runDir: string) => `${runDir}/owner`;
export const artilleryWatchdogLog = (runDir: string) => `${runDir}/watchdog.log`;

/** sh refreshing the owner file (never creating it: only the watchdog's start does). */
export function artilleryOwnerTouch(runDir: string): string {
  return `touch -c ${shQuote(artilleryOwnerFile(runDir))} 2>/dev/null || true`;
}

/**
 * sh (as root) creating the owner file and starting the watchdog of Artillery's session `pidVar` (a shell
 * variable holding the session leader's PID, set by the line before). `limitS` counts from now.
 */
export function artilleryWatchdogScript(o: { runDir: string; runId: string; pidVar: string; limitS: number; staleS?: number }): string {
  const f = artilleryOwnerFile(o.runDir);
  const stale = Math.max(1, Math.ceil(o.staleS ?? ARTILLERY_OWNER.staleS));
  const stop = shQuote(`${o.runDir}/stop`);
  const loop = [
    `f=${shQuote(f)}; p="$1"; d=$(( $(date +%s) + ${Math.ceil(o.limitS)} ))`,
    'while :; do',
    '  sleep 1',
    '  kill -0 "$p" 2>/dev/null || exit 0',
    '  [ -e "$f" ] || exit 0',
    '  now=$(date +%s); m=$(stat -c %Y "$f" 2>/dev/null) || exit 0',
    `  if [ $((now - m)) -gt ${stale} ]; then why="no word from loadfleet for $((now - m)) s (more than ${stale} s)";`,
    `  elif [ "$now" -ge "$d" ]; then why="the run's deadline passed";`,
    '  else continue; fi',
    // The stop file first (the plugin ends each worker within 0.1 s, counters flushed), then the session.
    `  touch ${stop}; i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`,
    '  kill -TERM -"$p" 2>/dev/null || true; i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done',
    '  kill -KILL -"$p" 2>/dev/null || true',
    `  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) run ${o.runId}: $why: stopped the load (stop file, then the session of pid $p)"`,
    '  rm -f "$f"; exit 0',
    'done',
  ].join('\n');
  return [
    `touch ${shQuote(f)}`,
    `setsid nohup sh -c ${shQuote(loop)} loadfleet-artillery-watchdog "$${o.pidVar}" >> ${shQuote(artilleryWatchdogLog(o.runDir))} 2>&1 < /dev/null &`,
  ].join('\n');
}
