/**
 * Locust's run driver: the master on the controller (installed in web-UI mode, the UI on 127.0.0.1 only) is
 * driven through its web API with curl on the controller over SSH; it starts every worker together and adds
 * their bucketed response times, so its numbers are merged already. The locustfile is pushed to every host
 * (with a suffix that logs each worker's first request) and the services restarted to load it. No load without
 * a live owner: a watchdog on the controller stops the swarm when `run` stops refreshing its owner file, and
 * the swarm carries run_time = duration + grace (scripts/run/locust-control.ts).
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { execa } from 'execa';
import { LocustApi } from '../adapters/locust-api';
import { ExternalError, ToolMissingError, UsageError } from '../core/errors';
import { runAsRoot } from '../core/privilege';
import { SV } from '../core/supervise';
import { OPT } from '../engines/common';
import { LOCUST, restartLocustScript } from '../engines/locust';
import type { HostKind } from '../core/tuning';
import { locustConf, LOCUST_CONF_NAME } from '../run/passthrough';
import { locustSchedule } from '../run/load';
import type { TimelinePoint } from '../run/merge';
import {
  locustClearOwnersScript, locustFirstRequestSuffix, locustOwnerFile, LOCUST_OWNER, locustReleaseOwnerScript, locustWatchdogScript, parseFirstRequest, workerLogMarkScript, workerLogSinceScript,
} from '../run/locust-control';
import { locustPartialStats, locustRpsSeconds, parseLocustFailures, parseLocustLive, parseLocustStats, type LocustLive } from '../run/locust-csv';
import { histPullFailed, LIVE_WINDOW_S, liveFromHist, LOCUST_HIST_PLUGIN, LOCUST_HIST_PRECISION, locustLatencyFromHist, locustWithoutHist, parseLocustHist } from '../run/locust-hist';
import { notInstalledOr, NOT_INSTALLED_EXIT, putFileScript } from './remote';
import { shQuote } from '../core/safe-text';
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

/** Where the options after -- are written on every host (the services' working directory). */
const LOCUST_CONF = `${LOCUST.dir}/${LOCUST_CONF_NAME}`;

/**
 * sh (as root): the installed Locust imports `content` (the locustfile as it will be pushed) from a private
 * temporary folder with --list, as the services will load it, and exits with Locust's code; the live
 * locustfile is not touched (issue 22.4: a bad import is found before any host changes). Locust 2.12.1's
 * main() calls load_locustfile() before anything else (locust/main.py), so an import or syntax error ends it
 * with Python's traceback on stderr and a non-zero exit. Exit 42: Locust is not installed.
 */
export function locustImportScript(kind: HostKind, content: string, missing: string): string {
  const b64 = Buffer.from(content).toString('base64');
  return [
    `[ -d ${LOCUST.dir} ] || { echo ${shQuote(missing)} >&2; exit ${NOT_INSTALLED_EXIT}; }`,
    'd=$(mktemp -d) || exit 1',
    'o=$(mktemp) || { rm -rf "$d"; exit 1; }',
    // On EC2 --list runs as the services' user (issue 20.6): the folder is theirs; Locust's output goes to a file of
    // root's outside it, so nothing the imported code does in that folder changes what root reads back.
    ...(kind === 'netns' ? [] : [`chown ${LOCUST.user} "$d"`]),
    `printf %s ${shQuote(b64)} | base64 -d > "$d/locustfile.py"`,
    `( cd "$d" && ${locustListScript(kind).replace(`cd ${LOCUST.dir} && `, '').replace(`-f ${LOCUST.locustfile}`, '-f "$d/locustfile.py"').trim()} ) >"$o" 2>&1; rc=$?`,
    // The temporary path in the traceback becomes a marker the driver replaces with the user's file name.
    'sed "s#$d/locustfile.py#@LOCUSTFILE@#g" "$o"; rm -rf "$d" "$o"; exit $rc',
  ].join('\n') + '\n';
}

/**
 * The import check's non-zero exit → whose fault: the user's script (a UsageError, exit 2, with Python's words)
 * only when Locust itself ran and failed; `timeout` giving up (124, GNU coreutils timeout(1)) or the shell not
 * finding or not executing a command (127/126, POSIX sh: the Locust venv the unit names is gone on EC2, setpriv
 * missing) is the host's fault: an ExternalError (exit 1) naming what failed.
 */
export function importCheckError(code: number, output: string, file: string, host: string): UsageError | ExternalError {
  const said = output.replaceAll('@LOCUSTFILE@', file).trim().split('\n').slice(-3).join('\n  ');
  const tail = said ? `; it said:\n  ${said}` : '';
  if (code === 124) return new ExternalError(`importing --script (${file}) with Locust's --list on ${host} did not finish within 60 s (timeout, exit 124): the host is too slow or the locustfile blocks at import${tail}`);
  if (code === 127 || code === 126) return new ExternalError(`the Locust import check could not run on ${host} (exit ${code}: a command was ${code === 127 ? 'not found' : 'not executable'} — the Locust venv named in /etc/systemd/system/${LOCUST.masterService}.service, or setpriv; reinstall the engine with \`loadfleet install\`)${tail}`);
  return new UsageError(`--script (${file}) does not load in Locust on ${host}; Python says:\n  ${importFailure(output, file)}\nNothing was changed on the hosts.`);
}

/** Python's last traceback lines (the frame in the user's file, its line, the error), with the user's file name. */
export function importFailure(output: string, file: string): string {
  const lines = output.replaceAll('@LOCUSTFILE@', file).trimEnd().split('\n');
  const start = lines.map((l) => l.startsWith('Traceback')).lastIndexOf(true);
  const tb = start >= 0 ? lines.slice(start + 1) : lines;
  // The frames inside the user's file and the error line; Locust's own frames say nothing about the fix.
  const own = tb.flatMap((l, i) => (l.includes(`"${file}"`) ? [l.trim(), (tb[i + 1] ?? '').trim()] : []));
  const error = tb.filter((l) => /^\S/.test(l)).at(-1) ?? tb.at(-1) ?? '';
  return [...own, ...(own.length ? [] : tb.slice(-4).map((l) => l.trim())), error].filter((l, i, a) => l && a.indexOf(l) === i).join('\n  ');
}

/**
 * sh (as root) running the installed Locust with --list in the services' working directory; exit 2 = Locust refused
 * an option. --list imports the user's locustfile: on EC2 it runs as the services' own user, never root (issue 20.6);
 * on a namespace host the services themselves run as root (README: local hosts are not a security boundary).
 */
export function locustListScript(kind: HostKind): string {
  const cmd = kind === 'netns'
    ? `/usr/bin/python3 ${LOCUST.debianFix}`
    // EC2: the venv the master's unit starts (scripts/engines/locust.ts writes its path into ExecStart).
    : `"$(grep -o '${OPT}/locust-[^/ ]*/venv/bin/locust' /etc/systemd/system/${LOCUST.masterService}.service | head -n 1)"`;
  const drop = kind === 'netns' ? '' : `setpriv --reuid=${LOCUST.user} --regid=${LOCUST.user} --init-groups `;
  return `cd ${LOCUST.dir} && timeout 60 ${drop}${cmd} -f ${LOCUST.locustfile} --list\n`;
}

/** sh (as root) sending KILL to the master process; its supervisor (systemd Restart=always, or the supervise loop) restarts it. */
function killMasterScript(kind: HostKind): string {
  return kind === 'ec2'
    ? `timeout 20 systemctl kill -s KILL ${LOCUST.masterService}.service\n`
    : // Only while that pid is still a Locust master (a pid reused by another process is left alone).
      `p=$(cat ${SV.run}/${LOCUST.masterService}/pid 2>/dev/null) && [ -n "$p" ] && tr '\\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- '--master' && kill -KILL "$p"\n`;
}

function create({ p, controller: maybeController, agents, login, runId }: DriverContext): EngineDriver {
  if (!maybeController) throw new UsageError(`env "${p.outputs.env}" has no controller for the Locust master`);
  const controller = maybeController;
  const api = new LocustApi(async (script, what) => (await runAsRoot(controller.session, login, script, `${what} on ${controller.host.name}`, { timeoutMs: 30_000 })).stdout, LOCUST.webPort, `on ${controller.host.name} (127.0.0.1:${LOCUST.webPort})`);
  /** Where each agent's worker logs ended before this run's restart (collect pulls only what follows). */
  const logMarks = new Map<string, string>();
  /** The locustfile as pushed: the user's, unchanged, then the first-request hook for this run. */
  // The user's locustfile, then loadfleet's per-second histogram listener (issue 17) and first-request hook (issue 15).
  const pushedScript = `${p.scriptText.replace(/\n*$/, '\n')}${LOCUST_HIST_PLUGIN.replace(/\n*$/, '\n')}${locustFirstRequestSuffix(runId)}`;
  /**
   * Live rates from the master's cumulative counts (its own current_rps is a moving average that lags the
   * load by seconds): workers report every 3 s, so the totals move in steps; each step is spread over the
   * time since the previous one (requests per second over that interval), never shown as 0 then a spike.
   */
  let lastStep: { at: number; requests: number; failures: number } | undefined;
  let lastRate = { rps: 0, failPerS: 0 };
  const schedule = locustSchedule(p.plan);
  let next = 0;
  const hostnames = new Map<string, string>(); // Locust worker id prefix (hostname) → agent name
  let last: LocustLive | undefined;
  const timeline: TimelinePoint[] = [];
  let t0 = 0;
  /** The master's last /stats/requests answer and when (for a partial summary if it stops answering). */
  let lastRaw: unknown;
  let lastRawAt = 0;
  /** Why the master is considered gone (set once), and whether stop() already ran. */
  let masterDown: string | undefined;
  let stopped = false;
  let confWritten = false;
  /** Best effort, after the run: the start of the next run removes or rewrites it anyway. */
  const removeConf = async () => {
    if (!confWritten) return;
    await Promise.all([controller, ...agents].map((c) => runAsRoot(c.session, login, `rm -f ${LOCUST_CONF}`, `removing locust.conf on ${c.host.name}`).catch(() => undefined)));
  };
  /** Whether prepare replaced the locustfile on the hosts (then a failed start puts the previous one back). */
  let pushed = false;
  /** The previous locustfile back on every host and Locust restarted on it; what happened, for the error. */
  async function restorePrevious(): Promise<string> {
    const restore = `[ -f ${LOCUST.locustfile}.prev ] && mv -f ${LOCUST.locustfile}.prev ${LOCUST.locustfile}\n`;
    const failed: string[] = [];
    const one = async (c: typeof controller) => {
      try {
        await runAsRoot(c.session, login, `${restore}(\n${restartLocustScript(p.kind)}) || exit $?\n`, `restoring the previous locustfile on ${c.host.name}`);
      } catch (err) {
        failed.push(`${c.host.name}: ${(err as Error).message}`);
      }
    };
    // The master first: a master that stops sends quit to every worker connected to it (as in prepare).
    await one(controller);
    await Promise.all(agents.map(one));
    return failed.length
      ? `\nthe previous locustfile could not be put back on ${failed.join('; ')}: run "loadfleet install" to reset it`
      : '\nthe previous locustfile is back on every host and Locust restarted on it';
  }

  /** prepare's steps; the signal is polled in the one long wait (the workers connecting). */
  async function prepareHosts(signal?: AbortSignal): Promise<void> {
    const all = [controller, ...agents];
    const missing = `Locust is not installed on this host (${LOCUST.dir} missing): run "loadfleet install -c <config>" first`;
    // The options after -- go into locust.conf in the services' working directory (LOCUST.dir), which
    // Locust's master and workers read at start (configargparse default_config_files ["~/.locust.conf",
    // "locust.conf"] in 2.12.1's locust/argument_parser.py; docs/configuration.rst says the same for later
    // versions). Written, or removed when there are none, on every host at the start of every run, before the
    // restart below, and removed again once the run is collected (so a service restarted outside run — by
    // install, or after a crash — does not read it either): options never reach a later run.
    const conf = locustConf(p.passthrough);
    confWritten = !!conf;
    const confScript = conf ? putFileScript(LOCUST_CONF, conf).replace('set -eu\n', '') : `rm -f ${LOCUST_CONF}`;
    // The installed Locust imports the new locustfile first (issue 22.4): a bad import is exit 2 with Python's words,
    // file and line, and no host has changed.
    const imported = await runAsRoot(controller.session, login, locustImportScript(p.kind, pushedScript, missing), `importing the locustfile on ${controller.host.name}`, { timeoutMs: 90_000 })
      .then(() => undefined, (e: Error & { result?: { code: number | null; stdout?: string } }) => {
        if (e.result?.code === NOT_INSTALLED_EXIT) return notInstalledOr(controller.host.name, missing)(e);
        if (e.result && e.result.code !== null && e.result.code !== 0 && e.result.stdout) return { code: e.result.code, output: e.result.stdout };
        throw new ExternalError(e.message);
      });
    if (imported) throw importCheckError(imported.code, imported.output, p.scriptPath, controller.host.name);
    // The previous locustfile is kept beside it (.prev), so a failed start can put it back (issue 22.4).
    const backup = `[ -f ${LOCUST.locustfile} ] && cp -p ${LOCUST.locustfile} ${LOCUST.locustfile}.prev || true`;
    pushed = true;
    await Promise.all(all.map((c) => runAsRoot(c.session, login, `${putFileScript(LOCUST.locustfile, pushedScript, LOCUST.dir, missing).replace('set -eu\n', `set -eu\n${backup}\n`)}\n${confScript}\n`, `pushing the locustfile to ${c.host.name}`).catch(notInstalledOr(c.host.name, missing))));
    if (conf) {
      // Locust itself says whether it takes these options (and the locustfile's own ones): --list parses
      // the command line and locust.conf like the services do, then prints the user classes and exits.
      const r = await runAsRoot(controller.session, login, locustListScript(p.kind), `checking the Locust options on ${controller.host.name}`).catch((e: Error & { result?: { code: number | null; stderr?: string; stdout?: string } }) => {
        if (e.result?.code === 2) return { refused: `${e.result.stderr ?? ''}${e.result.stdout ?? ''}`.trim() };
        throw new ExternalError(e.message);
      });
      if ('refused' in r) {
        await removeConf();
        throw new UsageError(`Locust refused the options after --: ${r.refused.split('\n').filter((l) => /error/i.test(l)).map((l) => l.replace(/^\S+\.py: error:/, 'locust: error:')).join(' ') || r.refused.slice(-400)}`);
      }
    }
    let cores = 0;
    await Promise.all(agents.map(async (c) => {
      const r = await runAsRoot(c.session, login, 'nproc; hostname', `reading ${c.host.name}`);
      const [n, hn] = r.stdout.trim().split('\n');
      cores += Number(n);
      hostnames.set(hn!.trim(), c.host.name);
    }));
    // Owner files of earlier runs go: their watchdogs (a killed run's) exit and never stop this run.
    await runAsRoot(controller.session, login, locustClearOwnersScript(), `clearing earlier runs' watchdogs on ${controller.host.name}`);
    // The master first: a master that stops sends `quit` to every worker connected to it (MasterRunner.quit),
    // which would end workers already restarted for this run. Then the workers, and where their logs end now:
    // collect pulls only what this run's workers write after that (raw/<agent>-worker.log).
    await runAsRoot(controller.session, login, restartLocustScript(p.kind), `restarting Locust on ${controller.host.name}`);
    await Promise.all(agents.map(async (c) => {
      // The marks BEFORE the restart: a restarted worker may log its start before a mark taken afterwards (seen
      // under load), which collect would then miss; the old process's last lines are cut at collect (from the
      // restarted worker's "Starting Locust" on). The restart sh ends with `exit 0`: in a subshell.
      const r = await runAsRoot(c.session, login, `${workerLogMarkScript(p.kind)}(\n${restartLocustScript(p.kind)}) >&2 || exit $?\n`, `restarting Locust on ${c.host.name}`);
      logMarks.set(c.host.name, r.stdout);
    }));
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
      signal?.throwIfAborted();
      if (Date.now() > deadline) throw new ExternalError(`only ${seen} of ${cores} Locust workers connected to the master within ${RUN_TIMING.workersWaitMs / 1000} s: check "loadfleet doctor"`);
      await sleep(500);
    }
  }

  const driver: EngineDriver = {
    selfStopping: false,
    async prepare(signal) {
      try {
        await prepareHosts(signal);
      } catch (e) {
        // Failed or interrupted (Ctrl-C) before the release: no collect follows, so locust.conf goes now.
        await removeConf();
        // A failed start puts the previous locustfile back and restarts Locust on it, so the fleet stays as it
        // was (issue 22.4): doctor and the next run see a healthy master, not one crash-looping on this script.
        if (pushed && !signal?.aborted) {
          const restored = await restorePrevious();
          if (e instanceof Error) e.message += restored;
        }
        throw e;
      }
    },
    async start() {
      const s = schedule[next++]!;
      // The owner first: no swarm runs without a watchdog that stops it when this process is gone.
      // Its failure is the watchdog's (a shell step on the controller), not the master's: the master was not asked
      // anything yet and nothing was released (stop() sees t0 = 0).
      await runAsRoot(controller.session, login, locustWatchdogScript({ runId, webPort: LOCUST.webPort, durationS: p.plan.durationS }), `starting the run's watchdog on ${controller.host.name}`).catch((e: Error) => {
        throw new ExternalError(`${e.message} (no load was released)`);
      });
      api.owner = locustOwnerFile(runId);
      t0 = Date.now();
      await masterSays(() => api.swarm(s.userCount, s.spawnRate, p.hostUrl, p.plan.durationS + LOCUST_OWNER.graceS));
      return t0;
    },
    async tick(elapsedS) {
      const raw = await masterSays(async () => {
        while (next < schedule.length && schedule[next]!.atS <= elapsedS) {
          const s = schedule[next++]!;
          await api.swarm(s.userCount, s.spawnRate, p.hostUrl);
        }
        return (await api.stats()) as { stats?: { name: string; ninety_ninth_response_time?: number }[] };
      });
      const own = parseLocustLive(raw);
      // Live percentiles from the per-second histograms of the last seconds (answered requests only); Locust's own
      // (which count a refused connect's time) only when those cannot be read, and never a 0 before any request.
      const recent = await api.text(`/loadfleet/hist?since=${Math.floor(Date.now() / 1000) - LIVE_WINDOW_S - 3}`).then((t) => liveFromHist(parseLocustHist(JSON.parse(t))), () => undefined);
      const live = { ...own, ...(recent ?? (own.requests === 0 ? { p50: null, p95: null } : {})) };
      last = live;
      lastRaw = raw;
      lastRawAt = Date.now();
      const p99 = recent ? recent.p99 : own.requests === 0 ? null : raw.stats?.find((s) => s.name === 'Aggregated')?.ninety_ninth_response_time ?? null;
      // Requests per second = the change of the master's totals since the last tick (workers report every 3 s,
      // so a second may show 0 and the next the sum; the chart's area is what was counted). Locust's own
      // current_rps is a moving average that reads 0 for seconds after the release.
      const now = Date.now();
      const r3 = (x: number) => Math.round(x * 1000) / 1000;
      const prev = lastStep ?? { at: t0, requests: 0, failures: 0 };
      if (live.requests !== prev.requests || live.failures !== prev.failures) {
        const dt = Math.max(0.001, (now - prev.at) / 1000);
        lastRate = { rps: r3(Math.max(0, live.requests - prev.requests) / dt), failPerS: r3(Math.max(0, live.failures - prev.failures) / dt) };
        lastStep = { at: now, requests: live.requests, failures: live.failures };
        // One point per step of the totals: its rate covers the interval that ends at t.
        timeline.push({ t: Math.round((now - t0) / 100) / 10, rps: lastRate.rps, errorsPerS: lastRate.failPerS, p50: live.p50, p95: live.p95, users: live.users });
      }
      const running = [...new Set(live.workers.filter((w) => w.state !== 'ready' && w.state !== 'missing' && w.users > 0).map((w) => hostnames.get(w.id.replace(/_[0-9a-f]+$/, '')) ?? w.id))];
      return { users: live.users, requests: live.requests, failures: live.failures, rps: lastRate.rps, failPerS: lastRate.failPerS, p50: live.p50, p95: live.p95, p99, running, finished: false };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // However the stop goes, the run's owner ends with it (its watchdog exits; the load is stopped below).
      const releaseOwner = () => runAsRoot(controller.session, login, locustReleaseOwnerScript(runId), `ending the run's watchdog on ${controller.host.name}`).catch(() => undefined);
      // Never released (prepare failed or was interrupted): no user runs and no collect follows; only the
      // options written for this run are left to remove.
      if (t0 === 0) {
        await removeConf();
        return;
      }
      try {
        // A master that already failed to answer (a tick timed out) is not waited for again: straight to the fallback.
        if (masterDown) throw new Error('it did not answer during the run');
        await stopThroughMaster();
        await releaseOwner();
      } catch (e) {
        // The master does not answer (stopped, hung, its host gone): its workers would keep their users running.
        // Restart every worker service through the supervisor on every agent: the new workers hold no users.
        masterDown ??= `the Locust master on ${controller.host.name} stopped answering: ${(e as Error).message}`;
        const failed: string[] = [];
        await Promise.all([
          ...agents.map((c) => runAsRoot(c.session, login, restartLocustScript(p.kind), `stopping the Locust workers on ${c.host.name} (restarting them through the supervisor)`).catch((x: Error) => failed.push(x.message))),
          // A hung master (not dead) that resumes would hand its users to the restarted workers (Locust's master
          // rebalances onto every worker that connects while it is running): KILL it — the one signal a hung or
          // stopped process cannot hold off — and its supervisor starts a fresh master that holds no users.
          // Best effort: a controller that is gone cannot resume either.
          runAsRoot(controller.session, login, killMasterScript(p.kind), `killing the hung Locust master on ${controller.host.name}`).catch(() => undefined),
          releaseOwner(),
        ]);
        if (failed.length) throw new ExternalError(`${masterDown}; stopping its workers over SSH failed too: ${failed.join('; ')}`);
      }
    },
    async collect(rawDir, startedAtMs, endedAtMs, firstSeen) {
      let pulled: { statsCsvText: string; failures: string } | undefined;
      if (!masterDown) {
        try {
          pulled = { statsCsvText: await api.text('/stats/requests/csv'), failures: await api.text('/stats/failures/csv') };
        } catch (e) {
          masterDown = `the Locust master on ${controller.host.name} stopped answering: ${(e as Error).message}`;
        }
      }
      await fs.writeFile(path.join(rawDir, 'locust_live_timeline.json'), JSON.stringify(timeline));
      void firstSeen; // the master's polls say when users exist, not when requests start: the workers' own first request is used
      const generators = await pullWorkerLogs(rawDir);
      await removeConf();
      const locustOwn = `Locust master: it adds the workers' bucketed response times (exact below 100 ms, 10 ms steps below 1 s, 100 ms steps below 10 s) — merged, never averaged; they include the time of requests without a response.`;
      const fromHistText = `Counts: the Locust master's (it adds the workers'). Latencies: the per-second HdrHistograms the workers keep (3 significant digits, within 0.1 %), added on the master — merged, never averaged; a request without a response (refused, reset, timed out) is counted and failed, never a latency.`;
      const merge = `Generator start = the start of the agent's first request, measured by its workers (a hook loadfleet appends to the locustfile; the agent's clock); run released ${new Date(startedAtMs).toISOString()}. Live requests/s = the change of the master's totals between polls`;
      const tl = timeline.map((x) => ({ ...x, t: Math.max(0, x.t) }));
      if (!pulled) {
        // A partial summary from the master's last live answer (raw/locust_last_live.json): what it had counted then.
        await fs.writeFile(path.join(rawDir, 'locust_last_live.json'), JSON.stringify(lastRaw ?? null));
        return {
          stats: { ...locustPartialStats(lastRaw ?? {}), timeline: tl },
          sendWindow: { fromMs: startedAtMs, toMs: lastRawAt || endedAtMs, basis: 'Locust (partial: the master stopped answering): the release to its last live answer' },
          merge: `PARTIAL — ${masterDown}. Counts and percentiles are the master's last live answer (${lastRawAt ? new Date(lastRawAt).toISOString() : 'none'}), without the requests after it; it holds no cumulative p95 (null). ${locustOwn} ${merge}`,
          generators,
          hostFailures: [{ host: controller.host.name, error: masterDown ?? 'the Locust master did not answer' }],
        };
      }
      const { statsCsvText, failures } = pulled;
      await fs.writeFile(path.join(rawDir, 'locust_stats.csv'), statsCsvText);
      await fs.writeFile(path.join(rawDir, 'locust_failures.csv'), failures);
      const fromCsv = parseLocustStats(statsCsvText);
      // Per-second histograms (scripts/run/locust-hist.ts): compare's hist/, and the run's latency figures, which
      // leave out requests without a response (Locust's own include their time). Without them the latencies are
      // n/a, and the summary, the report and compare say so.
      const perSecond = await api.text('/loadfleet/hist').then((t) => ({ endpoints: parseLocustHist(JSON.parse(t)), precision: LOCUST_HIST_PRECISION }), (e: Error) => e);
      const fromHist = perSecond instanceof Error ? undefined : locustLatencyFromHist(fromCsv, perSecond.endpoints);
      // Without them no latency is measured (null): Locust's own figures include no-response time.
      const merged = fromHist?.stats ?? locustWithoutHist(fromCsv);
      const warnings = perSecond instanceof Error ? [histPullFailed(perSecond.message)] : fromHist!.warnings;
      void last;
      // Locust's own Requests/s is over the swarm's start (the release) to the last request: the same window here.
      const sendS = locustRpsSeconds(statsCsvText);
      return {
        ...(sendS !== null ? { sendWindow: { fromMs: startedAtMs, toMs: startedAtMs + sendS * 1000, basis: 'Locust: the release (POST /swarm clears the master\'s stats) to the last request any worker reported (Locust\'s own Requests/s window, locust/stats.py)' } } : {}),
        stats: { ...merged, timeline: tl, errors: parseLocustFailures(failures) },
        ...(perSecond instanceof Error ? {} : { perSecond }),
        ...(warnings.length ? { warnings } : {}),
        merge: `${fromHist ? fromHistText : locustOwn} ${merge}`,
        generators,
        ...(masterDown ? { hostFailures: [{ host: controller.host.name, error: masterDown }] } : {}),
      };
    },
  };
  return driver;

  /** An API failure during the run names the controller (the master's host), keeping the ExternalError kind. */
  async function masterSays<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      masterDown ??= `the Locust master on ${controller.host.name} stopped answering: ${(e as Error).message}`;
      throw new ExternalError(masterDown);
    }
  }

  async function stopThroughMaster(): Promise<void> {
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
  }

  /** Each agent's worker log lines of this run only, and its first request (the workers' own mark). */
  async function pullWorkerLogs(rawDir: string) {
    return Promise.all(agents.map(async (c) => {
      const file = path.join(rawDir, `${c.host.name}-worker.log`);
      try {
        const r = await runAsRoot(c.session, login, workerLogSinceScript(p.kind, logMarks.get(c.host.name) ?? ''), `pulling ${c.host.name}'s worker log`);
        await fs.writeFile(file, r.stdout);
        const first = parseFirstRequest(r.stdout, runId);
        // null: none of its workers sent a request in this run (fewer users than workers leaves some idle).
        return { name: c.host.name, startedAtMs: first, rawFile: path.relative(path.dirname(rawDir), file) };
      } catch (e) {
        return { name: c.host.name, startedAtMs: null, rawFile: null, collectionError: (e as Error).message };
      }
    }));
  }
}


export const locustRun: DriverModule = { engine: 'locust', scriptKind: 'a locustfile', needsController: true, validate, checkPassthrough: (a) => void locustConf(a), create };
