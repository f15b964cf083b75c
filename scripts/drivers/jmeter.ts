/**
 * JMeter's run driver (EC2 only: see scripts/engines/jmeter.ts). The client runs on the controller for the
 * length of the test, as the jmeter user; it sends the plan to every agent's jmeter-server (`-R`, the
 * services install started), starts them one after the other itself, receives every sample back over RMI
 * and writes ONE JTL. So the merge is exact by construction: loadfleet pulls that JTL and records every
 * row into HdrHistograms (scripts/run/jtl.ts JtlMerge). Load: `-G` properties the plan reads with
 * ${__P(name,default)} (scripts/run/load.ts jmeterProps); the test ends by itself (the plan's duration),
 * then `-X` exits the servers, which their services restart.
 *
 * NOT proven against a real JMeter: nothing here has run against JMeter (it cannot run on this machine,
 * see notes/engines.md). The command line, the sh, the JTL and Summariser parsers are unit-tested against
 * JMeter 5.6.3's source and documented formats (cited in scripts/run/jmeter.ts and jtl.ts).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { JMETER_PORTS } from '../../stacks/engines';
import { ExternalError, UsageError } from '../core/errors';
import { runAsRoot } from '../core/privilege';
import { tcpReachScript } from '../engines/ec2-steps';
import { jmeterRunFacts } from '../engines/jmeter';
import { jmeterClientArgs } from '../run/commands';
import { ACCURACY } from '../run/histogram';
import {
  checkJmeterPassthrough, checkJmx, JMETER_RUN, jmeterChunkScript, jmeterClientProps, jmeterKillScript, jmeterLogsScript, jmeterPackScript, jmeterPidScript,
  jmeterPrepareScript, jmeterRunDir, jmeterServerRestartScript, jmeterServerStateScript, jmeterSignalScript, jmeterStartScript, jmeterStarted,
  jmeterStatusScript, jmeterTestEnded, jmeterUdpPort, unreadWarning,
} from '../run/jmeter';
import { JtlMerge, summariserState, type JtlAgent } from '../run/jtl';
import { jmeterProps } from '../run/load';
import { finish, timelineBucketS } from '../run/merge';
import { PER_SECOND_PRECISION, PerSecond } from '../run/per-second';
import { notInstalledOr } from './remote';
import { RUN_TIMING, sleep, type Collected, type DriverContext, type DriverModule, type EngineDriver, type HostConn, type Tick } from './types';

/** The plan must be XML with a jmeterTestPlan root and an enabled thread group; a plan that ignores the load properties is warned about. */
async function validate(file: string, text: string): Promise<void> {
  const check = checkJmx(file, text);
  const warning = unreadWarning(file, check.unread);
  if (warning) process.stderr.write(warning);
}

/** Each agent as the client names it in -R (and so in every thread name its server makes). */
export function jmeterAgents(agents: readonly { name: string; privateIp: string }[]): JtlAgent[] {
  const remotes = jmeterRunFacts.remoteHostsArg(agents.map((a) => a.privateIp))[1].split(',');
  return agents.map((a, i) => ({ name: a.name, remote: remotes[i]! }));
}

/** Streams a gzipped CSV JTL into a JtlMerge (memory bounded by the histograms, not by the row count). */
export async function mergeJtlFile(file: string, agents: readonly JtlAgent[], bucketS: number): Promise<JtlMerge> {
  const jm = new JtlMerge(agents, bucketS);
  // Every row also counted per second and label: hist/ for compare (issue 17).
  jm.merger.perSecond = new PerSecond();
  const decoder = new StringDecoder('utf8');
  // The merge's own error (a header without a needed column) is the one to report: pipeline rejects with
  // an AbortError of its own when the sink throws, so the sink's error is kept and thrown instead.
  let unreadable: unknown;
  await pipeline(createReadStream(file), createGunzip(), async (source: AsyncIterable<Buffer>) => {
    try {
      for await (const chunk of source) jm.push(decoder.write(chunk));
    } catch (e) {
      unreadable ??= e;
      throw e;
    }
  }).catch((e: unknown) => {
    throw unreadable ?? e;
  });
  jm.push(decoder.end());
  jm.end();
  return jm;
}

interface Status {
  readonly state: 'alive' | 'exited' | 'gone';
  readonly out: string;
  readonly window: { n: number; p50: number; p95: number; p99: number };
  readonly seen: Map<string, number>;
}

export function parseStatus(stdout: string): Status {
  let state: Status['state'] = 'gone';
  const out: string[] = [];
  let window = { n: 0, p50: 0, p95: 0, p99: 0 };
  const seen = new Map<string, number>();
  for (const line of stdout.split('\n')) {
    if (line.startsWith('state ')) state = line.slice(6).trim() as Status['state'];
    else if (line.startsWith('out ')) out.push(line.slice(4));
    else if (line.startsWith('window ')) {
      const [n = 0, p50 = 0, p95 = 0, p99 = 0] = line.split(' ').slice(1).map(Number);
      window = { n, p50, p95, p99 };
    } else if (line.startsWith('seen ')) {
      const [, remote = '', n = '0'] = line.split(' ');
      seen.set(remote, Number(n) || 0);
    }
  }
  return { state, out: out.join('\n'), window, seen };
}

function create({ p, controller: maybeController, agents, login, runId }: DriverContext): EngineDriver {
  if (!maybeController) throw new UsageError(`env "${p.outputs.env}" has no controller for the JMeter client`);
  const controller: HostConn = maybeController;
  // Before any host is touched: options loadfleet owns cannot come after --.
  checkJmeterPassthrough(p.passthrough);
  const runDir = jmeterRunDir(runId);
  const remotes = jmeterAgents(agents.map((c) => c.host));
  let version = '';
  let pid = 0;
  let abort: AbortSignal | undefined;
  let last: Tick | undefined;
  let lastOut = '';
  let stopping: Promise<void> | undefined;
  /** start() ran its start script (which may have spawned the client even if it failed). */
  let startTried = false;
  /** Why the controller stopped answering during stop(): a host failure in collect(), so the run exits 1 naming it. */
  let controllerDown: string | undefined;
  /** What the stop had to do beyond the normal end (the client killed): said in the merge text, not a failure. */
  const stopNotes: string[] = [];

  const status = async (): Promise<Status> => {
    const r = await runAsRoot(controller.session, login, jmeterStatusScript({ runDir, pid, remotes: remotes.map((a) => a.remote) }), `reading the JMeter client on ${controller.host.name}`);
    const s = parseStatus(r.stdout);
    if (s.out) lastOut = s.out;
    return s;
  };
  const tail = (text: string) => text.split('\n').filter((l) => !l.startsWith('summary ')).slice(-6).join(' | ').slice(0, 800);

  /**
   * The client's own stop, then TERM/KILL of its group; true when the test ended the normal way (every server
   * reported its end and got -X). Throws when the controller does not answer (SSH): doStop handles that.
   */
  const stopClient = async (problems: string[]): Promise<boolean> => {
    let s = await status();
    // The client listens for Shutdown/StopTestNow only once it has started the servers (JMeter.java
    // startUdpDdaemon after DistributedRunner.start): before that there is nobody to ask.
    if (s.state === 'alive' && !jmeterTestEnded(s.out) && /Waiting for possible Shutdown/.test(s.out)) {
      // The client's own stop first: it tells every server (rstopTest), which then report testEnded, and
      // the client ends the test the normal way (-X, files closed, dashboard).
      const port = jmeterUdpPort(s.out);
      await runAsRoot(controller.session, login, jmeterSignalScript(version, port, 'Shutdown'), `asking the JMeter client to shut down on ${controller.host.name}`);
      const graceful = Date.now() + RUN_TIMING.stopGraceMs;
      while (Date.now() < graceful && s.state === 'alive' && !jmeterTestEnded(s.out)) {
        await sleep(JMETER_RUN.stopPollMs);
        s = await status();
      }
      if (s.state === 'alive' && !jmeterTestEnded(s.out)) {
        await runAsRoot(controller.session, login, jmeterSignalScript(version, port, 'StopTestNow'), `stopping the JMeter test now on ${controller.host.name}`);
        const now = Date.now() + JMETER_RUN.stopNowWaitMs;
        while (Date.now() < now && s.state === 'alive' && !jmeterTestEnded(s.out)) {
          await sleep(JMETER_RUN.stopPollMs);
          s = await status();
        }
      }
    }
    // After the test: the client writes the dashboard from the whole JTL, then exits. An interrupted run
    // waits less for it (the JTL is what is merged; the dashboard is a convenience).
    const dashboardBy = Date.now() + (abort?.aborted ? JMETER_RUN.interruptedDashboardMs : JMETER_RUN.dashboardS * 1000);
    while (s.state === 'alive' && jmeterTestEnded(s.out) && Date.now() < dashboardBy) {
      await sleep(JMETER_RUN.stopPollMs);
      s = await status();
    }
    const ended = jmeterTestEnded(s.out);
    if (s.state === 'alive') {
      await runAsRoot(controller.session, login, jmeterKillScript(pid), `ending the JMeter client on ${controller.host.name}`);
      // Killing a client that never got the servers going (a Ctrl-C during the start) is the expected path.
      if (!ended && jmeterStarted(s.out).started) problems.push(`the JMeter client did not end the test by itself and was killed (${tail(s.out)})`);
    }
    return ended;
  };

  const doStop = async (): Promise<void> => {
    if (!startTried) return;
    // Only what may leave a generator sending is a stop failure (a jmeter-server that could not be restarted);
    // a killed client is a note, and a controller that stopped answering is a host failure (collect).
    const problems: string[] = [];
    let ended = false;
    try {
      // A start that failed after the client was spawned (its `pid N` line lost, SSH dropped) left the pid
      // in the run folder: without it the client would run the whole test unstopped.
      if (!pid) pid = Number(/^(\d+)/.exec((await runAsRoot(controller.session, login, jmeterPidScript(runDir), `reading the JMeter client's pid on ${controller.host.name}`)).stdout.trim())?.[1]) || 0;
      // No pid file: the start script failed before it spawned anything.
      if (!pid) return;
      ended = await stopClient(stopNotes);
    } catch (e) {
      // The controller does not answer: nobody can tell the servers to stop through the client, so they are
      // restarted below; the client itself ends at its `timeout` bound. The controller is reported (collect).
      controllerDown ??= `the JMeter client on ${controller.host.name} could not be stopped (the controller did not answer: ${(e as Error).message}); it ends at its timeout bound`;
    }
    if (!ended) {
      // Without the client's -X the servers may still run the plan: their services restart them clean.
      await Promise.all(agents.map((c) => runAsRoot(c.session, login, jmeterServerRestartScript(), `restarting jmeter-server on ${c.host.name}`).catch((e: Error) => problems.push(`${c.host.name}: jmeter-server could not be restarted, so it may still run the plan (${e.message})`))));
    }
    if (problems.length) throw new ExternalError(problems.join('; '));
  };

  return {
    selfStopping: true,
    async prepare() {
      const missing = 'JMeter is not installed on this host: run "loadfleet install -c <config>" first';
      const r = await runAsRoot(controller.session, login, jmeterPrepareScript(runDir, p.scriptText), `pushing the plan to ${controller.host.name}`).catch(notInstalledOr(controller.host.name, missing));
      version = /^version (\S+)/m.exec(r.stdout)?.[1] ?? '';
      if (!version) throw new ExternalError(`${controller.host.name}: could not read the installed JMeter version (${JMETER_RUN.versionFile})`);
      const check = checkJmx(p.scriptPath, p.scriptText);
      if (p.plan.staged && !check.readsSchedule) {
        process.stderr.write(`warning: --stages become the property threads_schedule, which only an Ultimate Thread Group reading \${__P(threads_schedule)} follows (JMeter Plugins, jpgc-casutg, on the controller and every agent); ${path.basename(p.scriptPath)} does not read it\n`);
      }
      const per = Number(jmeterProps(p.plan, agents.length).threads);
      if (per * agents.length !== p.plan.users) {
        process.stderr.write(`note: every JMeter server runs the whole plan: ${per} threads on each of ${agents.length} agents = ${per * agents.length} users (--users ${p.plan.users} rounded up)\n`);
      }
      // Every agent's jmeter-server: active under systemd (after a previous run's -X, its service takes a
      // moment to restart it), then reachable from the controller on its RMI ports, as doctor checks.
      const by = Date.now() + JMETER_RUN.serverBackMs;
      for (;;) {
        const states = await Promise.all(agents.map(async (c) => {
          const s = await runAsRoot(c.session, login, jmeterServerStateScript(), `checking jmeter-server on ${c.host.name}`);
          return { c, state: /^state (.*)$/m.exec(s.stdout)?.[1]?.trim() || 'unknown' };
        }));
        const down = states.filter((x) => x.state !== 'active');
        if (down.length === 0) break;
        if (Date.now() > by) {
          throw new ExternalError(`jmeter-server is not running on ${down.map((x) => `${x.c.host.name} (${x.state})`).join(', ')}: see "loadfleet doctor -c <config>"; "loadfleet install -c <config>" starts it`);
        }
        await sleep(JMETER_RUN.stopPollMs);
      }
      const endpoints = agents.flatMap((c) => [
        { name: `${c.host.name}/registry`, ip: c.host.privateIp, port: JMETER_PORTS.registry },
        { name: `${c.host.name}/engine`, ip: c.host.privateIp, port: JMETER_PORTS.serverLocal },
      ]);
      const reach = await runAsRoot(controller.session, login, tcpReachScript('jmeter-server RMI ports', endpoints), `checking the jmeter-servers from ${controller.host.name}`);
      if (/^FAIL/m.test(reach.stdout)) throw new ExternalError(`${controller.host.name}: ${reach.stdout.trim()}`);
    },
    async start(signal?: AbortSignal) {
      abort = signal;
      signal?.throwIfAborted();
      const argv = jmeterClientArgs({
        version,
        plan: `${runDir}/plan.jmx`,
        controllerIp: controller.host.privateIp,
        servers: agents.map((c) => c.host.privateIp),
        props: jmeterProps(p.plan, agents.length),
        runDir,
        passthrough: [...jmeterClientProps, ...p.passthrough],
      });
      const timeoutS = p.plan.durationS + RUN_TIMING.selfStopGraceMs / 1000 + JMETER_RUN.clientOverheadS + JMETER_RUN.dashboardS;
      startTried = true;
      const r = await runAsRoot(controller.session, login, jmeterStartScript({ runDir, argv, timeoutS }), `starting the JMeter client on ${controller.host.name}`);
      pid = Number(/pid (\d+)/.exec(r.stdout)?.[1]) || 0;
      if (!pid) throw new ExternalError(`the JMeter client did not start on ${controller.host.name}: ${r.stdout.trim()} ${r.stderr.trim()}`);
      // JMeter's master starts the servers itself (rconfigure + rrunTest on each, in turn): wait for it to say so.
      const deadline = Date.now() + RUN_TIMING.workersWaitMs;
      for (;;) {
        signal?.throwIfAborted();
        const s = await status();
        const st = jmeterStarted(s.out);
        if (st.notStarted) {
          const names = remotes.filter((a) => st.notStarted!.includes(a.remote)).map((a) => a.name);
          throw new ExternalError(`JMeter could not start the test on ${names.join(', ') || st.notStarted}: see "loadfleet doctor" and ${runDir}/jmeter.log on ${controller.host.name}`);
        }
        if (st.started) return Date.now();
        if (s.state !== 'alive') throw new ExternalError(`the JMeter client exited before the test started on ${controller.host.name}: ${st.failure ?? tail(s.out) ?? 'no output'}`);
        if (Date.now() > deadline) throw new ExternalError(`the JMeter client did not start the servers within ${RUN_TIMING.workersWaitMs / 1000} s: ${tail(s.out)}`);
        await sleep(RUN_TIMING.startPollMs);
      }
    },
    async tick() {
      let s: Status;
      try {
        s = await status();
      } catch (e) {
        // One missed read (SSH hiccup) is not the end of the run: the watch loop is bounded by time anyway.
        if (last) return { ...last, finished: false };
        throw e;
      }
      // DistributedRunner prints the servers it could not start right after "have been started".
      const st = jmeterStarted(s.out);
      if (st.notStarted) {
        const names = remotes.filter((a) => st.notStarted!.includes(a.remote)).map((a) => a.name);
        throw new ExternalError(`JMeter could not start the test on ${names.join(', ') || st.notStarted}: see "loadfleet doctor" and ${runDir}/jmeter.log on ${controller.host.name}`);
      }
      const sum = summariserState(s.out);
      last = {
        users: sum.active,
        requests: sum.requests,
        failures: sum.failures,
        rps: sum.rps,
        failPerS: sum.failPerS,
        p50: s.window.p50,
        p95: s.window.p95,
        p99: s.window.p99,
        running: remotes.filter((a) => (s.seen.get(a.remote) ?? 0) > 0).map((a) => a.name),
        // Over once every server ended (the client then writes the dashboard: stop() waits for that).
        finished: s.state !== 'alive' || jmeterTestEnded(s.out),
      };
      return last;
    },
    stop() {
      stopping ??= doStop();
      return stopping;
    },
    async collect(rawDir, startedAtMs, endedAtMs) {
      const c = await collectJtl(rawDir, startedAtMs, endedAtMs);
      // A controller that stopped answering during stop() is named, so the run exits 1 even with a JTL.
      return controllerDown ? { ...c, hostFailures: [...(c.hostFailures ?? []), { host: controller.host.name, error: controllerDown }] } : c;
    },
  };

  async function collectJtl(rawDir: string, startedAtMs: number, endedAtMs: number): Promise<Collected> {
    await fs.mkdir(rawDir, { recursive: true });
    const rel = (f: string) => path.relative(path.dirname(rawDir), f);
    const logs = await runAsRoot(controller.session, login, jmeterLogsScript(runDir), `pulling the JMeter client's output from ${controller.host.name}`).catch((e: Error) => ({ stdout: `(${e.message})\n${lastOut}` }));
    await fs.writeFile(path.join(rawDir, 'jmeter-client.txt'), logs.stdout);
    const failAll = (why: string) => ({
      stats: finish(new JtlMerge(remotes).merger, 0),
      merge: `JMeter client: no JTL was collected (${why})`,
      generators: agents.map((c) => ({ name: c.host.name, startedAtMs: null, rawFile: null, collectionError: `the JMeter client's JTL on ${controller.host.name}: ${why}` })),
    });
    let packed: string;
    try {
      packed = (await runAsRoot(controller.session, login, jmeterPackScript(runDir), `packing the JTL on ${controller.host.name}`, { timeoutMs: 600_000 })).stdout;
    } catch (e) {
      return failAll((e as Error).message);
    }
    const jtl = /^jtl (\d+) ([0-9a-f]{64})/m.exec(packed);
    const dashBytes = Number(/^dashboard (\d+)/m.exec(packed)?.[1] ?? 0);
    if (!jtl) return failAll(`unexpected output from packing: ${packed.slice(0, 200)}`);
    const jtlFile = path.join(rawDir, 'res.jtl.gz');
    try {
      const sha = await pullFile(controller, login, `${runDir}/res.jtl.gz`, Number(jtl[1]), jtlFile);
      if (sha !== jtl[2]) throw new Error(`the pulled JTL's sha256 (${sha}) differs from the controller's (${jtl[2]})`);
    } catch (e) {
      return failAll((e as Error).message);
    }
    let dashboardNote = 'no HTML dashboard was generated';
    if (dashBytes > 0) {
      await pullFile(controller, login, `${runDir}/dashboard.tgz`, dashBytes, path.join(rawDir, 'dashboard.tgz'))
        .then(() => (dashboardNote = `JMeter's HTML dashboard: ${rel(path.join(rawDir, 'dashboard.tgz'))}`))
        .catch((e: Error) => (dashboardNote = `the dashboard could not be pulled (${e.message})`));
    }
    let jm: JtlMerge;
    try {
      jm = await mergeJtlFile(jtlFile, remotes, timelineBucketS(Math.max(1, (endedAtMs - startedAtMs) / 1000)));
    } catch (e) {
      // An unreadable JTL (a header without a column the merge needs, a corrupt gzip) is a collection failure
      // of every generator, not a crash: the summary is still written, naming the file, and the run exits 1.
      const why = `${rel(jtlFile)} (the JMeter client's JTL from ${controller.host.name}) could not be read: ${(e as Error).message}`;
      return {
        stats: finish(new JtlMerge(remotes).merger, 0),
        merge: `JMeter client: no sample was merged (${why}); ${dashboardNote}`,
        generators: agents.map((c) => ({ name: c.host.name, startedAtMs: null, rawFile: rel(jtlFile), collectionError: why })),
      };
    }
    const generators = agents.map((c) => {
      const first = jm.firstSampleMs.get(c.host.name) ?? null;
      return {
        name: c.host.name,
        startedAtMs: first,
        rawFile: rel(jtlFile),
        ...(first === null ? { collectionError: `no sample in the JTL came from this agent's jmeter-server (thread names starting ${remotes.find((a) => a.name === c.host.name)!.remote}-)` } : {}),
      };
    });
    const spanS = jm.spanS();
    const t0 = Number.isFinite(jm.firstMs) ? jm.firstMs : startedAtMs;
    // JTL `elapsed` is whole ms (CSVSaveService): no figure finer than that.
    const stats = finish(jm.merger, spanS || Math.max(0.001, (endedAtMs - startedAtMs) / 1000), Math.floor(t0 / 1000), 1);
    const extra = [
      jm.transactions ? `${jm.transactions} Transaction Controller rows left out (their samplers are counted)` : '',
      jm.unmapped ? `${jm.unmapped} samples from threads naming no agent (counted in the totals)` : '',
      jm.bad ? `${jm.bad} unreadable rows skipped` : '',
    ].filter(Boolean);
    return {
      stats: { ...stats, errors: Object.fromEntries(jm.errorKinds) },
      ...(jm.merger.perSecond?.size ? { perSecond: { endpoints: jm.merger.perSecond.view(), precision: PER_SECOND_PRECISION.jmeter } } : {}),
      ...(spanS ? { sendWindow: { fromMs: jm.firstMs, toMs: jm.firstMs + spanS * 1000, basis: 'JMeter: the first sample\'s start to the last sample\'s end in the merged JTL' } } : {}),
      merge: `JMeter client: it received every sample from every server (RMI) and wrote them all to one JTL; loadfleet recorded each of its ${jm.samples} rows (label = endpoint, elapsed in JMeter's whole ms, success=false = failure) — exact, never averaged. ${ACCURACY}. Rates over the samples' own span (first start to last end, ${spanS.toFixed(1)} s); a generator's start = the first sample its server's threads made (agent clocks). ${[...extra, dashboardNote, ...stopNotes].join('; ')}`,
      generators,
    };
  }
}

/** Pulls a controller file in base64 chunks (SSH stdout is text) to `dest`; returns its sha256. */
export async function pullFile(c: HostConn, login: string, file: string, bytes: number, dest: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await fs.open(dest, 'w');
  try {
    for (let i = 0; i * JMETER_RUN.chunkBytes < bytes; i++) {
      const r = await runAsRoot(c.session, login, jmeterChunkScript(file, i), `pulling ${path.basename(file)} from ${c.host.name}`);
      const buf = Buffer.from(r.stdout.trim(), 'base64');
      hash.update(buf);
      await fh.write(buf);
    }
  } finally {
    await fh.close();
  }
  const st = await fs.stat(dest);
  if (st.size !== bytes) throw new Error(`pulled ${st.size} of ${bytes} bytes of ${file}`);
  return hash.digest('hex');
}

export const jmeterRun: DriverModule = { engine: 'jmeter', scriptKind: 'a JMeter plan (.jmx)', needsController: true, validate, checkPassthrough: checkJmeterPassthrough, create };
