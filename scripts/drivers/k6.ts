/**
 * k6's run driver, designed as k6-operator runs k6 (notes/engines.md "k6"): no master — one `k6 run --paused`
 * per agent, each with its execution segment and the same segment sequence, its REST API on the agent's
 * loopback (127.0.0.1:6565: it has no login); when every instance answers paused, all are released at one agreed instant by a tiny sh on
 * each agent that sleeps until then and sends `PATCH /v1/status` (so SSH latency does not spread the start).
 * k6 ends by itself after its duration/stages. Each instance's raw points (`--out json`) are filtered on the
 * agent, pulled, and merged here into HdrHistograms: per-instance summaries cannot be merged (k6-operator#812).
 *
 * The REST API is reached with curl on the agent itself (this machine reaches private addresses on EC2 only
 * through SSH). Not run against a real k6 here (k6 is not obtainable on this machine): the command lines, the
 * sh and the parsers follow k6's documented CLI, REST API and JSON output (cited in scripts/run/k6-*.ts).
 */
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { createGunzip } from 'node:zlib';
import { execa } from 'execa';
import { ExternalError, UsageError } from '../core/errors';
import { runAsRoot } from '../core/privilege';
import { ACCURACY } from '../run/histogram';
import { k6Commands, type K6Instance } from '../run/commands';
import { combineK6Live, K6PointReader, k6ReadyToRelease, lineSplitter, parseK6Metrics, parseK6Status, type K6Live } from '../run/k6-output';
import {
  checkK6Passthrough, checkK6Script, k6AgentPaths, k6CancelScript, k6LoadfleetEnv, k6ChunkScript, K6_CHUNK_BYTES, k6FilterScript, k6LogScript, K6_MISSING_EXIT, K6_NO_POINTS_EXIT,
  k6PrepareScript, k6ReleaseScript, k6StartScript, k6StatusScript, k6StopScript, k6TickScript, type K6AgentPaths,
} from '../run/k6-run';
import { finish, Merger, timelineBucketS } from '../run/merge';
import { PER_SECOND_PRECISION, PerSecond } from '../run/per-second';
import { RUN_TIMING, sleep, type DriverContext, type DriverModule, type EngineDriver, type HostConn, type Prepared } from './types';
import { notInstalledOr, onEveryHost } from './remote';
import { monitoringAddressFor } from '../core/inventory';

/** k6's own waits and pull size, shrinkable by tests (like RUN_TIMING). */
export const K6_TIMING = {
  /** Bytes of the filtered points file pulled per SSH call (base64 on stdout, ~1.4 × as many characters). */
  chunkBytes: K6_CHUNK_BYTES,
  /** Every instance paused with its VUs initialised, at most this long after the start. */
  readyMs: 120_000,
  readyPollMs: 300,
  /** After PATCH stopped:true, k6 gets this long to write its last points and exit before TERM. */
  stopGraceS: 10,
  /**
   * The filter step (gzip -dc | grep | gzip -1 over the whole points file: ~3 GB of JSON per million requests,
   * tens of seconds per million on one core) gets this long, not the 2-minute SSH step default, which a run of
   * a few million requests per agent outlasts (and a timeout drops the SSH session). JMeter's pack step: 600 s.
   */
  filterMs: 1_800_000,
};

/** Syntax through Node's own parser (k6 scripts are ES modules; k6-specific imports are not resolved), then k6's rules. */
async function validate(file: string, text: string): Promise<void> {
  checkK6Script(file, text);
  if (/\.(ts|mts|cts)$/i.test(file)) return; // k6 runs TypeScript itself; Node's parser would refuse its types
  const r = await execa(process.execPath, ['--input-type=module', '--check'], { input: text, reject: false });
  if (r.exitCode !== 0) {
    const lines = String(r.stderr).split('\n').filter((l) => l.trim() && !/^\s+at /.test(l) && !/^Node\.js v/.test(l));
    throw new UsageError(`--script (${file}) is not valid JavaScript (checked with Node's parser, as an ES module like k6 loads it):\n${lines.slice(0, 6).join('\n').replace(/\[stdin\]/g, file)}`);
  }
}

interface Agent {
  readonly c: HostConn;
  readonly inst: K6Instance;
  readonly paths: K6AgentPaths;
  pid?: number;
}

function create({ p, agents: conns, login, runId }: DriverContext): EngineDriver {
  // The engine's own options, checked before any host is touched (exit 2 naming the option).
  checkK6Passthrough(p.passthrough);
  const fleet = conns.map((c) => ({ name: c.host.name, privateIp: c.host.privateIp }));
  const scriptFile = path.basename(p.scriptPath);
  // One command line per agent (its segment, and its own LOADFLEET_GENERATOR* in __ENV); the same plan for all.
  // With a monitoring host, every instance pushes its metrics there (Prometheus remote write, issue 16.9): the
  // run dashboard's k6 panels read them. The security group admits the agents to 9090 for k6 only.
  const mon = p.outputs.hosts.find((h) => h.role === 'monitoring');
  const instances = conns.map((c, i) => k6Commands({
    agents: fleet,
    plan: p.plan,
    script: k6AgentPaths(runId, '', scriptFile).script,
    runId,
    // An agent in another region pushes to monitoring's public address (its private one does not route there).
    ...(mon ? { monitoring: { ip: monitoringAddressFor(c.host, mon), env: p.outputs.env } } : {}),
    passthrough: [...k6LoadfleetEnv(p.hostUrl, c.host.name, i + 1, conns.length), ...p.passthrough],
  })[i]!);
  const agents: Agent[] = conns.map((c, i) => ({ c, inst: instances[i]!, paths: k6AgentPaths(runId, instances[i]!.rawFile, scriptFile) }));
  // k6 ends by itself; the bound only matters when loadfleet is gone: the start-up wait, the test, its
  // graceful stop (k6's default gracefulStop 30 s; teardown), and room to spare.
  const boundS = K6_TIMING.readyMs / 1000 + p.plan.durationS + RUN_TIMING.selfStopGraceMs / 1000 + 120;
  const exec = (a: Agent, script: string, what: string, opts: { timeoutMs?: number } = {}) => runAsRoot(a.c.session, login, script, `${what} on ${a.c.host.name}`, opts);
  let prevRequests = 0;
  let prevFailures = 0;
  let prevAt = 0;
  const seenRunning = new Set<string>();
  /** Each instance's last live numbers (an ended instance's API is gone). */
  const lastLive = new Map<string, K6Live>();
  /** Epoch ms each agent sent its PATCH (its own clock), for the merge note. */
  const releasedAt = new Map<string, number>();
  /** Agents whose release sh never answered: they may have sent their PATCH. */
  const releaseUnknown = new Set<string>();

  const cancelAll = () =>
    Promise.all(agents.map((a) => exec(a, k6CancelScript(a.paths), 'cancelling the k6 release').catch(() => undefined)));

  return {
    selfStopping: true,
    async prepare() {
      await Promise.all(agents.map(async (a) => {
        await exec(a, k6PrepareScript(a.paths, p.scriptText), 'pushing the k6 script').catch(notInstalledOr(a.c.host.name, (stderr) => stderr.trim(), K6_MISSING_EXIT));
      }));
    },

    async start(signal?: AbortSignal) {
      signal?.throwIfAborted();
      // Every start answers before a failure is thrown, so stop() knows each started instance's pid (and the
      // start sh wrote it to k6.pid for one whose answer was lost): none is left paused holding its port.
      const starts = await Promise.allSettled(agents.map(async (a) => {
        const r = await exec(a, k6StartScript(a.paths, a.inst, boundS), 'starting k6');
        const pid = Number(/pid (\d+)/.exec(r.stdout)?.[1]);
        if (!pid) throw new ExternalError(`starting k6 on ${a.c.host.name} printed no pid: ${r.stdout.slice(0, 200)}`);
        a.pid = pid;
      }));
      const startFailed = starts.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (startFailed) throw startFailed.reason;
      // Wait until every instance answers on its REST API, paused with its VUs ready.
      const deadline = Date.now() + K6_TIMING.readyMs;
      for (;;) {
        signal?.throwIfAborted();
        const ready = await Promise.all(agents.map(async (a) => {
          const r = await exec(a, k6StatusScript(a.paths, a.pid!, a.inst.apiAddress), 'waiting for k6');
          const [state = '', ...rest] = r.stdout.split('\n');
          if (state.startsWith('exited')) {
            const code = state.slice('exited '.length).trim();
            const log = rest.join('\n').trim().slice(-1500);
            // 104 invalid config, 107 script exception, 255 could not load the script (k6 errext/exitcodes).
            if (['104', '107', '255'].includes(code)) throw new UsageError(`k6 could not load the script on ${a.c.host.name} (exit ${code}): ${log}`);
            throw new ExternalError(`k6 exited on ${a.c.host.name} before the start (exit ${code}): ${log}`);
          }
          const st = parseK6Status(rest.join('\n'));
          return st !== undefined && k6ReadyToRelease(st);
        }));
        if (ready.every(Boolean)) break;
        if (Date.now() > deadline) throw new ExternalError(`k6 was not ready (paused, REST API answering) on ${agents.filter((_, i) => !ready[i]).map((a) => a.c.host.name).join(', ')} within ${K6_TIMING.readyMs / 1000} s`);
        await sleep(K6_TIMING.readyPollMs);
      }
      // A Ctrl-C during the wait: never release (stop() ends the paused instances).
      signal?.throwIfAborted();
      const at = Date.now() + RUN_TIMING.startLeadMs;
      // A signal while the agents sleep toward the instant: cancel files stop the PATCHes not yet sent.
      const onAbort = () => void cancelAll();
      signal?.addEventListener('abort', onAbort, { once: true });
      let settled: PromiseSettledResult<string>[];
      try {
        settled = await Promise.allSettled(agents.map(async (a) => (await exec(a, k6ReleaseScript(a.paths, a.inst.apiAddress, at), 'releasing k6')).stdout));
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
      // Which agents sent their PATCH (an abort within one SSH round trip of the instant can come after some
      // did): collect() then knows whether any load may have been sent.
      settled.forEach((r, i) => {
        const name = agents[i]!.c.host.name;
        if (r.status === 'rejected') releaseUnknown.add(name);
        else if (/^released \d+/.test(r.value)) releasedAt.set(name, Number(/^released (\d+)/.exec(r.value)![1]));
      });
      signal?.throwIfAborted();
      const releaseFailed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (releaseFailed) throw releaseFailed.reason;
      const outs = settled.map((r) => (r as PromiseFulfilledResult<string>).value);
      const failed = agents.filter((_, i) => {
        const [first = '', ...body] = outs[i]!.split('\n');
        const st = parseK6Status(body.join('\n'));
        return !first.startsWith('released') || !st || st.paused;
      });
      if (failed.length) throw new ExternalError(`k6 did not accept the release on ${failed.map((a) => `${a.c.host.name} (${outs[agents.indexOf(a)]!.trim().slice(0, 300)})`).join(', ')}`);
      prevAt = at;
      await sleep(Math.max(0, at - Date.now()));
      return at;
    },

    async tick() {
      const reads = await Promise.all(agents.map(async (a) => {
        try {
          const r = await exec(a, k6TickScript(a.pid!, a.inst.apiAddress), 'reading k6');
          const [state = '', ...body] = r.stdout.split('\n');
          return { alive: state === 'alive', live: parseK6Metrics(body.join('\n')) };
        } catch {
          return { alive: true, live: undefined }; // a missed read: no data this tick, not a verdict
        }
      }));
      agents.forEach((a, i) => {
        const live = reads[i]!.live ?? lastLive.get(a.c.host.name);
        if (live) lastLive.set(a.c.host.name, reads[i]!.alive ? live : { ...live, vus: 0 });
        if ((live?.requests ?? 0) > 0) seenRunning.add(a.c.host.name);
      });
      // An instance that has ended (or missed this read) no longer answers: its last counts still count.
      const all = combineK6Live(agents.map((a) => lastLive.get(a.c.host.name)).filter((l): l is K6Live => l !== undefined));
      const requests = Math.max(prevRequests, all.requests);
      const failures = Math.max(prevFailures, all.failures);
      const now = Date.now();
      const dt = Math.max(0.001, (now - prevAt) / 1000);
      const rps = Math.max(0, (requests - prevRequests) / dt);
      const failPerS = Math.max(0, (failures - prevFailures) / dt);
      [prevRequests, prevFailures, prevAt] = [requests, failures, now];
      return {
        users: all.vus, requests, failures, rps: Math.round(rps * 10) / 10, failPerS: Math.round(failPerS * 10) / 10,
        p50: all.p50, p95: all.p95, p99: all.p99,
        running: [...seenRunning],
        finished: reads.every((r) => !r.alive),
      };
    },

    async stop() {
      await onEveryHost(agents.map((a) => ({ a, host: a.c.host })), 'stopping k6', ({ a }) => exec(a, k6StopScript(a.paths, a.pid, a.inst.apiAddress, K6_TIMING.stopGraceS), 'stopping k6'));
    },

    async collect(rawDir, startedAtMs, endedAtMs) {
      // startedAtMs is 0 when the start failed: no load was released, the span is nothing.
      const bucketS = timelineBucketS(startedAtMs > 0 ? (endedAtMs - startedAtMs) / 1000 : 0);
      const total = new Merger(bucketS);
      // Per second and endpoint from the same points: hist/ for compare (issue 17). A generator's counts join only
      // once its whole file was read (as its merge does).
      const perSecond = new PerSecond();
      // No agent sent its PATCH (the start failed or was interrupted before the instant): no instance sent a
      // request, so a missing points file is the truth, not a collection failure.
      const neverReleased = releasedAt.size === 0 && releaseUnknown.size === 0;
      const generators = await Promise.all(agents.map(async (a) => {
        const gdir = path.join(rawDir, a.c.host.name);
        await fs.mkdir(gdir, { recursive: true });
        const log = await exec(a, k6LogScript(a.paths), 'reading k6\'s log').catch((e: Error) => ({ stdout: `(could not read k6's log: ${e.message})\n` }));
        await fs.writeFile(path.join(gdir, 'k6.log'), log.stdout);
        try {
          // Each generator merges on its own first: a host whose pull fails adds nothing half-read to the total.
          const m = new Merger(bucketS);
          m.perSecond = new PerSecond();
          const reader = await pullPoints(a, path.join(gdir, 'points-http.json.gz'), m);
          total.addGenerator(m.toHdr(a.c.host.name));
          perSecond.addAll(m.perSecond);
          const note = reader.skipped ? ` (${reader.skipped} unreadable lines skipped: the file was cut short)` : '';
          if (note) await fs.appendFile(path.join(gdir, 'k6.log'), `\nloadfleet: ${note.trim()}\n`);
          return { name: a.c.host.name, startedAtMs: reader.firstRequestAtMs, lastAtMs: reader.lastResponseAtMs, rawFile: path.relative(path.dirname(rawDir), gdir) };
        } catch (e) {
          const code = (e as { result?: { code: number | null } }).result?.code;
          if (neverReleased && code === K6_NO_POINTS_EXIT) return { name: a.c.host.name, startedAtMs: null, lastAtMs: null, rawFile: path.relative(path.dirname(rawDir), gdir) };
          return { name: a.c.host.name, startedAtMs: null, lastAtMs: null, rawFile: null, collectionError: (e as Error).message };
        }
      }));
      // Rates over the time load was really sent: the first request of any generator to the last response.
      const starts = generators.map((g) => g.startedAtMs).filter((x): x is number => x !== null);
      const ends = generators.map((g) => g.lastAtMs).filter((x): x is number => x !== null);
      const t0 = starts.length ? Math.min(...starts) : startedAtMs;
      const t1 = ends.length ? Math.max(...ends) : endedAtMs;
      const releaseNote = neverReleased
        ? 'Never released: the run stopped before the release instant, so no instance sent a request (an agent without a points file is not a collection failure).'
        : `Released at one agreed instant${startedAtMs > 0 ? `, ${new Date(startedAtMs).toISOString()}` : ''}: each agent's PATCH sent (its own clock) at ${[...releasedAt].map(([n, t]) => `${startedAtMs > 0 ? `+${t - startedAtMs} ms` : new Date(t).toISOString()} (${n})`).join(', ')}${releaseUnknown.size ? `; unknown on ${[...releaseUnknown].join(', ')} (its release sh did not answer)` : ''}.`;
      const merge =
        `k6: every http_req_duration point of every instance (k6 --out json, filtered on the agent to http_req_duration/http_req_failed, kept in raw/<agent>/points-http.json.gz) recorded into one ${ACCURACY}. ` +
        'A request failed when its http_req_failed point is 1 (k6\'s response callback: by default a status outside 2xx/3xx or no response), else by its expected_response tag or status. ' +
        `Generator start = its first request sent (first point's time minus its duration; with a slow ramp k6 starts some instances' first VU later, by design). ${releaseNote} ` +
        'The live p95 shown during the run was the highest instance\'s own (approximate, an upper bound); these numbers replace it.';
      return {
        stats: finish(total, Math.max(0.001, (t1 - t0) / 1000), Math.floor(t0 / 1000)),
        ...(starts.length && ends.length ? { sendWindow: { fromMs: t0, toMs: t1, basis: 'k6: the first request sent to the last response received, over every instance (from the raw points)' } } : {}),
        merge,
        ...(perSecond.size ? { perSecond: { endpoints: perSecond.view(), precision: PER_SECOND_PRECISION.k6 } } : {}),
        generators: generators.map(({ lastAtMs: _l, ...g }) => g),
      };
    },
  };

  /** Filters the points on the agent, pulls them in base64 chunks into `file`, and folds them into `m` as they arrive. */
  async function pullPoints(a: Agent, file: string, m: Merger): Promise<K6PointReader> {
    const size = Number((await exec(a, k6FilterScript(a.paths), 'filtering k6\'s points', { timeoutMs: K6_TIMING.filterMs })).stdout.trim());
    if (!Number.isFinite(size)) throw new Error('could not read the size of the filtered points file');
    const reader = new K6PointReader(m);
    const lines = lineSplitter((l) => reader.line(l));
    const gunzip = createGunzip();
    gunzip.setEncoding('utf8');
    gunzip.on('data', (s: string) => lines.push(s));
    const done = new Promise<void>((resolve, reject) => {
      gunzip.on('end', resolve);
      gunzip.on('error', (e: NodeJS.ErrnoException) => (e.code === 'Z_BUF_ERROR' ? resolve() : reject(e))); // a cut-off gzip: keep what was read
    });
    const out = createWriteStream(file);
    try {
      for (let i = 0; i * K6_TIMING.chunkBytes < size; i++) {
        const r = await exec(a, k6ChunkScript(a.paths, i, K6_TIMING.chunkBytes), 'pulling k6\'s points');
        const buf = Buffer.from(r.stdout.trim(), 'base64');
        out.write(buf);
        if (!gunzip.write(buf)) await new Promise((r2) => gunzip.once('drain', r2));
      }
      gunzip.end();
      await done;
    } finally {
      await new Promise<void>((r) => out.end(r));
    }
    lines.end();
    reader.end();
    return reader;
  }
}

/**
 * k6 v2.0.0's REST API reports trends with fixed stats, p(90) and p(95) but no p(99) (TrendSink.Format), so the
 * live p99 is always null: an abort form on p99 would never fire. Refused before the run.
 */
function check(p: Prepared): void {
  const t = p.thresholds.find((x) => x.abort && x.metric === 'p99');
  if (t) throw new UsageError(`--threshold '${t.expr}': k6's live figures have no p99 (its REST API reports p(90) and p(95) only), so this abort would never fire: abort on p95, or drop :abort to judge p99 at the end`);
}

export const k6Run: DriverModule = { engine: 'k6', scriptKind: 'a k6 script', needsController: false, validate, checkPassthrough: checkK6Passthrough, check, create };
