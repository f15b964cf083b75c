/**
 * Monitoring costs on a real local fleet with Debian's Prometheus 2.42 and node_exporter 1.5:
 * - scrape duration and series (samples) per host;
 * - Prometheus memory with the fleet's 6 targets (baseline) and with 100 more simulated hosts (a file_sd of
 *   100 entries on the fleet's own exporters);
 * - node_exporter's CPU on a generator while Locust runs a bounded load from it.
 */
import * as fs from 'node:fs';
import { localFleet } from '../harness/local-fleet';
import { eventually, processesInNetns, promQuery } from '../harness/monitoring';
import { loadConfig } from '../../scripts/adapters/config-file';
import { EnvDir } from '../../scripts/adapters/env-dir';
import { installMonitoring, type MonitoringEnv } from '../../scripts/actions/monitoring';
import { monitoringPaths } from '../../scripts/monitoring/paths';

const TICK = 100; // USER_HZ
function cpuTicks(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function benchMonitoring(): Promise<void> {
  const prefix = 'bm';
  const subnet = '10.231.79';
  const fleet = await localFleet('bmon', prefix, `${subnet}.0/24`, { agents: { count: 3 }, targets: [{ name: 'app', ports: [8080] }] });
  const mon = `http://${subnet}.15:9090`;
  const hosts = fleet.outputs().hosts;
  try {
    const loaded = await loadConfig(fleet.config);
    const menv: MonitoringEnv = { config: loaded.config, outputs: fleet.outputs(), envDir: new EnvDir(fleet.ws.home, 'bmon'), privateKeyPath: loaded.privateKeyPath };
    const t0 = performance.now();
    const { results } = await installMonitoring(menv);
    if (results.some((r) => !r.ok)) throw new Error(`install failed: ${JSON.stringify(results.filter((r) => !r.ok))}`);
    const installS = (performance.now() - t0) / 1000;
    await eventually('targets up', () => promQuery(mon, 'up{job="node"}'), (v) => v.length === hosts.length && v.every((s) => s.value[1] === '1'), 60_000);
    console.log(`install (node_exporter on ${hosts.length} hosts + Prometheus): ${installS.toFixed(1)} s; all targets up ${((performance.now() - t0) / 1000).toFixed(1)} s after the start`);
    await sleep(30_000); // a few scrapes per target

    const dur = await promQuery(mon, 'avg_over_time(scrape_duration_seconds{job="node"}[30s])');
    const samples = await promQuery(mon, 'scrape_samples_scraped{job="node"}');
    console.log('host          scrape ms (avg 30 s)  series/scrape  share of the 5 s interval');
    for (const h of hosts) {
      const d = Number(dur.find((s) => s.metric.host === h.name)?.value[1] ?? NaN);
      const n = samples.find((s) => s.metric.host === h.name)?.value[1] ?? '?';
      console.log(`${h.name.padEnd(13)} ${(d * 1000).toFixed(1).padStart(20)}  ${n.padStart(13)}  ${((d / 5) * 100).toFixed(2).padStart(24)} %`);
    }

    const prom = processesInNetns(await fleet.pids(), /^\/usr\/bin\/prometheus --config/)[0];
    if (!prom) throw new Error('no Prometheus process found on the monitoring host');
    const series = async () => Number((await promQuery(mon, 'prometheus_tsdb_head_series'))[0]?.value[1]);
    const base = { rss: rssMiB(prom.pid), series: await series() };
    console.log(`Prometheus with ${hosts.length} targets (baseline): RSS ${base.rss.toFixed(0)} MiB, ${base.series} head series`);
    // 100 simulated hosts: distinct host labels on the fleet's own exporters (file_sd, as the inventory writes it)
    const sim = Array.from({ length: 100 }, (_, i) => ({ targets: [`${hosts[i % hosts.length]!.privateIp}:9100`], labels: { loadfleet_env: 'bmon', role: 'agent', group: 'sim', host: `sim-${i + 1}`, job: 'node' } }));
    const sd = `${monitoringPaths('netns').fileSdDir}/bench-100.json`;
    const w = await fleet.ssh('monitoring', `cat > ${sd}.tmp <<'EOF_'\n${JSON.stringify(sim)}\nEOF_\nmv ${sd}.tmp ${sd}`);
    if (w.exitCode !== 0) throw new Error(w.stderr);
    await eventually('106 targets up', () => promQuery(mon, 'count(up{job="node"} == 1)'), (v) => Number(v[0]?.value[1]) === hosts.length + 100, 90_000, 2_000);
    await sleep(60_000);
    const big = { rss: rssMiB(prom.pid), series: await series() };
    console.log(`Prometheus with ${hosts.length + 100} targets after 60 s: RSS ${big.rss.toFixed(0)} MiB (${(big.rss / base.rss).toFixed(2)}× the baseline), ${big.series} head series (${(big.series / base.series).toFixed(1)}×); ${((big.rss - base.rss) / 100).toFixed(2)} MiB per added host`);
    await fleet.ssh('monitoring', `rm -f ${sd}`);

    // node_exporter on a generator while Locust (Debian 2.12.1, standalone) loads the target for 30 s.
    const app = hosts.find((h) => h.name === 'app-1')!;
    // "cd DIR; setsid nohup … &" returns at once ("cd DIR && …" would hold the SSH session open).
    await fleet.ssh('app-1', `cd /tmp; setsid nohup timeout 60 python3 -m http.server 8080 --bind ${app.privateIp} >/dev/null 2>&1 </dev/null &`);
    await fleet.ssh('agent-1', `cat > /tmp/lf.py <<'EOF_'\nfrom locust import HttpUser, task\nclass U(HttpUser):\n    @task\n    def get(self):\n        self.client.get("/")\nEOF_`);
    await sleep(1_000);
    const pids = await fleet.pids();
    const agent1 = { 'agent-1': pids[`${prefix}-bmon-agent-1`]! };
    const ne = processesInNetns(agent1, /^\/usr\/bin\/prometheus-node-exporter /)[0]!;
    await fleet.ssh('agent-1', `cd /tmp; setsid nohup timeout 45 locust -f lf.py --headless -u 20 -r 20 -t 30s -H http://${app.privateIp}:8080 --only-summary >/tmp/locust.out 2>&1 </dev/null &`);
    await sleep(3_000);
    const loc = processesInNetns(agent1, /^\S*python3\S* \S*locust -f lf\.py/)[0];
    if (!loc) throw new Error(`locust did not start: ${(await fleet.ssh('agent-1', 'cat /tmp/locust.out')).stdout}`);
    // Both processes over the same 20 s window while the load runs.
    const t1 = performance.now();
    const [ne1, loc1] = [cpuTicks(ne.pid), cpuTicks(loc.pid)];
    await sleep(20_000);
    const [ne2, loc2] = [cpuTicks(ne.pid), cpuTicks(loc.pid)];
    const secs = (performance.now() - t1) / 1000;
    const neCpu = (ne2 - ne1) / TICK / secs;
    const locCpu = (loc2 - loc1) / TICK / secs;
    await sleep(12_000);
    const out = await fleet.ssh('agent-1', "grep -E 'Aggregated' /tmp/locust.out | tail -1");
    console.log(`over ${secs.toFixed(0)} s of a Locust run on agent-1 (20 users, no wait): node_exporter ${(neCpu * 100).toFixed(2)} % of a core, Locust ${(locCpu * 100).toFixed(1)} % of a core; node_exporter / Locust = ${(neCpu / locCpu).toFixed(4)}`);
    console.log(`  locust percentiles (ms: 50 66 75 80 90 95 98 99 99.9 99.99 100 %, then # requests): ${out.stdout.trim().replace(/\s+/g, ' ')}`);
  } finally {
    await fleet.remove();
  }
}
