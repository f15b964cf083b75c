/**
 * `doctor`'s pure half: the read-only script each host runs, how its output is read, and the checks
 * (per host and across hosts) that decide ok or FAIL with a reason.
 */
import { ExternalError, UsageError } from './errors';
import { table } from './summary';
import { parseStatus, statusOwnerScript, shQuote, type ServiceStatus } from './supervise';
import type { HostKind } from './tuning';
import type { HostCheck } from '../engines/types';
import type { FleetOutputs, Host } from './env-record';
import type { FleetConfig } from '../../stacks/config';
import { engineOf, type EngineName } from '../../stacks/engines';

/** Free space below this on / fails the disk check (results, logs). */
export const MIN_FREE_MB = 1024;
/** Clocks further apart than this from the controller fail (merged results need them aligned). */
export const MAX_CLOCK_SKEW_S = 1;
/** TCP connect timeout per probe, seconds. */
export const CONNECT_TIMEOUT_S = 3;

export interface Endpoint {
  readonly label: string;
  readonly address: string;
  readonly port: number;
}

export interface ProbeInput {
  readonly hostKind: HostKind;
  readonly owner: string;
  /** sh printing the installed version (the engine's versionScript), or null when the host gets no engine. */
  readonly versionScript: string | null;
  /** TCP endpoints this host must reach (master for agents, every target port). */
  readonly reach: readonly Endpoint[];
  readonly extraChecks?: readonly HostCheck[];
}

const b64 = (s: string) => shQuote(Buffer.from(s).toString('base64'));

/** One read-only script per host: facts first, then one "check" line per probe. Never changes anything. */
export function probeScript(p: ProbeInput): string {
  const lines = [
    'set -u',
    // No clock here: this script runs for seconds (TCP timeouts), which would count as clock skew.
    // The clock is read by CLOCK_COMMAND in an exec of its own (clockFrom).
    'echo "hostname $(hostname)"',
    'echo "cores $(nproc)"',
    `echo "disk $(df -Pk / | awk 'NR==2 {print $4}')"`,
  ];
  if (p.versionScript !== null) lines.push(`echo "version $(printf %s ${b64(p.versionScript)} | base64 -d | sh 2>/dev/null | tail -n1)"`);
  lines.push(statusOwnerScript(p.owner, p.hostKind));
  for (const e of p.reach) {
    // bash's /dev/tcp: on every image, no extra tool; timeout bounds a filtered port.
    lines.push(
      `if timeout ${CONNECT_TIMEOUT_S} bash -c ${shQuote(`exec 3<>/dev/tcp/${e.address}/${e.port}`)} 2>/dev/null; then echo ${shQuote(`check ${e.label}|ok|${e.address}:${e.port} accepts connections`)}; ` +
        `else echo ${shQuote(`check ${e.label}|FAIL|cannot connect to ${e.address}:${e.port} from this host within ${CONNECT_TIMEOUT_S} s (nothing listening, or a firewall/security group in between)`)}; fi`,
    );
  }
  for (const c of p.extraChecks ?? []) {
    lines.push(`out=$(printf %s ${b64(c.script)} | base64 -d | sh 2>&1 | tail -n1); echo "check ${c.name}|\${out%% *}|\${out#* }"`);
  }
  return `${lines.join('\n')}\n`;
}

export interface Probed {
  readonly hostname: string;
  readonly cores: number;
  readonly freeKb?: number;
  readonly version?: string;
  readonly services: Map<string, ServiceStatus>;
  readonly checks: { name: string; ok: boolean; detail: string }[];
}

export function parseProbeOutput(stdout: string): Probed {
  const facts = new Map<string, string>();
  const checks: Probed['checks'] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(hostname|cores|disk|version) ?(.*)$/.exec(line);
    if (m) facts.set(m[1]!, m[2]!.trim());
    const c = /^check ([^|]+)\|([^|]*)\|(.*)$/.exec(line);
    if (c) checks.push({ name: c[1]!, ok: c[2] === 'ok', detail: c[2] === 'ok' || c[2] === 'FAIL' ? c[3]! : `unexpected output: ${c[2]} ${c[3]}`.trim() });
  }
  const num = (k: string) => (facts.get(k) && Number.isFinite(Number(facts.get(k))) ? Number(facts.get(k)) : undefined);
  return { hostname: facts.get('hostname') ?? '', cores: num('cores') ?? 1, freeKb: num('disk'), version: facts.get('version') || undefined, services: parseStatus(stdout), checks };
}

export interface Row {
  readonly host: string;
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
  /** A failure whose fix is `loadfleet install` (engine or service missing, another version installed): order of commands, not a host fault. */
  readonly notInstalled?: true;
  /**
   * A check of the engine's own services (the master sees its workers, the master's port is reachable): it cannot
   * pass while the engine is not installed, so beside a not-installed row it follows that row's kind.
   */
  readonly engineCheck?: true;
}

/** The probe's check that an agent reaches the engine's master port (an engine check: see Row.engineCheck). */
export const REACH_MASTER = 'reach master';

/**
 * What an agent must reach (TCP connects from the agent): the master's port and each target port. JMeter's master
 * port is the client's callback port, open only while a run's `jmeter -n -R …` runs on the controller: probing it
 * before a run failed every JMeter doctor, and so every JMeter run; that path is checked the other way round
 * ("controller reaches every jmeter-server") and its security-group rule in the stack tests.
 */
export function reachEndpoints(config: Pick<FleetConfig, 'engine' | 'targets'>, outputs: Pick<FleetOutputs, 'master' | 'hosts'>, h: Pick<Host, 'role'>): Endpoint[] {
  if (h.role !== 'agent') return [];
  const out: Endpoint[] = [];
  if (outputs.master && !engineOf(config.engine as EngineName).masterOnlyDuringRun) out.push({ label: REACH_MASTER, address: outputs.master.address, port: outputs.master.port });
  for (const t of outputs.hosts.filter((x) => x.role === 'target')) {
    for (const port of config.targets.find((g) => g.name === t.group)?.ports ?? []) out.push({ label: `reach ${t.name}:${port}`, address: t.privateIp, port });
  }
  return out;
}

/**
 * The kind of a doctor failure: usage (exit 2 in `run`: "run loadfleet install first") only when every failing
 * row is explained by something not installed — a not-installed row, or an engine check that cannot pass until
 * install ran (no master to reach); external (exit 1) as soon as one failing row is a host fault of its own (a
 * host unreachable, a worker down on an installed host), even beside not-installed rows: install alone would not fix it.
 */
export function doctorFailureKind(rows: readonly Row[]): 'usage' | 'external' {
  const failing = rows.filter((r) => !r.ok);
  return failing.some((r) => r.notInstalled) && failing.every((r) => r.notInstalled || r.engineCheck) ? 'usage' : 'external';
}

/** doctor found failing rows: exit 1 for `doctor` itself; `run` rethrows it with doctorFailureKind's kind. */
export class DoctorFailedError extends ExternalError {
  constructor(message: string, readonly failed: readonly Row[]) {
    super(message);
    this.name = 'DoctorFailedError';
  }
}

/**
 * doctor's failing rows are all explained by a missing install (doctorFailureKind 'usage'): the order of
 * commands, exit 2, saying "run loadfleet install first" before anything else (issue 22).
 */
export class NothingInstalledError extends UsageError {
  constructor(message: string, readonly failed: readonly Row[]) {
    super(message);
    this.name = 'NothingInstalledError';
  }
}

/**
 * Nothing is installed on any host that should run the engine (every 'engine version' row fails as not
 * installed): then that is the diagnosis to give first, whatever else fails beside it (a target nobody serves
 * yet, a Prometheus not installed either) — install comes first in any case.
 */
export function nothingInstalled(rows: readonly Row[]): boolean {
  const versions = rows.filter((r) => r.check === 'engine version');
  return versions.length > 0 && versions.every((r) => !r.ok && r.notInstalled && !/ installed, .* expected/.test(r.detail));
}

/** The first thing doctor says when nothing (or another version) is installed: which hosts, and the command. */
export function notInstalledHeadline(rows: readonly Row[]): string {
  const missing = rows.filter((r) => !r.ok && r.notInstalled);
  const hosts = [...new Set(missing.map((r) => r.host))];
  const otherVersion = missing.some((r) => / installed, .* expected/.test(r.detail));
  return `${otherVersion ? 'the configured engine version is not installed' : 'nothing is installed yet'} on ${hosts.join(', ')}: run "loadfleet install" first`;
}

export interface ServiceExpectation {
  readonly name: string;
  readonly nofile: number;
}

/** Rows from one host's own probe: version, services and their limits, checks, disk. */
export function hostRows(host: string, p: Probed, want: { version: string | null; services: readonly ServiceExpectation[] }): Row[] {
  const rows: Row[] = [];
  if (want.version !== null) {
    rows.push(
      p.version === want.version
        ? { host, check: 'engine version', ok: true, detail: p.version }
        : { host, check: 'engine version', ok: false, detail: p.version ? `${p.version} installed, ${want.version} expected: run loadfleet install` : `not installed (${want.version} expected): run loadfleet install`, notInstalled: true },
    );
  }
  for (const s of want.services) {
    const st = p.services.get(s.name);
    if (!st?.pid) {
      rows.push(st ? { host, check: `service ${s.name}`, ok: false, detail: 'not running (stopped, or restarting after a crash): see /var/log/loadfleet, then run loadfleet install' } : { host, check: `service ${s.name}`, ok: false, detail: 'not installed: run loadfleet install', notInstalled: true });
      continue;
    }
    const low = [st.nofileSoft, st.nofileHard].some((v) => v !== 'unlimited' && Number(v) < s.nofile);
    rows.push({
      host,
      check: `service ${s.name}`,
      ok: !low,
      detail: low ? `pid ${st.pid} runs with nofile ${st.nofileSoft}/${st.nofileHard}, below the tuned ${s.nofile}: run loadfleet tune, then loadfleet install` : `pid ${st.pid}, nofile ${st.nofileSoft}/${st.nofileHard}`,
    });
  }
  for (const c of p.checks) rows.push({ host, check: c.name, ok: c.ok, detail: c.detail, ...(c.name === REACH_MASTER ? { engineCheck: true as const } : {}) });
  if (p.freeKb !== undefined) {
    const mb = Math.floor(p.freeKb / 1024);
    rows.push({ host, check: 'free disk', ok: mb >= MIN_FREE_MB, detail: mb >= MIN_FREE_MB ? `${(mb / 1024).toFixed(1)} GiB free on /` : `only ${mb} MiB free on / (at least ${MIN_FREE_MB} MiB for results and logs)` });
  } else rows.push({ host, check: 'free disk', ok: false, detail: 'df gave no answer' });
  return rows;
}

/**
 * The host's clock, read in an exec of its own that does nothing else, so the round trip around it
 * (whose midpoint stands for the moment it was read) is as short as the network allows.
 */
export const CLOCK_COMMAND = 'date +%s.%N';

/** Offset (seconds) from CLOCK_COMMAND's output and the round trip around that exec only; undefined when it printed no time. */
export function clockFrom(stdout: string, sentMs: number, receivedMs: number): number | undefined {
  const t = stdout.trim();
  if (!/^\d+(\.\d+)?$/.test(t)) return undefined;
  return clockOffset(Number(t), sentMs, receivedMs);
}

/** Offset of a host's clock: its time minus the midpoint of our send/receive (seconds). */
export function clockOffset(remote: number, sentMs: number, receivedMs: number): number {
  return remote - (sentMs + receivedMs) / 2000;
}

export function clockRow(host: string, offset: number | undefined, controllerOffset: number | undefined): Row {
  if (offset === undefined) return { host, check: 'clock', ok: false, detail: 'the host did not report its time' };
  if (controllerOffset === undefined) return { host, check: 'clock', ok: false, detail: 'the controller is unreachable: nothing to compare with' };
  const skew = offset - controllerOffset;
  const ok = Math.abs(skew) <= MAX_CLOCK_SKEW_S;
  return { host, check: 'clock', ok, detail: `${skew >= 0 ? '+' : ''}${skew.toFixed(3)} s vs the controller${ok ? '' : ` (more than ${MAX_CLOCK_SKEW_S} s: start chronyd / check NTP)`}` };
}

/** Every host of the engine's roles on one version: mixed versions break Locust and JMeter. */
export function sameVersionRow(versions: ReadonlyMap<string, string | undefined>): Row | undefined {
  const distinct = new Set([...versions.values()].filter((v): v is string => !!v));
  if (distinct.size <= 1) return undefined;
  const by = [...distinct].map((v) => `${v} on ${[...versions].filter(([, x]) => x === v).map(([h]) => h).join(', ')}`);
  return { host: '(fleet)', check: 'same engine version everywhere', ok: false, detail: `mixed versions: ${by.join('; ')}` };
}

/**
 * doctor's text report. By default one line per failing check and the one-line summary (all rows of a
 * 1,000-agent fleet would be ~8,000 lines before every run, issue 19); `verbose` lists every check.
 */
export function formatDoctorReport(rows: readonly Row[], hosts: number, opts: { verbose: boolean }): string {
  const failed = rows.filter((r) => !r.ok);
  const shown = opts.verbose ? rows : failed;
  const out: string[] = [];
  if (shown.length > 0) out.push(table([['HOST', 'CHECK', 'RESULT', 'DETAIL'], ...shown.map((r) => [r.host, r.check, r.ok ? 'ok' : 'FAIL', r.detail])]));
  const hidden = opts.verbose || rows.length === failed.length ? '' : ` (${failed.length ? 'passing checks not listed: ' : ''}--verbose or --json lists every check)`;
  out.push(`${rows.length - failed.length}/${rows.length} checks ok on ${hosts} hosts${hidden}`);
  return out.join('\n');
}
