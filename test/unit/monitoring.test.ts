import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { load } from 'js-yaml';
import { UsageError } from '../../scripts/core/errors';
import type { Inventory } from '../../scripts/core/inventory';
import { parsePins } from '../../scripts/monitoring/pins';
import { nodeExporterArgs, nodeExporterInstallScript, nodeExporterService, limitsMetrics, type MonitoredHost } from '../../scripts/monitoring/node-exporter';
import { prometheusArgs, prometheusInstallScript, renderPrometheusConfig, retentionFor, type PrometheusSetup } from '../../scripts/monitoring/prometheus';
import { ADMIN_PASSWORD_FILE, dashboardsProviderYaml, datasourceYaml, generatePassword, grafanaInstallScript, GRAFANA_PATHS } from '../../scripts/monitoring/grafana';
import { concreteExpr, dashboardExprs, dashboardProblems, DATASOURCE_UID, rulesFileFor } from '../../scripts/monitoring/dashboards';
import { k6PrometheusOutput, metricsRoute } from '../../scripts/monitoring/engine-metrics';
import { exporterReport, parseTargets } from '../../scripts/monitoring/targets';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PINS_FILE = path.join(ROOT, 'ami/engines/monitoring.json');
const pinsJson = JSON.parse(fs.readFileSync(PINS_FILE, 'utf8'));
const pins = parsePins(PINS_FILE, pinsJson);
const DASH_DIR = path.join(ROOT, 'ami/monitoring/dashboards');
const dashboards = Object.fromEntries(fs.readdirSync(DASH_DIR).filter((f) => f.endsWith('.json')).map((f) => [f, JSON.parse(fs.readFileSync(path.join(DASH_DIR, f), 'utf8'))]));

const agent = (kind: 'ec2' | 'netns'): MonitoredHost => ({ env: 'demo', kind, role: 'agent', name: 'agent-1', privateIp: '10.42.0.11', nofile: 16384 });
const INV: Inventory = {
  env: 'demo', target: 'aws', region: 'us-east-1', engine: 'locust', sshUser: 'ec2-user', privateKeyPath: '/k', knownHostsFile: '/kh',
  hosts: [
    { role: 'controller', group: 'controller', name: 'controller', id: 'i-0c', publicIp: '54.0.0.10', privateIp: '10.42.0.10' },
    { role: 'agent', group: 'agent', name: 'agent-1', id: 'i-0a1', publicIp: '54.0.0.11', privateIp: '10.42.0.11' },
    { role: 'monitoring', group: 'monitoring', name: 'monitoring', id: 'i-0m', publicIp: '54.0.0.14', privateIp: '10.42.0.14' },
  ],
  master: { address: '10.42.0.10', port: 5557 },
};
const SETUP: PrometheusSetup = { env: 'demo', kind: 'ec2', host: { name: 'monitoring', privateIp: '10.42.0.14' }, rootVolumeGb: 20, remoteWrite: true };

describe('monitoring pins', () => {
  it('pins node_exporter and Prometheus with a sha256 per architecture, and Grafana from its RPM repository', () => {
    expect(pins.nodeExporter.version).toBe('1.7.0');
    expect(pins.prometheus.version).toBe('2.51.1');
    for (const t of [pins.nodeExporter, pins.prometheus]) {
      for (const arch of ['amd64', 'arm64'] as const) {
        expect(t.artifacts[arch].sha256).toMatch(/^[0-9a-f]{64}$/);
        expect(t.artifacts[arch].url).toContain(`${t.version}.linux-${arch}.tar.gz`);
      }
    }
    expect(pins.grafana).toMatchObject({ rpmRepo: 'https://rpm.grafana.com', gpgKey: 'https://rpm.grafana.com/gpg.key' });
  });

  it('fails when a checksum is unknown, naming the artifact and the fix (usage error, exit 2)', () => {
    const broken = structuredClone(pinsJson);
    delete broken.prometheus.artifacts.arm64.sha256;
    expect(() => parsePins('pins.json', broken)).toThrow(UsageError);
    expect(() => parsePins('pins.json', broken)).toThrow(/prometheus 2\.51\.1 for arm64 has no known sha256 \("unknown"\).*published with the release/);
  });

  it('fails when a URL is not the pinned release', () => {
    const broken = structuredClone(pinsJson);
    broken.node_exporter.artifacts.amd64.url = 'http://example.com/node_exporter.tgz';
    expect(() => parsePins('pins.json', broken)).toThrow(/node_exporter\.artifacts\.amd64\.url/);
  });
});

describe('node_exporter', () => {
  it('listens on the private address only, with the load-test collectors; systemd and ethtool on EC2', () => {
    const ec2 = nodeExporterArgs(agent('ec2'));
    expect(ec2).toEqual([
      '/usr/local/bin/node_exporter', '--web.listen-address=10.42.0.11:9100', '--collector.textfile.directory=/var/lib/loadfleet/textfile',
      '--collector.filefd', '--collector.sockstat', '--collector.netstat', '--collector.conntrack', '--collector.processes', '--collector.systemd', '--collector.ethtool',
    ]);
    const local = nodeExporterArgs(agent('netns'));
    expect(local[0]).toBe('/usr/bin/prometheus-node-exporter');
    expect(local).toContain('--no-collector.systemd');
    expect(local).not.toContain('--collector.ethtool');
    expect(local).toContain('--collector.textfile.directory=/run/loadfleet/textfile');
  });

  it('is a supervised service whose pattern finds only this host\'s exporter', () => {
    const s = nodeExporterService(agent('netns'));
    expect(s.name).toBe('loadfleet-node-exporter');
    const re = new RegExp(s.processPattern);
    expect(re.test(s.argv.join(' '))).toBe(true);
    expect(re.test(s.argv.join(' ').replace('10.42.0.11', '10.42.0.12'))).toBe(false);
  });

  it('installs the pinned tarball on EC2 only after its checksum matches, and Debian\'s binary locally', () => {
    const ec2 = nodeExporterInstallScript(agent('ec2'), pins);
    expect(ec2).toContain(pins.nodeExporter.artifacts.amd64.sha256);
    expect(ec2).toContain(pins.nodeExporter.artifacts.arm64.sha256);
    expect(ec2.indexOf('sha256sum -c')).toBeLessThan(ec2.indexOf('tar -xzf'));
    const local = nodeExporterInstallScript(agent('netns'), pins);
    expect(local).not.toContain('curl');
    expect(local).toContain('apt-get install prometheus-node-exporter');
    expect(local).toContain(limitsMetrics(16384).trim());
  });
});

describe('prometheus', () => {
  it('scrapes every host through the file_sd dir and relabels loadfleet_env to env', () => {
    const c = load(renderPrometheusConfig(SETUP)) as { global: Record<string, string>; scrape_configs: Record<string, unknown>[] };
    expect(c.global.scrape_interval).toBe('5s');
    const node = c.scrape_configs.find((s) => s.job_name === 'node')!;
    expect(node.file_sd_configs).toEqual([{ files: ['/etc/loadfleet/prometheus/file_sd/*.json'], refresh_interval: '30s' }]);
    expect(node.relabel_configs).toEqual([{ source_labels: ['loadfleet_env'], target_label: 'env' }, { action: 'labeldrop', regex: 'loadfleet_env' }]);
  });

  it('keeps 40 % of the root volume on EC2 and 1 GB on a namespace host', () => {
    expect(retentionFor('ec2', 20)).toEqual({ size: '8GB', time: '30d' });
    expect(retentionFor('ec2', 8)).toEqual({ size: '3GB', time: '30d' });
    expect(retentionFor('netns', 500).size).toBe('1GB');
    expect(prometheusArgs({ ...SETUP, rootVolumeGb: 100 })).toContain('--storage.tsdb.retention.size=40GB');
  });

  it('listens on the private address only, never 0.0.0.0 (the remote-write receiver has no auth)', () => {
    const listen = prometheusArgs(SETUP).filter((a) => a.startsWith('--web.listen-address='));
    expect(listen).toEqual(['--web.listen-address=10.42.0.14:9090']);
  });

  it('accepts k6 remote write with native histograms, and no remote write when no engine pushes', () => {
    expect(prometheusArgs(SETUP)).toEqual(expect.arrayContaining(['--web.enable-remote-write-receiver', '--enable-feature=native-histograms']));
    expect(prometheusArgs({ ...SETUP, remoteWrite: false })).not.toContain('--web.enable-remote-write-receiver');
  });

  it('writes the file_sd from the inventory renderer and checks the config with promtool', () => {
    const s = prometheusInstallScript({ ...SETUP, kind: 'netns' }, INV, pins);
    expect(s).toContain('"targets": [\n      "10.42.0.11:9100"');
    expect(s).toContain("/usr/bin/promtool' check config");
  });
});

describe('grafana provisioning', () => {
  it('provisions one Prometheus datasource with the fixed uid', () => {
    const ds = load(datasourceYaml('http://10.0.1.5:9090')) as { apiVersion: number; datasources: Record<string, unknown>[] };
    expect(ds.apiVersion).toBe(1);
    expect(ds.datasources).toHaveLength(1);
    expect(ds.datasources[0]).toMatchObject({ type: 'prometheus', uid: DATASOURCE_UID, url: 'http://10.0.1.5:9090', isDefault: true });
    const prov = load(dashboardsProviderYaml()) as { providers: Record<string, unknown>[] };
    expect(prov.providers[0]).toMatchObject({ type: 'file', options: { path: GRAFANA_PATHS.dashboardsDir } });
  });

  it('writes the dashboards as root into a root-owned folder Grafana only reads, never into grafana\'s /var/lib/grafana', () => {
    // Root writing into a folder the grafana user owns would follow a link grafana planted there (issue 20).
    expect(GRAFANA_PATHS.dashboardsDir.startsWith('/etc/grafana/')).toBe(true);
    const s = grafanaInstallScript(pins, { 'fleet.json': '{}' }, 'pw', 'http://10.0.1.5:9090');
    expect(s).not.toContain('/var/lib/grafana');
    expect(s).toContain(`mkdir -p "$(dirname '${GRAFANA_PATHS.dashboardsDir}/fleet.json')"`);
    expect(s).toMatch(new RegExp(`chmod 0644 '${GRAFANA_PATHS.dashboardsDir}/fleet\\.json\\.loadfleet-tmp'`));
  });

  it('installs the pinned RPM with GPG checks and replaces admin/admin with the generated password', () => {
    const pw = generatePassword(() => Buffer.alloc(24, 7));
    expect(pw).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const s = grafanaInstallScript(pins, { 'fleet.json': '{}' }, pw, 'http://10.0.1.5:9090');
    // Grafana reads Prometheus on the private address, the only one it listens on
    expect(s).toContain('url: http://10.0.1.5:9090');
    expect(s).toContain('repo_gpgcheck=1');
    expect(s).toContain(`dnf install -y -q 'grafana-${pins.grafana.version}'`);
    // Grafana's own file provider, not GF_*__FILE (read only by the Docker entrypoint, packaging/docker/run.sh).
    expect(s).toContain('admin_password = $__file{/etc/grafana/loadfleet-admin-password}');
    expect(s).not.toContain('GF_SECURITY_ADMIN_PASSWORD__FILE=');
    // The RPM's wrapper (packaging/wrappers/grafana-cli: the server's data path), not a bare `grafana cli`.
    expect(s).toContain("/usr/sbin/grafana-cli admin reset-admin-password --password-from-stdin < '/etc/grafana/loadfleet-admin-password'");
    expect(s).not.toMatch(/\bgrafana cli\b/);
    // the password is in a file written by the script, never in an argv
    expect(s.split('\n').filter((l) => l.includes(pw))).toEqual([pw]);
    expect(ADMIN_PASSWORD_FILE).toBe('grafana-admin-password');
  });
});

describe('shipped dashboards', () => {
  it('ship a fleet and a run dashboard', () => {
    expect(Object.keys(dashboards).sort()).toEqual(['fleet.json', 'run.json']);
  });

  it.each(Object.keys(dashboards))('%s uses the fixed datasource uid everywhere and no ${DS_…} input', (name) => {
    expect(dashboardProblems(name, dashboards[name])).toEqual([]);
  });

  it('fails when a panel carries an import input or another datasource', () => {
    const d = structuredClone(dashboards['fleet.json']);
    d.panels[1].datasource = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };
    delete d.panels[2].targets[0].datasource;
    const problems = dashboardProblems('fleet.json', d);
    expect(problems.some((p) => p.includes('${DS_PROMETHEUS}'))).toBe(true);
    expect(problems.some((p) => p.includes(`panel "${d.panels[2].title}" target A`))).toBe(true);
  });

  it('puts generators beside the target for CPU, load, network, TCP sockets/TIME-WAIT and open fds vs the limit', () => {
    const exprs = dashboardExprs('fleet.json', dashboards['fleet.json']).map((e) => e.expr).join('\n');
    for (const m of ['node_cpu_seconds_total', 'node_load1', 'node_network_receive_bytes_total', 'node_sockstat_TCP_inuse', 'node_sockstat_TCP_tw', 'node_filefd_allocated', 'loadfleet_nofile_limit']) {
      expect(exprs).toContain(`${m}{env="$env",role="agent"`);
      expect(exprs).toContain(`${m}{env="$env",role="target"`);
    }
  });

  it('shows RPS, errors and p50/p95/p99 per engine, k6 from native histograms', () => {
    const exprs = dashboardExprs('run.json', dashboards['run.json']).map((e) => e.expr);
    expect(exprs).toEqual(expect.arrayContaining([
      'sum by (engine) (rate(loadfleet_run_requests_total{env="$env"}[$__rate_interval]))',
      'histogram_quantile(0.99, sum(rate(k6_http_req_duration_seconds{env="$env"}[$__rate_interval])))',
    ]));
  });

  it('turns expressions into a rules file promtool can check', () => {
    const exprs = dashboardExprs('run.json', dashboards['run.json']);
    const rules = load(rulesFileFor(exprs, 'demo')) as { groups: { rules: { expr: string }[] }[] };
    expect(rules.groups[0]!.rules).toHaveLength(exprs.length);
    expect(rules.groups[0]!.rules.every((r) => !r.expr.includes('$'))).toBe(true);
    expect(concreteExpr('rate(x{env="$env"}[$__rate_interval])', 'demo')).toBe('rate(x{env="demo"}[30s])');
  });
});

describe('engine metrics', () => {
  it('sends k6 to the remote-write receiver with trends as native histograms', () => {
    const o = k6PrometheusOutput({ monitoringIp: '10.42.0.14', env: 'demo', runId: 'r1', host: 'agent-1' });
    expect(o.args).toEqual(['-o', 'experimental-prometheus-rw', '--tag', 'env=demo', '--tag', 'run_id=r1', '--tag', 'host=agent-1']);
    expect(o.env).toMatchObject({ K6_PROMETHEUS_RW_SERVER_URL: 'http://10.42.0.14:9090/api/v1/write', K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM: 'true' });
    expect([metricsRoute('locust'), metricsRoute('artillery'), metricsRoute('jmeter'), metricsRoute('k6'), metricsRoute('ngrinder')]).toEqual(['textfile', 'textfile', 'textfile', 'remote-write', null]);
  });
});

describe('target health', () => {
  const api = {
    status: 'success',
    data: {
      activeTargets: [
        { labels: { host: 'agent-1', role: 'agent', job: 'node' }, health: 'up', lastError: '', scrapeUrl: 'http://10.42.0.11:9100/metrics' },
        { labels: { host: 'agent-2', role: 'agent', job: 'node' }, health: 'down', lastError: 'connection refused', scrapeUrl: 'http://10.42.0.12:9100/metrics' },
        { labels: { host: 'monitoring', role: 'monitoring', job: 'prometheus' }, health: 'up', lastError: '', scrapeUrl: 'http://10.42.0.14:9090/metrics' },
      ],
    },
  };
  it('names hosts whose exporter is down or missing, with Prometheus\'s reason', () => {
    const r = exporterReport(parseTargets(api), ['agent-1', 'agent-2', 'app-1']);
    expect(r.up).toEqual(['agent-1']);
    expect(r.down).toEqual([{ host: 'agent-2', reason: 'connection refused' }, { host: 'app-1', reason: expect.stringContaining('not among Prometheus targets') }]);
  });
  it('fails on an answer that is not a target list', () => {
    expect(() => parseTargets({ status: 'error', error: 'x' })).toThrow(/api\/v1\/targets answered/);
  });
});

describe('security groups for monitoring', () => {
  it('points at Prometheus through the tunnel on EC2, where 9090 is closed to sshCidrs', async () => {
    const { monitoringUrls } = await import('../../scripts/actions/monitoring');
    const outputs = { env: 'demo', target: 'aws' as const, engine: 'locust', expiresAt: '', sshUser: 'ec2-user', hosts: [...INV.hosts], master: INV.master };
    const envDir = { file: (f: string) => `/h/demo/${f}` } as unknown as Parameters<typeof monitoringUrls>[0]['envDir'];
    const [prom] = monitoringUrls({ outputs, envDir });
    expect(prom).toMatch(/^Prometheus: loadfleet tunnel --env demo prometheus/);
    expect(prom).not.toMatch(/http:\/\/54\./);
  });

  it('links Prometheus 2.42 (Debian, local target) to /classic/targets, upstream 2.51 (EC2) to /targets (issue 22.11)', async () => {
    const { monitoringUrls } = await import('../../scripts/actions/monitoring');
    const envDir = { file: (f: string) => `/h/demo/${f}` } as unknown as Parameters<typeof monitoringUrls>[0]['envDir'];
    const base = { env: 'demo', engine: 'locust', expiresAt: '', sshUser: 'ec2-user', hosts: [...INV.hosts], master: INV.master };
    expect(monitoringUrls({ outputs: { ...base, target: 'local' as const }, envDir })[0]).toMatch(/^Prometheus: http:\/\/\S+:9090\/classic\/targets /);
    expect(monitoringUrls({ outputs: { ...base, target: 'aws' as const }, envDir })[0]).toContain('http://127.0.0.1:9090/targets;');
  });

  it('lets k6 agents push to Prometheus (remote write), and only for k6; never opens 9090 to sshCidrs (tunnel instead)', async () => {
    const { synthStack, rulesOn } = await import('../harness/fixtures');
    const { enginePushes } = await import('../../scripts/actions/monitoring');
    expect(rulesOn(synthStack({ engine: 'k6' }).tf, 'monitoring')).toEqual(['22<-203.0.113.7/32', '9090<-agent', '9100<-monitoring']);
    for (const engine of ['locust', 'jmeter', 'ngrinder', 'artillery'] as const) {
      expect(rulesOn(synthStack({ engine }).tf, 'monitoring').filter((r) => r.startsWith('9090<-')), engine).toEqual([]);
      expect(enginePushes(engine)).toBe(false);
    }
    expect(enginePushes('k6')).toBe(true);
    expect(rulesOn(synthStack({ engine: 'locust' }).tf, 'monitoring')).not.toContain('9090<-agent');
  });
});

describe('monitoring in install', () => {
  it('is skipped with monitoring.enabled: false, or without a monitoring host', async () => {
    const { monitoringWanted } = await import('../../scripts/actions/monitoring');
    const outputs = { env: 'demo', target: 'aws' as const, engine: 'locust', expiresAt: '', sshUser: 'ec2-user', hosts: [...INV.hosts], master: INV.master };
    const config = (enabled: boolean) => ({ monitoring: { enabled, instanceType: 't3.small' } }) as unknown as Parameters<typeof monitoringWanted>[0]['config'];
    expect(monitoringWanted({ config: config(true), outputs })).toBe(true);
    expect(monitoringWanted({ config: config(false), outputs })).toBe(false);
    expect(monitoringWanted({ config: config(true), outputs: { ...outputs, hosts: outputs.hosts.filter((h) => h.role !== 'monitoring') } })).toBe(false);
  });
});

describe('grafana admin password', () => {
  it('is generated once into the env folder with mode 0600 and reused', async () => {
    const os = await import('node:os');
    const { EnvDir } = await import('../../scripts/adapters/env-dir');
    const { grafanaPassword } = await import('../../scripts/actions/monitoring');
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-pw-'));
    try {
      const dir = new EnvDir(home, 'demo');
      const first = await grafanaPassword(dir);
      expect(first).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(fs.statSync(dir.file(ADMIN_PASSWORD_FILE)).mode & 0o777).toBe(0o600);
      expect(await grafanaPassword(dir)).toBe(first);
      expect(first).not.toBe('admin');
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });
});
