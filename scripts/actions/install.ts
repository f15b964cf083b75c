/**
 * `loadfleet install`: the config's engine on the controller and the agents, through the SSH fan-out
 * and the privilege-aware runAsRoot; then its long-running processes under supervision. The same
 * per-host steps (installOnHost) serve `bake` and the local target.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { readOrCreateSecret, type Secret } from '../adapters/secret-file';
import { KnownHosts, connectSsh } from '../adapters/ssh';
import { jumpFor } from '../core/door';
import { runSteps } from '../adapters/progress';
import { UsageError } from '../core/errors';
import { positiveNumber } from '../core/flags';
import { fanout, hostsFailed, type HostResult, type SshSession } from '../core/fanout';
import { runAsRoot } from '../core/privilege';
import { table } from '../core/summary';
import { ENGINE_OWNER, INSTALL_STEP_MS, PROBE_SCRIPT, engineHostSteps, hostInstallBase, outputsFromConfig, renderedFiles, type HostStep } from '../core/install-render';
import { firstContactSteps, pinTargetsOf } from './host-keys';
import { DEFAULT_CONCURRENCY } from '../core/timing';
import type { HostKind } from '../core/tuning';
import type { FleetConfig } from '../../stacks/config';
import type { EngineName } from '../../stacks/engines';
import type { FleetOutputs, Host } from '../core/env-record';
import { changedLines, installContextFor, parseProbe, warningLines } from '../engines/common';
import { trustedDigests, unpublishedProblem } from '../engines/ec2-steps';
import { resolveEngine } from '../engines/index';
import type { EngineSpec, InstallContext } from '../engines/types';
import { selectHosts } from './tune';
import { monitoringHostSteps, monitoringStepInputs, monitoringInstallStep, monitoringUrls, monitoringWanted, describeDown, type MonitoringInstallResult } from './monitoring';
import type { ExporterReport } from '../monitoring/targets';

export { INSTALL_STEP_MS, ENGINE_OWNER };

export interface InstallOptions extends CommonOptions {
  readonly json: boolean;
  readonly hosts?: string;
  readonly concurrency?: string;
  readonly trustFirstDownload?: boolean;
  /** Write what install would run per host into this folder instead; no host is touched. */
  readonly render?: string;
  readonly renderCores?: string;
}

/** How install reaches a host (tests wrap it to record what is sent). */
export interface InstallHooks {
  readonly connect?: typeof connectSsh;
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
  /** sha256 per artifact with no published checksum (config engineSha256, else the env's record). */
  readonly digests: Readonly<Record<string, string>>;
  /** Those of them that no one has given: install trusts their first download and records it. */
  readonly trustFirst: readonly string[];
}

/** The env-folder file recording the sha256 of artifacts trusted on first download (install --trust-first-download). */
export const ENGINE_SHA256_FILE = 'engine-sha256.json';
/** Its key for one artifact: engine, version and artifact name. */
export const digestKey = (engine: string, version: string, artifact: string) => `${engine} ${version} ${artifact}`;

/**
 * The sha256 of each artifact whose checksum nobody publishes (nGrinder's war), decided before any host is
 * touched: the user's engineSha256, else the env's record of an earlier trusted download; the two must agree.
 * Without either: trusted on first download with --trust-first-download, else a usage error naming both fixes.
 */
export function unpublishedDigests(args: {
  readonly spec: EngineSpec; readonly version: string; readonly kind: HostKind; readonly hosts: readonly Host[];
  readonly configSha256?: string; readonly recorded: Readonly<Record<string, string>>; readonly recordFile: string; readonly trustFirstDownload: boolean;
}): { digests: Record<string, string>; trustFirst: string[] } {
  const digests: Record<string, string> = {};
  const trustFirst: string[] = [];
  const pins = args.spec.versions[args.version]?.[args.kind] ?? [];
  const unpublished = pins.filter((a) => !a.sha256 && !a.sha512 && a.unpublished);
  if (args.configSha256 && unpublished.length !== 1) {
    throw new UsageError(`engineSha256 (${args.configSha256}) is for an artifact with no published checksum, and ${args.spec.name} ${args.version} has ${unpublished.length === 0 ? 'none (every artifact has a pinned checksum): remove engineSha256' : `${unpublished.length}: this version cannot take one value`}`);
  }
  // Only the roles that download it need it (nGrinder's war: the controller).
  const wanted = args.hosts.some((h) => h.role === 'controller');
  for (const a of unpublished) {
    const recorded = args.recorded[digestKey(args.spec.name, args.version, a.name)];
    if (args.configSha256 && recorded && recorded !== args.configSha256) {
      throw new UsageError(`engineSha256 (${args.configSha256}) differs from the sha256 recorded for ${a.name} ${args.version} at its first download (${recorded}, in ${args.recordFile}): one of them is not the file you trust; fix engineSha256, or delete the record if the config's value is the right one`);
    }
    const digest = args.configSha256 ?? recorded;
    if (digest) digests[a.name] = digest;
    else if (!wanted) continue;
    else if (args.trustFirstDownload) trustFirst.push(a.name);
    else throw new UsageError(unpublishedProblem(args.spec.name, args.version, a));
  }
  return { digests, trustFirst };
}

export async function readDigestRecord(file: string): Promise<Record<string, string>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file} is not a record of sha256 digests (${(e as Error).message}): fix or delete it`);
  }
  if (typeof j !== 'object' || j === null || Object.values(j).some((v) => typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v))) throw new UsageError(`${file} is not a record of sha256 digests: fix or delete it`);
  return j as Record<string, string>;
}

export function planInstall(config: FleetConfig, outputs: FleetOutputs, recordStatus: string | undefined, hostsFilter: string | undefined, digestRecord: { readonly recorded: Readonly<Record<string, string>>; readonly file: string; readonly trustFirstDownload: boolean } = { recorded: {}, file: ENGINE_SHA256_FILE, trustFirstDownload: false }): InstallPlan {
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
  const { digests, trustFirst } = unpublishedDigests({ spec, version, kind, hosts, configSha256: config.engineSha256, recorded: digestRecord.recorded, recordFile: digestRecord.file, trustFirstDownload: digestRecord.trustFirstDownload });
  return { outputs, kind, spec, version, hosts, digests, trustFirst };
}

/** One host: probe, then the steps of engineHostSteps (what `install --render` writes). Returns what changed. */
export async function installOnHost(session: SshSession, login: string, spec: EngineSpec, base: Omit<InstallContext, 'cores'>, secret?: Secret): Promise<{ changed: string[]; warnings: string[]; trusted: Record<string, string> }> {
  const probe = await runAsRoot(session, login, PROBE_SCRIPT, 'reading the host (nproc, hostname)');
  const ctx: InstallContext = { ...base, cores: parseProbe(probe.stdout).cores };
  const changed: string[] = [];
  const warnings: string[] = [];
  let trusted: Record<string, string> = {};
  for (const step of engineHostSteps(spec, ctx, secret && { value: secret.value, file: secret.file })) {
    const r = await runAsRoot(session, login, step.script, step.what, step.timeoutMs ? { timeoutMs: step.timeoutMs } : {});
    changed.push(...changedLines(r.stdout));
    warnings.push(...warningLines(r.stderr));
    if (step.engineInstall) trusted = trustedDigests(r.stdout);
  }
  return { changed, warnings, trusted };
}

export async function installAction(opts: InstallOptions, hooks: InstallHooks = {}): Promise<void> {
  if (opts.render !== undefined) return renderInstall(opts);
  if (opts.renderCores !== undefined) throw new UsageError('--render-cores (' + opts.renderCores + ') is for --render DIR only: add --render DIR, or drop it');
  const connect = hooks.connect ?? connectSsh;
  const env = await resolveEnv(opts, true);
  const loaded = env.loaded!;
  const { config } = loaded;
  const outputs = await env.envDir.requireOutputs();
  const digestFile = env.envDir.file(ENGINE_SHA256_FILE);
  const recorded = await readDigestRecord(digestFile);
  const plan = planInstall(config, outputs, env.record?.status, opts.hosts, { recorded, file: digestFile, trustFirstDownload: opts.trustFirstDownload === true });
  const trustedNow: Record<string, string> = {};
  const concurrency = positiveNumber('--concurrency', opts.concurrency, DEFAULT_CONCURRENCY, { integer: true });
  const knownHosts = new KnownHosts(env.envDir.knownHosts);
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
      // Every host this install reaches: the engine's, and with monitoring every selected host (node_exporter) and
      // always the monitoring host (its targets are read back there, and its Prometheus gets the Grafana password).
      ...firstContactSteps(outputs.target, config.region, knownHosts, pinTargetsOf(plan.hosts, monitoringSteps.length > 0 ? [...(opts.hosts ? selectHosts(outputs.hosts, opts.hosts) : outputs.hosts), ...outputs.hosts.filter((h) => h.role === 'monitoring')] : []), (n) => (keyNotes = n)),
      {
        title: `Install ${plan.spec.name} ${plan.version} on ${targets.length} hosts (${concurrency} at a time)`,
        run: async (report) => {
          results = await fanout(
            targets,
            (t) => connect(t.address, { user: outputs.sshUser, privateKeyPath: loaded.privateKeyPath, knownHosts, via: jumpFor(outputs.hosts, t.address) }),
            async (session, t) => {
              const { changed, warnings, trusted } = await installOnHost(session, outputs.sshUser, plan.spec, hostInstallBase({ config, outputs, kind: plan.kind, version: plan.version, host: t.host, digests: plan.digests, trustFirstDownload: plan.trustFirst.length > 0 }), secret);
              // Recorded at once (before any other host fails): the first download is the one trusted.
              for (const name of plan.trustFirst) if (trusted[name]) trustedNow[name] = trusted[name]!;
              if (Object.keys(trustedNow).length > 0) await recordDigests(digestFile, plan, trustedNow);
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
  for (const [name, digest] of Object.entries(trustedNow)) {
    process.stderr.write(`note: ${plan.spec.name} ${plan.version} ${name} has no published checksum: its first download was trusted and its sha256 ${digest} recorded in ${digestFile}; every later install checks against it (compare it with a copy you trust, and put it in the config as engineSha256)\n`);
  }
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

async function recordDigests(file: string, plan: Pick<InstallPlan, 'spec' | 'version'>, digests: Readonly<Record<string, string>>): Promise<void> {
  const now = await readDigestRecord(file);
  for (const [name, digest] of Object.entries(digests)) now[digestKey(plan.spec.name, plan.version, name)] = digest;
  await fs.writeFile(file, `${JSON.stringify(now, null, 2)}\n`, { mode: 0o644 });
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

/** What render writes where install would send a generated secret: letters only, so every secret's own checks accept it. */
export const RENDER_SECRET_PLACEHOLDER = 'RENDERxPLACEHOLDERxNOTxTHExSECRET';
/** Cores per host render assumes when --render-cores is not given (install reads each host's nproc). */
export const RENDER_DEFAULT_CORES = 2;

/**
 * `install --render DIR`: per host, the scripts install would run there, in order (scripts/core/install-render.ts),
 * from the config and the env's outputs when present. No SSH, no private key, no secret: a secret install would
 * generate is replaced by RENDER_SECRET_PLACEHOLDER, and the cores install probes are --render-cores.
 */
export async function renderInstall(opts: InstallOptions): Promise<void> {
  const dir = opts.render!;
  if (dir.trim() === '') throw new UsageError('--render needs a folder: --render DIR (absent or empty)');
  const cores = positiveNumber('--render-cores', opts.renderCores, RENDER_DEFAULT_CORES, { integer: true });
  const env = await resolveEnv(opts, true, false);
  const { config } = env.loaded!;
  const recordedOutputs = await env.envDir.readOutputs();
  const outputs = recordedOutputs ?? outputsFromConfig(config);
  const digestFile = env.envDir.file(ENGINE_SHA256_FILE);
  const recorded = await readDigestRecord(digestFile);
  // The env's status does not matter: render reads, it does not need the hosts up.
  const plan = planInstall(config, outputs, undefined, opts.hosts, { recorded, file: digestFile, trustFirstDownload: opts.trustFirstDownload === true });
  const existing = await fs.readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw new UsageError(`--render (${dir}) cannot be read as a folder (${e.code ?? e.message}): give an absent or empty folder`);
  });
  if (existing.length > 0) throw new UsageError(`--render (${dir}) is not empty: give an absent or empty folder, so no file of an earlier render is mistaken for this one`);
  const secretFor = plan.spec.secret && plan.hosts.some((h) => h.role === plan.spec.secret!.role) ? { value: RENDER_SECRET_PLACEHOLDER, file: env.envDir.file(plan.spec.secret.file) } : undefined;
  // Monitoring as install runs it (after every engine host): on the selected hosts, Grafana's password a placeholder.
  const monitored = monitoringWanted({ config, outputs }) ? (opts.hosts ? selectHosts(outputs.hosts, opts.hosts) : outputs.hosts) : [];
  const minputs = monitored.length > 0 ? await monitoringStepInputs({ config, outputs, envDir: env.envDir, privateKeyPath: env.loaded!.privateKeyPath }) : undefined;
  const hosts = outputs.hosts
    .filter((h) => plan.hosts.includes(h) || monitored.includes(h))
    .map((host) => {
      const engineSteps: HostStep[] = plan.hosts.includes(host)
        ? [{ name: 'probe', what: 'reading the host (nproc, hostname)', script: PROBE_SCRIPT }, ...engineHostSteps(plan.spec, { ...hostInstallBase({ config, outputs, kind: plan.kind, version: plan.version, host, digests: plan.digests, trustFirstDownload: plan.trustFirst.length > 0 }), cores }, secretFor)]
        : [];
      const monSteps = minputs && monitored.includes(host) ? monitoringHostSteps({ config, outputs, host, ...minputs, password: plan.kind === 'ec2' ? RENDER_SECRET_PLACEHOLDER : '' }) : [];
      return { host, steps: [...engineSteps, ...monSteps] };
    });
  const grafana = minputs && plan.kind === 'ec2' ? 'Grafana admin password' : undefined;
  const files = renderedFiles({
    engine: plan.spec.name, version: plan.version, target: outputs.target, cores,
    addresses: recordedOutputs ? 'outputs' : outputs.target === 'local' ? 'local-plan' : 'placeholders',
    ...(secretFor || grafana ? { secretNote: `Secrets: ${[secretFor && plan.spec.secret!.what, grafana].filter(Boolean).join(' and ')} (generated by install, kept in the env folder with mode 0600) are written here as ${RENDER_SECRET_PLACEHOLDER}.` } : {}),
    hosts,
  });
  await fs.mkdir(dir, { recursive: true });
  for (const f of files) {
    const target = `${dir}/${f.path}`;
    await fs.mkdir(target.slice(0, target.lastIndexOf('/')), { recursive: true });
    await fs.writeFile(target, f.text, { mode: 0o644 });
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ env: outputs.env, engine: plan.spec.name, version: plan.version, dir, cores, hosts: hosts.map((h) => ({ host: h.host.name, role: h.host.role, files: files.filter((f) => f.path.startsWith(`${h.host.name}/`)).map((f) => f.path) })) }, null, 2)}\n`);
  } else {
    process.stdout.write(`rendered ${plan.spec.name} ${plan.version} for ${hosts.length} hosts into ${dir} (${files.filter((f) => f.path.endsWith('.sh')).length} scripts, copies of the files they write under <host>/files; index in ${dir}/README.md); nothing was run\n`);
  }
}
