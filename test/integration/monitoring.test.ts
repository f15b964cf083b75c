/**
 * Monitoring on the local target with the real Debian prometheus (2.42) and prometheus-node-exporter
 * (1.5): node_exporter in every host namespace, Prometheus on the monitoring host, its own API as the
 * judge. Traffic goes only to this fleet's namespace addresses.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { load } from 'js-yaml';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { BIN } from '../harness/cli';
import { requireTool } from '../harness/tools';
import { alive, eventually, processesInNetns, promQuery, sshForwards } from '../harness/monitoring';
import { loadConfig } from '../../scripts/adapters/config-file';
import { EnvDir } from '../../scripts/adapters/env-dir';
import { readTargetHealth, type MonitoringEnv } from '../../scripts/actions/monitoring';
import { controlScript } from '../../scripts/core/supervise';
import { concreteExpr, dashboardExprs, dashboardProblems, DATASOURCE_UID, rulesFileFor } from '../../scripts/monitoring/dashboards';
import { nodeExporterArgs, nodeExporterInstallScript, NODE_EXPORTER_SERVICE } from '../../scripts/monitoring/node-exporter';
import { grafanaInstallScript } from '../../scripts/monitoring/grafana';
import { monitoringPins } from '../../scripts/monitoring/pins';
import { renderRunMetrics, runMetricsWriteScript } from '../../scripts/monitoring/run-metrics';
import { prometheusArgs, prometheusInstallScript } from '../../scripts/monitoring/prometheus';
import { expectedLocalListeners } from '../../scripts/core/listeners';
import type { EngineName } from '../../stacks/engines';

const PREFIX = 'mt';
const SUBNET = '10.231.78';
const MON = `http://${SUBNET}.15:9090`;
const ROOT = path.resolve(import.meta.dirname, '../..');
const HOSTS = ['controller', 'agent-1', 'agent-2', 'agent-3', 'app-1', 'monitoring'];
let fleet: LocalFleet;
let menv: MonitoringEnv;

beforeAll(async () => {
  requireTool('prometheus', 'apt-get install prometheus');
  requireTool('promtool', 'apt-get install prometheus');
  requireTool('prometheus-node-exporter', 'apt-get install prometheus-node-exporter');
  requireTool('curl', 'apt-get install curl');
  fleet = await localFleet('mtest', PREFIX, `${SUBNET}.0/24`, { agents: { count: 3 }, targets: [{ name: 'app', ports: [8080] }] });
  const loaded = await loadConfig(fleet.config);
  menv = { config: loaded.config, outputs: fleet.outputs(), envDir: new EnvDir(fleet.ws.home, 'mtest'), privateKeyPath: loaded.privateKeyPath };
  // The target (nginx via `loadfleet serve`), so doctor's reachability rows pass and `run` has something to load.
  const srv = await fleet.cli(['serve', '-c', fleet.config]);
  if (srv.exitCode !== 0) throw new Error(`serve: ${srv.stderr}`);
});

afterAll(async () => {
  const pids = fleet ? Object.values(await fleet.pids()) : [];
  const monitoring = fleet ? processesInNetns(await fleet.pids(), /prometheus/) : [];
  try {
    // one exporter per host and Prometheus were running (so the check below is not vacuous)
    expect(monitoring.filter((p) => /node-exporter/.test(p.cmdline))).toHaveLength(HOSTS.length);
    expect(monitoring.filter((p) => /^\/usr\/bin\/prometheus --config/.test(p.cmdline))).toHaveLength(1);
  } finally {
    // removed even when a check above fails (a failed test may leave an exporter stopped)
    await fleet?.remove();
  }
  expect(await leftoversOf(PREFIX, pids)).toEqual([]);
  // down leaves no exporter or Prometheus process on the machine
  expect(monitoring.filter((p) => alive(p.pid))).toEqual([]);
});

describe('monitoring on the local target', () => {
  it('accepts every node_exporter and Prometheus flag loadfleet uses (EC2 and local) on the Debian binaries', async () => {
    for (const kind of ['ec2', 'netns'] as const) {
      const ne = nodeExporterArgs({ env: 'e', kind, role: 'agent', name: 'a', privateIp: '127.0.0.1', nofile: 1024 });
      const r = await execa('prometheus-node-exporter', [...ne.slice(1), '--version'], { reject: false });
      expect(`${kind} ${r.exitCode} ${r.stderr}`).toMatch(new RegExp(`^${kind} 0 `));
    }
    const p = prometheusArgs({ env: 'e', kind: 'ec2', host: { name: 'm', privateIp: '127.0.0.1' }, rootVolumeGb: 20, remoteWrite: true });
    const r = await execa('prometheus', [...p.slice(1), '--version'], { reject: false });
    expect(r.exitCode).toBe(0);
  });

  it('renders install scripts shellcheck accepts (node_exporter, Prometheus, Grafana, run metrics; EC2 and local)', async () => {
    requireTool('shellcheck', 'apt-get install shellcheck');
    const pins = monitoringPins();
    const inv = { env: 'e', target: 'aws' as const, region: 'us-east-1', engine: 'locust', sshUser: 'ec2-user', privateKeyPath: '/k', knownHostsFile: '/kh', hosts: fleet.outputs().hosts, master: null };
    const scripts: Record<string, string> = { grafana: grafanaInstallScript(pins, { 'fleet.json': '{}' }, 'pw', 'http://10.0.0.1:9090') };
    for (const kind of ['ec2', 'netns'] as const) {
      scripts[`node_exporter-${kind}`] = nodeExporterInstallScript({ env: 'e', kind, role: 'agent', name: 'a', privateIp: '10.0.0.2', nofile: 1024 }, pins);
      scripts[`prometheus-${kind}`] = prometheusInstallScript({ env: 'e', kind, host: { name: 'monitoring', privateIp: '10.0.0.1' }, rootVolumeGb: 20, remoteWrite: kind === 'ec2' }, inv, pins);
      scripts[`run-metrics-${kind}`] = runMetricsWriteScript(kind, renderRunMetrics({ runId: 'r1', engine: 'locust', startedAtMs: 1000, endedAtMs: null, users: 1, requests: 1, failures: 0, currentRps: 1, currentFailuresPerSecond: 0, percentilesMs: { p50: 1, p95: 2, p99: 3 } }));
    }
    const problems: string[] = [];
    for (const [name, text] of Object.entries(scripts)) {
      const r = await execa('shellcheck', ['-s', 'sh', '-'], { input: text, reject: false });
      if (r.exitCode !== 0) problems.push(`${name}: ${r.stdout}`);
    }
    expect(problems).toEqual([]);
  });

  it('install sets up node_exporter everywhere and Prometheus on the monitoring host; every target is up with env/role/group/host', async () => {
    const r = await fleet.cli(['install', '-c', fleet.config, '--json']);
    expect(`${r.exitCode} ${r.stderr}`).toBe('0 ');
    const out = JSON.parse(r.stdout);
    expect(out.monitoring.hosts.map((h: { host: string; ok: boolean }) => [h.host, h.ok])).toEqual(HOSTS.map((h) => [h, true]));
    expect(out.monitoring.hosts.find((h: { host: string }) => h.host === 'monitoring').value).toEqual(expect.arrayContaining(['started loadfleet-prometheus', 'started loadfleet-node-exporter']));
    expect(out.monitoring.down).toEqual([]);
    expect(out.monitoring.urls[0]).toMatch(new RegExp(`^Prometheus: http://${SUBNET.replace(/\./g, '\\.')}\\.15:9090/classic/targets`));
    // The printed page answers on Debian's Prometheus 2.42 (its /targets is a 404: no React UI in that build).
    const page = await fleet.sshRoot('monitoring', `curl -s -o /dev/null -w '%{http_code}' ${out.monitoring.urls[0].split(' ')[1]}`);
    expect(page.stdout.trim()).toBe('200');
    // install waited for Prometheus: every host is already scraped, labelled
    const up = await promQuery(MON, 'up{job="node"}');
    expect(up.map((s) => [s.metric.host, s.value[1]]).sort()).toEqual([...HOSTS].sort().map((h) => [h, '1']));
    const agent2 = up.find((s) => s.metric.host === 'agent-2')!.metric;
    expect(agent2).toMatchObject({ env: 'mtest', role: 'agent', group: 'agent', host: 'agent-2', job: 'node', instance: `${SUBNET}.12:9100` });
    expect(agent2.loadfleet_env).toBeUndefined();
    expect(up.find((s) => s.metric.host === 'app-1')!.metric).toMatchObject({ role: 'target', group: 'app' });
    // the exporter listens on the private address only
    const listen = await fleet.ssh('agent-1', "cat /proc/net/tcp | awk 'NR>1 && $4==\"0A\" {print $2}'");
    expect(listen.stdout).toMatch(/0B4EE70A:238C/); // 10.231.78.11:9100, little-endian hex
    expect(listen.stdout).not.toMatch(/00000000:238C/);
  });

  it('is idempotent: a second install changes nothing and restarts nothing', async () => {
    const before = processesInNetns(await fleet.pids(), /prometheus/).map((p) => p.pid).sort();
    const r = await fleet.cli(['install', '-c', fleet.config, '--json']);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).monitoring.hosts.map((h: { host: string; value: string[] }) => [h.host, h.value])).toEqual(HOSTS.map((h) => [h, []]));
    expect(processesInNetns(await fleet.pids(), /prometheus/).map((p) => p.pid).sort()).toEqual(before);
  });

  it('doctor reports every host scraped by Prometheus', async () => {
    const r = await fleet.cli(['doctor', '-c', fleet.config, '--json']);
    expect(`${r.exitCode} ${r.stderr}`).toBe('0 ');
    const rows = JSON.parse(r.stdout).rows.filter((x: { check: string }) => x.check === 'node_exporter scraped by Prometheus');
    expect(rows.map((x: { host: string; ok: boolean }) => [x.host, x.ok])).toEqual(HOSTS.map((h) => [h, true]));
  });

  it('publishes the tuned limit and the load-test collectors', async () => {
    const lim = await promQuery(MON, 'loadfleet_nofile_limit{env="mtest"}');
    expect(lim).toHaveLength(HOSTS.length);
    expect(new Set(lim.map((s) => s.value[1]))).toEqual(new Set(['16384']));
    for (const m of ['node_filefd_allocated', 'node_sockstat_TCP_tw', 'node_netstat_Tcp_RetransSegs', 'node_processes_threads']) {
      expect((await promQuery(MON, `${m}{env="mtest",host="agent-1"}`)).length, m).toBe(1);
    }
  });

  it('ships dashboards whose every expression parses (promtool) and whose fleet expressions return data for this env', async () => {
    const dir = path.join(fleet.ws.home, 'mtest', 'grafana');
    const ds = load(fs.readFileSync(path.join(dir, 'provisioning/datasources/loadfleet.yaml'), 'utf8')) as { datasources: { uid: string }[] };
    expect(ds.datasources.map((d) => d.uid)).toEqual([DATASOURCE_UID]);
    expect(load(fs.readFileSync(path.join(dir, 'provisioning/dashboards/loadfleet.yaml'), 'utf8'))).toMatchObject({ apiVersion: 1 });
    const all = [];
    for (const f of fs.readdirSync(path.join(dir, 'dashboards'))) {
      const d = JSON.parse(fs.readFileSync(path.join(dir, 'dashboards', f), 'utf8'));
      expect(dashboardProblems(f, d)).toEqual([]);
      all.push(...dashboardExprs(f, d));
    }
    const rules = path.join(fleet.ws.dir, 'dashboard-rules.yml');
    fs.writeFileSync(rules, rulesFileFor(all, 'mtest'));
    const check = await execa('promtool', ['check', 'rules', rules], { reject: false });
    expect(`${check.exitCode} ${check.stdout}${check.stderr}`).toMatch(new RegExp(`^0 .*SUCCESS: ${all.length} rules found`, 's'));
    // rate() windows of 30 s need a few scrapes (5 s apart) after the targets came up
    const fleetExprs = all.filter((e) => e.dashboard === 'fleet.json' && !e.panel.startsWith('annotation'));
    const empty = await eventually(
      'every fleet expression returns data',
      async () => {
        const missing: string[] = [];
        for (const e of fleetExprs) if ((await promQuery(MON, concreteExpr(e.expr, 'mtest'))).length === 0) missing.push(`${e.panel}/${e.refId}: ${e.expr}`);
        return missing;
      },
      (m) => m.length === 0,
      60_000,
      5_000,
    );
    expect(empty).toEqual([]);
  });

  it('run publishes the live merged Locust stats: every non-k6 run-dashboard expression returns data, and the run is marked', async () => {
    const lf = path.join(fleet.ws.dir, 'locustfile.py');
    fs.writeFileSync(lf, 'from locust import HttpUser, constant, task\n\nclass Web(HttpUser):\n    wait_time = constant(0.05)\n\n    @task\n    def home(self):\n        self.client.get("/")\n');
    const r = await fleet.cli(['run', '-c', fleet.config, '--script', lf, '--users', '6', '--rate', '6', '--duration', '10s', '--skip-doctor']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/live stats hook failed/);
    const runId = /run (\S+): locust/.exec(r.stderr)?.[1];
    expect(runId).toBeDefined();
    const l = `{env="mtest",engine="locust",run_id="${runId}"}`;
    // scraped from the controller's exporter, so labelled with the controller's host and role
    // the final snapshot (ended) is scraped within a scrape interval or two
    await eventually('final snapshot scraped', () => promQuery(MON, `loadfleet_run_active${l}`), (v) => v.length === 1 && v[0]!.value[1] === '0', 30_000);
    const total = await promQuery(MON, `loadfleet_run_requests_total${l}`);
    expect(Number(total[0]!.value[1])).toBeGreaterThan(100);
    expect(total[0]!.metric).toMatchObject({ host: 'controller', role: 'controller', job: 'node' });
    expect((await promQuery(MON, `max_over_time(loadfleet_run_active${l}[2m])`))[0]!.value[1]).toBe('1');
    const start = Number((await promQuery(MON, `loadfleet_run_start_time_seconds${l}`))[0]!.value[1]);
    const end = Number((await promQuery(MON, `loadfleet_run_end_time_seconds${l}`))[0]!.value[1]);
    expect(end - start).toBeGreaterThanOrEqual(9);
    expect(end - start).toBeLessThan(60);
    const p99 = await promQuery(MON, `loadfleet_run_response_time_seconds{env="mtest",quantile="0.99"}`);
    expect(Number(p99[0]!.value[1])).toBeGreaterThan(0);
    const run = JSON.parse(fs.readFileSync(path.join(ROOT, 'ami/monitoring/dashboards/run.json'), 'utf8'));
    const exprs = dashboardExprs('run.json', run).filter((e) => !/k6_/.test(e.expr) && !e.panel.startsWith('annotation'));
    expect(exprs.length).toBeGreaterThanOrEqual(5);
    const missing: string[] = [];
    for (const e of exprs) if ((await promQuery(MON, concreteExpr(e.expr, 'mtest', '1m'))).length === 0) missing.push(`${e.panel}/${e.refId}: ${e.expr}`);
    expect(missing).toEqual([]);
  });

  it('what listens where: ss -ltnp on every host shows exactly the listeners of the README\'s table (scripts/core/listeners.ts), owned by the users it lists', async () => {
    const outputs = fleet.outputs();
    const unexpected: string[] = [];
    const missing: string[] = [];
    for (const h of outputs.hosts) {
      // Each listening socket with the users of every process holding it (ss -p gives pids; ps their owner).
      const r = await fleet.sshRoot(h.name, `ss -ltnpH | while read -r st rq sq local peer proc; do u=$(printf '%s' "$proc" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u | while read -r p; do ps -o user= -p "$p"; done | sort -u | tr '\\n' ' '); echo "$local $u"; done`);
      expect(r.exitCode, r.stderr).toBe(0);
      const seen = new Map<string, Set<string>>();
      for (const line of r.stdout.trim().split('\n').filter(Boolean)) {
        const [local, ...users] = line.trim().split(/\s+/);
        const key = local!.replace(/^\*:/, '0.0.0.0:');
        const set = seen.get(key) ?? new Set<string>();
        for (const u of users) set.add(u);
        seen.set(key, set);
      }
      const expected = expectedLocalListeners({ role: h.role, engine: outputs.engine as EngineName, monitoring: true, privateIp: h.privateIp, targetPorts: [8080] });
      for (const e of expected) {
        const key = `${e.address}:${e.port}`;
        const users = seen.get(key);
        if (!users) missing.push(`${h.name} ${key} (${e.what})`);
        else if ([...users].sort().join(',') !== [...e.users].sort().join(',')) unexpected.push(`${h.name} ${key} owned by ${[...users].sort().join(',')}, the table says ${e.users.join(', ')} (${e.what})`);
        seen.delete(key);
      }
      for (const [key, users] of seen) unexpected.push(`${h.name} ${key} owned by ${[...users].join(',')}: not in the table`);
    }
    expect(unexpected).toEqual([]);
    expect(missing).toEqual([]);
    // Locust's UI in particular: on the controller's loopback only, never on 0.0.0.0 or the private address.
    expect(expectedLocalListeners({ role: 'controller', engine: 'locust', monitoring: true, privateIp: '10.0.0.1', targetPorts: [] }).filter((e) => e.port === 8089).map((e) => e.address)).toEqual(['127.0.0.1']);
  });

  it('tunnels to Prometheus through the pinned host key until Ctrl-C, leaving no ssh behind', async () => {
    const port = 19090;
    const child = execa(process.execPath, [BIN, 'tunnel', '--env', 'mtest', 'prometheus', '--local-port', String(port)], { env: { ...process.env, ...fleet.env }, reject: false, stdin: 'ignore', timeout: 60_000 });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await eventually('tunnel URL printed', async () => out, (o) => o.includes(`http://127.0.0.1:${port}/classic/targets`), 30_000, 200);
    expect((await fetch(`http://127.0.0.1:${port}/classic/targets`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${port}/-/ready`);
    expect(ready.status).toBe(200);
    const targets = (await (await fetch(`http://127.0.0.1:${port}/api/v1/targets`)).json()) as { data: { activeTargets: unknown[] } };
    expect(targets.data.activeTargets).toHaveLength(HOSTS.length + 1);
    const ssh = sshForwards(port);
    expect(ssh).toHaveLength(1);
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(0);
    expect(String(r.stdout)).toContain('tunnel closed');
    expect(ssh.filter(alive)).toEqual([]);
  });

  it('fails when the monitoring host presents a key other than the pinned one (exit 1); a busy local port and Grafana on the local target are usage errors (exit 2)', async () => {
    const kh = path.join(fleet.ws.home, 'mtest', 'known_hosts');
    const original = fs.readFileSync(kh, 'utf8');
    const lines = original.trim().split('\n');
    const agentKey = lines.find((l) => l.startsWith(`${SUBNET}.11 `))!.split(' ').slice(1).join(' ');
    try {
      fs.writeFileSync(kh, lines.map((l) => (l.startsWith(`${SUBNET}.15 `) ? `${SUBNET}.15 ${agentKey}` : l)).join('\n') + '\n');
      const r = await fleet.cli(['tunnel', '--env', 'mtest', 'prometheus', '--local-port', '19091']);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toMatch(/Host key verification failed.*not the one pinned/s);
      expect(sshForwards(19091).filter(alive)).toEqual([]);
    } finally {
      fs.writeFileSync(kh, original);
    }
    // a local port already taken: usage error before any ssh starts
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(19092, '127.0.0.1', () => r()));
    try {
      const b = await fleet.cli(['tunnel', '--env', 'mtest', 'prometheus', '--local-port', '19092']);
      expect(b.exitCode).toBe(2);
      expect(b.stderr).toMatch(/local port 19092 is in use on this machine: pass --local-port/);
      expect(sshForwards(19092)).toEqual([]);
    } finally {
      busy.close();
    }
    const g = await fleet.cli(['tunnel', '--env', 'mtest', 'grafana']);
    expect(g.exitCode).toBe(2);
    expect(g.stderr).toMatch(/Grafana is not installed on the local target/);
  });

  it('sees a stopped exporter: its target goes down and doctor names that host (exit 1)', async () => {
    const stop = await fleet.sshRoot('agent-2', controlScript('stop', [NODE_EXPORTER_SERVICE], 'netns'));
    expect(stop.exitCode).toBe(0);
    const health = await eventually('agent-2 down', () => readTargetHealth(menv), (r) => r.down.some((d) => d.host === 'agent-2'), 30_000);
    expect(health.down.map((d) => d.host)).toEqual(['agent-2']);
    expect(health.down[0]!.reason).toMatch(/connection refused/);
    expect((await promQuery(MON, 'up{job="node",host="agent-2"}'))[0]!.value[1]).toBe('0');
    const doctor = await fleet.cli(['doctor', '-c', fleet.config, '--verbose']);
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toMatch(/agent-2\s+node_exporter scraped by Prometheus\s+FAIL\s+down: .*connection refused/);
    expect(doctor.stdout).toMatch(/agent-1\s+node_exporter scraped by Prometheus\s+ok/);
    expect(doctor.stderr).toMatch(/failed on agent-2/);
    // install starts it again, and it is back up
    const again = await fleet.cli(['install', '-c', fleet.config, '--json']);
    expect(again.exitCode).toBe(0);
    expect(JSON.parse(again.stdout).monitoring.hosts.find((h: { host: string }) => h.host === 'agent-2').value).toEqual(['started loadfleet-node-exporter']);
    expect((await readTargetHealth(menv)).down).toEqual([]);
  });
});
