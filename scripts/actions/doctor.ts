/**
 * `loadfleet doctor`: read-only pre-flight over the controller and the agents. Phase 1 probes every host
 * (version, supervised processes and their limits, TCP to the master and every target port, clock,
 * disk); phase 2 asks the engine's own checks on the controller with what phase 1 learned (e.g. the
 * Locust master must report each agent's workers). Exit 1 on any FAIL, naming host and check.
 */
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { KnownHosts, connectSsh } from '../adapters/ssh';
import { jumpFor } from '../core/door';
import { runSteps } from '../adapters/progress';
import { nonNegativeNumber, positiveNumber } from '../core/flags';
import { fanout, hostsFailed, worstExitCode, type HostResult } from '../core/fanout';
import { runAsRoot } from '../core/privilege';
import { DEFAULT_CONCURRENCY } from '../core/timing';
import { pinFirstContact, pinTargetsOf } from './host-keys';
import { CLOCK_COMMAND, DoctorFailedError, NothingInstalledError, reachEndpoints, doctorFailureKind, notInstalledHeadline, nothingInstalled, clockFrom, clockRow, formatDoctorReport, hostRows, parseProbeOutput, probeScript, sameVersionRow, type Endpoint, type Probed, type Row } from '../core/doctor';
import { installContextFor } from '../engines/common';
import type { InstallContext } from '../engines/types';
import type { Host } from '../core/env-record';
import { ENGINE_OWNER, planInstall } from './install';
import { monitoringDoctorRows, monitoringWanted } from './monitoring';

export interface DoctorOptions extends CommonOptions {
  readonly json: boolean;
  /** Every check in the text report, not only the failing ones. */
  readonly verbose?: boolean;
  readonly concurrency?: string;
  /** Seconds to keep re-checking while something fails (e.g. workers still connecting after install). */
  readonly wait?: string;
}

/** Pause between rounds of --wait. */
export const DOCTOR_RETRY_MS = 2_000;

interface Probe {
  readonly probed: Probed;
  readonly offset?: number;
}

export async function doctorAction(opts: DoctorOptions): Promise<void> {
  const env = await resolveEnv(opts, true);
  const loaded = env.loaded!;
  const { config } = loaded;
  const outputs = await env.envDir.requireOutputs();
  // Doctor installs nothing: an artifact with no published checksum needs no digest here (install decides it).
  const plan = planInstall(config, outputs, env.record?.status, undefined, { recorded: {}, file: '', trustFirstDownload: true });
  const concurrency = positiveNumber('--concurrency', opts.concurrency, DEFAULT_CONCURRENCY, { integer: true });
  const knownHosts = new KnownHosts(env.envDir.knownHosts);
  const connect = (h: { address: string }) => connectSsh(h.address, { user: outputs.sshUser, privateKeyPath: loaded.privateKeyPath, knownHosts, via: jumpFor(outputs.hosts, h.address) });
  const agents = outputs.hosts.filter((h) => h.role === 'agent');
  // Built once: per host it made doctor quadratic in the fleet (1,000 agents: a million objects per pass, issue 19).
  const agentList = agents.map((a) => ({ name: a.name, privateIp: a.privateIp }));
  const ctxOf = (h: Host, cores: number): InstallContext =>
    installContextFor({
      env: outputs.env,
      host: h,
      hostKind: plan.kind,
      master: outputs.master,
      agents: agentList,
      version: plan.version,
      nofile: config.tuning.nofile,
      cores,
      login: outputs.sshUser,
      cacheDir: config.local.engineCache,
    });
  const reachOf = (h: Host): Endpoint[] => reachEndpoints(config, outputs, h);
  const targets = plan.hosts.map((h) => ({ name: h.name, address: h.publicIp || h.privateIp, host: h }));
  const targetByName = new Map(targets.map((t) => [t.name, t]));
  // First contact, once (not per --wait round): console keys pinned before any connection.
  if (outputs.target === 'aws') {
    // the engine's hosts, and the monitoring host whose Prometheus doctor asks
    const monitoring = monitoringWanted({ config, outputs }) ? outputs.hosts.filter((h) => h.role === 'monitoring') : [];
    const pinned = await pinFirstContact(outputs.target, config.region, knownHosts, pinTargetsOf(targets.map((t) => t.host), monitoring));
    for (const note of pinned.notes) process.stderr.write(`note: ${note}\n`);
  }
  const waitS = nonNegativeNumber('--wait', opts.wait, 0); // 0 (the default) is one round
  const deadline = Date.now() + waitS * 1000;
  let rows: Row[] = [];
  let hostsChecked = 0;
  for (let round = 1; ; round++) {
    rows = await checkOnce(round);
    if (rows.every((r) => r.ok) || Date.now() + DOCTOR_RETRY_MS > deadline) break;
    await new Promise((r) => setTimeout(r, DOCTOR_RETRY_MS));
  }

  async function checkOnce(round: number): Promise<Row[]> {
    let phase1: HostResult<Probe>[] = [];
    let phase2: HostResult<Row[]>[] = [];
    await runSteps(
      [
        {
          title: `Check ${targets.length} hosts${round > 1 ? ` (round ${round})` : ''}`,
          run: async (report) => {
            phase1 = await fanout(
              targets,
              connect,
              async (session, t) => {
                const engineHere = plan.spec.roles.includes(t.host.role);
                const script = probeScript({ hostKind: plan.kind, owner: ENGINE_OWNER, versionScript: engineHere ? plan.spec.versionScript(ctxOf(t.host, 1)) : null, reach: reachOf(t.host) });
                // The clock first, in its own tiny exec: the probe below takes seconds when a port is filtered.
                const sent = Date.now();
                const c = await session.exec(CLOCK_COMMAND);
                const offset = c.code === 0 ? clockFrom(c.stdout, sent, Date.now()) : undefined;
                const r = await runAsRoot(session, outputs.sshUser, script, 'doctor probe');
                return { probed: parseProbeOutput(r.stdout), offset };
              },
              { concurrency, onProgress: (p) => report(`${p.done} done, ${p.failed} failed of ${p.total}`) },
            );
          },
        },
        {
          title: `Engine checks (${plan.spec.name})`,
          run: async () => {
            const facts = phase1.flatMap((r) => {
              const h = targetByName.get(r.host)!.host;
              return r.ok && h.role === 'agent' ? [{ name: h.name, hostname: r.value!.probed.hostname, cores: r.value!.probed.cores }] : [];
            });
            const p1By = new Map(phase1.map((r) => [r.host, r]));
            const withChecks = targets.filter((t) => {
              const p1 = p1By.get(t.name);
              return p1?.ok && plan.spec.checks && plan.spec.checks({ ...ctxOf(t.host, p1.value!.probed.cores), agentFacts: facts }).length > 0;
            });
            // Agents that did not answer cannot be counted: their rows already fail; the master check counts the others.
            phase2 = await fanout(withChecks, connect, async (session, t) => {
              const p1 = p1By.get(t.name)!;
              const checks = plan.spec.checks!({ ...ctxOf(t.host, p1.value!.probed.cores), agentFacts: facts });
              const r = await runAsRoot(session, outputs.sshUser, probeScript({ hostKind: plan.kind, owner: ENGINE_OWNER, versionScript: null, reach: [], extraChecks: checks }), 'doctor engine checks');
              return parseProbeOutput(r.stdout).checks.map((c) => ({ host: t.name, check: c.name, ok: c.ok, detail: c.detail, engineCheck: true as const }));
            }, { concurrency });
          },
        },
      ],
      { quiet: opts.json },
    );

    // A bug or bad input while checking is not a host that failed a check: it ends doctor with its own kind.
    if (worstExitCode([...phase1, ...phase2]) > 1) throw hostsFailed([...phase1, ...phase2], 'doctor: the checks could not run');
    const rows: Row[] = [];
    const controller = phase1.find((r) => targetByName.get(r.host)?.host.role === 'controller');
    const phase2By = new Map<string, HostResult<Row[]>[]>();
    for (const x of phase2) phase2By.set(x.host, [...(phase2By.get(x.host) ?? []), x]);
    const versions = new Map<string, string | undefined>();
    for (const r of phase1) {
      const h = targetByName.get(r.host)!.host;
      if (!r.ok) {
        rows.push({ host: r.host, check: 'reachable over SSH', ok: false, detail: r.error ?? 'unreachable' });
        continue;
      }
      const engineHere = plan.spec.roles.includes(h.role);
      const p = r.value!.probed;
      if (engineHere) versions.set(h.name, p.version);
      const services = engineHere ? plan.spec.services(ctxOf(h, p.cores)).map((s) => ({ name: s.name, nofile: s.nofile ?? config.tuning.nofile })) : [];
      rows.push(...hostRows(h.name, p, { version: engineHere ? plan.version : null, services }));
      if (h.role !== 'controller') rows.push(clockRow(h.name, r.value!.offset, controller?.ok ? controller.value!.offset : undefined));
      for (const x of phase2By.get(h.name) ?? []) {
        if (x.ok) rows.push(...x.value!);
        // The checks could not run (SSH dropped, sudo refused): a host fault, never explained by a missing install.
        else rows.push({ host: h.name, check: 'engine checks', ok: false, detail: x.error ?? 'failed' });
      }
    }
    const mixed = sameVersionRow(versions);
    if (mixed) rows.push(mixed);
    // Monitoring (issue 10): what Prometheus itself sees, one row per host of the env.
    // install sets monitoring up with the engine: beside a not-installed row, a monitoring failure follows its kind (issue 22).
    if (monitoringWanted({ config, outputs })) rows.push(...(await monitoringDoctorRows({ outputs, envDir: env.envDir, privateKeyPath: loaded.privateKeyPath })).map((r) => (r.ok ? r : { ...r, engineCheck: true as const })));
    hostsChecked = phase1.length;
    return rows;
  }

  const failedRows = rows.filter((r) => !r.ok);
  const notInstalled = failedRows.length > 0 && (nothingInstalled(rows) || doctorFailureKind(rows) === 'usage') ? notInstalledHeadline(rows) : undefined;
  if (notInstalled && !opts.json) process.stdout.write(`${notInstalled}\n`); // said first, before the rows it explains
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ env: outputs.env, engine: plan.spec.name, version: plan.version, ok: failedRows.length === 0, rows }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatDoctorReport(rows, hostsChecked, { verbose: !!opts.verbose })}\n`);
  }
  if (notInstalled) {
    // What install will not fix by itself is named too, so it is no surprise after install.
    const besides = failedRows.filter((r) => !r.notInstalled && !r.engineCheck);
    throw new NothingInstalledError(`${notInstalled} (${failedRows.length} check(s) fail until then${besides.length ? `; besides: ${besides.slice(0, 3).map((r) => `${r.host} ${r.check}: ${r.detail}`).join('; ')}${besides.length > 3 ? '; …' : ''}` : ''})`, failedRows);
  }
  if (failedRows.length > 0) {
    const hosts = [...new Set(failedRows.map((r) => r.host))];
    throw new DoctorFailedError(`doctor: ${failedRows.length} check(s) failed on ${hosts.join(', ')}: ${failedRows.slice(0, 5).map((r) => `${r.host} ${r.check}: ${r.detail}`).join('; ')}${failedRows.length > 5 ? '; …' : ''}`, failedRows);
  }
}
