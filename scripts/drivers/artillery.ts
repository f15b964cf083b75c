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
import { artilleryErrors, finish, Merger, timelineBucketS, type GeneratorHdr } from '../run/merge';
import { notInstalledOr, onEveryHost, putFileScript } from './remote';
import { RUN_TIMING, sleep, type DriverContext, type DriverModule, type EngineDriver, type HostConn } from './types';

/**
 * Artillery times in whole ms: the plugin records got's `timings.phases.firstByte`, which @szmarczak/http-timer
 * takes from Date.now(). Figures are given at that resolution (never a histogram bucket edge such as 88.063).
 */
const ARTILLERY_RESOLUTION_MS = 1;

/** The YAML must parse and hold scenarios. */
async function validate(file: string, text: string): Promise<void> {
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
  refuseArtilleryEnsure(file, doc);
}

async function artilleryPluginTar(): Promise<Buffer> {
  const pluginDir = projectPath('scripts', 'run', 'artillery-plugin');
  const nm = projectPath('node_modules');
  const r = await execa('tar', ['-czf', '-', '-C', pluginDir, 'artillery-plugin-loadfleet-hdr', '-C', nm, 'hdr-histogram-js', 'pako', 'base64-js', '@assemblyscript/loader'], { encoding: 'buffer', stdin: 'ignore' });
  return Buffer.from(r.stdout);
}

function create({ p, agents, login, runId, rawSamples }: DriverContext): EngineDriver {
  const opts = { rawSamples };
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
        await runAsRoot(c.session, login, script, `pushing the script and plugin to ${c.host.name}`).catch(notInstalledOr(c.host.name, missing));
      }));
    },
    async start(signal?: AbortSignal) {
      // No master: every agent starts Artillery at once; loadfleet's plugin holds each worker before its
      // first phase until the release instant is written to every agent (like k6 --paused + PATCH).
      // The options after -- (checked by checkPassthrough before any host was touched), before the script path.
      const native = artilleryPassthrough(p.passthrough).map((a) => `${shQuote(a)} `).join('');
      await Promise.all(agents.map(async (c, i) => {
        const plugins = JSON.stringify({ 'loadfleet-hdr': { out: `${dir}/out`, generator: c.host.name, gate: `${dir}/gate`, ...(opts.rawSamples ? { rawSamples: true } : {}) } });
        const inner = `exec env LOADFLEET_GENERATOR=${c.host.name} LOADFLEET_GENERATOR_INDEX=${i + 1} LOADFLEET_GENERATORS=${agents.length} ARTILLERY_PLUGIN_PATH=${dir}/plugins NODE_PATH=${dir}/plugins/node_modules ARTILLERY_PLUGINS=${shQuote(plugins)} ARTILLERY_DISABLE_TELEMETRY=true DO_NOT_TRACK=1 ${ARTILLERY.bin} run --output ${dir}/out/artillery-report.json --overrides "$(cat ${dir}/overrides.json)" ${native}${dir}/script.yml`;
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
      const st = finish(m, 1, undefined, ARTILLERY_RESOLUTION_MS, false);
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
      await onEveryHost(agents, 'stopping Artillery', async (c) => {
        const pid = pids.get(c.host.name);
        if (!pid) return;
        // The whole session (sh, node and its worker threads): TERM, then KILL what is left.
        await runAsRoot(c.session, login, `kill -TERM -${pid} 2>/dev/null || true; i=0; while kill -0 ${pid} 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -${pid} 2>/dev/null || true`, `stopping Artillery on ${c.host.name}`);
      });
    },
    async collect(rawDir, startedAtMs, endedAtMs) {
      const merger = new Merger(timelineBucketS((endedAtMs - startedAtMs) / 1000));
      const lasts: number[] = [];
      const generators = await Promise.all(agents.map(async (c) => {
        try {
          const got = await pull(c);
          const report = await runAsRoot(c.session, login, `cat ${dir}/out/artillery-report.json 2>/dev/null || true`, `pulling ${c.host.name}'s Artillery report`);
          const gdir = path.join(rawDir, c.host.name);
          await fs.mkdir(gdir, { recursive: true });
          for (const [i, d] of got.docs.entries()) {
            await fs.writeFile(path.join(gdir, `hdr-${i}.json`), JSON.stringify(d));
            merger.addGenerator(d);
            const last = (d as GeneratorHdr & { lastResponseAtMs?: number | null }).lastResponseAtMs;
            if (typeof last === 'number') lasts.push(last);
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
      // Rates over the time load was really sent: from the first request of any agent to the last response of
      // any agent (the plugin records both per worker). run divides every rps by this window.
      const starts = generators.map((g) => g.startedAtMs).filter((x): x is number => x !== null);
      const t0 = starts.length ? Math.min(...starts) : startedAtMs;
      const t1 = lasts.length ? Math.max(...lasts) : endedAtMs;
      return {
        stats: finish(merger, Math.max(0.001, (t1 - t0) / 1000), Math.floor(t0 / 1000), ARTILLERY_RESOLUTION_MS), merge: ACCURACY, generators,
        sendWindow: { fromMs: t0, toMs: t1, basis: starts.length && lasts.length ? 'Artillery: the first request sent to the last response received, over every agent (loadfleet\'s plugin records both)' : `Artillery: ${starts.length ? 'the first request sent' : 'the release'} to ${lasts.length ? 'the last response received' : 'the stop'} (no request ${starts.length ? 'end ' : lasts.length ? 'start ' : ''}times were recorded)` },
      };
    },
  };
}

export const artilleryRun: DriverModule = { engine: 'artillery', scriptKind: 'an Artillery YAML', needsController: false, validate, checkPassthrough: (a) => void artilleryPassthrough(a), create };
