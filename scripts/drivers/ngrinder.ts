/**
 * nGrinder's run driver. nGrinder is its own distributed runner: the controller (installed by
 * scripts/engines/ngrinder.ts) holds the agents, starts them together through The Grinder's console and
 * sums their statistics. So everything here is the controller's REST API, called on the controller
 * itself (curl to 127.0.0.1 over SSH, admin's password from the env folder's 0600 file on curl's stdin):
 * upload the script, check the agents, create-and-start the test, poll it, stop it, pull its results.
 * The request bodies, the sh and the parsers are pure (scripts/run/ngrinder-api.ts, with the sources they
 * follow); this file only orchestrates them.
 *
 * NOT proven against a real controller: nGrinder cannot run on this machine and its install refuses the
 * version until a war checksum is pinned (ami/engines/ngrinder.json). Unit tests cover the bodies, parsers
 * and passthrough; an integration test runs shellcheck over the generated sh.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { ExternalError, UsageError } from '../core/errors';
import { runAsRoot } from '../core/privilege';
import { controlScript } from '../core/supervise';
import { NGRINDER_ADMIN_PASSWORD_FILE, NGRINDER_HOME, ngrinderRunFacts } from '../engines/ngrinder';
import { ngrinderLoad } from '../run/load';
import {
  apiCallScript, apiJson, checkNGrinderScript, createFolderCall, isEnded, isRunning, isStoppable, logsTarScript, NGRINDER_MERGE, ngrinderStats, parseAgents, parseApiOutput, parseAvailableAgents,
  parsePassthrough, parseSample, parseStatus, perfTestBody, refuseUnmeasuredThresholds, reportCsvScript, SCRIPT_FOLDER, scriptFileName, statusCategory, testDirScript,
  type ApiAnswer, type ApiCall, type NGrinderSample, type NGrinderStatus,
} from '../run/ngrinder-api';
import { RUN_TIMING, sleep, type DriverContext, type DriverModule, type EngineDriver, type Prepared } from './types';

/** How long the test may take from POST to TESTING (console, agents, file distribution): run.ts bounds its samplers by this. */
const START_WAIT_MS = RUN_TIMING.artilleryReadyMs;
/** Consecutive failed polls a running test survives (one slow SSH round trip must not end a run). */
const TICK_RETRIES = 5;
/**
 * How long a stop request may take to end the test: SingleConsole.cancel tells every agent to stop and waits for
 * their threads, then the controller writes the report — longer than Locust's stop (RUN_TIMING.stopGraceMs, 15 s).
 * A multiple of it (60 s by default) so the tests that shrink RUN_TIMING shrink this too.
 */
const stopGraceMs = () => RUN_TIMING.stopGraceMs * 4;
/** The agents' service (scripts/engines/ngrinder.ts), restarted over SSH when the controller cannot stop the test. */
const AGENT_SERVICE = 'ngrinder-agent';

async function validate(file: string, text: string): Promise<void> {
  checkNGrinderScript(file, text);
}

/** Everything about the run that nGrinder cannot do, refused before any host is touched. */
function check(p: Prepared): void {
  const agents = p.outputs.hosts.filter((h) => h.role === 'agent').length;
  ngrinderLoad(p.plan, Math.max(1, agents));
  parsePassthrough(p.passthrough);
  refuseUnmeasuredThresholds(p.thresholds);
}

/** The admin password install stored (mode 0600); refused when others can read it. */
async function readPassword(envDir: string): Promise<string> {
  const file = path.join(envDir, NGRINDER_ADMIN_PASSWORD_FILE);
  let st;
  try {
    st = await fs.stat(file);
  } catch {
    throw new UsageError(`nGrinder's admin password is not in ${file}: run "loadfleet install" first (it sets the password and keeps it there)`);
  }
  if ((st.mode & 0o077) !== 0) throw new ExternalError(`${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}): run "chmod 600 ${file}" and rerun`);
  return (await fs.readFile(file, 'utf8')).trim();
}

const stripHtml = (s: string) => s.replace(/<br\s*\/?>/gi, '; ').replace(/<[^>]*>/g, '').replace(/\s+/g, ' ').trim();

function create(ctx: DriverContext): EngineDriver {
  const { p, controller: maybeController, agents, login, runId, envDir } = ctx;
  check(p);
  if (!maybeController) throw new UsageError(`env "${p.outputs.env}" has no controller: nGrinder runs tests through its controller`);
  const controller = maybeController;
  const overrides = parsePassthrough(p.passthrough);
  const load = ngrinderLoad(p.plan, agents.length);
  const kind = checkNGrinderScript(p.scriptPath, p.scriptText);
  const fileName = scriptFileName(runId, kind);
  const scriptName = `${SCRIPT_FOLDER}/${fileName}`;
  let password: string | undefined;
  let id: number | undefined;
  let ended = false;
  let last: NGrinderSample | undefined;
  let prevRequests = 0;
  let prevAt = 0;
  let failedPolls = 0;
  /** Why the controller is reported in hostFailures (it did not stop the test; the agents were restarted instead). */
  let controllerFailure: string | undefined;
  let stopped = false;
  let uploaded = false;
  /** Best effort: the run's script out of admin's script storage (FileEntryApiController: @RestAPI DELETE /script/api/{path}); '' or a note. */
  const deleteScript = async (): Promise<string> => {
    if (!uploaded) return '';
    const deleted = await api({ method: 'DELETE', path: `/script/api/${scriptName}` }, `deleting the uploaded script ${scriptName}`).catch((e: Error) => ({ code: 0, body: e.message }));
    if (deleted.code >= 200 && deleted.code <= 299) {
      uploaded = false;
      return '';
    }
    return `The uploaded script ${scriptName} could not be deleted from the controller (HTTP ${deleted.code}: ${deleted.body.slice(0, 200)}): delete it in its Script page`;
  };

  const api = async (call: ApiCall, what: string): Promise<ApiAnswer> => {
    if (!password) password = await readPassword(envDir);
    const r = await runAsRoot(controller.session, login, apiCallScript(password, ngrinderRunFacts.apiBase, call), `${what} on ${controller.host.name}`);
    return parseApiOutput(r.stdout);
  };
  /** What the controller answered, read by `f`: an answer it cannot read is the engine's doing (exit 1), not a bug. */
  const ext = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof UsageError || e instanceof ExternalError) throw e;
      throw new ExternalError(`nGrinder on ${controller.host.name}: ${(e as Error).message}`);
    }
  };
  const json = async <T = unknown>(call: ApiCall, what: string): Promise<T> => {
    const a = await api(call, what);
    return ext(() => apiJson<T>(what, a));
  };
  const status = async (): Promise<{ status: NGrinderStatus; message: string }> => {
    const j = await json<{ status?: unknown; message?: unknown }>({ method: 'GET', path: `/perftest/api/${id}/status` }, `reading test ${id}'s status`);
    return { status: ext(() => parseStatus(j.status)), message: stripHtml(String(j.message ?? '')) };
  };
  const region = typeof overrides.region === 'string' ? overrides.region : 'NONE';

  const stopTest = async (): Promise<void> => {
    if (id === undefined || ended) return;
    const s = await status();
    if (isEnded(s.status)) {
      ended = true;
      return;
    }
    if (statusCategory(s.status) === 'PREPARE') {
      // Still queued (SAVED/READY): nGrinder stops only running tests (StatusCategory.stoppable); a queued
      // one is deleted so the scheduler never starts it.
      const del = await api({ method: 'DELETE', path: `/perftest/api/${id}` }, `deleting queued test ${id}`);
      if (del.code >= 200 && del.code <= 299) {
        ended = true;
        return;
      }
      // It may have left READY meanwhile: then it is stoppable below.
      const again = await status();
      if (isEnded(again.status)) {
        ended = true;
        return;
      }
      if (!isStoppable(again.status)) throw new ExternalError(`nGrinder refused to delete queued test ${id} (HTTP ${del.code}) and it is ${again.status}: delete it in the controller's UI`);
    }
    // ABNORMAL_TESTING (an agent died or too many errors) is not stoppable (StatusCategory.java, 3.5.9-p1): the
    // controller ends such a test itself, so only wait for its end.
    const a = statusCategory(s.status) === 'ABNORMAL_TESTING' ? { code: 200, body: '' } : await api({ method: 'PUT', path: `/perftest/api/${id}?action=stop` }, `stopping test ${id}`);
    if (a.code < 200 || a.code > 299) throw new ExternalError(`nGrinder refused to stop test ${id} (HTTP ${a.code}): ${a.body.slice(0, 300)}`);
    // The console tells every agent to stop and waits for their threads (SingleConsole.cancel): wait for the end.
    const deadline = Date.now() + stopGraceMs();
    for (;;) {
      const now = await status();
      if (isEnded(now.status)) break;
      if (Date.now() > deadline) throw new ExternalError(`nGrinder test ${id} is still ${now.status} ${stopGraceMs() / 1000} s after the stop request: stop it in the controller's UI (Performance Test → ${id} → Stop)`);
      await sleep(RUN_TIMING.startPollMs);
    }
    ended = true;
  };

  return {
    selfStopping: true,
    async prepare(signal?: AbortSignal) {
      password = await readPassword(envDir);
      // The folder may exist already (an earlier run): its creation's answer does not matter, the upload's does.
      await api(createFolderCall(), 'creating the script folder').catch(() => undefined);
      const up = await api({ method: 'POST', path: `/script/api/${SCRIPT_FOLDER}?action=upload`, upload: { fileName, content: p.scriptText, description: `loadfleet run ${runId}` } }, 'uploading the script');
      if (up.code === 0) throw new ExternalError(`the nGrinder controller does not answer on ${controller.host.name} (${ngrinderRunFacts.apiBase}): is ngrinder-controller running? run "loadfleet doctor"`);
      if (up.code === 401) throw new ExternalError(`the nGrinder controller refused the admin password kept in ${path.join(envDir, NGRINDER_ADMIN_PASSWORD_FILE)}: run "loadfleet install" again`);
      ext(() => apiJson('uploading the script', up));
      uploaded = true;
      await json({ method: 'GET', path: `/script/api/${scriptName}?action=view` }, `checking the uploaded script ${scriptName}`);
      // Every agent of the env must be connected, approved and ready. Two views of the same: the count
      // POST /perftest/api checks agentCount against (availableAgentCount for the region), and the agent
      // list (state READY, approved); either one reaching the fleet's size is enough, since how a
      // non-clustered 3.5 controller names its region for the count is not proven here.
      const deadline = Date.now() + RUN_TIMING.workersWaitMs;
      for (;;) {
        const count = await json({ method: 'GET', path: `/agent/api/availableAgentCount?targetRegion=${encodeURIComponent(region)}` }, 'counting the ready agents')
          .then(parseAvailableAgents)
          .catch(() => 0);
        const list = await json({ method: 'GET', path: '/agent/api/list' }, 'listing the agents');
        const seen = ext(() => parseAgents(list));
        const ready = seen.filter((a) => a.state === 'READY' && a.approved).length;
        if (Math.max(count, ready) >= agents.length) break;
        // Ctrl-C while waiting for the agents: end now (run's stop() then deletes the uploaded script).
        signal?.throwIfAborted();
        if (Date.now() > deadline) {
          const names = seen.map((a) => `${a.name || a.ip} ${a.state}${a.approved ? '' : ' (not approved)'}`).join(', ') || 'none';
          throw new ExternalError(`only ${Math.max(count, ready)} of ${agents.length} nGrinder agents are ready and approved after ${RUN_TIMING.workersWaitMs / 1000} s (the controller sees: ${names}): check "loadfleet doctor"`);
        }
        await sleep(RUN_TIMING.tickMs);
      }
    },
    async start(signal?: AbortSignal) {
      signal?.throwIfAborted();
      const body = perfTestBody({ runId, scriptName, load, hostUrl: p.hostUrl, overrides });
      const created = await json<{ id?: unknown }>({ method: 'POST', path: '/perftest/api', json: body }, 'creating the test');
      if (typeof created.id !== 'number') throw new ExternalError(`nGrinder created no test id: ${JSON.stringify(created).slice(0, 300)}`);
      id = created.id;
      // The controller's scheduler picks a READY test up, starts the console, the agents (all with one
      // start message) and distributes the files; TESTING means the workers run.
      const deadline = Date.now() + START_WAIT_MS;
      for (;;) {
        if (signal?.aborted) {
          await stopTest();
          signal.throwIfAborted();
        }
        const s = await status();
        if (isRunning(s.status)) break;
        if (isEnded(s.status)) {
          ended = true;
          throw new ExternalError(`nGrinder test ${id} ended as ${s.status} before it ran: ${s.message || '(no message)'}`);
        }
        if (Date.now() > deadline) throw new ExternalError(`nGrinder test ${id} is still ${s.status} after ${START_WAIT_MS / 1000} s: ${s.message || '(no message)'}`);
        await sleep(RUN_TIMING.startPollMs);
      }
      prevAt = Date.now();
      return prevAt;
    },
    async tick() {
      let s: NGrinderSample;
      try {
        const j = await json({ method: 'GET', path: `/perftest/api/${id}/sample` }, `reading test ${id}'s sample`);
        s = ext(() => parseSample(j));
        failedPolls = 0;
      } catch (e) {
        if (++failedPolls > TICK_RETRIES) throw e;
        // A slow or lost poll: show the last sample (nothing yet: zero) and try again next tick.
        s = last ?? { status: 'TESTING', requests: 0, failures: 0, tps: 0, meanMs: null, threads: 0, processes: 0 };
      }
      const now = Date.now();
      const rps = Math.max(0, (s.requests - prevRequests) / Math.max(0.001, (now - prevAt) / 1000));
      const failPerS = last ? Math.max(0, (s.failures - last.failures) / Math.max(0.001, (now - prevAt) / 1000)) : 0;
      prevRequests = s.requests;
      prevAt = now;
      last = s;
      if (isEnded(s.status)) ended = true;
      return {
        users: s.threads,
        requests: s.requests,
        failures: s.failures,
        rps: Math.round(rps * 10) / 10,
        failPerS: Math.round(failPerS * 10) / 10,
        p50: null,
        p95: null,
        p99: null,
        mean: s.meanMs,
        // One console start message reaches every agent; the API shows threads, not per-agent starts.
        running: s.threads > 0 ? agents.map((c) => c.host.name) : [],
        finished: isEnded(s.status),
      };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      // Never started (prepare failed or was interrupted): no test exists and no collect follows; only the
      // uploaded script is left to remove.
      // (A failed delete is not a stop failure — nothing sends — and collect, if it follows, tries again and notes it.)
      if (id === undefined) {
        await deleteScript();
        return;
      }
      try {
        await stopTest();
      } catch (e) {
        // The controller does not answer (or cannot end the test): its agents' workers may still be sending.
        // Restart the agent service on every agent over SSH (systemd / the supervise loop), as the Locust
        // driver restarts its workers: a restarted agent runs no test until a console starts one again.
        controllerFailure = `the nGrinder controller on ${controller.host.name} did not stop test ${id ?? '(none)'}: ${(e as Error).message}; the agents were restarted over SSH instead`;
        const failed: string[] = [];
        await Promise.all(agents.map((c) => runAsRoot(c.session, login, controlScript('restart', [AGENT_SERVICE], p.kind), `stopping the nGrinder agent on ${c.host.name} (restarting its service)`).catch((x: Error) => failed.push(x.message))));
        if (failed.length) throw new ExternalError(`${controllerFailure}; restarting the agents failed too: ${failed.join('; ')}`);
      }
    },
    async collect(rawDir, startedAtMs, endedAtMs, firstSeen) {
      const problems: string[] = [];
      let perfTest: unknown;
      let csv: string | undefined;
      if (id === undefined) {
        problems.push('the test was never created');
      } else {
        try {
          perfTest = await json({ method: 'GET', path: `/perftest/api/${id}` }, `reading test ${id}`);
          await fs.writeFile(path.join(rawDir, 'ngrinder-perftest.json'), `${JSON.stringify(perfTest, null, 2)}\n`);
        } catch (e) {
          problems.push((e as Error).message);
        }
        try {
          const dir = (await runAsRoot(controller.session, login, testDirScript(NGRINDER_HOME, id), `finding test ${id}'s results`)).stdout.trim();
          csv = (await runAsRoot(controller.session, login, reportCsvScript(dir), `reading test ${id}'s report CSV`)).stdout;
          if (csv.trim()) await fs.writeFile(path.join(rawDir, 'ngrinder-report.csv'), csv);
          else problems.push(`test ${id} has no report CSV`);
          const tar = (await runAsRoot(controller.session, login, logsTarScript(dir), `packing test ${id}'s logs`)).stdout.replace(/\s+/g, '');
          if (tar) await fs.writeFile(path.join(rawDir, 'ngrinder-logs-and-report.tgz'), Buffer.from(tar, 'base64'));
        } catch (e) {
          problems.push((e as Error).message);
        }
      }
      const fallbackS = Math.max(0.001, (endedAtMs - startedAtMs) / 1000);
      // Without nGrinder's own results, the last live sample is the best there is (said in the collection error).
      const fromTick = last ? { tests: last.requests - last.failures, errors: last.failures, meanTestTime: last.meanMs ?? 0 } : undefined;
      let merged: ReturnType<typeof ngrinderStats>;
      try {
        merged = ngrinderStats(perfTest ?? (csv ? undefined : fromTick), csv, fallbackS);
      } catch (e) {
        // A report CSV this parser cannot read (no Tests/Errors columns): a collection failure naming the file,
        // the totals from the test record (or the last live sample) without the per-interval rows.
        problems.push(`the report CSV (raw/ngrinder-report.csv) cannot be read: ${(e as Error).message}`);
        merged = ngrinderStats(perfTest ?? fromTick, undefined, fallbackS);
      }
      const { sampledSeconds, ...stats } = merged;
      const generators = await Promise.all(agents.map(async (c) => {
        // Not measured per agent: nGrinder's console starts every agent with one message and its API shows no
        // per-agent start. A poll showing threads is not when the first request went out, so no start (and no
        // "start spread") is reported; the polls are in the merge note, named for what they are.
        const started = null;
        const file = path.join(rawDir, `${c.host.name}-ngrinder-agent.log`);
        try {
          const r = await runAsRoot(c.session, login, `tail -n 2000 ${ngrinderRunFacts.results.agent.dir}/agent.log 2>/dev/null || true`, `pulling ${c.host.name}'s agent log`);
          await fs.writeFile(file, r.stdout);
          return { name: c.host.name, startedAtMs: started, rawFile: path.relative(path.dirname(rawDir), file), ...(problems.length ? { collectionError: `controller results: ${problems.join('; ')}` } : {}) };
        } catch (e) {
          return { name: c.host.name, startedAtMs: started, rawFile: null, collectionError: [...problems.map((x) => `controller results: ${x}`), (e as Error).message].join('; ') };
        }
      }));
      // The uploaded script is this run's only (loadfleet-<run id>.groovy): removed so admin's script storage does
      // not fill up with one per run (FileEntryApiController: @RestAPI DELETE /script/api/{path}). Best effort.
      const note = await deleteScript();
      const scriptNote = note ? `. ${note}` : '';
      return {
        ...(controllerFailure ? { hostFailures: [{ host: controller.host.name, error: controllerFailure }] } : {}),
        stats,
        // RPS over the time nGrinder sampled (report rows × interval), from the release.
        ...(sampledSeconds !== null ? { sendWindow: { fromMs: startedAtMs, toMs: startedAtMs + sampledSeconds * 1000, basis: 'nGrinder: the time its report sampled (report CSV rows × sampling interval)' } } : {}),
        merge: `${NGRINDER_MERGE}. Generator starts not measured (no start spread): nGrinder's console starts every agent with one message and its API shows no per-agent start; the first poll (every ${RUN_TIMING.startPollMs}-${RUN_TIMING.tickMs} ms) showing running threads came ${[...firstSeen].map(([n, t]) => `+${t - startedAtMs} ms (${n})`).join(', ') || 'never'} after the release; test ${id ?? '(none)'} released ${new Date(startedAtMs).toISOString()}${scriptNote}`,
        generators,
      };
    },
  };
}

export const ngrinderRun: DriverModule = { engine: 'ngrinder', scriptKind: 'an nGrinder script (.groovy or .py)', needsController: true, validate, check, create };
