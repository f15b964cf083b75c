/**
 * How `run` reaches Locust's master and keeps its load owned — pure: the sh run on the controller, and the
 * locustfile suffix that measures each worker's first request. scripts/drivers/locust.ts executes them.
 *
 * - The master's web UI listens on 127.0.0.1 only (scripts/engines/locust.ts): no other host, and no user of
 *   the fleet's network, can POST /swarm or /stop. `run` calls it with curl on the controller over SSH (as the
 *   k6 and nGrinder drivers do); people reach the UI with `loadfleet tunnel controller`.
 * - No load without a live owner: every call `run` makes during a run refreshes an owner file on the
 *   controller; a watchdog started with the swarm stops the master (GET /stop) when that file has not been
 *   refreshed for LOCUST_OWNER.staleS seconds (loadfleet killed, its machine gone) or when the run's deadline
 *   passed, and exits when the file is removed (the run ended normally, or the next run's prepare cleared it).
 *   The swarm itself carries run_time = duration + grace, a second bound inside Locust (POST /swarm's
 *   "run_time" form field: locust/web.py 2.12.1, swarm(): parse_timespan then gevent.spawn_later(run_time,
 *   self._stop_runners); the same field in later 2.x web.py).
 */
import { shQuote } from '../core/safe-text';

/** The owner rule's bounds. Tests may shrink them (the CLI reads them once per run). */
export const LOCUST_OWNER = {
  /** Seconds without a refresh before the watchdog stops the load (ticks refresh every second). */
  staleS: 15,
  /** Seconds past the planned duration the swarm may run (run_time, and the watchdog's deadline). */
  graceS: 30,
};

/** The folder of owner files on the controller (tmpfs: a reboot clears it). */
export const LOCUST_OWNER_DIR = '/run/loadfleet-locust';
export const locustOwnerFile = (runId: string) => `${LOCUST_OWNER_DIR}/${runId.replace(/[^A-Za-z0-9._-]/g, '_')}.owner`;
/** The watchdog's log on the controller (what it did and when). */
export const LOCUST_WATCHDOG_LOG = '/var/log/loadfleet/locust-watchdog.log';

/** A line the master's HTTP status follows, so the sh's output is body + status. */
const STATUS_MARK = '\n--loadfleet-http-status ';

/**
 * sh (as root) calling the master's web API on 127.0.0.1: prints the body then STATUS_MARK and the HTTP
 * status; exits with curl's code when the master does not answer. `owner` (a run's owner file) is refreshed
 * first when it exists (touch -c never creates it: only start() does).
 */
export function locustApiScript(webPort: number, path: string, opts: { form?: Record<string, string>; owner?: string; timeoutS?: number } = {}): string {
  const url = `http://127.0.0.1:${webPort}${path}`;
  const data = opts.form ? ` --data-raw ${shQuote(new URLSearchParams(opts.form).toString())}` : '';
  return [
    opts.owner ? `touch -c ${shQuote(opts.owner)} 2>/dev/null || true` : '',
    `curl -sS -m ${opts.timeoutS ?? 10} -w ${shQuote(`${STATUS_MARK}%{http_code}`)}${data} ${shQuote(url)}`,
    '',
  ].filter((l, i, a) => l || i === a.length - 1).join('\n');
}

/** Splits the API sh's output into body and HTTP status (null when the mark is missing). */
export function parseLocustApiOutput(stdout: string): { body: string; status: number | null } {
  const i = stdout.lastIndexOf(STATUS_MARK);
  if (i < 0) return { body: stdout, status: null };
  return { body: stdout.slice(0, i), status: Number(stdout.slice(i + STATUS_MARK.length).trim()) || null };
}

/** sh (as root) removing every owner file: the watchdogs of earlier runs exit without touching this one. */
export function locustClearOwnersScript(): string {
  return `rm -rf ${LOCUST_OWNER_DIR}\n`;
}

/** sh (as root) ending this run's ownership: its watchdog exits. */
export function locustReleaseOwnerScript(runId: string): string {
  return `rm -f ${shQuote(locustOwnerFile(runId))}\n`;
}

/**
 * sh (as root) creating the run's owner file and starting its watchdog (detached: it outlives the SSH session
 * and loadfleet). `deadlineEpochS` is the controller's clock: release + duration + grace, computed there.
 */
export function locustWatchdogScript(o: { runId: string; webPort: number; durationS: number; staleS?: number; graceS?: number }): string {
  const f = locustOwnerFile(o.runId);
  const stale = Math.max(1, Math.ceil(o.staleS ?? LOCUST_OWNER.staleS));
  const limit = Math.ceil(o.durationS + (o.graceS ?? LOCUST_OWNER.graceS));
  const loop = [
    `f=${shQuote(f)}; d=$(( $(date +%s) + ${limit} ))`,
    'while :; do',
    '  sleep 1',
    '  [ -e "$f" ] || exit 0',
    '  now=$(date +%s); m=$(stat -c %Y "$f" 2>/dev/null) || exit 0',
    `  if [ $((now - m)) -gt ${stale} ]; then why="no word from loadfleet for $((now - m)) s (more than ${stale} s)";`,
    `  elif [ "$now" -ge "$d" ]; then why="the run's deadline passed (its duration + ${Math.ceil(o.graceS ?? LOCUST_OWNER.graceS)} s)";`,
    '  else continue; fi',
    `  r=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' http://127.0.0.1:${o.webPort}/stop 2>&1)`,
    `  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) run ${o.runId}: $why: stopped the load (GET /stop: $r)"`,
    '  rm -f "$f"; exit 0',
    'done',
  ].join('\n');
  return [
    'set -eu',
    `mkdir -p ${LOCUST_OWNER_DIR} "$(dirname ${LOCUST_WATCHDOG_LOG})"`,
    `touch ${shQuote(f)}`,
    `setsid nohup sh -c ${shQuote(loop)} >> ${LOCUST_WATCHDOG_LOG} 2>&1 < /dev/null &`,
    'echo "watchdog $!"',
    '',
  ].join('\n');
}

/** The marker a worker prints (to its own stderr: the service log) at its first request of a run. */
export const FIRST_REQUEST_MARK = 'loadfleet-first-request';

/**
 * Python appended to the user's locustfile when `run` pushes it: each worker prints, once, when its first
 * request of this run started (its own clock, epoch ms), so a generator's start is measured where the request
 * is sent, not when the master's next poll shows users. Locust fires events.request in the process that sent
 * the request, with start_time (time.time() at the start: locust/clients.py 2.12.1 request_meta["start_time"]);
 * without it (other clients), the end minus response_time. Printed to stderr, so no --loglevel hides it.
 */
export function locustFirstRequestSuffix(runId: string): string {
  return `

# --- added by loadfleet run ${runId}: each worker's first request (the locustfile above is unchanged) ---
def _loadfleet_first_request_hook():
    import sys as _s, time as _t
    from locust import events as _e
    _done = []

    @_e.request.add_listener
    def _loadfleet_first_request(*_a, response_time=None, start_time=None, **_kw):
        if _done:
            return
        _done.append(1)
        t = start_time if isinstance(start_time, (int, float)) else _t.time() - (response_time or 0) / 1000.0
        _s.stderr.write("${FIRST_REQUEST_MARK} run=${runId} at_ms=%d\\n" % round(t * 1000))
        _s.stderr.flush()


_loadfleet_first_request_hook()
`;
}

/** The earliest first request of this run in a generator's worker logs (epoch ms), or null when none. */
export function parseFirstRequest(log: string, runId: string): number | null {
  let min: number | null = null;
  const re = new RegExp(`${FIRST_REQUEST_MARK} run=(\\S+) at_ms=(\\d+)`, 'g');
  for (const m of log.matchAll(re)) {
    if (m[1] !== runId) continue;
    const t = Number(m[2]);
    if (min === null || t < min) min = t;
  }
  return min;
}

/**
 * sh (as root) on an agent printing where each worker log ends now (netns: "<file> <bytes>"; EC2: the host's
 * epoch seconds for journalctl --since), so collect pulls only what this run wrote.
 */
export function workerLogMarkScript(kind: 'netns' | 'ec2'): string {
  return kind === 'ec2'
    ? 'echo "since $(date +%s)"\n'
    : 'for f in /var/log/loadfleet/locust-worker@*.log; do [ -e "$f" ] && echo "$f $(stat -c %s "$f")"; done; true\n';
}

/**
 * sh (as root) printing each worker log's lines written since the marks (the service log holds every earlier
 * run and the install's lines). netns: the bytes after each recorded size (a log that shrank — rotated,
 * truncated — is printed whole); a log created since is printed whole. EC2: the journal since the recorded
 * second (systemd.time(7): "@<epoch>").
 */
export function workerLogSinceScript(kind: 'netns' | 'ec2', marks: string): string {
  if (kind === 'ec2') {
    const since = /since (\d+)/.exec(marks)?.[1] ?? '0';
    const j = `journalctl -u 'locust-worker@*' --since @${since} -o short-iso --no-pager 2>/dev/null`;
    return `${j} | grep -m 100 ${FIRST_REQUEST_MARK} || true\n${j} | tail -n 20000\n`;
  }
  const sizes = marks.split('\n').map((l) => /^(\/var\/log\/loadfleet\/locust-worker@\d+\.log) (\d+)$/.exec(l.trim())).filter((m): m is RegExpExecArray => !!m);
  const lines = ['for f in /var/log/loadfleet/locust-worker@*.log; do', '  [ -e "$f" ] || continue; s=0', '  case "$f" in'];
  for (const m of sizes) lines.push(`    ${shQuote(m[1]!)}) s=${m[2]} ;;`);
  // The first-request marks first (a long DEBUG log's tail would lose them), then the run's last 20000 lines.
  // The marks were taken before the restart: from the worker's last "Starting Locust" on (the old process's
  // shutdown lines, and a start the prepare restarted again, are not this run's); without one (a worker that
  // never started), all of it.
  lines.push('  esac', '  n=$(stat -c %s "$f"); [ "$n" -ge "$s" ] || s=0', '  echo "==> $f <=="', `  tail -c +$((s + 1)) "$f" | grep -m 100 ${FIRST_REQUEST_MARK} || true`,
    "  k=$(tail -c +$((s + 1)) \"$f\" | grep -n 'Starting Locust' | tail -n 1 | cut -d: -f1)",
    '  tail -c +$((s + 1)) "$f" | tail -n +"${k:-1}" | tail -n 20000', 'done', 'true', '');
  return lines.join('\n');
}
