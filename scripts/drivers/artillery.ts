/**
 * Artillery's run driver. Artillery has no distributed mode for plain VMs: every agent runs its own
 * `artillery run` with its share of the phases; loadfleet's plugin (scripts/run/artillery-plugin) holds
 * each worker at a gate until one release instant is written to every agent, and keeps its response
 * times in HdrHistograms, which are merged here (Artillery's --output holds finished percentiles only).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { execa } from 'execa';
import YAML from 'yaml';
import { projectPath } from '../adapters/project-root';
import { ExternalError, UsageError } from '../core/errors';
import { runAsRoot } from '../core/privilege';
import { shQuote } from '../core/safe-text';
import { ARTILLERY } from '../engines/artillery';
import { ACCURACY } from '../run/histogram';
import { artilleryPhases } from '../run/load';
import { artilleryPassthrough, refuseArtilleryEnsure } from '../run/passthrough';
import { finish, Merger, timelineBucketS } from '../run/merge';
import { PER_SECOND_PRECISION, PerSecond } from '../run/per-second';
import { LiveBuckets, liveTotals, parseCollected, parseTick } from '../run/artillery-files';
import { ARTILLERY_OWNER, artilleryOwnerTouch, artilleryWatchdogScript } from '../run/artillery-owner';
import { notInstalledOr, onEveryHost, putFileScript } from './remote';
import { RUN_TIMING, sleep, type DriverContext, type DriverModule, type EngineDriver, type HostConn } from './types';

/**
 * Artillery times in whole ms: the plugin records got's `timings.phases.firstByte`, which @szmarczak/http-timer
 * takes from Date.now(). Figures are given at that resolution (never a histogram bucket edge such as 88.063).
 */
const ARTILLERY_RESOLUTION_MS = 1;

/**
 * The YAML must parse and hold scenarios, and name no file beside it: loadfleet pushes the script alone, so
 * a processor or payload file would pass here and then fail on every agent.
 */
async function validate(file: string, text: string): Promise<void> {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new UsageError(`--script (${file}) is not valid YAML: ${(e as Error).message}`);
  }
  const d = doc as { scenarios?: unknown; config?: { processor?: unknown; payload?: unknown } };
  if (!d || typeof d !== 'object' || !Array.isArray(d.scenarios) || d.scenarios.length === 0) {
    throw new UsageError(`--script (${file}) has no scenarios: Artillery needs a "scenarios:" list`);
  }
  const cfg = d.config && typeof d.config === 'object' ? d.config : {};
  if (cfg.processor !== undefined) {
    throw new UsageError(`--script (${file}) config.processor (${JSON.stringify(cfg.processor)}) names a file loadfleet does not push to the agents: remove it (loadfleet sends the YAML alone; a processor file would be missing on every agent)`);
  }
  if (cfg.payload !== undefined) {
    const paths = ([] as unknown[]).concat(cfg.payload).map((x) => (x && typeof x === 'object' ? (x as { path?: unknown }).path : x));
    throw new UsageError(`--script (${file}) config.payload (${JSON.stringify(paths)}) names a CSV file loadfleet does not push to the agents: remove it (loadfleet sends the YAML alone; the file would be missing on every agent)`);
  }
  refuseArtilleryEnsure(file, doc);
}

/** loadfleet's plugin and the modules it needs, as one gzipped tar that `prepare` unpacks on each agent. */
export async function artilleryPluginTar(): Promise<Buffer> {
  const pluginDir = projectPath('scripts', 'run', 'artillery-plugin');
  const nm = projectPath('node_modules');
  const r = await execa('tar', ['-czf', '-', '-C', pluginDir, 'artillery-plugin-loadfleet-hdr', '-C', nm, 'hdr-histogram-js', 'pako', 'base64-js', '@assemblyscript/loader'], { encoding: 'buffer', stdin: 'ignore' });
  return Buffer.from(r.stdout);
}

function create({ p, agents: fleet, login, runId, rawSamples }: DriverContext): EngineDriver {
  const opts = { rawSamples };
  const dir = `${ARTILLERY.dir}/runs/${runId}`;
  const allPhases = artilleryPhases(p.plan, fleet.length);
  // An agent whose share is 0 is left out (Artillery with only idle phases never starts a worker).
  const agents = fleet.filter((_, i) => allPhases[i] !== null);
  const phases = allPhases.filter((x) => x !== null);
  if (agents.length === 0) {
    throw new UsageError(`--rate ${p.plan.rate} over ${p.plan.durationS} s asks for no arrival at all (Artillery sends whole arrivals): raise --rate or --duration`);
  }
  const pids = new Map<string, number>();
  const live = new LiveBuckets();
  let exited = new Set<string>();
  let releasedAt: number | null = null;
  /** The release was asked on some agent (its gate may be open): from here on collect reads, then removes, the run folders. */
  let releaseAsked = false;
  let stopAskedAt: number | null = null;
  const stopFile = `${dir}/stop`;
  /** The live files and the buckets lines not read yet (only what is new: a tick costs the same at 1 min and 1 h). */
  const tickScript = (c: HostConn) => {
    const pid = pids.get(c.host.name);
    const known = [...live.offsets].filter(([f]) => f.startsWith(`${c.host.name}:`)).map(([f, o]) => `${shQuote(f.slice(c.host.name.length + 1))}) o=${o};;`).join(' ');
    return `cd ${dir} 2>/dev/null || exit 0
${artilleryOwnerTouch(dir)}
${pid ? `if kill -0 ${pid} 2>/dev/null; then echo alive; else echo exited; fi` : 'echo exited'}
for f in out/live-*.json; do [ -s "$f" ] && { printf 'L '; cat "$f"; echo; }; done
for f in out/buckets-*.ndjson; do [ -f "$f" ] || continue; o=0; case "$f" in ${known} *) ;; esac; echo "B ${c.host.name}:$f $o"; tail -c +$((o+1)) "$f"; echo; echo E; done
`;
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
        await runAsRoot(c.session, login, script, `pushing the script and plugin to ${c.host.name}`).catch(notInstalledOr(c.host.name, missing));
      }));
    },
    async start(signal?: AbortSignal) {
      // No master: every agent starts Artillery at once; loadfleet's plugin holds each worker before its
      // first phase until the release instant is written to every agent (like k6 --paused + PATCH).
      // The options after -- (checked by checkPassthrough before any host was touched), before the script path.
      const native = artilleryPassthrough(p.passthrough).map((a) => `${shQuote(a)} `).join('');
      await Promise.all(agents.map(async (c, i) => {
        const plugins = JSON.stringify({ 'loadfleet-hdr': { out: `${dir}/out`, generator: c.host.name, gate: `${dir}/gate`, stop: stopFile, ...(opts.rawSamples ? { rawSamples: true } : {}) } });
        const inner = `exec env LOADFLEET_GENERATOR=${c.host.name} LOADFLEET_GENERATOR_INDEX=${i + 1} LOADFLEET_GENERATORS=${agents.length} ARTILLERY_PLUGIN_PATH=${dir}/plugins NODE_PATH=${dir}/plugins/node_modules ARTILLERY_PLUGINS=${shQuote(plugins)} ARTILLERY_DISABLE_TELEMETRY=true DO_NOT_TRACK=1 ${ARTILLERY.bin} run --output ${dir}/out/artillery-report.json --overrides "$(cat ${dir}/overrides.json)" ${native}${dir}/script.yml`;
        // With its owner watchdog (scripts/run/artillery-owner.ts): no load outlives this process by more than
        // ARTILLERY_OWNER.staleS, and none runs past the ready wait + duration + grace.
        const limitS = (RUN_TIMING.artilleryReadyMs + RUN_TIMING.startLeadMs) / 1000 + p.plan.durationS + ARTILLERY_OWNER.graceS;
        const r = await runAsRoot(c.session, login, `mkdir -p ${dir}/gate; cd ${dir}; setsid nohup sh -c ${shQuote(inner)} > ${dir}/artillery.log 2>&1 < /dev/null & pid=$!
${artilleryWatchdogScript({ runDir: dir, runId, pidVar: 'pid', limitS })}
echo "pid $pid"`, `starting Artillery on ${c.host.name}`);
        pids.set(c.host.name, Number(/pid (\d+)/.exec(r.stdout)?.[1]));
      }));
      const deadline = Date.now() + RUN_TIMING.artilleryReadyMs;
      for (;;) {
        signal?.throwIfAborted();
        const ready = await Promise.all(agents.map(async (c) => {
          const r = await runAsRoot(c.session, login, `${artilleryOwnerTouch(dir)}; ls ${dir}/gate 2>/dev/null | grep -c '^ready-' || true; kill -0 ${pids.get(c.host.name)} 2>/dev/null && echo alive || { echo exited; tail -5 ${dir}/artillery.log; }`, `waiting for Artillery on ${c.host.name}`);
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
      releaseAsked = true;
      await Promise.all(agents.map((c) => runAsRoot(c.session, login, `echo ${at} > ${dir}/gate/go.tmp && mv ${dir}/gate/go.tmp ${dir}/gate/go && echo ${at} > ${dir}/started`, `releasing Artillery on ${c.host.name}`)));
      releasedAt = at;
      await sleep(Math.max(0, at - Date.now()));
      return at;
    },
    async tick() {
      const pulled = await Promise.all(agents.map(async (c) => {
        try {
          const r = await runAsRoot(c.session, login, tickScript(c), `reading ${c.host.name}'s live results`);
          return { docs: parseTick(r.stdout, live), alive: r.stdout.split('\n')[0] !== 'exited' };
        } catch {
          return { docs: [], alive: true };
        }
      }));
      exited = new Set(agents.filter((_, i) => !pulled[i]!.alive).map((c) => c.host.name));
      const docs = pulled.flatMap((x) => x.docs);
      const t = liveTotals(docs);
      const m = new Merger();
      m.total.add(t.total.count, t.total.failures, t.total.hist);
      const st = finish(m, 1, undefined, ARTILLERY_RESOLUTION_MS, false);
      const { rps, failPerS } = live.perSecondFigures(docs);
      return {
        // Users: the most virtual users running at once in each worker's last second, summed; rps: the responses of
        // the latest second every running worker has written (counts per second, not deltas between flushes).
        users: t.users, requests: t.requests, failures: t.failures, rps, failPerS, p50: st.total.p50, p95: st.total.p95, p99: st.total.p99,
        running: agents.filter((_, i) => pulled[i]!.docs.some((d) => d.firstRequestAtMs !== null)).map((c) => c.host.name),
        finished: exited.size === agents.length,
      };
    },
    async stop() {
      stopAskedAt ??= Date.now();
      await onEveryHost(agents, 'stopping Artillery', async (c) => {
        const pid = pids.get(c.host.name);
        if (!pid) return;
        // The stop file first: each worker flushes its counters and ends its thread at once (within 0.1 s); a
        // worker still at the gate ends without sending. Then the whole session (sh, node and its threads):
        // TERM once every worker is marked stopped (or after 5 s), then KILL what is left.
        await runAsRoot(c.session, login, `touch ${stopFile}; i=0; while kill -0 ${pid} 2>/dev/null && [ $i -lt 50 ]; do n=$(ls ${dir}/out/live-*.json 2>/dev/null | wc -l); s=$(grep -l '"stopped":true' ${dir}/out/live-*.json 2>/dev/null | wc -l); [ "$n" -gt 0 ] && [ "$s" -ge "$n" ] && break; sleep 0.1; i=$((i+1)); done
kill -TERM -${pid} 2>/dev/null || true; i=0; while kill -0 ${pid} 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -${pid} 2>/dev/null || true`, `stopping Artillery on ${c.host.name}`);
      });
      // Never released (prepare failed, or Ctrl-C before the release): no collect follows, so the run folder
      // (plugin, script, gate) goes now, on every agent it may have reached.
      // Best effort: a folder left behind is only disk, and must not read as a stop failure ("may still be sending").
      if (!releaseAsked) await Promise.all(agents.map((c) => runAsRoot(c.session, login, `rm -rf ${dir}`, `removing ${c.host.name}'s run folder`).catch(() => undefined)));
    },
    async collect(rawDir, startedAtMs, endedAtMs) {
      const merger = new Merger(timelineBucketS((endedAtMs - startedAtMs) / 1000));
      // Per second and endpoint, from the plugin's per-second lines: hist/ for compare (issue 17).
      const perSecond = new PerSecond();
      const generators = await Promise.all(agents.map(async (c) => {
        try {
          // Every worker's counters + endpoints and its per-second lines (the plugin's own files: a stopped or
          // killed Artillery writes no --output report, and the counts never depend on it).
          const got = await runAsRoot(c.session, login, `cd ${dir} 2>/dev/null || exit 0
for f in out/hdr-*.json; do [ -s "$f" ] || continue; id=\${f#out/hdr-}; id=\${id%.json}; echo "H $id"; cat "$f"; echo; echo B; cat "out/buckets-$id.ndjson" 2>/dev/null; echo; echo E; done`, `reading ${c.host.name}'s results`);
          const docs = parseCollected(got.stdout);
          const gdir = path.join(rawDir, c.host.name);
          await fs.mkdir(gdir, { recursive: true });
          for (const [i, { doc, perSecond: ps }] of docs.entries()) {
            await fs.writeFile(path.join(gdir, `hdr-${i}.json`), JSON.stringify(doc));
            merger.addGenerator(doc);
            perSecond.addAll(ps);
          }
          const samples = await runAsRoot(c.session, login, `cat ${dir}/out/*.samples 2>/dev/null || true`, `pulling ${c.host.name}'s raw samples`);
          if (samples.stdout) await fs.writeFile(path.join(gdir, 'samples.txt'), samples.stdout);
          // Artillery's own report (written only when it ended by itself) and log: kept for reference, counted from nowhere.
          const report = await runAsRoot(c.session, login, `cat ${dir}/out/artillery-report.json 2>/dev/null || true`, `pulling ${c.host.name}'s Artillery report`);
          if (report.stdout.trim()) await fs.writeFile(path.join(gdir, 'artillery-report.json'), report.stdout);
          const log = await runAsRoot(c.session, login, `tail -c 65536 ${dir}/artillery.log 2>/dev/null || true`, `pulling ${c.host.name}'s Artillery log`);
          if (log.stdout) await fs.writeFile(path.join(gdir, 'artillery.log'), log.stdout);
          if (docs.length === 0) throw new Error('no results were written on this host (did Artillery start? see artillery.log there)');
          // Everything this run put on the agent is now on the controller: remove it (plugin, script, results).
          await runAsRoot(c.session, login, `rm -rf ${dir}`, `removing ${c.host.name}'s run folder`);
          const firsts = docs.map((d) => d.doc.firstRequestAtMs).filter((x): x is number => typeof x === 'number');
          return { name: c.host.name, startedAtMs: firsts.length ? Math.min(...firsts) : null, rawFile: path.relative(path.dirname(rawDir), gdir) };
        } catch (e) {
          return { name: c.host.name, startedAtMs: null, rawFile: null, collectionError: `${(e as Error).message} (its run folder ${dir} is left on the host)` };
        }
      }));
      // Rates over the time load was sent, as the phases define it: every worker starts its phases at the release
      // instant (the gate), and they end after the duration — or at the stop, whichever came first. Not first
      // request → last response: arrivals come at the end of each interval (arrivals/lib/index.js, 2.0.21's
      // UniformProcess), so that span misses most of the first interval and inflates rps (3 s at 6/s read 7.3/s).
      const t0 = releasedAt ?? startedAtMs;
      const t1 = Math.max(t0, Math.min(t0 + p.plan.durationS * 1000, stopAskedAt ?? endedAtMs));
      return {
        stats: finish(merger, Math.max(0.001, (t1 - t0) / 1000), Math.floor(t0 / 1000), ARTILLERY_RESOLUTION_MS), merge: ACCURACY, generators,
        ...(perSecond.size ? { perSecond: { endpoints: perSecond.view(), precision: PER_SECOND_PRECISION.artillery } } : {}),
        sendWindow: { fromMs: t0, toMs: t1, basis: `Artillery: ${releasedAt !== null ? 'the release (every agent starts its phases there)' : 'the start (nothing was released)'} to the end of its phases (release + duration) or the stop, whichever came first` },
      };
    },
  };
}

export const artilleryRun: DriverModule = {
  engine: 'artillery', scriptKind: 'an Artillery YAML', needsController: false, validate, checkPassthrough: (a) => void artilleryPassthrough(a), create,
  // The split of the load over the agents (a refusal, e.g. fewer --users than sending agents) before doctor.
  check: (p) => void artilleryPhases(p.plan, p.outputs.hosts.filter((h) => h.role === 'agent').length),
};
