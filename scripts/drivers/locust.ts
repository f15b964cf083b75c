/**
 * Locust's run driver: the master on the controller (installed in web-UI mode) is driven through its web
 * API; it starts every worker together and adds their bucketed response times, so its numbers are merged
 * already. The locustfile is pushed to every host and the services restarted to load it.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { execa } from 'execa';
import { LocustApi } from '../adapters/locust-api';
import { ExternalError, ToolMissingError, UsageError } from '../core/errors';
import { runAsRoot } from '../core/privilege';
import { LOCUST, restartLocustScript } from '../engines/locust';
import { locustSchedule } from '../run/load';
import type { TimelinePoint } from '../run/merge';
import { parseLocustFailures, parseLocustLive, parseLocustStats, type LocustLive } from '../run/locust-csv';
import { NOT_INSTALLED_EXIT, putFileScript } from './remote';
import { RUN_TIMING, sleep, type DriverContext, type DriverModule, type EngineDriver } from './types';

/** Python's own parser says whether the locustfile loads. */
async function validate(file: string, text: string): Promise<void> {
  const r = await execa('python3', ['-c', 'import ast,sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])', file], { reject: false, stdin: 'ignore' }).catch((e: Error) => ({ exitCode: -1, stderr: e.message }));
  if (r.exitCode === -1 || /ENOENT/.test(String(r.stderr)) && r.exitCode !== 1) throw new ToolMissingError('python3', 'apt-get install python3 (it checks the locustfile before the run)');
  if (r.exitCode !== 0) {
    const lines = String(r.stderr).trim().split('\n');
    throw new UsageError(`--script (${file}) is not a loadable locustfile: Python says:\n${lines.slice(-4).join('\n')}`);
  }
  if (!/\b(HttpUser|FastHttpUser|User)\b/.test(text)) throw new UsageError(`--script (${file}) defines no Locust User class (HttpUser, FastHttpUser or User)`);
}

function create({ p, controller: maybeController, agents, login }: DriverContext): EngineDriver {
  if (!maybeController) throw new UsageError(`env "${p.outputs.env}" has no controller for the Locust master`);
  const controller = maybeController;
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
        if (e.result?.code === NOT_INSTALLED_EXIT) throw new UsageError(`${c.host.name}: ${missing}`);
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


export const locustRun: DriverModule = { engine: 'locust', scriptKind: 'a locustfile', needsController: true, validate, create };
