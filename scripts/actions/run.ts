/**
 * `loadfleet run`: one distributed headless test across the fleet, results merged correctly and kept
 * locally (.loadfleet/<env>/runs/<run-id>/) before anything else can go wrong. The pipeline is the same
 * for every engine — prepare → start together → watch (progress + saturation) → stop → collect → merge →
 * judge → report; the engine-specific parts are the `EngineDriver`s below. Pure logic lives in
 * scripts/run/; this file only orchestrates.
 */
import * as fs from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import * as path from 'node:path';
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { KnownHosts, connectSsh } from '../adapters/ssh';
import { jumpFor } from '../core/door';
import { pinFirstContact, pinTargetsOf } from './host-keys';
import type { RunSnapshot } from '../monitoring/run-metrics';
import { ExternalError, ThresholdError, UsageError, VerdictError, WrappedError } from '../core/errors';
import { positiveNumber, targetUrl } from '../core/flags';
import type { SshSession } from '../core/fanout';
import { runAsRoot } from '../core/privilege';
import { shQuote } from '../core/safe-text';
import type { HostKind } from '../core/tuning';
import type { Host } from '../core/env-record';
import type { EngineName } from '../../stacks/engines';
import { parseDuration, parseStages, resolveLoad } from '../run/load';
import { judgeHost, netCountersScript, networkCheck, parseSamples, samplerScript, type HostSaturation, type NetworkFlag } from '../run/saturation';
import { buildSummary, liveLine, rpsOver, rpsWindowOf, statsCsv, summaryText, type RunSummary } from '../run/summary';
import { reportHtml } from '../run/report';
import { abortingThreshold, describeBroken, evaluate, parseThreshold } from '../run/thresholds';
import { driverModule } from '../drivers';
import { RUN_TIMING, type Collected, type EngineDriver, type HostConn, type Prepared, type Tick } from '../drivers/types';
import type { MergedStats } from '../run/merge';
import { withInterrupts } from './signals';
import { holderAlive, releaseLockFile, takeLockFile } from '../adapters/lock';
import { doctorAction } from './doctor';
import { DoctorFailedError, NothingInstalledError, doctorFailureKind } from '../core/doctor';
import { describeTopErrors, externalHostProblem, multiRegionHostProblem } from '../run/host-check';
import { checkLabel, keepRunData, runMeta, writeFileAtomic } from './keep-run';
import { judgeBaseline, resolveRun, tolerancesOf, type CompareOptions } from './compare';
import type { CompareResult } from '../compare/verdict';

export { RUN_TIMING };

export interface RunOptions extends CommonOptions {
  readonly script?: string;
  readonly users?: string;
  readonly rate?: string;
  readonly duration?: string;
  readonly stages?: string;
  readonly threshold?: string[];
  /** Where the generators send load; default http://<first target host>:<its first port>. */
  readonly host?: string;
  /** --host may name a server outside the fleet's targets (issue 22). */
  readonly allowExternalHost?: boolean;
  readonly skipDoctor?: boolean;
  readonly json?: boolean;
  /** Artillery: also keep every latency (raw/<agent>/samples.txt) to audit the merged percentiles. */
  readonly rawSamples?: boolean;
  /** The engine's own options (after `--`), passed through as they are. */
  readonly passthrough?: readonly string[];
  /** A name to find this run by (runs, compare, run --baseline). */
  readonly label?: string;
  /** Judge the run against this kept run (id, label, latest, folder): its verdict decides the exit code too. */
  readonly baseline?: string;
  /** compare's tolerances, --junit and --markdown, for --baseline. */
  readonly compare?: CompareOptions;
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

/** Everything checked before any host is touched: exit 2 with the field, the value and the fix. */
export async function prepareRun(opts: RunOptions): Promise<Prepared & { ctx: Awaited<ReturnType<typeof resolveEnv>>; targetAsked: string }> {
  if (opts.host !== undefined) targetUrl('--host', opts.host); // before anything: the refusal must not wait on the env
  const ctx = await resolveEnv(opts, true);
  const outputs = await ctx.envDir.requireOutputs();
  if (ctx.record && ctx.record.status !== 'up') throw new UsageError(`env "${outputs.env}" is ${ctx.record.status}, not up: run "loadfleet up" and "loadfleet install" first`);
  const engine = outputs.engine as EngineName;
  const driver = driverModule(engine);
  if (!opts.script) throw new UsageError(`--script is required: ${driver.scriptKind} to run`);
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
  checkLabel(opts.label);
  // --baseline names a kept run and its tolerances are valid: checked before any host is touched.
  if (opts.baseline !== undefined) {
    tolerancesOf(opts.compare ?? {});
    await resolveRun(opts.baseline, ctx.envDir.file('runs'), '--baseline');
    // The files a finished run writes its verdict to must be writable now, not after the load.
    for (const [flag, file] of [['--junit', opts.compare?.junit], ['--markdown', opts.compare?.markdown]] as const) {
      if (file === undefined) continue;
      const dir = path.dirname(path.resolve(file));
      await fs.access(dir, fsConstants.W_OK).catch((e: NodeJS.ErrnoException) => {
        throw new UsageError(`${flag} (${file}): its folder ${dir} is not writable (${e.code ?? e.message}): create it or name another file`);
      });
    }
  }
  const passthrough = opts.passthrough ?? [];
  driver.checkPassthrough?.(passthrough);
  await driver.validate(opts.script, scriptText);
  const agents = outputs.hosts.filter((h) => h.role === 'agent');
  if (agents.length === 0) throw new UsageError(`env "${outputs.env}" has no agents: set agents.count and run "loadfleet up"`);
  let hostUrl = opts.host;
  // What compare matches runs on (meta.json): the --host URL as given (a DNS name stays a name, whatever it resolves
  // to), or the env's target host by name — never only its IP, which changes with every `up` on AWS (issue 17).
  let targetAsked = opts.host;
  if (hostUrl === undefined) {
    const target = outputs.hosts.find((h) => h.role === 'target');
    const port = ctx.loaded?.config.targets.find((t) => target?.group === t.name)?.ports[0] ?? ctx.loaded?.config.targets[0]?.ports[0];
    if (!target || !port) throw new UsageError(`env "${outputs.env}" has no target host: pass --host http://<address>:<port>`);
    const remote = multiRegionHostProblem(outputs, port);
    if (remote) throw new UsageError(remote);
    hostUrl = `http://${target.privateIp}:${port}`;
    targetAsked = `the env's target ${target.name}, port ${port}`;
  } else if (!opts.allowExternalHost) {
    const problem = externalHostProblem(hostUrl, outputs);
    if (problem) throw new UsageError(problem);
  }
  const prepared: Prepared = { outputs, kind: outputs.target === 'local' ? 'netns' : 'ec2', engine, scriptPath: path.resolve(opts.script), scriptText, plan, thresholds, hostUrl, passthrough };
  // What the engine cannot do with this plan (nGrinder: no stages, no percentile thresholds): before doctor.
  driver.check?.(prepared);
  return { ctx, targetAsked: targetAsked ?? hostUrl, ...prepared };
}

// ---- the lock: one running test per env ----

/**
 * Throws the UsageError naming the run still going on this env (its runs/.lock, pid alive); a lock left by a
 * dead run is ignored. Checked before the env lock too, so a second run names the run, not only a pid.
 */
export async function assertNoRunGoing(runsDir: string): Promise<void> {
  const raw = await fs.readFile(path.join(runsDir, '.lock'), 'utf8').catch(() => undefined);
  if (raw === undefined) return;
  let held: { pid?: number; pidStart?: string; runId?: string } = {};
  try {
    held = JSON.parse(raw) as typeof held;
  } catch {
    return; // unreadable: takeLock takes it over
  }
  // Alive = the pid runs and, where recorded, started at the recorded time (a reused pid is not the run).
  if (holderAlive(held)) throw new UsageError(`run ${held.runId ?? '?'} is still going on this env (loadfleet pid ${held.pid}): wait for it, or stop it with Ctrl-C`);
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

/** Per host: /var/log is private to each local-target host (/var/lib is the machine's). */
const SAMPLER_DIR = '/var/log/loadfleet/runs';

async function startSampler(c: HostConn, login: string, runId: string, maxSeconds: number): Promise<{ pid: number; ethtoolBefore: string }> {
  const dir = `${SAMPLER_DIR}/${runId}`;
  // Under timeout: a sampler this process never stops (killed, host unreachable at the end) still ends.
  // timeout forwards stopSampler's TERM to the loop's whole process group.
  // The network counters of the default-route interface (issue 16.10: not a fixed eth0), or why not.
  const script = `mkdir -p ${dir}; { ${netCountersScript()}
} > ${dir}/net-before.txt 2>/dev/null || true
setsid nohup timeout ${Math.ceil(maxSeconds)} sh -c ${shQuote(samplerScript(1))} > ${dir}/sampler.log 2>/dev/null < /dev/null & echo "pid $!"
cat ${dir}/net-before.txt`;
  const r = await runAsRoot(c.session, login, script, `starting the CPU sampler on ${c.host.name}`);
  const pid = Number(/^pid (\d+)/m.exec(r.stdout)?.[1]);
  return { pid, ethtoolBefore: r.stdout.replace(/^pid \d+\n?/m, '') };
}

async function stopSampler(c: HostConn, login: string, runId: string, pid: number): Promise<{ samples: string; ethtoolAfter: string }> {
  const dir = `${SAMPLER_DIR}/${runId}`;
  const r = await runAsRoot(c.session, login, `kill ${pid} 2>/dev/null || true\necho '--- sampler'\ncat ${dir}/sampler.log 2>/dev/null\necho '--- ethtool'\n${netCountersScript()}\n`, `stopping the CPU sampler on ${c.host.name}`);
  const [, samples = '', ethtoolAfter = ''] = r.stdout.split(/^--- (?:sampler|ethtool)\n/m);
  return { samples, ethtoolAfter };
}

// ---- what run keeps when a step fails ----

/** Statistics of a run nothing was measured of (every latency unknown: null, never 0). */
export function emptyStats(): MergedStats {
  const none = { min: null, mean: null, p50: null, p90: null, p95: null, p99: null, max: null };
  return { total: { name: 'Total', requests: 0, failures: 0, rps: 0, ...none }, endpoints: [], timeline: [], errors: {} };
}

/**
 * driver.collect, guarded: when it throws anyway (a driver's bug, or a failure it did not catch), run still
 * writes a summary from what is known — no statistics, every generator marked with the collection error — and
 * returns the error so the run exits with its kind once the summary is written.
 */
export async function collectGuarded(driver: Pick<EngineDriver, 'collect'>, generators: readonly string[], args: Parameters<EngineDriver['collect']>): Promise<{ collected: Collected; error?: unknown }> {
  try {
    return { collected: await driver.collect(...args) };
  } catch (e) {
    const why = `collecting the results failed: ${(e as Error).message}`;
    return {
      collected: { stats: emptyStats(), merge: `NOTHING MERGED — ${why}`, generators: generators.map((name) => ({ name, startedAtMs: args[3].get(name) ?? null, rawFile: null, collectionError: why })) },
      error: e,
    };
  }
}

/**
 * Which hosts a stop() failure is about: those its message names (a driver names the host that refused), else
 * every generator — any of them may still be sending.
 */
export function stopFailureHosts(message: string, hosts: readonly string[], generators: readonly string[]): string[] {
  const named = hosts.filter((h) => new RegExp(`(^|[^\\w.-])${h.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\w.-])`).test(message));
  return named.length ? named : [...generators];
}

/**
 * How a run that wrote its summary ends, first match wins: the start/watch failure (its own kind, stop failures
 * named too); a stop that failed (exit 1 naming the hosts: a generator may still be sending); collect throwing
 * (an engine's refusal → 1, a bug keeps 70); hosts whose results are missing (1); an interrupt (1); broken
 * thresholds. undefined: the run passed.
 */
export function runEndError(o: {
  runId: string;
  runDir: string;
  summary: Pick<RunSummary, 'collectionFailures' | 'thresholds'> & Partial<Pick<RunSummary, 'total' | 'errors'>>;
  failure: unknown;
  stopFailures: readonly { host: string; error: string }[];
  collectError: unknown;
  samplerFailures: readonly { host: string; error: string }[];
  interrupted: boolean;
  /** driver.start was called (false: interrupted before the release). */
  released: boolean;
}): Error | undefined {
  const { runId, runDir } = o;
  const stopHosts = [...new Set(o.stopFailures.map((f) => f.host))];
  const stopText = stopHosts.length ? `stopping the load failed on ${stopHosts.join(', ')} (a generator there may still be sending: check it, or run "loadfleet doctor"): ${[...new Set(o.stopFailures.map((f) => f.error))].join('; ')}` : '';
  if (o.failure !== undefined) return new WrappedError(`run ${runId} failed: ${(o.failure as Error).message}${stopText ? `; ${stopText}` : ''}; what was measured is in ${runDir}`, o.failure);
  if (stopText) return new ExternalError(`run ${runId}: ${stopText}; what was measured is in ${runDir}`);
  // collect threw: the summary is written (no statistics); an engine's refusal exits 1, a bug keeps 70.
  if (o.collectError !== undefined) {
    const why = `run ${runId}: collecting the results failed: ${(o.collectError as Error).message}; the summary without statistics is in ${runDir}`;
    return o.collectError instanceof ExternalError || o.collectError instanceof UsageError ? new ExternalError(why, { cause: o.collectError }) : new WrappedError(why, o.collectError);
  }
  const failedHosts = [...new Set([...o.summary.collectionFailures.map((f) => f.host), ...o.samplerFailures.map((f) => f.host)])];
  if (failedHosts.length) return new ExternalError(`collection failed on ${failedHosts.join(', ')}: the results in ${runDir} lack those hosts`);
  if (o.interrupted) return new ExternalError(o.released ? `run ${runId} was interrupted: the partial results are in ${runDir}` : `run ${runId} was interrupted before the load was released: nothing was sent (${runDir})`);
  // Not one request succeeded: the test did not test the target (issue 22) — exit 1 naming the top errors, unless
  // the user asked for a verdict and a threshold broke: that stays exit 3 (issue 15: "no latency measured"),
  // its message naming the errors too.
  const t = o.summary.total;
  // A released run that sent nothing at all (a script that raises before its first request) is no pass either.
  const noneSucceeded = !t ? '' : t.requests === 0 ? `no request was sent (does the script reach its first request? see the engine's log in ${runDir}/raw)` : t.failures >= t.requests ? `none of the ${t.requests} requests succeeded; top errors: ${describeTopErrors(o.summary.errors ?? {}, 5)}` : '';
  const broken = o.summary.thresholds.filter((r) => !r.ok);
  if (broken.length) return new ThresholdError(`${broken.map(describeBroken).join('; ')}${noneSucceeded ? `; ${noneSucceeded}` : ''}`);
  if (noneSucceeded) return new ExternalError(`run ${runId}: ${noneSucceeded}; the results are in ${runDir}`);
  return undefined;
}

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
      // Keep the failure's kind: a fleet not installed is the order of commands (exit 2), a host failing a
      // check (a worker down, a host unreachable) is the world saying no (exit 1), anything else keeps its own.
      const why = `doctor failed, so the run did not start: ${(e as Error).message}`;
      if (e instanceof NothingInstalledError) throw new UsageError(`the run did not start: ${e.message}`);
      if (e instanceof DoctorFailedError) {
        if (doctorFailureKind(e.failed) === 'usage') throw new UsageError(`${why} — run "loadfleet install -c <config>" first`);
        throw new ExternalError(`${why} (fix the hosts named, or pass --skip-doctor)`, { cause: e });
      }
      throw new WrappedError(`${why} (fix it, or pass --skip-doctor)`, e);
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
    const firstContact = await pinFirstContact(outputs.target, loaded.config.region, knownHosts, pinTargetsOf(outputs.hosts.filter((h) => h.role === 'agent' || h.role === 'controller')));
    for (const note of firstContact.notes) say(`note: ${note}\n`);
    const connect = async (h: Host) => {
      const session = await connectSsh(h.publicIp || h.privateIp, { user: outputs.sshUser, privateKeyPath: loaded.privateKeyPath, knownHosts, via: jumpFor(outputs.hosts, h.publicIp || h.privateIp) });
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
    const mod = driverModule(p.engine);
    if (mod.needsController && !controller) throw new UsageError(`env "${outputs.env}" has no controller, which ${p.engine} needs`);
    const driver = mod.create({ p, controller, agents, login: outputs.sshUser, runId, envDir: ctx.envDir.dir, rawSamples: opts.rawSamples });
    const watched = [...(controller ? [{ c: controller, role: 'controller' as const }] : []), ...agents.map((c) => ({ c, role: 'agent' as const }))];
    // The longest a run can need: its duration, the engines' start-up waits and stop grace, then collection.
    // (+ 25 min: a stop may wait for JMeter's dashboard, up to 10 min, and collection pulls large raw files.)
    const samplerMaxS = p.plan.durationS + (RUN_TIMING.artilleryReadyMs + RUN_TIMING.workersWaitMs + RUN_TIMING.selfStopGraceMs) / 1000 + 1500;

    let interrupted = false;
    let startedAtMs = 0;
    let endedAtMs = 0;
    const firstSeen = new Map<string, number>();
    let liveWarned = false;
    const live = async (t: Tick | undefined, ended: number | null) => {
      if (!hooks.onLive) return;
      try {
        await hooks.onLive(
          { runId, engine: p.engine, startedAtMs, endedAtMs: ended, users: t?.users ?? 0, requests: t?.requests ?? 0, failures: t?.failures ?? 0, currentRps: t?.rps ?? 0, currentFailuresPerSecond: t?.failPerS ?? 0, percentilesMs: { p50: t?.p50 ?? null, p95: t?.p95 ?? null, p99: t?.p99 ?? null } },
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
    const stopFailures: { host: string; error: string }[] = [];
    /** driver.start was called: from here on the load may have been released (collect, summary). */
    let startCalled = false;
    /** driver.start returned: the load was released (a start that threw released nothing, by the drivers' contract). */
    let startReturned = false;
    /** What the driver's collect threw (its kind decides the exit once the summary is written). */
    let collectError: unknown;
    /** The abort-form threshold lost on the live figures, which ended the watch (k6's abortOnFail). */
    let abortedBy: RunSummary['abortedBy'];
    let baseline: CompareResult | undefined;
    let baselineError: unknown;
    // One signal count from prepare until summary.json is written: a Ctrl-C while preparing, starting the
    // samplers, stopping or collecting is reported, never fatal (Node's default handler would leave locust.conf,
    // an uploaded script or a started sampler behind, and lose everything measured).
    await withInterrupts(async (signal) => {
      // Said once Ctrl-C is handled (a script watching for this line may interrupt from here on).
      if (!opts.json) say(`run ${runId}: ${p.engine} on ${agents.length} agents → ${p.hostUrl}; ${p.plan.users} users, ${p.plan.durationS} s\n`);
      try {
        await (async () => {
          // A driver may poll the signal in its waits (optional): one that does not is stopped right after.
          await driver.prepare(signal);
          signal.throwIfAborted();
          await Promise.all(watched.map(async ({ c }) => samplers.set(c.host.name, { c, ...(await startSampler(c, outputs.sshUser, runId, samplerMaxS)) })));
          signal.throwIfAborted();
          startCalled = true;
          // A start that fails or is interrupted returns no release instant: the run's clock starts here.
          const startAskedAt = Date.now();
          startedAtMs = await driver.start(signal).catch((e: unknown) => {
            startedAtMs = startAskedAt;
            throw e;
          });
          startReturned = true;
          // An engine that stops by itself gets a grace for its start-up and its last requests.
          const endAt = startedAtMs + p.plan.durationS * 1000 + (driver.selfStopping ? RUN_TIMING.selfStopGraceMs : 0);
          while (!signal.aborted && Date.now() < endAt) {
            const now = Date.now();
            const t = await driver.tick((now - startedAtMs) / 1000);
            lastTick = t;
            for (const g of t.running) if (!firstSeen.has(g)) firstSeen.set(g, now);
            await live(t, null);
            if (!opts.json) say(liveLine(t, (now - startedAtMs) / 1000, p.plan.durationS));
            // An abort-form threshold already lost on the live figures ends the test now (stop, collect, judge).
            const atS = Math.round((now - startedAtMs) / 100) / 10;
            const lost = abortingThreshold(p.thresholds, t, atS);
            if (lost) {
              abortedBy = { expr: lost.threshold.expr, atS, measured: lost.measured, unit: lost.threshold.metric === 'errors' ? '%' : lost.threshold.metric === 'requests' ? '' : 'ms' };
              say(`run: threshold '${lost.threshold.expr}' lost at ${atS} s (${lost.measured}${abortedBy.unit}): aborting the test\n`);
              break;
            }
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
        if (startCalled || signal.aborted) say(`run: ${(e as Error).message}; stopping the test on every host\n`);
        if (!signal.aborted) failure = e;
      } finally {
        // Whatever happened above, the load stops everywhere (and a driver cleans up what prepare wrote) and
        // what was measured is collected. A stop that fails may leave a generator sending: recorded per host.
        await driver.stop().catch((e: Error) => {
          say(`stopping the test: ${e.message}\n`);
          const hosts = stopFailureHosts(e.message, sessions.map((c) => c.host.name), agents.map((c) => c.host.name));
          stopFailures.push(...hosts.map((host) => ({ host, error: e.message })));
        });
        endedAtMs = Date.now();
      }
      interrupted = signal.aborted;
      // prepare or the samplers failed (not a signal): nothing was released; the error keeps its own kind, no summary.
      if (!startCalled && !interrupted) throw failure;
      if (!startCalled) startedAtMs = endedAtMs;

      const saturation: HostSaturation[] = [];
      const network: NetworkFlag[] = [];
      const networkGaps: { host: string; reason: string }[] = [];
      collectionFailures = [];
      await Promise.all(watched.map(async ({ c, role }) => {
        const s = samplers.get(c.host.name);
        if (!s) return;
        try {
          const got = await stopSampler(c, outputs.sshUser, runId, s.pid);
          samplers.delete(c.host.name);
          await fs.writeFile(path.join(rawDir, `${c.host.name}-cpu.txt`), got.samples);
          // Judged over release → stop: samples that do not cover it make the host's saturation unknown (and a
          // collection failure), never "not bound".
          const judged = judgeHost(c.host.name, role, parseSamples(got.samples), p.kind === 'ec2', startCalled ? { fromMs: startedAtMs, toMs: endedAtMs } : undefined);
          saturation.push(judged);
          if (judged.bound === null) collectionFailures.push({ host: c.host.name, error: judged.reason! });
          const net = networkCheck(c.host.name, s.ethtoolBefore, got.ethtoolAfter, p.kind === 'ec2');
          network.push(...net.flags);
          if (net.gap) networkGaps.push({ host: c.host.name, reason: net.gap });
        } catch (e) {
          collectionFailures.push({ host: c.host.name, error: `saturation samples: ${(e as Error).message}` });
        }
      }));
      const agentNames = agents.map((c) => c.host.name);
      let collected: Collected;
      // Interrupted while the start was still waiting (e.g. Artillery's readiness wait): by the drivers' contract
      // nothing was released, so there is nothing to collect — not a collection failure, not "0 req/s over 10 s".
      const released = startReturned || (startCalled && !interrupted);
      if (!released) startedAtMs = endedAtMs;
      if (released) {
        const got = await collectGuarded(driver, agentNames, [rawDir, startedAtMs, endedAtMs, firstSeen]);
        collected = got.collected;
        collectError = got.error;
        if (got.error !== undefined) say(`run: ${(got.error as Error).message}; the summary has no statistics\n`);
      } else {
        // Interrupted before the release: nothing was sent, so there is nothing to collect.
        collected = { stats: emptyStats(), merge: 'nothing was sent: the run was interrupted before the load was released', generators: agentNames.map((name) => ({ name, startedAtMs: null, rawFile: null })) };
      }
      void lastTick;
      // Every rps over the span the load was really sent (the driver's send window), not the wall time.
      const rpsWindow = rpsWindowOf(collected.sendWindow, startedAtMs, endedAtMs);
      const stats = rpsOver(collected.stats, rpsWindow.seconds);
      // A partial summary (the engine's controller stopped answering) lacks figures it never collected.
      const judged = evaluate(p.thresholds, stats, { partial: collected.merge.startsWith('PARTIAL') });
      const results = judged.map((r) => (abortedBy && r.expr === abortedBy.expr ? { ...r, ok: false, abortedRun: { atS: abortedBy.atS, measured: abortedBy.measured } } : r));
      summary = buildSummary({
        runId, env: outputs.env, engine: p.engine, script: p.scriptPath, startedAtMs, endedAtMs, plan: p.plan, stats, rpsWindow,
        generators: collected.generators.map((g) => (collectionFailures.find((f) => f.host === g.name) && !g.collectionError ? { ...g, collectionError: collectionFailures.find((f) => f.host === g.name)!.error } : g)),
        interrupted, abortedBy, released, saturation: saturation.sort((a, b) => a.host.localeCompare(b.host)), network, networkGaps, thresholds: results, merge: collected.merge,
        // Hosts that are not generators (the controller): the driver's failures and their samplers'.
        hostFailures: [...(collected.hostFailures ?? []), ...collectionFailures.filter((f) => !collected.generators.some((g) => g.name === f.host))],
        stopFailures, warnings: collected.warnings,
      });
      await writeFileAtomic(path.join(runDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
      await fs.writeFile(path.join(runDir, 'stats.csv'), statsCsv(summary));
      await fs.writeFile(path.join(runDir, 'report.html'), reportHtml(summary));
      // Issue 17: meta.json and hist/ for runs/compare (a failure here is said, never loses the summary).
      await keepRunData(runDir, runMeta({ label: checkLabel(opts.label), scriptText: p.scriptText, engineVersion: loaded.config.engineVersion, agents: agents.length, agentType: loaded.config.agents.instanceType, controllerType: loaded.config.controller.instanceType, target: p.targetAsked, targetUrl: p.hostUrl, hostKind: p.kind }), startedAtMs, collected.perSecond).catch((e: Error) => say(`keeping the per-second histograms failed: ${e.message}\n`));
      await live(lastTick, endedAtMs);
      process.stdout.write(opts.json ? `${JSON.stringify({ ...summary, dir: runDir }, null, 2)}\n` : summaryText(summary, runDir));
      if (opts.baseline !== undefined) {
        // After the summary is out: a failing comparison must not hide what the run measured.
        try {
          baseline = await judgeBaseline(runDir, runsDir, opts.baseline, { ...opts.compare, say });
          // The summary keeps both: the thresholds (above) and the baseline verdict.
          await writeFileAtomic(path.join(runDir, 'summary.json'), `${JSON.stringify({ ...summary, baseline: { ref: opts.baseline, runId: baseline.base.runId, verdict: baseline.verdict, exitCode: baseline.exitCode, reasons: baseline.reasons } }, null, 2)}\n`);
        } catch (e) {
          baselineError = e;
        }
      }
    }, { stopping: 'stopping the test on every host, then collecting what was measured…' });
    if (!summary) throw new Error('the run ended without a summary'); // unreachable: the callback wrote it or threw
    const end = runEndError({ runId, runDir, summary, failure, stopFailures, collectError, samplerFailures: collectionFailures, interrupted, released: startReturned });
    if (end) throw end;
    if (baselineError !== undefined) throw new ExternalError(`run ${runId}: comparing with --baseline ${opts.baseline} failed: ${(baselineError as Error).message}; the run's results are in ${runDir}`, { cause: baselineError });
    // Thresholds held (a broken one exits 3 above): the baseline verdict decides — regression 3, inconclusive 4.
    if (baseline && baseline.verdict !== 'pass') throw new VerdictError(baseline.verdict, `baseline ${opts.baseline}: ${baseline.verdict}: ${baseline.reasons.join('; ')}`);
    for (const g of summary.networkGaps ?? []) say(`warning: ${g.host}: ${g.reason}; whether the network allowances were exceeded is not known\n`);
    if (summary.generatorBound) say(`warning: the run was generator-bound (${summary.boundBy.join('; ')}): add agents or use bigger ones\n`);
  } finally {
    // Samplers the normal path did not stop (an error or a signal before collection): stopped here.
    await Promise.all([...samplers.values()].map(({ c, pid }) => runAsRoot(c.session, outputs.sshUser, `kill ${pid} 2>/dev/null || true`, `stopping the CPU sampler on ${c.host.name}`).catch(() => undefined)));
    for (const c of sessions) c.session.close();
    await release();
  }
}
