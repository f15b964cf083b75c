/**
 * The monitoring part of install and doctor (issue 10): node_exporter on every host, Prometheus on the
 * monitoring host (Grafana too on EC2), all supervised like the engines' services; doctor reads
 * Prometheus's own target health. Thin: the scripts come from scripts/monitoring, the supervision from
 * scripts/core/supervise, the remote work from the shared fan-out.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FleetConfig } from '../../stacks/config';
import { MONITORING_PORTS, engineOf } from '../../stacks/engines';
import type { EnvDir } from '../adapters/env-dir';
import { readDashboards } from '../adapters/monitoring-files';
import { KnownHosts, connectSsh } from '../adapters/ssh';
import { jumpFor } from '../core/door';
import type { FleetOutputs, Host } from '../core/env-record';
import { ExternalError } from '../core/errors';
import { fanout, type HostResult, type SshSession } from '../core/fanout';
import { inventoryFrom } from '../core/inventory';
import { runAsRoot } from '../core/privilege';
import { installServicesScript } from '../core/supervise';
import type { HostStep } from '../core/install-render';
import { DEFAULT_CONCURRENCY, DEFAULT_TIMING, type Timing } from '../core/timing';
import type { HostKind } from '../core/tuning';
import { ADMIN_PASSWORD_FILE, dashboardsProviderYaml, datasourceYaml, generatePassword, grafanaInstallScript } from '../monitoring/grafana';
import { nodeExporterInstallScript, nodeExporterService, type MonitoredHost } from '../monitoring/node-exporter';
import { monitoringPins } from '../monitoring/pins';
import { prometheusInstallScript, prometheusUrl, prometheusService, type PrometheusSetup } from '../monitoring/prometheus';
import { exporterReport, parseTargets, type ExporterReport } from '../monitoring/targets';
import { prometheusTargetsPath } from '../monitoring/tunnel';
import { renderRunMetrics, runMetricsWriteScript, type RunSnapshot } from '../monitoring/run-metrics';
import { defaultLocalPort } from '../monitoring/tunnel';

/** Everything the monitoring step needs, from the config, the env folder and the outputs. */
export interface MonitoringEnv {
  readonly config: FleetConfig;
  readonly outputs: FleetOutputs;
  readonly envDir: EnvDir;
  readonly privateKeyPath: string;
  readonly timing?: Timing;
  readonly concurrency?: number;
}

/** The owner name of monitoring's supervised services (the engines' are separate: neither removes the other's). */
export const MONITORING_OWNER = 'monitoring';

export function hostKindOf(outputs: FleetOutputs): HostKind {
  return outputs.target === 'local' ? 'netns' : 'ec2';
}

export function monitoringHost(outputs: FleetOutputs): Host | undefined {
  return outputs.hosts.find((h) => h.role === 'monitoring');
}

/** True when the config asks for monitoring and the env has a monitoring host to run Prometheus on. */
export function monitoringWanted(m: Pick<MonitoringEnv, 'config' | 'outputs'>): boolean {
  return m.config.monitoring.enabled && monitoringHost(m.outputs) !== undefined;
}

/** Engines that push their metrics into Prometheus (remote write): k6 only (experimental-prometheus-rw). */
export function enginePushes(engine: string): boolean {
  return engine === 'k6';
}

function prometheusSetup(m: MonitoringEnv, mon: Host): PrometheusSetup {
  return { env: m.outputs.env, kind: hostKindOf(m.outputs), host: { name: mon.name, privateIp: mon.privateIp }, rootVolumeGb: m.config.rootVolumeGb, remoteWrite: enginePushes(m.outputs.engine) };
}

/** Grafana's admin password: generated once, kept in the env folder (0600), reused by later installs. */
export async function grafanaPassword(envDir: EnvDir): Promise<string> {
  const file = envDir.file(ADMIN_PASSWORD_FILE);
  const existing = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? '' : Promise.reject(e)));
  if (existing.trim()) return existing.trim();
  await envDir.ensure();
  const pw = generatePassword(randomBytes);
  await fs.writeFile(file, `${pw}\n`, { mode: 0o600, flag: 'wx' });
  return pw;
}

/**
 * Grafana's provisioning as it would go onto the monitoring host, written into the env folder so it can
 * be read and checked where Grafana itself cannot be installed (the local target).
 */
export async function writeProvisioning(envDir: EnvDir, prometheusAt: string): Promise<string> {
  const dir = envDir.file('grafana');
  await fs.mkdir(path.join(dir, 'provisioning/datasources'), { recursive: true });
  await fs.mkdir(path.join(dir, 'provisioning/dashboards'), { recursive: true });
  await fs.mkdir(path.join(dir, 'dashboards'), { recursive: true });
  await fs.writeFile(path.join(dir, 'provisioning/datasources/loadfleet.yaml'), datasourceYaml(prometheusAt));
  await fs.writeFile(path.join(dir, 'provisioning/dashboards/loadfleet.yaml'), dashboardsProviderYaml());
  for (const [f, text] of Object.entries(await readDashboards())) await fs.writeFile(path.join(dir, 'dashboards', f), text);
  return dir;
}

export interface MonitoringInstallResult {
  readonly results: HostResult<string[]>[];
  readonly grafanaProvisioning: string;
}

/**
 * Installs and starts node_exporter on every host, Prometheus (and on EC2 Grafana) on the monitoring
 * host; idempotent. Per host: the list of changes. Checks the pins first (exit 2 on an unknown checksum).
 */
export async function installMonitoring(m: MonitoringEnv, onProgress?: (text: string) => void, only?: readonly string[]): Promise<MonitoringInstallResult> {
  const kind = hostKindOf(m.outputs);
  const mon = monitoringHost(m.outputs)!;
  const { setup, inv, pins, dashboards } = await monitoringStepInputs(m);
  const password = kind === 'ec2' ? await grafanaPassword(m.envDir) : '';
  const grafanaProvisioning = await writeProvisioning(m.envDir, prometheusUrl(mon.privateIp));
  const timing = m.timing ?? DEFAULT_TIMING;
  const knownHosts = new KnownHosts(m.envDir.knownHosts);
  const hosts = m.outputs.hosts.filter((h) => !only || only.includes(h.name)).map((h) => ({ ...h, address: h.publicIp || h.privateIp }));
  const results = await fanout(
    hosts,
    (h) => connectSsh(h.address, { user: m.outputs.sshUser, privateKeyPath: m.privateKeyPath, knownHosts, timing, via: jumpFor(m.outputs.hosts, h.address) }),
    async (session, h) => {
      const changes = (out: string) => out.split('\n').filter((l) => l.startsWith('changed ')).map((l) => l.slice(8));
      const changed: string[] = [];
      for (const step of monitoringHostSteps({ config: m.config, outputs: m.outputs, host: h, setup, inv, pins, dashboards, password })) {
        changed.push(...changes((await runAsRoot(session, m.outputs.sshUser, step.script, step.what, step.timeoutMs ? { timeoutMs: step.timeoutMs } : {})).stdout));
      }
      return changed;
    },
    { concurrency: m.concurrency ?? DEFAULT_CONCURRENCY, timing, onProgress: (p) => onProgress?.(`${p.done} done, ${p.failed} failed, ${p.inFlight} in flight of ${p.total}`) },
  );
  return { results, grafanaProvisioning };
}

/**
 * The scripts monitoring's install runs on one host, in order (what `install --render` writes): node_exporter,
 * on the monitoring host Prometheus, the supervised services, and on EC2 Grafana. Pure.
 */
export function monitoringHostSteps(a: {
  readonly config: Pick<FleetConfig, 'tuning'>; readonly outputs: FleetOutputs; readonly host: Host; readonly setup: PrometheusSetup;
  readonly inv: ReturnType<typeof inventoryFrom>; readonly pins: ReturnType<typeof monitoringPins>; readonly dashboards: Readonly<Record<string, string>>; readonly password: string;
}): HostStep[] {
  const kind = hostKindOf(a.outputs);
  const mon = monitoringHost(a.outputs)!;
  const mh: MonitoredHost = { env: a.outputs.env, kind, role: a.host.role, name: a.host.name, privateIp: a.host.privateIp, nofile: a.config.tuning.nofile };
  const isMon = a.host.name === mon.name;
  const steps: HostStep[] = [{ name: 'monitoring-node-exporter', what: 'install node_exporter', script: nodeExporterInstallScript(mh, a.pins) }];
  if (isMon) steps.push({ name: 'monitoring-prometheus', what: 'install Prometheus', script: prometheusInstallScript(a.setup, a.inv, a.pins) });
  const specs = isMon ? [nodeExporterService(mh), prometheusService(a.setup)] : [nodeExporterService(mh)];
  steps.push({ name: 'monitoring-services', what: 'start monitoring services', script: installServicesScript(specs, { hostKind: kind, owner: MONITORING_OWNER, nofile: a.config.tuning.nofile }) });
  if (isMon && kind === 'ec2') steps.push({ name: 'monitoring-grafana', what: 'install Grafana', script: grafanaInstallScript(a.pins, a.dashboards, a.password, prometheusUrl(mon.privateIp)), timeoutMs: 600_000 });
  return steps;
}

/** Everything monitoringHostSteps needs but the host: the setup, inventory, pins and dashboards install reads. */
export async function monitoringStepInputs(m: Pick<MonitoringEnv, 'config' | 'outputs' | 'envDir' | 'privateKeyPath'>) {
  const mon = monitoringHost(m.outputs)!;
  return {
    setup: prometheusSetup(m as MonitoringEnv, mon),
    inv: inventoryFrom(m.outputs, { region: m.config.region, privateKeyPath: m.privateKeyPath, knownHostsFile: m.envDir.knownHosts }),
    pins: monitoringPins(),
    dashboards: hostKindOf(m.outputs) === 'ec2' ? await readDashboards() : {},
  };
}

/** Prometheus's /api/v1/targets, read on the monitoring host itself: doctor sees what Prometheus sees. */
export async function readTargetHealth(m: Omit<MonitoringEnv, 'config'>): Promise<ExporterReport> {
  const mon = monitoringHost(m.outputs);
  if (!mon) throw new ExternalError(`env ${m.outputs.env} has no monitoring host`);
  const session = await connectSsh(mon.publicIp || mon.privateIp, { user: m.outputs.sshUser, privateKeyPath: m.privateKeyPath, knownHosts: new KnownHosts(m.envDir.knownHosts), timing: m.timing, via: jumpFor(m.outputs.hosts, mon.publicIp || mon.privateIp) });
  try {
    const r = await session.exec(`curl -fsS --max-time 10 '${prometheusUrl(mon.privateIp)}/api/v1/targets?state=active'`);
    if (r.code !== 0) throw new ExternalError(`Prometheus on ${mon.name} did not answer /api/v1/targets (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}; is it installed? run "loadfleet install"`);
    let json: unknown;
    try {
      json = JSON.parse(r.stdout);
    } catch {
      throw new ExternalError(`Prometheus on ${mon.name} answered something that is not JSON: ${r.stdout.slice(0, 200)}`);
    }
    return exporterReport(parseTargets(json), m.outputs.hosts.map((h) => h.name));
  } finally {
    session.close();
  }
}

/** Waits until every host's exporter is up in Prometheus (file_sd is read in ~5 s batches), or the deadline. */
export async function waitForTargets(m: Omit<MonitoringEnv, 'config'>, deadlineMs = 60_000, pollMs = 2_000): Promise<ExporterReport> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const r = await readTargetHealth(m).catch((e: Error) => ({ up: [], down: [{ host: '(prometheus)', reason: e.message }] }) as ExporterReport);
    if (r.down.length === 0 || Date.now() > until) return r;
    await new Promise((res) => setTimeout(res, pollMs));
  }
}

export function describeDown(r: ExporterReport): string {
  return r.down.map((d) => `${d.host} (${d.reason})`).join('; ');
}

/** Where to open things, printed after install. */
export function monitoringUrls(m: Pick<MonitoringEnv, 'outputs' | 'envDir'>, configPath?: string): string[] {
  const mon = monitoringHost(m.outputs);
  if (!mon) return [];
  const addr = mon.publicIp || mon.privateIp;
  const cfg = configPath ? ` -c ${path.relative(process.cwd(), configPath) || configPath}` : ` --env ${m.outputs.env}`;
  // On EC2, 9090 is not open to sshCidrs (no login; k6's remote-write receiver): the tunnel is the way in.
  const lines = [m.outputs.target === 'aws'
    ? `Prometheus: loadfleet tunnel${cfg} prometheus   (→ http://127.0.0.1:${MONITORING_PORTS.prometheus}${prometheusTargetsPath('aws')}; not open to sshCidrs)`
    : `Prometheus: http://${addr}:${MONITORING_PORTS.prometheus}${prometheusTargetsPath(m.outputs.target)}   (tunnel: loadfleet tunnel${cfg} prometheus)`];
  if (m.outputs.target === 'aws') {
    // Plain HTTP with a password: through the SSH tunnel only (issue 20.9), never http://<public IP>:3000.
    lines.push(`Grafana:    loadfleet tunnel${cfg} grafana   then http://127.0.0.1:${MONITORING_PORTS.grafana}/dashboards   user admin, password in ${m.envDir.file(ADMIN_PASSWORD_FILE)}`);
  } else {
    lines.push(`Grafana:    not installed on the local target; its provisioning is in ${m.envDir.file('grafana')}`);
  }
  const engine = engineOf(m.outputs.engine as Parameters<typeof engineOf>[0]);
  const controller = m.outputs.hosts.find((h) => h.role === 'controller');
  if (engine.uiPort && controller) {
    lines.push(engine.uiReach === 'loopback'
      ? `Controller: only through the tunnel: loadfleet tunnel${cfg} controller   (the UI listens on the controller's 127.0.0.1:${engine.uiPort})`
      // nGrinder: its port is open to the fleet's own hosts only (admin/admin until install sets it; plain HTTP).
      : `Controller: loadfleet tunnel${cfg} controller   then http://127.0.0.1:${defaultLocalPort(engine.uiPort)}/   (plain HTTP: reachable through the tunnel only)`);
  }
  return lines;
}

/** Doctor rows: one per host, "scraped by Prometheus" as Prometheus itself reports it. */
export async function monitoringDoctorRows(m: Omit<MonitoringEnv, 'config'>): Promise<{ host: string; check: string; ok: boolean; detail: string }[]> {
  const check = 'node_exporter scraped by Prometheus';
  let r: ExporterReport;
  try {
    r = await readTargetHealth(m);
  } catch (e) {
    return [{ host: monitoringHost(m.outputs)?.name ?? 'monitoring', check: 'Prometheus target health', ok: false, detail: (e as Error).message }];
  }
  return [
    ...r.up.map((host) => ({ host, check, ok: true, detail: 'up' })),
    ...r.down.map((d) => ({ host: d.host, check, ok: false, detail: `down: ${d.reason}` })),
  ];
}

/** The install step for monitoring: installs, then waits until Prometheus reports every exporter up. */
export function monitoringInstallStep(m: MonitoringEnv, only: readonly string[] | undefined, done: (r: MonitoringInstallResult & { health: ExporterReport }) => void) {
  monitoringPins(); // an unknown checksum is a usage error (exit 2) before any host is touched
  const n = only ? m.outputs.hosts.filter((h) => only.includes(h.name)).length : m.outputs.hosts.length;
  return {
    title: `Monitoring: node_exporter on ${n} hosts, Prometheus on ${monitoringHost(m.outputs)!.name}${m.outputs.target === 'aws' ? ' with Grafana' : ''}`,
    run: async (report: (text: string) => void) => {
      const r = await installMonitoring(m, report, only);
      report('waiting for Prometheus to scrape every host');
      const health = r.results.every((x) => x.ok) ? await waitForTargets(m, 60_000) : { up: [], down: [] };
      done({ ...r, health });
    },
  };
}

/**
 * The `run` hook (RunHooks.onLive of scripts/actions/run.ts) that publishes the live merged stats on the
 * controller's node_exporter textfile directory, where Prometheus scrapes them every 5 s. Root directly,
 * or through `sudo -n` for another login; never prompts.
 */
export async function publishRunMetrics(s: RunSnapshot, ctx: { controller: SshSession | undefined; hostKind: HostKind }): Promise<void> {
  if (!ctx.controller) return;
  const r = await ctx.controller.exec(`sh -c 'if [ "$(id -u)" -eq 0 ]; then exec sh -s; else exec sudo -n sh -s; fi'`, { stdin: runMetricsWriteScript(ctx.hostKind, renderRunMetrics(s)), timeoutMs: 10_000 });
  if (r.code !== 0) throw new ExternalError(`publishing run metrics on the controller failed (exit ${r.code}): ${r.stderr.trim()}`);
}
