/**
 * `loadfleet run`: one distributed headless test across the fleet, results merged correctly and kept
 * locally (.loadfleet/<env>/runs/<run-id>/) before anything else can go wrong. The pipeline is the same
 * for every engine — prepare → start together → watch (progress + saturation) → stop → collect → merge →
 * judge → report; the engine-specific parts are the `EngineDriver`s below. Pure logic lives in
 * scripts/run/; this file only orchestrates.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { KnownHosts, connectSsh } from '../adapters/ssh';
import { pinFirstContact } from './host-keys';
import { projectPath } from '../adapters/project-root';
import type { RunSnapshot } from '../monitoring/run-metrics';
import { LocustApi } from '../adapters/locust-api';
import { ExternalError, ThresholdError, ToolMissingError, UsageError, WrappedError } from '../core/errors';
import { positiveNumber } from '../core/flags';
import type { SshSession } from '../core/fanout';
import { runAsRoot } from '../core/privilege';
import { shQuote } from '../core/supervise';
import type { HostKind } from '../core/tuning';
import type { FleetOutputs, Host } from '../core/env-record';
import { LOCUST, restartLocustScript } from '../engines/locust';
import { ARTILLERY } from '../engines/artillery';
import { artilleryPhases, locustSchedule, parseDuration, parseStages, resolveLoad, type LoadPlan } from './../run/load';
import { ACCURACY } from '../run/histogram';
import { artilleryErrors, finish, Merger, timelineBucketS, type GeneratorHdr, type MergedStats, type TimelinePoint } from '../run/merge';
import { parseLocustFailures, parseLocustLive, parseLocustStats, type LocustLive } from '../run/locust-csv';
import { judgeHost, networkFlags, parseSamples, samplerScript, type HostSaturation, type NetworkFlag } from '../run/saturation';
import { buildSummary, statsCsv, summaryText, type RunSummary } from '../run/summary';
import { reportHtml } from '../run/report';
import { describeBroken, evaluate, parseThreshold, type Threshold } from '../run/thresholds';
import { withInterrupts } from './signals';
import { releaseLockFile, takeLockFile } from '../adapters/lock';
import { doctorAction } from './doctor';

export interface RunOptions extends CommonOptions {
  readonly script?: string;
  readonly users?: string;
  readonly rate?: string;
  readonly duration?: string;
  readonly stages?: string;
  readonly threshold?: string[];
  /** Where the generators send load; default http://<first target host>:<its first port>. */
  readonly host?: string;
  readonly skipDoctor?: boolean;
  readonly json?: boolean;
  /** Artillery: also keep every latency (raw/<agent>/samples.txt) to audit the merged percentiles. */
  readonly rawSamples?: boolean;
}

/**
 * Live merged stats of a running test: what the monitoring writer (scripts/monitoring/run-metrics.ts,
 * RunSnapshot) publishes. Called about once a second, and once more with endedAtMs set.
 */
export type LiveStats = RunSnapshot;

export interface RunHooks {
  /** Receives the live merged stats (errors thrown here are reported once and never stop the run). */
  readonly onLive?: (s: LiveStats, ctx: { controller: SshSession | undefined; hostKind: HostKind }) => void | Promise<void>;
}

/** Intervals the tests may shrink. */
export const RUN_TIMING = { tickMs: 1000, startPollMs: 200, workersWaitMs: 90_000, stopGraceMs: 15_000, startLeadMs: 1500, selfStopGraceMs: 90_000, artilleryReadyMs: 180_000 } as const;

const ENGINES_RUN = ['locust', 'artillery'] as const;

interface Prepared {
  readonly outputs: FleetOutputs;
  readonly kind: HostKind;
  readonly engine: (typeof ENGINES_RUN)[number];
  readonly scriptPath: string;
  readonly scriptText: string;
  readonly plan: LoadPlan;
  readonly thresholds: Threshold[];
  readonly hostUrl: string;
}

/** Everything checked before any host is touched: exit 2 with the field, the value and the fix. */
export async function prepareRun(opts: RunOptions): Promise<Prepared & { ctx: Awaited<ReturnType<typeof resolveEnv>> }> {
  const ctx = await resolveEnv(opts, true);
  const outputs = await ctx.envDir.requireOutputs();
  if (ctx.record && ctx.record.status !== 'up') throw new UsageError(`env "${outputs.env}" is ${ctx.record.status}, not up: run "loadfleet up" and "loadfleet install" first`);
  const engine = outputs.engine as (typeof ENGINES_RUN)[number];
  if (!(ENGINES_RUN as readonly string[]).includes(engine)) {
    throw new UsageError(`run drives ${ENGINES_RUN.join(' and ')} in this version; engine ${outputs.engine} has its command lines rendered (scripts/run/commands.ts) but is not orchestrated yet`);
  }
  if (!opts.script) throw new UsageError('--script is required: the locustfile (Locust) or the Artillery YAML to run');
  let scriptText: string;
  try {
    scriptText = await fs.readFile(opts.script, 'utf8');
  } catch (e) {
    throw new UsageError(`--script (${opts.script}) cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; give the path of a readable file`);
  }
  const users = opts.users === undefined ? undefined : positiveNumber('--users', opts.users, 1, { integer: true });
  const rate = opts.rate === undefined ? undefined : positiveNumber('--rate', opts.rate, 1);
  const durationS = opts.duration === undefined ? undefined : parseDuration('--duration', opts.duration);
  let stages;
  if (opts.stages !== undefined) {
    const inline = opts.stages.trim().startsWith('[');
    let text = opts.stages;
    if (!inline) {
      try {
        text = await fs.readFile(opts.stages, 'utf8');
      } catch (e) {
        throw new UsageError(`--stages (${opts.stages}) is neither inline JSON nor a readable file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }
    stages = parseStages(opts.stages, text);
  }
  const plan = resolveLoad({ users, rate, durationS, stages });
  const thresholds = (opts.threshold ?? []).map(parseThreshold);
  await validateScript(engine, opts.script, scriptText);
  const agents = outputs.hosts.filter((h) => h.role === 'agent');
  if (agents.length === 0) throw new UsageError(`env "${outputs.env}" has no agents: set agents.count and run "loadfleet up"`);
  let hostUrl = opts.host;
  if (hostUrl === undefined) {
    const target = outputs.hosts.find((h) => h.role === 'target');
    const port = ctx.loaded?.config.targets.find((t) => target?.group === t.name)?.ports[0] ?? ctx.loaded?.config.targets[0]?.ports[0];
    if (!target || !port) throw new UsageError(`env "${outputs.env}" has no target host: pass --host http://<address>:<port>`);
    hostUrl = `http://${target.privateIp}:${port}`;
  } else if (!/^https?:\/\/[^\s/]+/.test(hostUrl)) {
    throw new UsageError(`--host (${hostUrl}) must be a URL like http://10.0.0.5:8080`);
  }
  return { ctx, outputs, kind: outputs.target === 'local' ? 'netns' : 'ec2', engine, scriptPath: path.resolve(opts.script), scriptText, plan, thresholds, hostUrl };
}

/** The engine's own loader says whether it can load the script, before any load starts. */
async function validateScript(engine: string, file: string, text: string): Promise<void> {
  if (engine === 'locust') {
    const r = await execa('python3', ['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])', file], { reject: false, stdin: 'ignore' }).catch((e: Error) => ({ exitCode: -1, stderr: e.message }));
    if (r.exitCode === -1 || /ENOENT/.test(String(r.stderr)) && r.exitCode !== 1) throw new ToolMissingError('python3', 'apt-get install python3 (it checks the locustfile before the run)');
    if (r.exitCode !== 0) {
      const lines = String(r.stderr).trim().split('\n');
      throw new UsageError(`--script (${file}) is not a loadable locustfile: Python says:\n${lines.slice(-4).join('\n')}`);
    }
    if (!/\b(HttpUser|FastHttpUser|User)\b/.test(text)) throw new UsageError(`--script (${file}) defines no Locust User class (HttpUser, FastHttpUser or User)`);
  } else if (engine === 'artillery') {
    let doc: unknown;
    try {
      doc = YAML.parse(text);
    } catch (e) {
      throw new UsageError(`--script (${file}) is not valid YAML: ${(e as Error).message}`);
    }
    const d = doc as { scenarios?: unknown };
    if (!d || typeof d !== 'object' || !Array.isArray(d.scenarios) || d.scenarios.length === 0) {
      throw new UsageError(`--script (${file}) has no scenarios: Artillery needs a "scenarios:" list`);
    }
  }
}

// ---- the lock: one running test per env ----

/**
 * Throws the UsageError naming the run still going on this env (its runs/.lock, pid alive); a lock left by a
 * dead run is ignored. Checked before the env lock too, so a second run names the run, not only a pid.
 */
export async function assertNoRunGoing(runsDir: string): Promise<void> {
  const raw = await fs.readFile(path.join(runsDir, '.lock'), 'utf8').catch(() => undefined);
  if (raw === undefined) return;
  let held: { pid?: number; runId?: string } = {};
  try {
    held = JSON.parse(raw) as typeof held;
  } catch {
    return; // unreadable: takeLock takes it over
  }
  let alive = false;
  try {
    if (held.pid) process.kill(held.pid, 0);
    alive = !!held.pid;
  } catch (e) {
    alive = (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (alive) throw new UsageError(`run ${held.runId ?? '?'} is still going on this env (loadfleet pid ${held.pid}): wait for it, or stop it with Ctrl-C`);
}

async function takeLock(runsDir: string, runId: string): Promise<() => Promise<void>> {
  await fs.mkdir(runsDir, { recursive: true });
  const lock = path.join(runsDir, '.lock');
  // Same atomic takeover as the env lock (a dead run's lock is taken over by one taker only; EPERM = alive).
  const held = takeLockFile(lock, { pid: process.pid, runId }, 'run lock') as { pid?: number; runId?: string } | undefined;
  if (held) throw new UsageError(`run ${held.runId ?? '?'} is still going on this env (loadfleet pid ${held.pid}): wait for it, or stop it with Ctrl-C`);
  return async () => releaseLockFile(lock);
}

export function newRunId(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const rand = Math.random().toString(16).slice(2, 6);
  return `${now.getUTCFullYear()}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}-${p(now.getUTCHours())}${p(now.getUTCMinutes())}${p(now.getUTCSeconds())}-${rand}`;
}

// ---- per-host helpers ----

interface HostConn {
  readonly host: Host;
  readonly session: SshSession;
}

/** Per host: /var/log is private to each local-target host (/var/lib is the machine's). */
const SAMPLER_DIR = '/var/log/loadfleet/runs';

function putFileScript(file: string, content: string | Buffer, mustExistDir?: string, missing?: string): string {
  const b64 = Buffer.from(content).toString('base64');
  return [
    'set -eu',
    ...(mustExistDir ? [`[ -d ${mustExistDir} ] || { echo ${shQuote(missing ?? `${mustExistDir} is missing`)} >&2; exit 42; }`] : []),
    `mkdir -p ${shQuote(path.posix.dirname(file))}`,
    `t=$(mktemp ${shQuote(path.posix.dirname(file))}/.lf.XXXXXX)`,
    `printf %s ${shQuote(b64)} | base64 -d > "$t"; chmod 0644 "$t"; mv -f "$t" ${shQuote(file)}`,
  ].join('\n');
}

async function startSampler(c: HostConn, login: string, runId: string, maxSeconds: number): Promise<{ pid: number; ethtoolBefore: string }> {
  const dir = `${SAMPLER_DIR}/${runId}`;
  // Under timeout: a sampler this process never stops (killed, host unreachable at the end) still ends.
  // timeout forwards stopSampler's TERM to the loop's whole process group.
  const script = `mkdir -p ${dir}; ethtool -S eth0 > ${dir}/ethtool-before.txt 2>/dev/null || true
setsid nohup timeout ${Math.ceil(maxSeconds)} sh -c ${shQuote(samplerScript(1))} > ${dir}/sampler.log 2>/dev/null < /dev/null & echo "pid $!"
cat ${dir}/ethtool-before.txt`;
  const r = await runAsRoot(c.session, login, script, `starting the CPU sampler on ${c.host.name}`);
  const pid = Number(/^pid (\d+)/m.exec(r.stdout)?.[1]);
  return { pid, ethtoolBefore: r.stdout.replace(/^pid \d+\n?/m, '') };
}

async function stopSampler(c: HostConn, login: string, runId: string, pid: number): Promise<{ samples: string; ethtoolAfter: string }> {
  const dir = `${SAMPLER_DIR}/${runId}`;
  const r = await runAsRoot(c.session, login, `kill ${pid} 2>/dev/null || true\necho '--- sampler'\ncat ${dir}/sampler.log 2>/dev/null\necho '--- ethtool'\nethtool -S eth0 2>/dev/null || true\n`, `stopping the CPU sampler on ${c.host.name}`);
  const [, samples = '', ethtoolAfter = ''] = r.stdout.split(/^--- (?:sampler|ethtool)\n/m);
  return { samples, ethtoolAfter };
}

// ---- engine drivers ----

interface Tick {
  readonly users: number;
  readonly requests: number;
  readonly failures: number;
  readonly rps: number;
  readonly failPerS: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** Generators seen running this tick (name → first seen epoch ms is recorded by the caller). */
  readonly running: readonly string[];
  /** True when the engine finished by itself (Artillery processes exited). */
  readonly finished: boolean;
}

interface Collected {
  readonly stats: MergedStats;
  readonly merge: string;
  readonly generators: { name: string; startedAtMs: number | null; rawFile: string | null; collectionError?: string }[];
}

interface EngineDriver {
  /** The engine ends the test by itself (Artillery's phases): the watch waits for it, up to a grace. */
  readonly selfStopping: boolean;
  /** Push the script and get every generator ready; nothing is sent to the target yet. */
  prepare(): Promise<void>;
  /** Release the load on every generator at once; returns the epoch ms of the release. */
  /** Ends with the signal's reason when it fires before the load is released (nothing is released after). */
  start(signal?: AbortSignal): Promise<number>;
  /** Called every tick with seconds since the start (stage changes happen here). */
  tick(elapsedS: number): Promise<Tick>;
  /** Stop the load everywhere (idempotent, also after a failure). */
  stop(): Promise<void>;
  /** Pull raw results from every host into rawDir and merge them. */
  collect(rawDir: string, startedAtMs: number, endedAtMs: number, firstSeen: Map<string, number>): Promise<Collected>;
}

function locustDriver(p: Prepared, controller: HostConn, agents: HostConn[], login: string): EngineDriver {
  const api = new LocustApi(`http://${controller.host.publicIp || controller.host.privateIp}:${LOCUST.webPort}`);
  const schedule = locustSchedule(p.plan);
  let next = 0;
  const hostnames = new Map<string, string>(); // Locust worker id prefix (hostname) → agent name
  let last: LocustLive | undefined;
  const timeline: TimelinePoint[] = [];
  let t0 = 0;
  return {
    selfStopping: false,
    async prepare() {
      const all = [controller, ...agents];
      const missing = `Locust is not installed on this host (${LOCUST.dir} missing): run "loadfleet install -c <config>" first`;
      await Promise.all(all.map((c) => runAsRoot(c.session, login, putFileScript(LOCUST.locustfile, p.scriptText, LOCUST.dir, missing), `pushing the locustfile to ${c.host.name}`).catch((e: Error & { result?: { code: number | null } }) => {
        if (e.result?.code === 42) throw new UsageError(`${c.host.name}: ${missing}`);
        throw new ExternalError(e.message);
      })));
      let cores = 0;
      await Promise.all(agents.map(async (c) => {
        const r = await runAsRoot(c.session, login, 'nproc; hostname', `reading ${c.host.name}`);
        const [n, hn] = r.stdout.trim().split('\n');
        cores += Number(n);
        hostnames.set(hn!.trim(), c.host.name);
      }));
      await Promise.all(all.map((c) => runAsRoot(c.session, login, restartLocustScript(p.kind), `restarting Locust on ${c.host.name}`)));
      // The master restarted: wait for its API, then for one ready worker per agent core.
      const deadline = Date.now() + RUN_TIMING.workersWaitMs;
      let seen = 0;
      for (;;) {
        try {
          const live = parseLocustLive(await api.stats());
          seen = live.workers.filter((w) => w.state === 'ready').length;
          if (seen >= cores) break;
        } catch {
          /* the master is still starting */
        }
        if (Date.now() > deadline) throw new ExternalError(`only ${seen} of ${cores} Locust workers connected to the master within ${RUN_TIMING.workersWaitMs / 1000} s: check "loadfleet doctor"`);
        await sleep(500);
      }
    },
    async start() {
      const s = schedule[next++]!;
      t0 = Date.now();
      await api.swarm(s.userCount, s.spawnRate, p.hostUrl);
      return t0;
    },
    async tick(elapsedS) {
      while (next < schedule.length && schedule[next]!.atS <= elapsedS) {
        const s = schedule[next++]!;
        await api.swarm(s.userCount, s.spawnRate, p.hostUrl);
      }
      const raw = (await api.stats()) as { stats?: { name: string; ninety_ninth_response_time?: number }[] };
      const live = parseLocustLive(raw);
      last = live;
      const p99 = raw.stats?.find((s) => s.name === 'Aggregated')?.ninety_ninth_response_time ?? 0;
      const running = [...new Set(live.workers.filter((w) => w.state !== 'ready' && w.state !== 'missing' && w.users > 0).map((w) => hostnames.get(w.id.replace(/_[0-9a-f]+$/, '')) ?? w.id))];
      timeline.push({ t: Math.round((Date.now() - t0) / 100) / 10, rps: live.rps, errorsPerS: Math.round(live.rps * live.failRatio * 1000) / 1000, p50: live.p50, p95: live.p95, users: live.users });
      return { users: live.users, requests: live.requests, failures: live.failures, rps: live.rps, failPerS: live.rps * live.failRatio, p50: live.p50, p95: live.p95, p99, running, finished: false };
    },
    async stop() {
      await api.stop();
      // Wait until the master says the users are gone (workers report their last stats on stop).
      const deadline = Date.now() + RUN_TIMING.stopGraceMs;
      while (Date.now() < deadline) {
        const live = parseLocustLive(await api.stats());
        if (live.state === 'stopped' && live.users === 0) break;
        await sleep(300);
      }
      // Workers report every 3 s and once more on stop: wait until the master's count has not moved for
      // longer than one report interval (bounded), so no worker's last report is left out of the CSVs.
      const settleBy = Date.now() + 8_000;
      let count = -1;
      let stableSince = Date.now();
      while (Date.now() < settleBy) {
        const n = parseLocustLive(await api.stats()).requests;
        if (n !== count) [count, stableSince] = [n, Date.now()];
        else if (Date.now() - stableSince >= 3_500) break;
        await sleep(500);
      }
    },
    async collect(rawDir, startedAtMs, _endedAtMs, firstSeen) {
      const statsCsvText = await api.text('/stats/requests/csv');
      const failures = await api.text('/stats/failures/csv');
      await fs.writeFile(path.join(rawDir, 'locust_stats.csv'), statsCsvText);
      await fs.writeFile(path.join(rawDir, 'locust_failures.csv'), failures);
      await fs.writeFile(path.join(rawDir, 'locust_live_timeline.json'), JSON.stringify(timeline));
      const merged = parseLocustStats(statsCsvText);
      const generators = await Promise.all(agents.map(async (c) => {
        const file = path.join(rawDir, `${c.host.name}-worker.log`);
        try {
          const r = await runAsRoot(c.session, login, 'cat /var/log/loadfleet/locust-worker@*.log 2>/dev/null | tail -n 2000', `pulling ${c.host.name}'s worker log`);
          await fs.writeFile(file, r.stdout);
          return { name: c.host.name, startedAtMs: firstSeen.get(c.host.name) ?? null, rawFile: path.relative(path.dirname(rawDir), file) };
        } catch (e) {
          return { name: c.host.name, startedAtMs: firstSeen.get(c.host.name) ?? null, rawFile: null, collectionError: (e as Error).message };
        }
      }));
      void last;
      return {
        stats: { ...merged, timeline: timeline.map((x) => ({ ...x, t: Math.max(0, x.t) })), errors: parseLocustFailures(failures) },
        merge: `Locust master: it adds the workers' bucketed response times (exact below 100 ms, 10 ms steps below 1 s, 100 ms steps below 10 s) — merged, never averaged. Generator start = the first poll of the master (every ${RUN_TIMING.startPollMs} ms) that showed the agent's workers running users; run released ${new Date(startedAtMs).toISOString()}`,
        generators,
      };
    },
  };
}

/** The plugin and the histogram library it needs, as one tar.gz to unpack on every agent. */
async function artilleryPluginTar(): Promise<Buffer> {
  const pluginDir = projectPath('scripts', 'run', 'artillery-plugin');
  const nm = projectPath('node_modules');
  const r = await execa('tar', ['-czf', '-', '-C', pluginDir, 'artillery-plugin-loadfleet-hdr', '-C', nm, 'hdr-histogram-js', 'pako', 'base64-js', '@assemblyscript/loader'], { encoding: 'buffer', stdin: 'ignore' });
  return Buffer.from(r.stdout);
}

function artilleryDriver(p: Prepared, agents: HostConn[], login: string, runId: string, opts: { rawSamples?: boolean }): EngineDriver {
  const dir = `${ARTILLERY.dir}/runs/${runId}`;
  const phases = artilleryPhases(p.plan, agents.length);
  const pids = new Map<string, number>();
  let prevRequests = 0;
  let prevFailures = 0;
  let prevAt = 0;
  let exited = new Set<string>();
  const pull = async (c: HostConn): Promise<{ docs: GeneratorHdr[]; started: number | null; released: number | null; alive: boolean }> => {
    const pid = pids.get(c.host.name);
    const r = await runAsRoot(c.session, login, `cd ${dir} 2>/dev/null || exit 0
echo "started $(cat started 2>/dev/null)"
${pid ? `if kill -0 ${pid} 2>/dev/null; then echo alive; else echo exited; fi` : 'echo exited'}
for f in out/hdr-*.json; do [ -s "$f" ] && { cat "$f"; echo; }; done
`, `reading ${c.host.name}'s results`);
    const lines = r.stdout.split('\n');
    const released = Number(/^started (\d+)/.exec(lines[0] ?? '')?.[1]) || null;
    const docs = lines.slice(2).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as GeneratorHdr);
    // The actual start is the first request sent (Node and Artillery take seconds to load after the release).
    const firsts = docs.map((d) => d.firstRequestAtMs).filter((x): x is number => typeof x === 'number');
    return { docs, started: firsts.length ? Math.min(...firsts) : null, released, alive: lines[1] === 'alive' };
  };
  return {
    selfStopping: true,
    async prepare() {
      const tar = (await artilleryPluginTar()).toString('base64');
      await Promise.all(agents.map(async (c, i) => {
        const missing = `Artillery is not installed on this host (${ARTILLERY.bin} missing): run "loadfleet install -c <config>" first`;
        const script = [
          'set -eu',
          `[ -x ${ARTILLERY.bin} ] || { echo ${shQuote(missing)} >&2; exit 42; }`,
          `mkdir -p ${dir}/out ${dir}/plugins/node_modules`,
          `base64 -d > ${dir}/plugin.tgz <<'EOF'\n${tar}\nEOF`,
          `tar -xzf ${dir}/plugin.tgz -C ${dir}/plugins/node_modules && rm -f ${dir}/plugin.tgz`,
          `mv ${dir}/plugins/node_modules/artillery-plugin-loadfleet-hdr ${dir}/plugins/`,
          putFileScript(`${dir}/script.yml`, p.scriptText).replace('set -eu\n', ''),
          putFileScript(`${dir}/overrides.json`, JSON.stringify({ config: { target: p.hostUrl, phases: phases[i] } })).replace('set -eu\n', ''),
        ].join('\n');
        await runAsRoot(c.session, login, script, `pushing the script and plugin to ${c.host.name}`).catch((e: Error & { result?: { code: number | null } }) => {
          if (e.result?.code === 42) throw new UsageError(`${c.host.name}: ${missing}`);
          throw new ExternalError(e.message);
        });
      }));
    },
    async start(signal?: AbortSignal) {
      // No master: every agent starts Artillery at once; loadfleet's plugin holds each worker before its
      // first phase until the release instant is written to every agent (like k6 --paused + PATCH).
      await Promise.all(agents.map(async (c, i) => {
        const plugins = JSON.stringify({ 'loadfleet-hdr': { out: `${dir}/out`, generator: c.host.name, gate: `${dir}/gate`, ...(opts.rawSamples ? { rawSamples: true } : {}) } });
        const inner = `exec env LOADFLEET_GENERATOR=${c.host.name} LOADFLEET_GENERATOR_INDEX=${i + 1} LOADFLEET_GENERATORS=${agents.length} ARTILLERY_PLUGIN_PATH=${dir}/plugins NODE_PATH=${dir}/plugins/node_modules ARTILLERY_PLUGINS=${shQuote(plugins)} ARTILLERY_DISABLE_TELEMETRY=true DO_NOT_TRACK=1 ${ARTILLERY.bin} run --output ${dir}/out/artillery-report.json --overrides "$(cat ${dir}/overrides.json)" ${dir}/script.yml`;
        const r = await runAsRoot(c.session, login, `mkdir -p ${dir}/gate; cd ${dir}; setsid nohup sh -c ${shQuote(inner)} > ${dir}/artillery.log 2>&1 < /dev/null & echo "pid $!"`, `starting Artillery on ${c.host.name}`);
        pids.set(c.host.name, Number(/pid (\d+)/.exec(r.stdout)?.[1]));
      }));
      const deadline = Date.now() + RUN_TIMING.artilleryReadyMs;
      for (;;) {
        signal?.throwIfAborted();
        const ready = await Promise.all(agents.map(async (c) => {
          const r = await runAsRoot(c.session, login, `ls ${dir}/gate 2>/dev/null | grep -c '^ready-' || true; kill -0 ${pids.get(c.host.name)} 2>/dev/null && echo alive || { echo exited; tail -5 ${dir}/artillery.log; }`, `waiting for Artillery on ${c.host.name}`);
          const [n = '0', state = '', ...log] = r.stdout.trim().split('\n');
          if (state !== 'alive') throw new ExternalError(`Artillery exited on ${c.host.name} before the start: ${log.join(' ').slice(0, 500)}`);
          return Number(n) > 0;
        }));
        if (ready.every(Boolean)) break;
        if (Date.now() > deadline) throw new ExternalError(`Artillery was not ready on ${agents.filter((_, i) => !ready[i]).map((c) => c.host.name).join(', ')} within ${RUN_TIMING.artilleryReadyMs / 1000} s`);
        await sleep(300);
      }
      // A Ctrl-C during the readiness wait: never release (the gate stays shut; stop() ends the processes).
      signal?.throwIfAborted();
      // Other workers of a process load alongside the first: give them a moment, then release everyone.
      const at = Date.now() + RUN_TIMING.startLeadMs;
      await Promise.all(agents.map((c) => runAsRoot(c.session, login, `echo ${at} > ${dir}/gate/go.tmp && mv ${dir}/gate/go.tmp ${dir}/gate/go && echo ${at} > ${dir}/started`, `releasing Artillery on ${c.host.name}`)));
      prevAt = at;
      await sleep(Math.max(0, at - Date.now()));
      return at;
    },
    async tick() {
      const pulled = await Promise.all(agents.map((c) => pull(c).catch(() => ({ docs: [], started: null, released: null, alive: true }))));
      const m = new Merger();
      pulled.forEach((x) => x.docs.forEach((d) => m.addGenerator(d)));
      exited = new Set(agents.filter((_, i) => !pulled[i]!.alive).map((c) => c.host.name));
      const now = Date.now();
      const dt = Math.max(0.001, (now - prevAt) / 1000);
      const st = finish(m, 1);
      const rps = Math.max(0, (m.total.count - prevRequests) / dt);
      const failPerS = Math.max(0, (m.total.failures - prevFailures) / dt);
      prevRequests = m.total.count;
      prevFailures = m.total.failures;
      prevAt = now;
      return {
        users: 0, requests: m.total.count, failures: m.total.failures, rps: Math.round(rps * 10) / 10, failPerS, p50: st.total.p50, p95: st.total.p95, p99: st.total.p99,
        running: agents.filter((_, i) => pulled[i]!.started !== null).map((c) => c.host.name),
        finished: exited.size === agents.length,
      };
    },
    async stop() {
      await Promise.all(agents.map(async (c) => {
        const pid = pids.get(c.host.name);
        if (!pid) return;
        // The whole session (sh, node and its worker threads): TERM, then KILL what is left.
        await runAsRoot(c.session, login, `kill -TERM -${pid} 2>/dev/null || true; i=0; while kill -0 ${pid} 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -${pid} 2>/dev/null || true`, `stopping Artillery on ${c.host.name}`);
      }));
    },
    async collect(rawDir, startedAtMs, endedAtMs) {
      const merger = new Merger(timelineBucketS((endedAtMs - startedAtMs) / 1000));
      const generators = await Promise.all(agents.map(async (c) => {
        try {
          const got = await pull(c);
          const report = await runAsRoot(c.session, login, `cat ${dir}/out/artillery-report.json 2>/dev/null || true`, `pulling ${c.host.name}'s Artillery report`);
          const gdir = path.join(rawDir, c.host.name);
          await fs.mkdir(gdir, { recursive: true });
          for (const [i, d] of got.docs.entries()) {
            await fs.writeFile(path.join(gdir, `hdr-${i}.json`), JSON.stringify(d));
            merger.addGenerator(d);
          }
          const samples = await runAsRoot(c.session, login, `cat ${dir}/out/*.samples 2>/dev/null || true`, `pulling ${c.host.name}'s raw samples`);
          if (samples.stdout) await fs.writeFile(path.join(gdir, 'samples.txt'), samples.stdout);
          if (report.stdout.trim()) {
            await fs.writeFile(path.join(gdir, 'artillery-report.json'), report.stdout);
            for (const [k, n] of Object.entries(artilleryErrors(JSON.parse(report.stdout)))) merger.recordError(k, n);
          }
          if (got.docs.length === 0) throw new Error('no results were written on this host (did Artillery start? see artillery.log there)');
          return { name: c.host.name, startedAtMs: got.started, rawFile: path.relative(path.dirname(rawDir), gdir) };
        } catch (e) {
          return { name: c.host.name, startedAtMs: null, rawFile: null, collectionError: (e as Error).message };
        }
      }));
      // Rates over the time load was really sent: from the first generator's first request.
      const starts = generators.map((g) => g.startedAtMs).filter((x): x is number => x !== null);
      const t0 = starts.length ? Math.min(...starts) : startedAtMs;
      return { stats: finish(merger, Math.max(0.001, (endedAtMs - t0) / 1000), Math.floor(t0 / 1000)), merge: ACCURACY, generators };
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- the action ----

export async function runAction(opts: RunOptions, hooks: RunHooks = {}): Promise<void> {
  const p = await prepareRun(opts);
  const { ctx, outputs } = p;
  const loaded = ctx.loaded!;
  if (!opts.skipDoctor) {
    // The same checks as `loadfleet doctor`, its report on stderr (stdout is the run's own output).
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string | Uint8Array) => process.stderr.write(chunk)) as typeof process.stdout.write;
    try {
      await doctorAction({ config: opts.config, env: opts.env, home: opts.home, json: false });
    } catch (e) {
      throw new UsageError(`doctor failed, so the run did not start: ${(e as Error).message} (fix it, or pass --skip-doctor)`);
    } finally {
      process.stdout.write = write;
    }
  }
  const runId = newRunId(new Date());
  const runsDir = ctx.envDir.file('runs');
  const runDir = path.join(runsDir, runId);
  const rawDir = path.join(runDir, 'raw');
  const release = await takeLock(runsDir, runId);
  const sessions: HostConn[] = [];
  // Every sampler started and not yet stopped: the outer finally stops them on any path.
  const samplers = new Map<string, { c: HostConn; pid: number; ethtoolBefore: string }>();
  const say = (s: string) => process.stderr.write(s);
  try {
    await fs.mkdir(rawDir, { recursive: true });
    const knownHosts = new KnownHosts(ctx.envDir.knownHosts);
    // run may be the first command to reach these hosts: pin their console keys first, as tune/install/doctor do.
    const firstContact = await pinFirstContact(outputs.target, loaded.config.region, knownHosts, outputs.hosts.filter((h) => h.role === 'agent' || h.role === 'controller').map((h) => ({ name: h.name, address: h.publicIp || h.privateIp, id: h.id })));
    for (const note of firstContact.notes) say(`note: ${note}\n`);
    const connect = async (h: Host) => {
      const session = await connectSsh(h.publicIp || h.privateIp, { user: outputs.sshUser, privateKeyPath: loaded.privateKeyPath, knownHosts });
      const c = { host: h, session };
      sessions.push(c);
      return c;
    };
    const agentHosts = outputs.hosts.filter((h) => h.role === 'agent');
    const controllerHost = outputs.hosts.find((h) => h.role === 'controller');
    const agents = await Promise.all(agentHosts.map(connect)).catch((e: Error) => {
      throw new ExternalError(`cannot reach every agent: ${e.message}`);
    });
    const controller = controllerHost ? await connect(controllerHost) : undefined;
    if (p.engine === 'locust' && !controller) throw new UsageError(`env "${outputs.env}" has no controller for the Locust master`);
    const driver = p.engine === 'locust' ? locustDriver(p, controller!, agents, outputs.sshUser) : artilleryDriver(p, agents, outputs.sshUser, runId, { rawSamples: opts.rawSamples });
    if (!opts.json) say(`run ${runId}: ${p.engine} on ${agents.length} agents → ${p.hostUrl}; ${p.plan.users} users, ${p.plan.durationS} s\n`);
    await driver.prepare();

    const watched = [...(controller ? [{ c: controller, role: 'controller' as const }] : []), ...agents.map((c) => ({ c, role: 'agent' as const }))];
    // The longest a run can need: its duration, the engines' start-up waits and stop grace, then collection.
    const samplerMaxS = p.plan.durationS + (RUN_TIMING.artilleryReadyMs + RUN_TIMING.workersWaitMs + RUN_TIMING.selfStopGraceMs) / 1000 + 600;
    await Promise.all(watched.map(async ({ c }) => samplers.set(c.host.name, { c, ...(await startSampler(c, outputs.sshUser, runId, samplerMaxS)) })));

    let interrupted = false;
    let startedAtMs = 0;
    let endedAtMs = 0;
    const firstSeen = new Map<string, number>();
    let liveWarned = false;
    const live = async (t: Tick | undefined, ended: number | null) => {
      if (!hooks.onLive) return;
      try {
        await hooks.onLive(
          { runId, engine: p.engine, startedAtMs, endedAtMs: ended, users: t?.users ?? 0, requests: t?.requests ?? 0, failures: t?.failures ?? 0, currentRps: t?.rps ?? 0, currentFailuresPerSecond: t?.failPerS ?? 0, percentilesMs: { p50: t?.p50 ?? 0, p95: t?.p95 ?? 0, p99: t?.p99 ?? 0 } },
          { controller: controller?.session, hostKind: p.kind },
        );
      } catch (e) {
        if (!liveWarned) say(`live stats hook failed (the run goes on): ${(e as Error).message}\n`);
        liveWarned = true;
      }
    };
    let lastTick: Tick | undefined;
    // The error that ended the start/watch loop (not a signal): rethrown with its own kind once collected.
    let failure: unknown;
    let summary: RunSummary | undefined;
    let collectionFailures: { host: string; error: string }[] = [];
    // One signal count from the start until summary.json is written: a later Ctrl-C while stopping or
    // collecting is reported, never fatal (Node's default handler would lose everything measured).
    await withInterrupts(async (signal) => {
      try {
        await (async () => {
          startedAtMs = await driver.start(signal);
          // An engine that stops by itself gets a grace for its start-up and its last requests.
          const endAt = startedAtMs + p.plan.durationS * 1000 + (driver.selfStopping ? RUN_TIMING.selfStopGraceMs : 0);
          while (!signal.aborted && Date.now() < endAt) {
            const now = Date.now();
            const t = await driver.tick((now - startedAtMs) / 1000);
            lastTick = t;
            for (const g of t.running) if (!firstSeen.has(g)) firstSeen.set(g, now);
            await live(t, null);
            if (!opts.json) say(`[${String(Math.round((now - startedAtMs) / 1000)).padStart(4)}s/${p.plan.durationS}s] users ${t.users}  rps ${t.rps}  requests ${t.requests}  errors ${t.failures}  p95 ${t.p95} ms\n`);
            if (t.finished) break;
            const wait = firstSeen.size < agents.length && now - startedAtMs < 5000 ? RUN_TIMING.startPollMs : RUN_TIMING.tickMs;
            await new Promise<void>((r) => {
              const wake = () => (clearTimeout(timer), r());
              const timer = setTimeout(() => (signal.removeEventListener('abort', wake), r()), Math.max(0, Math.min(wait, endAt - Date.now())));
              signal.addEventListener('abort', wake, { once: true });
            });
          }
        })();
      } catch (e) {
        say(`run: ${(e as Error).message}; stopping the test on every host\n`);
        if (!signal.aborted) failure = e;
      } finally {
        // Whatever happened above, the load stops everywhere and what was measured is collected.
        await driver.stop().catch((e: Error) => say(`stopping the test: ${e.message}\n`));
        endedAtMs = Date.now();
      }
      interrupted = signal.aborted;

      const saturation: HostSaturation[] = [];
      const network: NetworkFlag[] = [];
      collectionFailures = [];
      await Promise.all(watched.map(async ({ c, role }) => {
        const s = samplers.get(c.host.name);
        if (!s) return;
        try {
          const got = await stopSampler(c, outputs.sshUser, runId, s.pid);
          samplers.delete(c.host.name);
          await fs.writeFile(path.join(rawDir, `${c.host.name}-cpu.txt`), got.samples);
          saturation.push(judgeHost(c.host.name, role, parseSamples(got.samples), p.kind === 'ec2'));
          network.push(...networkFlags(c.host.name, s.ethtoolBefore, got.ethtoolAfter));
        } catch (e) {
          collectionFailures.push({ host: c.host.name, error: `saturation samples: ${(e as Error).message}` });
        }
      }));
      const collected = await driver.collect(rawDir, startedAtMs, endedAtMs, firstSeen);
      void lastTick;
      const results = evaluate(p.thresholds, collected.stats);
      summary = buildSummary({
        runId, env: outputs.env, engine: p.engine, script: p.scriptPath, startedAtMs, endedAtMs, plan: p.plan, stats: collected.stats,
        generators: collected.generators.map((g) => (collectionFailures.find((f) => f.host === g.name) && !g.collectionError ? { ...g, collectionError: collectionFailures.find((f) => f.host === g.name)!.error } : g)),
        interrupted, saturation: saturation.sort((a, b) => a.host.localeCompare(b.host)), network, thresholds: results, merge: collected.merge,
      });
      await fs.writeFile(path.join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
      await fs.writeFile(path.join(runDir, 'stats.csv'), statsCsv(summary));
      await fs.writeFile(path.join(runDir, 'report.html'), reportHtml(summary));
      await live(lastTick, endedAtMs);
      process.stdout.write(opts.json ? `${JSON.stringify({ ...summary, dir: runDir }, null, 2)}\n` : summaryText(summary, runDir));
    });
    if (!summary) throw new Error('the run ended without a summary'); // unreachable: the callback wrote it or threw
    if (failure !== undefined) throw new WrappedError(`run ${runId} failed: ${(failure as Error).message}; what was measured is in ${runDir}`, failure);

    const failedHosts = [...new Set([...summary.collectionFailures.map((f) => f.host), ...collectionFailures.map((f) => f.host)])];
    if (failedHosts.length) throw new ExternalError(`collection failed on ${failedHosts.join(', ')}: the results in ${runDir} lack those hosts`);
    if (interrupted) throw new ExternalError(`run ${runId} was interrupted: the partial results are in ${runDir}`);
    const broken = summary.thresholds.filter((r) => !r.ok);
    if (broken.length) throw new ThresholdError(broken.map(describeBroken).join('; '));
    if (summary.generatorBound) say(`warning: the run was generator-bound (${summary.boundBy.join('; ')}): add agents or use bigger ones\n`);
  } finally {
    // Samplers the normal path did not stop (an error or a signal before collection): stopped here.
    await Promise.all([...samplers.values()].map(({ c, pid }) => runAsRoot(c.session, outputs.sshUser, `kill ${pid} 2>/dev/null || true`, `stopping the CPU sampler on ${c.host.name}`).catch(() => undefined)));
    for (const c of sessions) c.session.close();
    await release();
  }
}
