/**
 * What `loadfleet run` does on each k6 agent, as data and sh text (pure; scripts/drivers/k6.ts runs it through
 * runAsRoot). The design is k6-operator's: one `k6 run --paused --address 127.0.0.1:6565 --execution-segment a:b
 * --execution-segment-sequence S` per agent (scripts/run/commands.ts k6Commands), every instance released
 * with `PATCH /v1/status {"paused":false}` (k6-operator curl_start.go), raw points merged afterwards because
 * per-instance summaries cannot be (k6-operator#812). The REST API (no login) listens on the agent's loopback
 * only, so every API call is a curl run on the agent itself, over SSH.
 */
import { UsageError } from '../core/errors';
import { shQuote } from '../core/safe-text';
import { k6RunFacts } from '../engines/k6';
import { k6ReleaseRequest, type K6Instance } from './commands';
import { K6_POINT_FILTER } from './k6-output';

// ---- the script ----

/**
 * A k6 script loadfleet can run: JavaScript (or TypeScript, which k6 runs itself) with a default export.
 * loadfleet always passes the load as k6's --vus/--duration or --stage, and those replace the script's own
 * `options.scenarios` and run its default function (k6 docs "Options": CLI flags win; grafana/k6#3741), so a
 * script whose scenarios only `exec` named functions would fail on every agent: refused here instead.
 * This is a textual check; the syntax itself is checked by the driver (node --check) for .js files.
 */
export function checkK6Script(file: string, text: string): void {
  if (text.trim() === '') throw new UsageError(`--script (${file}) is empty: give a k6 script (JavaScript with an "export default function")`);
  if (text.includes('\u0000') || /\.(tar|tgz|gz|zip)$/i.test(file)) {
    throw new UsageError(`--script (${file}) is not a JavaScript file (k6 archives are not supported by loadfleet run): give the k6 script itself`);
  }
  checkK6LocalFiles(file, text);
  const hasDefault = /\bexport\s+default\b/.test(text) || /\bexport\s*\{[^}]*\bas\s+default\b[^}]*\}/.test(text);
  if (hasDefault) return;
  if (/\bexport\s+(const|let|var)\s+options\b/.test(text) && /\bscenarios\b/.test(text)) {
    throw new UsageError(
      `--script (${file}) has scenarios but no default export: loadfleet passes the load (--users/--duration/--stages) as k6's --vus/--duration/--stage, ` +
        'which replace the script\'s scenarios and run its default function; add "export default function () { … }"',
    );
  }
  throw new UsageError(`--script (${file}) does not look like a k6 script: it has no "export default function" (k6 runs the default export in every VU)`);
}

/** A module specifier or open() path that names a file beside the script (k6 resolves them against the script's folder). */
const RELATIVE = /^\.\.?\//;

/**
 * Only the script file is pushed to the agents: a local module (`import … from './lib.js'`, `require('../x')`)
 * or a data file read with `open('./users.csv')` (open() paths are relative to the script, k6 docs "open( filePath,
 * [mode] )") would not exist there, and k6 would fail on every agent. Refused up front (exit 2) instead; remote
 * modules (https://jslib.k6.io/…), k6's own (k6/http, k6/x/…) and absolute paths (the user's to provide on every
 * agent) are fine. Textual: comments are dropped first; a path built at run time (`open(__ENV.F)`) is not seen.
 */
function checkK6LocalFiles(file: string, text: string): void {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[\s;{}()])\/\/.*$/gm, '$1');
  const imports = [
    /\bimport\s+(?:[\w$*{}\s,]+?\s+from\s+)?(['"`])([^'"`\n]+)\1/g,
    /\bexport\s+(?:\*(?:\s+as\s+[\w$]+)?|\{[^}]*\})\s*from\s+(['"`])([^'"`\n]+)\1/g,
    /\b(?:require|import)\(\s*(['"`])([^'"`\n]+)\1\s*\)/g,
  ];
  for (const re of imports) {
    for (const m of code.matchAll(re)) {
      if (RELATIVE.test(m[2]!)) {
        throw new UsageError(
          `--script (${file}) imports the local module "${m[2]}": only the script file is pushed to the agents, so it would not be there and k6 would fail on every agent; ` +
            'bundle the script and its modules into one file (e.g. esbuild --bundle --format=esm --external:k6*), or import the module from a URL (https://…); k6/* modules are fine',
        );
      }
    }
  }
  for (const m of code.matchAll(/\bopen\(\s*(['"`])([^'"`\n]+)\1/g)) {
    const p = m[2]!;
    if (!p.startsWith('/') && !p.includes('${')) {
      throw new UsageError(
        `--script (${file}) opens the local file "${p}": only the script file is pushed to the agents, so it would not be there and k6 would fail on every agent; ` +
          'put the data in the script itself, or give an absolute path that exists on every agent',
      );
    }
  }
}

// ---- the engine's own options (after --) ----

/** Options loadfleet sets itself on every instance, with why (the refusal says it). */
const OWNED: readonly { long: string; short?: string; why: string; prefix?: boolean }[] = [
  { long: '--paused', short: 'p', why: 'loadfleet starts every instance paused and releases them all at one instant' },
  { long: '--address', short: 'a', why: "loadfleet puts each instance's REST API on the agent's loopback (127.0.0.1:6565) to release, watch and stop it" },
  { long: '--execution-segment', why: 'loadfleet gives each agent its execution segment and the shared sequence', prefix: true },
  { long: '--vus', short: 'u', why: 'the load comes from loadfleet\'s --users/--duration/--stages (one plan for the whole fleet, split by execution segments)' },
  { long: '--duration', short: 'd', why: 'the load comes from loadfleet\'s --users/--duration/--stages' },
  { long: '--stage', short: 's', why: 'the load comes from loadfleet\'s --stages' },
  { long: '--iterations', short: 'i', why: 'the load comes from loadfleet\'s --users/--duration/--stages (an iteration count would replace them)' },
  { long: '--linger', short: 'l', why: 'k6 would never exit, and loadfleet waits for every instance to end' },
  { long: '--summary-mode', why: 'loadfleet turns off the per-instance summary (not mergeable) and merges the raw points instead' },
  { long: '--no-summary', why: 'loadfleet turns off the per-instance summary itself' },
];
/**
 * Options loadfleet does not set but cannot work with, with why (refused with that reason, exit 2).
 */
const BROKEN: readonly { long: string; short?: string; why: string }[] = [
  {
    long: '--system-tags',
    why: 'the merge needs the name, method, url, status and expected_response tags on every request point: without them every request is lumped into one endpoint and failures cannot be told apart (k6\'s default system tags have them)',
  },
  // grafana/k6 v2.0.0 metrics/sink.go: TrendSink.Format is fixed at min, max, avg, med, p(90), p(95) ("TODO: respect the
  // summaryTrendStats for REST API"), and loadfleet turns k6's end-of-test summary off: the option would change nothing.
  { long: '--summary-trend-stats', why: "it would change nothing: loadfleet turns k6's end-of-test summary off (--summary-mode=disabled), and k6 v2.0.0's REST API reports trends with a fixed set (min, max, avg, med, p(90), p(95): TrendSink.Format in metrics/sink.go ignores summaryTrendStats); loadfleet's p50…p99 come from merging the raw points" },
  // grafana/k6 v2.0.0 internal/cmd/run.go: the metrics ingester behind GET /v1/metrics is created only when the
  // summary or the thresholds are on; with --summary-mode=disabled (loadfleet's) and --no-thresholds it is empty.
  { long: '--no-thresholds', why: "with loadfleet's --summary-mode=disabled, k6 v2.0.0 then keeps no metrics at all for its REST API (internal/cmd/run.go creates the ingester only when the summary or the thresholds are on): GET /v1/metrics would stay empty and run could show and watch nothing live; loadfleet's --threshold flags are judged on the merged results anyway" },
  { long: '--config', short: 'c', why: 'only the script is pushed to the agents, so the config file would not exist there: put its options in the script\'s `export const options`' },
];
/** Single-letter k6 flags that take no value (so `-qp` is -q then -p; any other letter's value follows it). */
const BOOL_SHORT = new Set(['q', 'v', 'p', 'l', 'w']);

function refuse(flag: string, why: string): never {
  throw new UsageError(`the k6 option ${flag} (after --) is set by loadfleet: ${why}; drop it`);
}

function refuseBroken(flag: string, why: string): never {
  throw new UsageError(`the k6 option ${flag} (after --) cannot be used with loadfleet run: ${why}; drop it`);
}

function outputRefused(value: string): boolean {
  // A second json/csv file would be written on the agents and never collected; network outputs
  // (experimental-prometheus-rw, influxdb, cloud, …) are the user's to add.
  return /^(json|csv)(=|$)/.test(value);
}

/**
 * Refuses the k6 options loadfleet owns and those that would break the run (BROKEN), naming the option and
 * why; everything else is passed to every `k6 run` as
 * it is (e.g. `-- --tag team=a -e BASE=/api --out experimental-prometheus-rw`).
 */
export function checkK6Passthrough(args: readonly string[]): void {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--')) {
      const [name, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      const owned = OWNED.find((o) => (o.prefix ? name.startsWith(o.long) : name === o.long));
      if (owned) refuse(name, owned.why);
      const broken = BROKEN.find((o) => name === o.long);
      if (broken) refuseBroken(name, broken.why);
      if (name === '--out') {
        const v = inline ?? args[i + 1] ?? '';
        if (outputRefused(v)) refuse(`--out ${v}`, `loadfleet writes each instance's raw points itself (--out json=…/points.json.gz) and collects only those`);
      }
    } else if (/^-[A-Za-z]/.test(a)) {
      for (let k = 1; k < a.length; k++) {
        const c = a[k]!;
        const owned = OWNED.find((o) => o.short === c);
        if (owned) refuse(`-${c} (${owned.long})`, owned.why);
        const broken = BROKEN.find((o) => o.short === c);
        if (broken) refuseBroken(`-${c} (${broken.long})`, broken.why);
        if (c === 'o') {
          const v = a.slice(k + 1).replace(/^=/, '') || args[i + 1] || '';
          if (outputRefused(v)) refuse(`-o ${v}`, 'loadfleet writes each instance\'s raw points itself and collects only those');
        }
        if (!BOOL_SHORT.has(c)) break; // the rest of this word is that flag's value
      }
    }
  }
}

// ---- files on each agent ----

/**
 * What every instance's script can read in `__ENV` (k6 `-e`), as Artillery's generators get it in their
 * environment: where to send load (`--host`, default the first target) and which generator it is.
 * Given before the user's own options, so a `-e LOADFLEET_HOST=…` after `--` wins.
 */
export function k6LoadfleetEnv(hostUrl: string, generator: string, index: number, generators: number): string[] {
  return ['-e', `LOADFLEET_HOST=${hostUrl}`, '-e', `LOADFLEET_GENERATOR=${generator}`, '-e', `LOADFLEET_GENERATOR_INDEX=${index}`, '-e', `LOADFLEET_GENERATORS=${generators}`];
}

export interface K6AgentPaths {
  /** The run's folder, owned by the k6 user (k6 writes its points there). */
  readonly dir: string;
  readonly script: string;
  readonly log: string;
  /** k6's exit code, written when it ends. */
  readonly exit: string;
  /** The k6 user's folder inside the root-owned run folder: k6's points and exit code, the filtered points. */
  readonly out: string;
  /** The instance's process group leader (`timeout`), written by the start sh: stop() reads it when the start's answer was lost. */
  readonly pid: string;
  /** Written by stop() and an interrupted start: a release still sleeping then never sends its PATCH. */
  readonly cancel: string;
  /** k6's own --out json file (all points). */
  readonly points: string;
  /** The http_req_duration/http_req_failed points only, gzip: what is pulled. */
  readonly httpPoints: string;
}

/** scriptFile: the user's script name; its extension is kept (k6 reads .ts as TypeScript), anything else is .js. */
export function k6AgentPaths(runId: string, points: string, scriptFile = 'script.js'): K6AgentPaths {
  const dir = `${k6RunFacts.results.agent.dir}/${runId}`;
  const ext = /\.(m?js|cjs|m?ts|cts)$/i.exec(scriptFile)?.[0].toLowerCase() ?? '.js';
  return { dir, out: `${dir}/out`, script: `${dir}/script${ext}`, log: `${dir}/k6.log`, pid: `${dir}/k6.pid`, exit: `${dir}/out/k6.exit`, cancel: `${dir}/release.cancel`, points, httpPoints: `${dir}/out/points-http.json.gz` };
}

/**
 * sh that runs `sh` as the k6 user (setpriv: no forking su, signals reach it). Every file in a run's out/ folder,
 * which that user owns and could have turned into a link, is read and written through this, never by root
 * (issue 20.5: root's gzip once read a root-only file through a link, and root's write overwrote a root file).
 */
export function asK6User(sh: string): string {
  return `setpriv --reuid=${k6RunFacts.user} --regid=${k6RunFacts.user} --init-groups sh -c ${shQuote(sh)}`;
}

/** prepare() exits with this when k6 (or a tool the run needs on the agent) is missing. */
export const K6_MISSING_EXIT = 42;

/**
 * Creates the run folder (owned by the k6 user), writes the script (0644) and checks what the run needs:
 * k6 itself (installed by `loadfleet install`), setpriv (to drop to the k6 user without a forking su, so
 * signals reach k6), curl (the REST API calls), timeout. Exit 42 with the reason when something is missing.
 */
export function k6PrepareScript(paths: K6AgentPaths, scriptText: string): string {
  const user = k6RunFacts.user;
  const runs = k6RunFacts.results.agent.dir;
  const missing = (what: string) => shQuote(`${what}: run "loadfleet install -c <config>" first`);
  return [
    'set -eu',
    `[ -x ${k6RunFacts.bin} ] || { echo ${missing(`k6 is not installed on this host (${k6RunFacts.bin} missing)`)} >&2; exit ${K6_MISSING_EXIT}; }`,
    `id -u ${user} >/dev/null 2>&1 && [ -d ${runs} ] || { echo ${missing(`k6's user ${user} or ${runs} is missing`)} >&2; exit ${K6_MISSING_EXIT}; }`,
    `for t in setpriv curl timeout gzip base64 setsid; do command -v "$t" >/dev/null 2>&1 || { echo "$t is missing on this host (install util-linux, curl, coreutils, gzip)" >&2; exit ${K6_MISSING_EXIT}; }; done`,
    `mkdir -p ${shQuote(paths.dir)}`,
    `t=$(mktemp ${shQuote(paths.dir)}/.lf.XXXXXX)`,
    `base64 -d > "$t" <<'EOF'\n${Buffer.from(scriptText).toString('base64').replace(/(.{76})/g, '$1\n')}\nEOF`,
    `chmod 0644 "$t"; mv -f "$t" ${shQuote(paths.script)}`,
    // The run folder stays root's (0755); k6 writes only into out/ (issue 20.5).
    `chown root:root ${shQuote(paths.dir)}; chmod 0755 ${shQuote(paths.dir)}`,
    `mkdir -p ${shQuote(paths.out)}; chown ${user}: ${shQuote(paths.out)}; chmod 0755 ${shQuote(paths.out)}`,
    `rm -f ${shQuote(paths.exit)} ${shQuote(paths.pid)} ${shQuote(paths.cancel)} ${shQuote(paths.httpPoints)}`,
    'echo ready',
  ].join('\n');
}

/**
 * Starts one paused instance as the k6 user, detached from the SSH session (setsid nohup) and bounded by
 * `timeout` (TERM, then KILL 10 s later) so it ends even if loadfleet dies; prints "pid N" — the session's
 * (and process group's) leader, which stop() signals as a group. k6's exit code is written to paths.exit.
 * The pid is also written to paths.pid at once, so a stop() that never got this answer (the start of another
 * agent failed first, the SSH session dropped) still finds and ends the paused instance, which would otherwise
 * hold its REST API port (6565) until its timeout bound (the next run's k6 there would exit 106,
 * CannotStartRESTAPI in k6's errext/exitcodes, as --address is given).
 */
export function k6StartScript(paths: K6AgentPaths, inst: K6Instance, boundS: number): string {
  const argv = inst.argv.map(shQuote).join(' ');
  // k6's exit code is written by the k6 user itself, inside the dropped process: out/ is that user's folder.
  // k6 reads its outputs' settings (K6_PROMETHEUS_RW_*) from the environment: set by env, beside HOME.
  const env = Object.entries(inst.env ?? {}).map(([k, v]) => {
    if (!/^[A-Z][A-Z0-9_]*$/.test(k)) throw new Error(`k6 environment name ${JSON.stringify(k)} is not a plain variable name`);
    return `${k}=${shQuote(v)}`;
  });
  const inner = `setpriv --reuid=${k6RunFacts.user} --regid=${k6RunFacts.user} --init-groups env ${['HOME=' + shQuote(paths.out), ...env].join(' ')} sh -c ${shQuote(`${argv}; echo $? > ${shQuote(paths.exit)}`)}`;
  return [
    'set -eu',
    `cd ${shQuote(paths.dir)}`,
    `setsid nohup timeout -k 10 ${Math.ceil(boundS)} sh -c ${shQuote(inner)} > ${shQuote(paths.log)} 2>&1 < /dev/null &`,
    `echo $! > ${shQuote(paths.pid)}`,
    'echo "pid $!"',
  ].join('\n');
}

/**
 * One readiness poll: "alive" and GET /v1/status's body, or "exited CODE" and the tail of k6's log (a script
 * k6 cannot load ends here, with k6's own words).
 */
export function k6StatusScript(paths: K6AgentPaths, pid: number, apiAddress: string): string {
  return [
    `if kill -0 ${pid} 2>/dev/null; then echo alive; else echo "exited $(${asK6User(`cat ${shQuote(paths.exit)}`)} 2>/dev/null || echo '?')"; tail -n 15 ${shQuote(paths.log)} 2>/dev/null; exit 0; fi`,
    `curl -sS -m 3 ${shQuote(`http://${apiAddress}/v1/status`)} 2>&1 || true`,
  ].join('\n');
}

/**
 * The release: sleeps on the agent until epoch ms `atMs` (its own clock: NTP on EC2), then sends the PATCH —
 * so SSH latency never spreads the start. A cancel file written meanwhile (Ctrl-C, stop) prevents it.
 * Prints "released <epoch ms>" and k6's answer, or "cancelled".
 */
export function k6ReleaseScript(paths: K6AgentPaths, apiAddress: string, atMs: number): string {
  const r = k6ReleaseRequest(apiAddress);
  return [
    `at=${Math.round(atMs)}`,
    'now=$(( $(date +%s%N) / 1000000 ))',
    'd=$(( at - now ))',
    'if [ "$d" -gt 0 ]; then sleep "$(( d / 1000 )).$(printf %03d $(( d % 1000 )))"; fi',
    `if [ -e ${shQuote(paths.cancel)} ]; then echo cancelled; exit 0; fi`,
    'echo "released $(( $(date +%s%N) / 1000000 ))"',
    `curl -sS -m 5 -X ${r.method} -H 'Content-Type: application/json' --data-raw ${shQuote(r.body)} ${shQuote(r.url)} 2>&1 || true`,
  ].join('\n');
}

/** One live read: "alive"/"exited" and GET /v1/metrics's body (empty when the API is gone). */
export function k6TickScript(pid: number, apiAddress: string): string {
  return [
    `if kill -0 ${pid} 2>/dev/null; then echo alive; else echo exited; fi`,
    `curl -sS -m 3 ${shQuote(`http://${apiAddress}/v1/metrics`)} 2>/dev/null || true`,
  ].join('\n');
}

/** PATCH /v1/status {"stopped":true} (k6 docs, "Stop Test"). */
export const K6_STOP_BODY = JSON.stringify({ data: { type: 'status', id: 'default', attributes: { stopped: true } } });

/** Only cancels a release still sleeping toward its instant (an abort then): the PATCH is never sent. */
export function k6CancelScript(paths: K6AgentPaths): string {
  return `touch ${shQuote(paths.cancel)} 2>/dev/null || true\necho cancelled`;
}

/**
 * Stops an instance, idempotent: cancels a pending release, asks k6 to stop through its API (it then writes
 * the rest of its points and exits), waits `graceS`, then TERM to the whole process group (k6 stops
 * gracefully on the first signal), 5 s, KILL. Without a pid (the start's answer never came) it reads the pid
 * file the start sh wrote, and signals it only while that process is still the run's `timeout` (a pid reused
 * since is left alone); no pid file: k6 was never started there, and it only cancels.
 */
export function k6StopScript(paths: K6AgentPaths, pid: number | undefined, apiAddress: string, graceS: number): string {
  const wait = (tenths: number) => `i=0; while kill -0 "$pid" 2>/dev/null && [ "$i" -lt ${tenths} ]; do sleep 0.1; i=$((i + 1)); done`;
  const lines = [`touch ${shQuote(paths.cancel)} 2>/dev/null || true`];
  if (pid) lines.push(`pid=${pid}`);
  else {
    lines.push(
      `pid=$(cat ${shQuote(paths.pid)} 2>/dev/null || true)`,
      'case "$pid" in \'\'|*[!0-9]*) pid= ;; esac',
      'if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != timeout ]; then pid=; fi',
    );
  }
  lines.push(
    'if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then',
    `  curl -sS -m 3 -X PATCH -H 'Content-Type: application/json' --data-raw ${shQuote(K6_STOP_BODY)} ${shQuote(`http://${apiAddress}/v1/status`)} >/dev/null 2>&1 || true`,
    `  ${wait(Math.round(graceS * 10))}`,
    '  kill -TERM -"$pid" 2>/dev/null || true',
    `  ${wait(50)}`,
    '  kill -KILL -"$pid" 2>/dev/null || true',
    'fi',
    'echo stopped',
  );
  return lines.join('\n');
}

/** The filter sh's exit when there is no points file at all (expected when the run was never released). */
export const K6_NO_POINTS_EXIT = 43;

/**
 * Keeps only the request points (a few hundred bytes each, out of the ~10 points k6 writes per request),
 * gzip -1 (fast: the pipe is bound by CPU, and this file only crosses SSH once), and prints the size to pull.
 * A file cut short (k6 killed) still yields its complete lines. Exit 43 (K6_NO_POINTS_EXIT) with k6's log tail
 * when there is no points file at all. Reads the whole file: minutes on a run of many millions of requests, so
 * the driver gives this step its own long timeout (K6_TIMING.filterMs), not the 2-minute step default.
 */
export function k6FilterScript(paths: K6AgentPaths): string {
  return [
    `if [ ! -s ${shQuote(paths.points)} ]; then echo "no points file (${paths.points}): did k6 start? its log says:" >&2; tail -n 5 ${shQuote(paths.log)} >&2 2>/dev/null; exit ${K6_NO_POINTS_EXIT}; fi`,
    // As the k6 user: both files are in its out/ folder (a link there reaches only what that user may read/write).
    asK6User(`{ gzip -dc ${shQuote(paths.points)} 2>/dev/null || true; } | { grep -E ${shQuote(K6_POINT_FILTER)} || true; } | gzip -1 -c > ${shQuote(paths.httpPoints)} && wc -c < ${shQuote(paths.httpPoints)}`),
  ].join('\n');
}

/** Default size of one pulled chunk (bytes of the gzip file; ~1.4 × as base64 on stdout). */
export const K6_CHUNK_BYTES = 8 * 1024 * 1024;

/** Chunk `index` (of `chunkBytes` each) of the filtered file, base64 on one line. */
export function k6ChunkScript(paths: K6AgentPaths, index: number, chunkBytes = K6_CHUNK_BYTES): string {
  return `${asK6User(`dd if=${shQuote(paths.httpPoints)} bs=${chunkBytes} skip=${index} count=1 iflag=fullblock 2>/dev/null`)} | base64 -w 0`;
}

/** The end of k6's log (kept beside the raw points). */
export function k6LogScript(paths: K6AgentPaths): string {
  return `tail -n 200 ${shQuote(paths.log)} 2>/dev/null || true; echo; echo "exit code: $(${asK6User(`cat ${shQuote(paths.exit)}`)} 2>/dev/null || echo unknown)"`;
}
