/**
 * `loadfleet install`: the config's engine on the controller and the agents, through the SSH fan-out
 * and the privilege-aware runAsRoot; then its long-running processes under supervision. The same
 * per-host steps (installOnHost) serve `bake` and the local target.
 */
import { randomBytes } from 'node:crypto';
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { readOrCreateSecret, type Secret } from '../adapters/secret-file';
import { KnownHosts, connectSsh } from '../adapters/ssh';
import { runSteps } from '../adapters/progress';
import { UsageError } from '../core/errors';
import { positiveNumber } from '../core/flags';
import { fanout, hostsFailed, type HostResult, type SshSession } from '../core/fanout';
import { runAsRoot } from '../core/privilege';
import { table } from '../core/summary';
import { installServicesScript } from '../core/supervise';
import { firstContactSteps, pinTargetsOf } from './host-keys';
import { DEFAULT_CONCURRENCY } from '../core/timing';
import type { HostKind } from '../core/tuning';
import type { FleetConfig } from '../../stacks/config';
import type { EngineName } from '../../stacks/engines';
import type { FleetOutputs, Host } from '../core/env-record';
import { changedLines, installContextFor, parseProbe, warningLines } from '../engines/common';
import { resolveEngine } from '../engines/index';
import type { EngineSpec, InstallContext } from '../engines/types';
import { selectHosts } from './tune';
import { monitoringInstallStep, monitoringUrls, monitoringWanted, describeDown, type MonitoringInstallResult } from './monitoring';
import type { ExporterReport } from '../monitoring/targets';

/** A whole engine install may download hundreds of MB (Artillery's npm tree): allow it. */
export const INSTALL_STEP_MS = 20 * 60_000;
/** Owner of the engine's services in the supervisor (monitoring uses its own). */
export const ENGINE_OWNER = 'engine';

export interface InstallOptions extends CommonOptions {
  readonly json: boolean;
  readonly hosts?: string;
  readonly concurrency?: string;
}

export interface HostInstall {
  readonly role: string;
  readonly changed: string[];
  /** Warnings the host's install steps printed (shown in its row and in --json). */
  readonly warnings: string[];
}

/** Everything checked before any host is touched: env up, engine runnable on the target, version pinned. */
export interface InstallPlan {
  readonly outputs: FleetOutputs;
  readonly kind: HostKind;
  readonly spec: EngineSpec;
  readonly version: string;
  readonly hosts: Host[];
}

export function planInstall(config: FleetConfig, outputs: FleetOutputs, recordStatus: string | undefined, hostsFilter: string | undefined): InstallPlan {
  if (recordStatus && recordStatus !== 'up') {
    throw new UsageError(`env "${outputs.env}" is ${recordStatus}, not up: run "loadfleet up -c <config>" first`);
  }
  const kind: HostKind = outputs.target === 'local' ? 'netns' : 'ec2';
  const { spec, version } = resolveEngine(config.engine as EngineName, config.engineVersion, kind);
  if (outputs.engine !== config.engine) {
    throw new UsageError(`engine (${config.engine}) differs from the engine the env was made for (${outputs.engine}): its security groups open that engine's ports; run "loadfleet up" again after changing engine`);
  }
  // --hosts is read against every host of the env, as tune reads it (names, roles, groups): "target" is a
  // role the env has; its hosts simply get no engine (monitoring, when on, still installs there).
  const hosts = selectHosts(outputs.hosts, hostsFilter).filter((h) => h.role === 'controller' || h.role === 'agent');
  return { outputs, kind, spec, version, hosts };
}

/** One host: probe, the engine's own idempotent install, then its supervised services. Returns what changed. */
export async function installOnHost(session: SshSession, login: string, spec: EngineSpec, base: Omit<InstallContext, 'cores'>, secret?: Secret): Promise<{ changed: string[]; warnings: string[] }> {
  const probe = await runAsRoot(session, login, 'nproc; hostname', 'reading the host (nproc, hostname)');
  const ctx: InstallContext = { ...base, cores: parseProbe(probe.stdout).cores };
  const changed: string[] = [];
  const warnings: string[] = [];
  if (spec.roles.includes(ctx.role)) {
    const r = await runAsRoot(session, login, spec.installScript(ctx), `installing ${spec.name} ${ctx.version}`, { timeoutMs: INSTALL_STEP_MS });
    changed.push(...changedLines(r.stdout));
    warnings.push(...warningLines(r.stderr));
  }
  // Always run: with no services (e.g. Artillery after Locust) it removes the ones this owner left.
  const services = spec.roles.includes(ctx.role) ? spec.services(ctx) : [];
  const s = await runAsRoot(session, login, installServicesScript(services, { hostKind: ctx.hostKind, owner: ENGINE_OWNER, nofile: ctx.nofile }), `starting ${spec.name}'s supervised services`);
  changed.push(...changedLines(s.stdout));
  warnings.push(...warningLines(s.stderr));
  if (spec.secret && secret && ctx.role === spec.secret.role) {
    const a = await runAsRoot(session, login, spec.secret.applyScript(secret.value, secret.file), `setting the ${spec.secret.what}`, { timeoutMs: INSTALL_STEP_MS });
    changed.push(...changedLines(a.stdout));
    warnings.push(...warningLines(a.stderr));
  }
  return { changed, warnings };
}

export async function installAction(opts: InstallOptions): Promise<void> {
  const env = await resolveEnv(opts, true);
  const loaded = env.loaded!;
  const { config } = loaded;
  const outputs = await env.envDir.requireOutputs();
  const plan = planInstall(config, outputs, env.record?.status, opts.hosts);
  const concurrency = positiveNumber('--concurrency', opts.concurrency, DEFAULT_CONCURRENCY, { integer: true });
  const knownHosts = new KnownHosts(env.envDir.knownHosts);
  const agents = outputs.hosts.filter((h) => h.role === 'agent').map((h) => ({ name: h.name, privateIp: h.privateIp }));
  const targets = plan.hosts.map((h) => ({ name: h.name, address: h.publicIp || h.privateIp, host: h }));
  // Generated once per env (mode 0600) before any host is touched, so every rerun applies the same one.
  const secret = plan.spec.secret && plan.hosts.some((h) => h.role === plan.spec.secret!.role)
    ? await (async () => {
        await env.envDir.ensure();
        return readOrCreateSecret(env.envDir.file(plan.spec.secret!.file), () => plan.spec.secret!.generate(randomBytes(64)));
      })()
    : undefined;
  let results: HostResult<HostInstall>[] = [];
  // Monitoring (issue 10): node_exporter everywhere, Prometheus on the monitoring host; skipped with monitoring.enabled: false.
  const menv = { config, outputs, envDir: env.envDir, privateKeyPath: loaded.privateKeyPath, concurrency };
  let monitoring: (MonitoringInstallResult & { health: ExporterReport }) | undefined;
  const monitoringSteps = monitoringWanted(menv) ? [monitoringInstallStep(menv, opts.hosts ? selectHosts(outputs.hosts, opts.hosts).map((h) => h.name) : undefined, (r) => (monitoring = r))] : [];
  let keyNotes: readonly string[] = [];
  await runSteps(
    [
      // Every host this install reaches: the engine's, and with monitoring every host (node_exporter) and the monitoring host.
      ...firstContactSteps(outputs.target, config.region, knownHosts, pinTargetsOf(plan.hosts, monitoringSteps.length > 0 ? (opts.hosts ? selectHosts(outputs.hosts, opts.hosts) : outputs.hosts) : []), (n) => (keyNotes = n)),
      {
        title: `Install ${plan.spec.name} ${plan.version} on ${targets.length} hosts (${concurrency} at a time)`,
        run: async (report) => {
          results = await fanout(
            targets,
            (t) => connectSsh(t.address, { user: outputs.sshUser, privateKeyPath: loaded.privateKeyPath, knownHosts }),
            async (session, t) => {
              const { changed, warnings } = await installOnHost(session, outputs.sshUser, plan.spec, {
                ...installContextFor({
                  env: outputs.env,
                  host: t.host,
                  hostKind: plan.kind,
                  master: outputs.master,
                  agents,
                  version: plan.version,
                  nofile: config.tuning.nofile,
                  cores: 1,
                  login: outputs.sshUser,
                  cacheDir: config.local.engineCache,
                }),
              }, secret);
              return { role: t.host.role, changed, warnings };
            },
            { concurrency, onProgress: (p) => report(`${p.done} done, ${p.failed} failed, ${p.inFlight} in flight of ${p.total}`) },
          );
        },
      },
      ...monitoringSteps,
    ],
    { quiet: opts.json },
  );
  const failed = results.filter((r) => !r.ok);
  const mFailed = monitoring?.results.filter((r) => !r.ok) ?? [];
  const urls = monitoring ? monitoringUrls(menv, loaded.path) : [];
  for (const note of keyNotes) process.stderr.write(`note: ${note}\n`);
  if (opts.json) {
    const mon = monitoring && { hosts: monitoring.results, down: monitoring.health.down, urls };
    process.stdout.write(`${JSON.stringify({ env: outputs.env, engine: plan.spec.name, version: plan.version, hosts: results, ...(secret ? { secretFile: secret.file } : {}), ...(mon ? { monitoring: mon } : {}) }, null, 2)}\n`);
  } else {
    process.stdout.write(`${formatInstall(results, plan)}\n`);
    if (secret) process.stdout.write(`${plan.spec.secret!.what}: ${secret.created ? 'generated and ' : ''}kept in ${secret.file} (mode 0600)\n`);
    if (monitoring) process.stdout.write(`monitoring: ${monitoring.results.length - mFailed.length}/${monitoring.results.length} hosts installed, ${monitoring.health.up.length} exporters up in Prometheus\n${urls.join('\n')}\n`);
  }
  if (mFailed.length > 0 || (monitoring && monitoring.health.down.length > 0)) {
    throw hostsFailed(mFailed, `monitoring: ${mFailed.map((f) => `${f.host}: ${f.error}`).join('; ') || `Prometheus does not scrape ${describeDown(monitoring!.health)}`}; rerun "loadfleet install"`);
  }
  if (failed.length > 0) {
    throw hostsFailed(failed, `${failed.length} of ${results.length} host(s) failed: ${failed.map((f) => f.host).join(', ')}; fix the cause and rerun "loadfleet install" (hosts already done are left unchanged)`);
  }
}

export function formatInstall(results: readonly HostResult<HostInstall>[], plan: Pick<InstallPlan, 'spec' | 'version'>): string {
  const rows: string[][] = [['HOST', 'ADDRESS', 'RESULT', 'TIME', 'CHANGES']];
  for (const r of results) {
    const detail = r.ok
      ? [r.value!.changed.length ? r.value!.changed.join('; ') : 'already as requested', ...r.value!.warnings].join('; ')
      : (r.error ?? '');
    rows.push([r.host, r.address, r.ok ? (r.value!.changed.length ? 'changed' : 'ok') : 'FAILED', `${(r.ms / 1000).toFixed(1)}s`, detail]);
  }
  const ok = results.filter((r) => r.ok);
  const changed = ok.filter((r) => r.value!.changed.length > 0).length;
  const failed = results.length - ok.length;
  const warned = ok.filter((r) => r.value!.warnings.length > 0).length;
  return `${table(rows)}\n${plan.spec.name} ${plan.version}: ${changed} changed, ${ok.length - changed} unchanged${failed ? `, ${failed} failed` : ''}${warned ? `, ${warned} with warnings (see their rows)` : ''} (of ${results.length} hosts)`;
}

/**
 * The engine's install steps on an image builder (`loadfleet bake`, agent images): the same script as
 * `install`, without services, since the master's address exists only after `up`. A fleet booted from
 * that image then needs only `loadfleet install` to write and start the services (seconds per host).
 */
export async function bakeEngine(session: SshSession, login: string, config: FleetConfig, hostKind: HostKind): Promise<{ changed: string[]; warnings: string[] }> {
  const { spec, version } = resolveEngine(config.engine as EngineName, config.engineVersion, hostKind);
  if (!spec.roles.includes('agent')) return { changed: [], warnings: [] };
  const ctx = installContextFor({
    env: config.name,
    host: { name: 'builder', role: 'agent', privateIp: '' },
    hostKind,
    master: null,
    agents: [],
    version,
    nofile: config.tuning.nofile,
    cores: 1,
    login,
    cacheDir: config.local.engineCache,
  });
  const r = await runAsRoot(session, login, spec.installScript(ctx), `installing ${spec.name} ${version} on the builder`, { timeoutMs: INSTALL_STEP_MS });
  return { changed: changedLines(r.stdout), warnings: warningLines(r.stderr) };
}
