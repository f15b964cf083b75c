/**
 * nGrinder 3.5.x through its controller's REST API: request bodies, the sh that calls the API on the
 * controller itself (curl to 127.0.0.1, credentials on curl's stdin), and parsers of its answers. Pure.
 *
 * What this follows (naver/ngrinder, 3.5 sources; read with the `search` tool, not run here):
 * - PerfTestApiController (`/perftest/api`, "@since 3.5.0"): `POST /perftest/api` creates a test from a
 *   PerfTest JSON (status READY = queue it to run now; validate() requires testName, scriptName,
 *   agentCount ≥ 1 and ≤ the user's available agents, duration ≤ maxRunHour, vuserPerAgent ==
 *   processes × threads); `GET /perftest/api/{id}` the PerfTest; `GET /perftest/api/{id}/status`
 *   {id, status, message}; `GET /perftest/api/{id}/sample` {perf: running sample, agent, monitor, status};
 *   `PUT /perftest/api/{id}?action=stop`; `DELETE /perftest/api/{id}`; `GET /perftest/api/{id}/logs`.
 * - ngrinder-core model/PerfTest.java (3.5: `scm`, `samplingInterval` default 2, `param`, `rampUp*`,
 *   `ignoreTooManyError`, …): the fields a body may carry (PERFTEST_FIELDS below).
 * - model/Status.java + StatusCategory.java at ngrinder-3.5.9-p1-20240613: NGRINDER_STATUS_TABLE below.
 * - script/controller/FileEntryApiController (`/script/api`, "@since 3.5.0"): `POST /script/api/{path}?action=upload`
 *   (multipart: `description`, `uploadFile`) stores `{path}/{original file name}`;
 *   `POST /script/api/new/{path}?type=folder` with the folder name as the request body (`addFolder(…,
 *   @RequestBody String folderName)`, ngrinder-3.5.9-p1-20240613); `GET /script/api/{path}?action=view`.
 * - agent/controller/AgentManagerApiController: `GET /agent/api/list` (AgentInfo: ip, hostName, state,
 *   approved, region) and `GET /agent/api/availableAgentCount?targetRegion=…` {availableAgentCount}
 *   (the ready, approved agents the user may use: what POST /perftest/api checks agentCount against).
 * - net/grinder/SingleConsole.updateStatistics(): the running sample {test_time, totalStatistics
 *   {Tests, Errors, TPS, Peak_TPS, Mean_Test_Time_(ms), …}, cumulativeStatistics[], lastSampleStatistics[],
 *   process, thread, success}; writeIntervalCsvData(): the report CSV (DateTime, then every statistic of the
 *   interval, then per test "Description" and "<statistic>-<i>"), one line per sampling interval.
 *   The Grinder counts a failed test in Errors, not Tests: requests = Tests + Errors (as nGrinder's own
 *   getCurrentExecutionCount does), and Mean Test Time is over the successful tests only.
 *
 * NOT proven against a running controller: nGrinder cannot be installed here (no published war checksum,
 * EC2 only). The shapes are those of the sources above; the unit tests use fixtures in those shapes.
 */
import { UsageError } from '../core/errors';
import { shQuote } from '../core/safe-text';
import type { NGrinderLoad } from './load';
import type { EndpointStats, MergedStats, TimelinePoint } from './merge';
import type { Threshold } from './thresholds';

// ---- statuses ----
// The table of naver/ngrinder ngrinder-3.5.9-p1-20240613, as it is there:
// ngrinder-core/src/main/java/org/ngrinder/model/Status.java (enum order and category of each status) and
// model/StatusCategory.java (stoppable, deletable per category). 3.5 added CHECKOUT_SCRIPT (GitHubFileEntryService),
// PREPARE_DISTRIBUTION (PerfTestService.prepareDistribution, on every test), FINISHED_WITH_WARNING (category WARNED:
// PerfTestRunnable.doNormalFinish with > 30 % errors or no TPS) and gave ABNORMAL_TESTING its own category, which
// is NOT stoppable (the controller ends such a test itself).

export const NGRINDER_STATUS_TABLE = {
  SAVED: 'PREPARE',
  READY: 'PREPARE',
  CHECKOUT_SCRIPT: 'PROGRESSING',
  PREPARE_DISTRIBUTION: 'PROGRESSING',
  START_CONSOLE: 'PROGRESSING',
  START_CONSOLE_FINISHED: 'PROGRESSING',
  START_AGENTS: 'PROGRESSING',
  START_AGENTS_FINISHED: 'PROGRESSING',
  DISTRIBUTE_FILES: 'PROGRESSING',
  DISTRIBUTE_FILES_FINISHED: 'PROGRESSING',
  START_TESTING: 'TESTING',
  TESTING: 'TESTING',
  TESTING_FINISHED: 'TESTING',
  ABNORMAL_TESTING: 'ABNORMAL_TESTING',
  FINISHED: 'FINISHED',
  FINISHED_WITH_WARNING: 'WARNED',
  STOP_BY_ERROR: 'ERROR',
  STOP_ON_ERROR: 'ERROR',
  CANCELED: 'STOP',
  UNKNOWN: 'STOP',
} as const;
export type NGrinderStatus = keyof typeof NGRINDER_STATUS_TABLE;
export type StatusCategory = (typeof NGRINDER_STATUS_TABLE)[NGrinderStatus];
export const NGRINDER_STATUSES = Object.keys(NGRINDER_STATUS_TABLE) as readonly NGrinderStatus[];

/** StatusCategory.java: (icon, stoppable, deletable, reportable) per category. */
const CATEGORY: Readonly<Record<StatusCategory, { readonly stoppable: boolean; readonly ended: boolean }>> = {
  PREPARE: { stoppable: false, ended: false },
  PROGRESSING: { stoppable: true, ended: false },
  TESTING: { stoppable: true, ended: false },
  ABNORMAL_TESTING: { stoppable: false, ended: false },
  FINISHED: { stoppable: false, ended: true },
  WARNED: { stoppable: false, ended: true },
  ERROR: { stoppable: false, ended: true },
  STOP: { stoppable: false, ended: true },
};

export function statusCategory(s: NGrinderStatus): StatusCategory {
  return NGRINDER_STATUS_TABLE[s];
}

/** The test ended (normally, with a warning, by error or by a stop): the reportable categories of StatusCategory.java. */
export const isEnded = (s: NGrinderStatus) => CATEGORY[statusCategory(s)].ended;
/** PUT ?action=stop only acts on these (StatusCategory.stoppable); a queued test is deleted instead, an abnormal one is ended by the controller. */
export const isStoppable = (s: NGrinderStatus) => CATEGORY[statusCategory(s)].stoppable;
/** The workers run (TESTING after START_TESTING; ABNORMAL_TESTING is a running test the controller is about to end). */
export const isRunning = (s: NGrinderStatus) => (statusCategory(s) === 'TESTING' && s !== 'START_TESTING') || s === 'ABNORMAL_TESTING';

/** A status as Jackson writes the enum (its name), or an object carrying it as `name`. */
export function parseStatus(raw: unknown): NGrinderStatus {
  const name = typeof raw === 'string' ? raw : typeof raw === 'object' && raw !== null ? (raw as { name?: unknown }).name : undefined;
  if (typeof name === 'string' && (NGRINDER_STATUSES as readonly string[]).includes(name)) return name as NGrinderStatus;
  throw new Error(`unknown nGrinder test status ${JSON.stringify(raw)}`);
}

// ---- the script ----

/**
 * nGrinder runs a Groovy script (`.groovy`, a JUnit-style class run by GrinderRunner with @Test methods)
 * or a Jython one (`.py`, a TestRunner class). Its script handler is chosen by the file's extension, so
 * the extension is checked too.
 */
export function checkNGrinderScript(file: string, text: string): 'groovy' | 'jython' {
  const lower = file.toLowerCase();
  if (lower.endsWith('.groovy')) {
    if (!/@RunWith\s*\(\s*GrinderRunner(\.class)?\s*\)/.test(text)) throw new UsageError(`--script (${file}) is not an nGrinder Groovy script: it has no @RunWith(GrinderRunner) class (nGrinder runs a class annotated @RunWith(GrinderRunner) with @Test methods)`);
    if (!/@Test\b/.test(text)) throw new UsageError(`--script (${file}) has no @Test method: nGrinder runs the @Test methods of the @RunWith(GrinderRunner) class`);
    return 'groovy';
  }
  if (lower.endsWith('.py')) {
    if (!/^\s*class\s+TestRunner\b/m.test(text)) throw new UsageError(`--script (${file}) is not an nGrinder Jython script: it defines no "class TestRunner" (The Grinder calls TestRunner().__call__ once per run)`);
    return 'jython';
  }
  throw new UsageError(`--script (${file}) must be an nGrinder script: a Groovy file (.groovy, @RunWith(GrinderRunner)) or a Jython file (.py, class TestRunner); nGrinder picks the script type from the extension`);
}

/** Where loadfleet keeps its scripts in the admin's script storage (nGrinder's SVN). */
export const SCRIPT_FOLDER = 'loadfleet';

/**
 * The call that creates loadfleet's script folder: FileEntryApiController.addFolder
 * (`@PostMapping(value = "/new/**", params = "type=folder")`, `@RequestBody String folderName`, trimmed),
 * naver/ngrinder ngrinder-3.5.9-p1-20240613, ngrinder-controller/src/main/java/org/ngrinder/script/controller/FileEntryApiController.java.
 */
export function createFolderCall(name = SCRIPT_FOLDER): ApiCall {
  return { method: 'POST', path: '/script/api/new/?type=folder', text: name };
}

export function scriptFileName(runId: string, kind: 'groovy' | 'jython'): string {
  return `loadfleet-${runId.replace(/[^A-Za-z0-9_-]/g, '-')}.${kind === 'groovy' ? 'groovy' : 'py'}`;
}

// ---- percentiles: nGrinder has none ----

/**
 * The Grinder keeps sums per test (count, total and sum of squares of test time → mean and standard
 * deviation), never the distribution, and nGrinder's worker logback (logback/logback-worker.xml) turns the
 * per-request "data" log off (level ERROR, no appender): there is no per-sample data to merge. So an
 * nGrinder run reports counts, failures, RPS and mean only; these are null in summary.json.
 */
export const NGRINDER_UNMEASURED = ['p50', 'p90', 'p95', 'p99', 'min', 'max'] as const;

/** A threshold on a figure nGrinder does not measure would always break: refused before the run. */
export function refuseUnmeasuredThresholds(thresholds: readonly Threshold[]): void {
  const bad = thresholds.filter((t) => (NGRINDER_UNMEASURED as readonly string[]).includes(t.metric) || t.percentile !== undefined);
  if (bad.length === 0) return;
  throw new UsageError(`--threshold ${bad.map((t) => `'${t.expr}'`).join(', ')}: nGrinder does not measure ${[...new Set(bad.map((t) => t.metric))].join(', ')} (The Grinder keeps only the count, mean and standard deviation of test times, no distribution); use mean, errors, rps or requests thresholds with nGrinder`);
}

export const NGRINDER_MERGE =
  "nGrinder controller: it sums every agent's statistics itself (The Grinder's console). Requests = Tests + Errors, mean = The Grinder's Mean Test Time (successful tests only; per endpoint weighted over the report CSV's intervals). No percentiles, no min/max: The Grinder keeps only count, mean and standard deviation of test times, and nGrinder's workers do not log per-request data, so p50/p90/p95/p99/min/max are null (not measured)";

// ---- passthrough: key=value merged into the PerfTest JSON ----

type FieldKind = 'int' | 'posint' | 'bool' | 'string' | 'rampUpType';

/** PerfTest fields a user may set after `--` (ngrinder-core model/PerfTest.java, 3.5). */
export const PERFTEST_FIELDS: Readonly<Record<string, FieldKind>> = {
  processes: 'posint',
  samplingInterval: 'posint',
  ignoreSampleCount: 'int',
  param: 'string',
  testName: 'string',
  description: 'string',
  tagString: 'string',
  region: 'string',
  targetHosts: 'string',
  safeDistribution: 'bool',
  ignoreTooManyError: 'bool',
  useRampUp: 'bool',
  rampUpType: 'rampUpType',
  rampUpInitCount: 'int',
  rampUpInitSleepTime: 'int',
  rampUpStep: 'posint',
  rampUpIncrementInterval: 'posint',
};

/** Fields loadfleet sets itself (from --users/--duration/--script and the fleet) or nGrinder fills in. */
const OWNED: Readonly<Record<string, string>> = {
  agentCount: 'every agent of the env runs the test',
  vuserPerAgent: 'it is --users split over the agents',
  threads: 'it is vuserPerAgent / processes (set processes=N instead)',
  duration: 'use --duration',
  threshold: 'loadfleet runs by duration (--duration)',
  runCount: 'loadfleet runs by duration (--duration)',
  scriptName: 'use --script',
  scriptRevision: 'loadfleet uploads the script and runs its latest revision',
  scm: 'loadfleet uploads the script to the controller (svn)',
  status: 'loadfleet starts the test',
  scheduledTime: 'loadfleet starts the test now, on every agent together',
  id: 'nGrinder assigns it',
};

/** Fields a user may set that replace what loadfleet derived (listed in the README). */
export const OVERRIDES = ['targetHosts', 'param', 'testName', 'useRampUp', 'rampUpType', 'rampUpInitCount', 'rampUpInitSleepTime', 'rampUpStep', 'rampUpIncrementInterval'] as const;

export type PerfTestOverrides = Readonly<Record<string, string | number | boolean>>;

/** `key=value` words after `--` → typed PerfTest fields; UsageError naming the word otherwise. */
export function parsePassthrough(args: readonly string[]): PerfTestOverrides {
  const out: Record<string, string | number | boolean> = {};
  const accepted = Object.keys(PERFTEST_FIELDS).join(', ');
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new UsageError(`nGrinder option (${arg}) must be key=value, a field of nGrinder's test (${accepted})`);
    const key = arg.slice(0, eq);
    const value = arg.slice(eq + 1);
    if (OWNED[key]) throw new UsageError(`nGrinder option ${key} (${arg}) is set by loadfleet: ${OWNED[key]}`);
    const kind = PERFTEST_FIELDS[key];
    if (!kind) throw new UsageError(`nGrinder option ${key} (${arg}) is not a field loadfleet passes to nGrinder's test; accepted: ${accepted}`);
    if (key in out) throw new UsageError(`nGrinder option ${key} is given twice`);
    if (/[\u0000-\u001f\u007f]/.test(value)) throw new UsageError(`nGrinder option ${key} contains a control character`);
    if (kind === 'int' || kind === 'posint') {
      if (!/^\d{1,9}$/.test(value) || (kind === 'posint' && Number(value) < 1)) throw new UsageError(`nGrinder option ${key} (${value}) must be a whole number${kind === 'posint' ? ' ≥ 1' : ' ≥ 0'}`);
      out[key] = Number(value);
    } else if (kind === 'bool') {
      if (value !== 'true' && value !== 'false') throw new UsageError(`nGrinder option ${key} (${value}) must be true or false`);
      out[key] = value === 'true';
    } else if (kind === 'rampUpType') {
      if (value !== 'PROCESS' && value !== 'THREAD') throw new UsageError(`nGrinder option rampUpType (${value}) must be PROCESS or THREAD`);
      out[key] = value;
    } else {
      out[key] = value;
    }
  }
  return out;
}

// ---- the PerfTest body ----

/** "http://10.0.0.5:8080/x" → "10.0.0.5" (targetHosts takes host names or IPs, comma separated). */
export function targetHostOf(hostUrl: string): string {
  return new URL(hostUrl).hostname.replace(/^\[|\]$/g, '');
}

/**
 * The body of POST /perftest/api. `processes` (passthrough) splits each agent's users into processes ×
 * threads; vuserPerAgent is rounded up to a multiple of processes (nGrinder requires the product).
 * `param` defaults to the target URL: a script reads it with System.getProperty("param").
 */
export function perfTestBody(o: { runId: string; scriptName: string; load: NGrinderLoad; hostUrl: string; overrides?: PerfTestOverrides }): Record<string, unknown> {
  const ov = { ...(o.overrides ?? {}) };
  const processes = typeof ov.processes === 'number' ? ov.processes : o.load.processes;
  const threads = Math.max(1, Math.ceil(o.load.vuserPerAgent / processes));
  delete ov.processes;
  return {
    testName: `loadfleet ${o.runId}`,
    description: 'started by loadfleet run',
    tagString: 'loadfleet',
    status: 'READY',
    // No scriptRevision: PerfTestService.save attaches the script's latest revision to a READY test.
    scriptName: o.scriptName,
    targetHosts: targetHostOf(o.hostUrl),
    param: o.hostUrl,
    agentCount: o.load.agentCount,
    processes,
    threads,
    vuserPerAgent: processes * threads,
    threshold: o.load.threshold,
    duration: o.load.duration,
    samplingInterval: 1,
    ignoreSampleCount: 0,
    useRampUp: o.load.useRampUp,
    rampUpType: o.load.rampUpType,
    rampUpInitCount: o.load.rampUpInitCount,
    rampUpInitSleepTime: 0,
    rampUpStep: o.load.rampUpStep,
    rampUpIncrementInterval: o.load.rampUpIncrementInterval,
    safeDistribution: false,
    ...ov,
  };
}

// ---- calling the API on the controller ----

const PASSWORD_RE = /^[A-Za-z0-9]{20,64}$/;

export interface ApiCall {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path and query, e.g. "/perftest/api/12?action=stop". */
  readonly path: string;
  readonly json?: unknown;
  /** A plain-text request body (Spring's StringHttpMessageConverter reads it into a @RequestBody String). */
  readonly text?: string;
  /** A multipart upload of `content` as `uploadFile` named `fileName` (FileEntryApiController). */
  readonly upload?: { readonly fileName: string; readonly content: string; readonly description: string };
}

/**
 * sh (run as root on the controller) that makes one API call to 127.0.0.1 with HTTP Basic as admin and
 * prints the response body, then a last line with the HTTP status (000 when nothing answered). The
 * password reaches curl as a config file on its stdin (`-K -`, written by the shell's printf builtin),
 * never on a command line: the same way as ngrinderAdminPasswordScript. The script itself travels on
 * ssh's stdin, so the password is in no argv on either side.
 */
export function apiCallScript(password: string, baseUrl: string, call: ApiCall, maxTimeS = 60): string {
  if (!PASSWORD_RE.test(password)) throw new UsageError('the stored nGrinder admin password must be 20-64 letters and digits (the one loadfleet install generated)');
  if (!/^\/[A-Za-z0-9/_.,=?&%-]*$/.test(call.path)) throw new Error(`unexpected nGrinder API path ${call.path}`);
  const lines = [
    'set -eu',
    `pw=${shQuote(password)}`,
    't=$(mktemp -d)',
    "trap 'rm -rf \"$t\"' EXIT",
  ];
  const args = [`-sS --max-time ${maxTimeS} -K - -o "$t/out" -w '%{http_code}' -X ${call.method}`];
  if (call.json !== undefined) {
    lines.push(`printf %s ${shQuote(Buffer.from(JSON.stringify(call.json)).toString('base64'))} | base64 -d > "$t/body"`);
    args.push(`-H 'Content-Type: application/json' --data-binary @"$t/body"`);
  }
  if (call.text !== undefined) {
    lines.push(`printf %s ${shQuote(Buffer.from(call.text).toString('base64'))} | base64 -d > "$t/body"`);
    args.push(`-H 'Content-Type: text/plain; charset=UTF-8' --data-binary @"$t/body"`);
  }
  if (call.upload) {
    if (!/^[A-Za-z0-9._-]+$/.test(call.upload.fileName)) throw new Error(`unexpected script file name ${call.upload.fileName}`);
    lines.push(`printf %s ${shQuote(Buffer.from(call.upload.content).toString('base64'))} | base64 -d > "$t/script"`);
    args.push(`-F ${shQuote(`description=${call.upload.description}`)} -F "uploadFile=@$t/script;filename=${call.upload.fileName}"`);
  }
  lines.push(
    `code=$(printf 'user = "admin:%s"\\n' "$pw" | curl ${args.join(' ')} ${shQuote(baseUrl + call.path)}) || code=000`,
    '[ -f "$t/out" ] && cat "$t/out"',
    "printf '\\n%s\\n' \"$code\"",
    '',
  );
  return lines.join('\n');
}

export interface ApiAnswer {
  readonly code: number;
  readonly body: string;
}

/** apiCallScript's output → status and body. */
export function parseApiOutput(stdout: string): ApiAnswer {
  const trimmed = stdout.replace(/\n$/, '');
  const i = trimmed.lastIndexOf('\n');
  const code = Number(trimmed.slice(i + 1).trim());
  return { code: Number.isFinite(code) ? code : 0, body: i < 0 ? '' : trimmed.slice(0, i) };
}

/** The JSON of a 2xx answer; throws with nGrinder's own words otherwise. */
export function apiJson<T = unknown>(what: string, a: ApiAnswer): T {
  if (a.code < 200 || a.code > 299) {
    const why = a.code === 0 ? 'the controller did not answer on 127.0.0.1 (is ngrinder-controller running? loadfleet doctor)' : a.code === 401 ? 'the controller refused the stored admin password (401)' : `HTTP ${a.code}: ${errorMessage(a.body)}`;
    throw new Error(`${what}: ${why}`);
  }
  try {
    return JSON.parse(a.body) as T;
  } catch {
    throw new Error(`${what}: the controller answered HTTP ${a.code} with something that is not JSON: ${a.body.slice(0, 300)}`);
  }
}

/** nGrinder's error body is JSON {success:false, message} (or Spring's {message, error}); else the text. */
function errorMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { message?: unknown; error?: unknown };
    if (typeof j.message === 'string' && j.message) return j.message;
    if (typeof j.error === 'string') return j.error;
  } catch {
    /* not JSON */
  }
  return body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 400) || '(no message)';
}

// ---- agents ----

export interface AgentView {
  readonly ip: string;
  readonly name: string;
  readonly state: string;
  readonly approved: boolean;
}

/** GET /agent/api/list → the agents the controller knows (AgentInfo: ip, hostName, state, approved). */
export function parseAgents(json: unknown): AgentView[] {
  if (!Array.isArray(json)) throw new Error(`the agent list is not a list: ${JSON.stringify(json).slice(0, 200)}`);
  return json.map((a: Record<string, unknown>) => ({
    ip: String(a.ip ?? ''),
    name: String(a.hostName ?? a.name ?? ''),
    state: typeof a.state === 'string' ? a.state : String((a.state as { name?: unknown } | undefined)?.name ?? ''),
    approved: a.approved === true,
  }));
}

/** GET /agent/api/availableAgentCount → the count. */
export function parseAvailableAgents(json: unknown): number {
  const n = (json as { availableAgentCount?: unknown })?.availableAgentCount;
  if (typeof n !== 'number') throw new Error(`unexpected availableAgentCount answer ${JSON.stringify(json).slice(0, 200)}`);
  return n;
}

// ---- the running sample (tick) ----

export interface NGrinderSample {
  readonly status: NGrinderStatus;
  /** Tests + Errors so far (null before the first sample). */
  readonly requests: number;
  readonly failures: number;
  readonly tps: number;
  readonly meanMs: number | null;
  readonly threads: number;
  readonly processes: number;
}

const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : typeof x === 'string' && x.trim() !== '' && Number.isFinite(Number(x)) ? Number(x) : 0);

/** GET /perftest/api/{id}/sample → the figures a tick shows. */
export function parseSample(json: unknown): NGrinderSample {
  const j = json as { status?: unknown; perf?: Record<string, unknown> };
  const perf = j.perf ?? {};
  const total = (perf.totalStatistics ?? {}) as Record<string, unknown>;
  const tests = num(total.Tests);
  const errors = num(total.Errors);
  return {
    status: parseStatus(j.status),
    requests: tests + errors,
    failures: errors,
    tps: num(total.TPS),
    meanMs: tests > 0 ? num(total['Mean_Test_Time_(ms)']) : null,
    threads: num(perf.thread),
    processes: num(perf.process),
  };
}

// ---- results ----

export interface ReportInterval {
  readonly tests: number;
  readonly errors: number;
  readonly meanMs: number;
  readonly perTest: readonly { readonly name: string; readonly tests: number; readonly errors: number; readonly meanMs: number }[];
}

/**
 * The report CSV (SingleConsole.writeIntervalCsvData): header `DateTime,vuser,Tests,Errors,Mean_Test_Time_(ms),…`
 * then, only when the script has more than one Test, per test `Description,Tests-<i>,Errors-<i>,…` with i from 1;
 * one row per interval. With a single Test there are no per-test columns: its figures are the totals. A row
 * whose field count differs from the header (a test description with a comma: nGrinder does not quote)
 * keeps its totals, which come before any description, and drops its per-test part.
 */
export function parseReportCsv(text: string): { intervals: ReportInterval[]; skippedPerTestRows: number } {
  const rows = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (rows.length === 0) return { intervals: [], skippedPerTestRows: 0 };
  const header = rows[0]!.split(',');
  const col = (name: string) => header.indexOf(name);
  const [cTests, cErrors, cMean] = [col('Tests'), col('Errors'), col('Mean_Test_Time_(ms)')];
  if (cTests < 0 || cErrors < 0) throw new Error(`the nGrinder report CSV has no Tests/Errors columns (header: ${rows[0]!.slice(0, 200)})`);
  const tests: { desc: number; tests: number; errors: number; mean: number }[] = [];
  // Per-test columns are numbered from 1 (`<statistic>-1` …) and written only when the test has more than one
  // Test: SingleConsole.writeIntervalCsvData, `if (intervalStatisticMapPerTest.size() != 1)`, `for (int i = 1; …)`
  // (naver/ngrinder ngrinder-3.5.9-p1-20240613, ngrinder-core/src/main/java/net/grinder/SingleConsole.java).
  for (let i = 1; col(`Tests-${i}`) >= 0; i++) {
    const t = col(`Tests-${i}`);
    // The description is the "Description" column right before this test's statistics.
    let desc = t - 1;
    while (desc > 0 && header[desc] !== 'Description') desc--;
    tests.push({ desc, tests: t, errors: col(`Errors-${i}`), mean: col(`Mean_Test_Time_(ms)-${i}`) });
  }
  let skipped = 0;
  const intervals = rows.slice(1).map((line) => {
    const f = line.split(',');
    const aligned = f.length === header.length;
    if (!aligned && tests.length > 0) skipped++;
    return {
      tests: num(f[cTests]),
      errors: num(f[cErrors]),
      meanMs: cMean >= 0 ? num(f[cMean]) : 0,
      perTest: aligned ? tests.map((t, i) => ({ name: f[t.desc] || `Test ${i + 1}`, tests: num(f[t.tests]), errors: t.errors >= 0 ? num(f[t.errors]) : 0, meanMs: t.mean >= 0 ? num(f[t.mean]) : 0 })) : [],
    };
  });
  return { intervals, skippedPerTestRows: skipped };
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

function endpoint(name: string, requests: number, failures: number, meanMs: number | null, seconds: number): EndpointStats {
  return { name, requests, failures, rps: seconds > 0 ? r3(requests / seconds) : 0, min: null, mean: meanMs === null ? null : r3(meanMs), p50: null, p90: null, p95: null, p99: null, max: null };
}

/** Mean over intervals weighted by their successful tests (= the mean over all of them, to the CSV's rounding). */
function weightedMean(parts: readonly { tests: number; meanMs: number }[]): number | null {
  const n = parts.reduce((a, p) => a + p.tests, 0);
  return n > 0 ? parts.reduce((a, p) => a + p.tests * p.meanMs, 0) / n : null;
}

/**
 * The merged statistics of a finished test: the total from the PerfTest (nGrinder's own cumulative
 * figures; the CSV's sums when the PerfTest has none), endpoints and the timeline from the report CSV.
 * RPS is over the time nGrinder sampled (CSV rows × sampling interval), else over `fallbackSeconds`.
 */
export function ngrinderStats(perfTest: unknown, csvText: string | undefined, fallbackSeconds: number, samplingIntervalS = 1): MergedStats & { sampledSeconds: number | null } {
  const pt = (perfTest ?? {}) as Record<string, unknown>;
  const { intervals } = csvText ? parseReportCsv(csvText) : { intervals: [] as ReportInterval[] };
  const interval = num(pt.samplingInterval) || samplingIntervalS;
  const sampledSeconds = intervals.length > 0 ? intervals.length * interval : null;
  const seconds = sampledSeconds ?? fallbackSeconds;
  const csvTests = intervals.reduce((a, x) => a + x.tests, 0);
  const csvErrors = intervals.reduce((a, x) => a + x.errors, 0);
  const hasPt = typeof pt.tests === 'number' || typeof pt.errors === 'number';
  const tests = hasPt ? num(pt.tests) : csvTests;
  const errors = hasPt ? num(pt.errors) : csvErrors;
  const mean = hasPt && typeof pt.meanTestTime === 'number' ? (tests > 0 ? pt.meanTestTime : null) : weightedMean(intervals);
  const byName = new Map<string, { tests: number; errors: number; parts: { tests: number; meanMs: number }[] }>();
  for (const x of intervals) {
    for (const t of x.perTest) {
      const e = byName.get(t.name) ?? { tests: 0, errors: 0, parts: [] };
      e.tests += t.tests;
      e.errors += t.errors;
      e.parts.push({ tests: t.tests, meanMs: t.meanMs });
      byName.set(t.name, e);
    }
  }
  const timeline: TimelinePoint[] = intervals.map((x, i) => ({
    t: (i + 1) * interval,
    rps: r3((x.tests + x.errors) / interval),
    errorsPerS: r3(x.errors / interval),
    p50: null,
    p95: null,
    mean: x.tests > 0 ? r3(x.meanMs) : null,
  }));
  return {
    total: endpoint('Total', tests + errors, errors, mean, seconds),
    endpoints: [...byName].sort(([a], [b]) => a.localeCompare(b)).map(([name, e]) => endpoint(name, e.tests + e.errors, e.errors, weightedMean(e.parts), seconds)),
    timeline,
    errors: {},
    sampledSeconds,
  };
}

// ---- results on the controller's disk ----
// nGrinder also serves them over HTTP (`/perftest/{id}/download_csv`, `/perftest/{id}/download_log/**` in the
// web PerfTestController; `GET /perftest/api/{id}/logs` lists the log names), but the files are on the host
// the driver is already on, and reading them needs no assumption about the 3.5 web controller's routes.

/**
 * sh (root, on the controller) that finds the test's folder under NGRINDER_HOME/perftest (nGrinder
 * keeps `<id>/report` with the CSV and `<id>/logs` with the agents' logs; the parent folder layout has
 * changed between versions, hence find) and prints it; exit 3 when there is none.
 */
export function testDirScript(ngrinderHome: string, id: number): string {
  if (!Number.isInteger(id) || id < 1) throw new Error(`bad nGrinder test id ${id}`);
  return [
    'set -eu',
    `d=$(find ${shQuote(`${ngrinderHome}/perftest`)} -maxdepth 3 -type d -name ${id} 2>/dev/null | head -n 1)`,
    `[ -n "$d" ] || { echo "no folder for test ${id} under ${ngrinderHome}/perftest" >&2; exit 3; }`,
    'echo "$d"',
    '',
  ].join('\n');
}

/** sh that prints the report CSV of the test folder `dir` (output.csv, else the first CSV there). */
export function reportCsvScript(dir: string): string {
  return [
    'set -eu',
    `r=${shQuote(`${dir}/report`)}`,
    'if [ -f "$r/output.csv" ]; then cat "$r/output.csv"; else for f in "$r"/*.csv; do [ -f "$f" ] && { cat "$f"; break; }; done; fi',
    '',
  ].join('\n');
}

/** sh that prints base64 of a gzipped tar of the test's logs and report (at most `maxBytes` of tar). */
export function logsTarScript(dir: string, maxBytes = 50 * 1024 * 1024): string {
  return [
    'set -eu',
    `cd ${shQuote(dir)}`,
    'parts=""',
    'for p in logs report; do [ -e "$p" ] && parts="$parts $p"; done',
    '[ -n "$parts" ] || exit 0',
    '# shellcheck disable=SC2086 # parts is a list of fixed folder names',
    `tar -czf - $parts | head -c ${maxBytes} | base64`,
    '',
  ].join('\n');
}
