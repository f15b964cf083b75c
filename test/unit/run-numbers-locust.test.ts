/**
 * Issue 15, the figures around Locust and the live view: a request without a response is counted, never a latency
 * (the listener appended to the locustfile, run in Debian's python3-locust 2.12.1 with its own event objects);
 * figures within [min, max]; null percentiles published as nothing and shown as n/a; the watchdog's failure named
 * as the watchdog's.
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { LOCUST_HIST_PLUGIN, HIST_PULL_FAILED, histPullFailed, liveFromHist, locustLatencyFromHist, locustWithoutHist, parseLocustHist } from '../../scripts/run/locust-hist';
import { figures, newHistogram, percentileLadder, percentileMs, recordMs } from '../../scripts/run/histogram';
import { locustPartialStats, parseLocustLive, parseLocustStats } from '../../scripts/run/locust-csv';
import { hdrKey } from '../../scripts/run/per-second';
import { renderRunMetrics } from '../../scripts/monitoring/run-metrics';
import { liveLine, summaryText, buildSummary } from '../../scripts/run/summary';
import { reportHtml } from '../../scripts/run/report';
import { resolveLoad } from '../../scripts/run/load';
import { locustRun } from '../../scripts/drivers/locust';
import type { SshSession } from '../../scripts/core/fanout';
import { evaluate, parseThreshold } from '../../scripts/run/thresholds';
import { LOCUST, restartLocustScript } from '../../scripts/engines/locust';
import { comparability, compareRuns, DEFAULT_TOLERANCES, type RunData } from '../../scripts/compare/verdict';
import type { RunSummary } from '../../scripts/run/summary';
import { synthRun } from '../harness/synthetic-runs';

/**
 * Fires Locust's own `request` event as its clients do (locust 2.12.1: clients.py HttpSession.request and
 * _send_request_safe_mode — a LocustResponse with status_code 0 when no response came; contrib/fasthttp.py
 * ErrorResponse, status_code 0; a custom client's None), then a worker report into the master's side, and
 * prints what /loadfleet/hist serves.
 */
const PROBE = String.raw`
import json, os, sys
from locust import events
from locust.clients import LocustResponse
from locust.contrib.fasthttp import ErrorResponse
import requests
exec(os.environ["PLUGIN"])
from flask import Flask
class WebUI:
    app = Flask("probe")
class Env:
    web_ui = WebUI()
events.init.fire(environment=Env(), runner=None, web_ui=Env.web_ui)
def fire(name, ms, response, exception):
    events.request.fire(request_type="GET", name=name, response_time=ms, response_length=0, response=response, context={}, exception=exception)
refused = LocustResponse()
refused.status_code = 0
fire("/dead", 1.5, refused, requests.exceptions.ConnectionError("Connection refused"))
ok = requests.models.Response()
ok.status_code = 200
fire("/ok", 12.3456, ok, None)
bad = requests.models.Response()
bad.status_code = 500
fire("/ok", 40, bad, requests.exceptions.HTTPError("500 Server Error"))
fire("/custom", 2, None, ConnectionRefusedError(111, "refused"))
fire("/custom", 7, None, None)
reset = ErrorResponse(url="/fast", request=None)
reset.error = ConnectionResetError(104, "reset by peer")
fire("/fast", 3, reset, reset.error)
data = {}
events.report_to_master.fire(client_id="w1", data=data)
events.worker_report.fire(client_id="w1", data=data)
client = WebUI.app.test_client()
print(client.get("/loadfleet/hist?since=%d" % (int(sys.argv[1]) if len(sys.argv) > 1 else 0)).get_data(as_text=True))
`;

async function throughLocust(since = 0): Promise<unknown> {
  // Debian's python3-locust (what the local target runs), under the system python: setup.sh installs it.
  const r = await execa('/usr/bin/python3', ['-c', PROBE, String(since)], { env: { PLUGIN: LOCUST_HIST_PLUGIN }, reject: false, timeout: 60_000 });
  if (r.exitCode !== 0) throw new Error(`python3 with Debian's python3-locust failed (install it: apt-get install python3-locust): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const CSV_HEAD = 'Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%';

describe('Locust: a request without a response is counted, never a latency', () => {
  it('the listener in locust 2.12.1 counts refused/reset requests (status_code 0, or None with a socket error) without their time; answered ones (200, 500) keep theirs', async () => {
    const hist = parseLocustHist(await throughLocust());
    const cells = (name: string) => [...hist.get(name)!.values()];
    const sum = (name: string, f: (c: ReturnType<typeof cells>[number]) => number) => cells(name).reduce((a, c) => a + f(c), 0);
    // /dead: one request, one failure, no latency at all (Locust's own stats record its 1.5 ms).
    expect(sum('GET /dead', (c) => c.count)).toBe(1);
    expect(sum('GET /dead', (c) => c.failures)).toBe(1);
    expect(sum('GET /dead', (c) => c.unanswered ?? 0)).toBe(1);
    expect(sum('GET /dead', (c) => c.us.size)).toBe(0);
    // /ok: the 200 and the 500 both had a response: two latencies (µs, 3 significant digits), one failure.
    expect(sum('GET /ok', (c) => c.count)).toBe(2);
    expect(sum('GET /ok', (c) => c.failures)).toBe(1);
    expect(cells('GET /ok').flatMap((c) => [...c.us]).sort(([a], [b]) => a - b)).toEqual([[hdrKey(12345.6), 1], [40000, 1]]);
    // A custom client: None + ConnectionRefusedError is unanswered; None without an exception is a latency.
    expect(cells('GET /custom').flatMap((c) => [...c.us])).toEqual([[7000, 1]]);
    expect(sum('GET /custom', (c) => c.unanswered ?? 0)).toBe(1);
    // FastHttpUser's ErrorResponse (status_code 0) for a reset connection.
    expect(sum('GET /fast', (c) => c.us.size)).toBe(0);
    expect(sum('GET /fast', (c) => c.unanswered ?? 0)).toBe(1);
  }, 90_000);

  it('the live view reads only the last seconds (?since) and its percentiles leave the unanswered out', async () => {
    expect(await throughLocust(Math.floor(Date.now() / 1000) + 3600)).toEqual({});
    const recent = parseLocustHist(await throughLocust(Math.floor(Date.now() / 1000) - 60));
    expect([...recent.keys()].sort()).toEqual(['GET /custom', 'GET /dead', 'GET /fast', 'GET /ok']);
    // 7, 12.3456 and 40 ms answered; the refused 1.5, 2 and 3 ms are no latency.
    const l = liveFromHist(recent);
    expect(Math.abs(l.p50! - 12.3456)).toBeLessThanOrEqual(12.3456 * 0.001);
    expect(l.p99).toBe(40);
    expect(liveFromHist(new Map([['GET /dead', recent.get('GET /dead')!]]))).toEqual({ p50: null, p95: null, p99: null });
  }, 90_000);

  it("the run's latencies come from the histograms: an endpoint nothing answered has null figures and 'p95<500ms' over it breaks \"no latency measured\"; Locust's counts stay", async () => {
    const hist = parseLocustHist(await throughLocust());
    // Locust's CSV as its master writes it for the same requests: it recorded the refused request's 1.5 ms (and 2 and 3 ms).
    const csv = `${CSV_HEAD}
GET,/dead,1,1,2,1.5,1.5,1.5,0,0.1,0.1,2,2,2,2,2,2,2,2,2,2,2
GET,/ok,2,1,12,26.2,12.3,40,0,0.2,0.1,12,40,40,40,40,40,40,40,40,40,40
GET,/custom,2,1,2,4.5,2,7,0,0.2,0.1,2,7,7,7,7,7,7,7,7,7,7
GET,/fast,1,1,3,3,3,3,0,0.1,0.1,3,3,3,3,3,3,3,3,3,3,3
,Aggregated,6,4,3,11,1.5,40,0,0.6,0.4,3,7,12,12,40,40,40,40,40,40,40
`;
    const { stats, warnings } = locustLatencyFromHist(parseLocustStats(csv), hist);
    expect(warnings).toEqual([]);
    const dead = stats.endpoints.find((e) => e.name === 'GET /dead')!;
    expect(dead).toMatchObject({ requests: 1, failures: 1, min: null, mean: null, p50: null, p95: null, p99: null, max: null });
    expect(dead.percentiles).toBeUndefined();
    expect(stats.endpoints.find((e) => e.name === 'GET /fast')).toMatchObject({ requests: 1, p95: null, max: null });
    // The total: 6 requests, 4 failed (Locust's), latencies of the 3 answered only (7, 12.3456, 40 ms).
    expect(stats.total).toMatchObject({ requests: 6, failures: 4, min: 7, max: 40 });
    expect(Math.abs(stats.total.p50! - 12.3456)).toBeLessThanOrEqual(12.3456 * 0.001);
    const [broken] = evaluate([parseThreshold('GET /dead: p95<500ms')], stats, {});
    expect(broken).toMatchObject({ ok: false });
    expect(JSON.stringify(broken)).toContain('no latency measured');
  }, 90_000);

  it('the listener keys each latency as hdrKey does (the 3-digit HdrHistogram bucket, within 0.1 %), in /usr/bin/python3', async () => {
    const values = [0.0004, 0.001, 1.5, 2.047, 2.0485, 2.049, 4.095, 12.345, 123.0, 123.456, 999.5, 1234.5678, 65_535.9, 3_600_000];
    const head = LOCUST_HIST_PLUGIN.slice(0, LOCUST_HIST_PLUGIN.indexOf('def _loadfleet_hist():'));
    const py = 'import os, sys, json\nexec(os.environ["HEAD"])\nprint(json.dumps([_loadfleet_key(float(x)) for x in sys.argv[1:]]))';
    const r = await execa('/usr/bin/python3', ['-c', py, ...values.map(String)], { env: { HEAD: head }, reject: false, timeout: 60_000 });
    if (r.exitCode !== 0) throw new Error(`/usr/bin/python3 failed (install python3): ${r.stderr}`);
    const keys = JSON.parse(r.stdout) as number[];
    expect(keys).toEqual(values.map((v) => hdrKey(v * 1000)));
    // 123.456 ms → 123,392 µs: 0.05 % below (3-significant-decimal rounding gave 123,000: 0.37 %).
    for (const [i, v] of values.entries()) if (v >= 1) expect((v * 1000 - keys[i]!) / (v * 1000)).toBeLessThan(0.001);
  });

  it('a run nothing answered has null latencies; an endpoint the histograms lack has n/a latencies (a threshold breaks "no latency measured") and is named in a warning', () => {
    const csv = `${CSV_HEAD}\nGET,/,5,5,1,1,1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1\n,Aggregated,5,5,1,1,1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1\n`;
    const dead = locustLatencyFromHist(parseLocustStats(csv), parseLocustHist({ 1700000000: { 'GET /': [5, 5, {}, 5] } }));
    expect(dead.stats.total).toMatchObject({ requests: 5, failures: 5, p50: null, p95: null, max: null });
    const [t] = evaluate([parseThreshold('p95<500ms')], dead.stats, {});
    expect(t!.ok).toBe(false);
    const lacking = locustLatencyFromHist(parseLocustStats(csv), new Map());
    expect(lacking.stats.total).toMatchObject({ requests: 5, failures: 5, p95: null, max: null });
    expect(lacking.stats.endpoints[0]).toMatchObject({ name: 'GET /', requests: 5, p50: null, p95: null });
    expect(lacking.stats.endpoints[0]!.percentiles).toBeUndefined();
    expect(lacking.warnings[0]).toContain('GET /: no per-second histogram, so no latency measured (n/a)');
    const [lt] = evaluate([parseThreshold('GET /: p95<500ms')], lacking.stats, {});
    expect(lt!.ok).toBe(false);
    expect(JSON.stringify(lt)).toContain('no latency measured');
  });

  it('a failed /loadfleet/hist pull: latencies n/a (a half-dead target\'s Locust figures would pass p95<500ms), counts Locust\'s', () => {
    // Locust's CSV: 10 requests, 5 failed; its p95 (1 ms) would pass the threshold.
    const csv = `${CSV_HEAD}\nGET,/,10,5,1,1,1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1\n,Aggregated,10,5,1,1,1,1,0,1,1,1,1,1,1,1,1,1,1,1,1,1\n`;
    const own = parseLocustStats(csv);
    expect(evaluate([parseThreshold('p95<500ms')], own, {})[0]!.ok).toBe(true);
    const none = locustWithoutHist(own);
    expect(none.total).toMatchObject({ requests: 10, failures: 5, min: null, p50: null, p95: null, p99: null, max: null });
    expect(none.endpoints[0]).toMatchObject({ requests: 10, failures: 5, p95: null });
    const [t] = evaluate([parseThreshold('p95<500ms')], none, {});
    expect(t!.ok).toBe(false);
    expect(JSON.stringify(t)).toContain('no latency measured');
    expect(histPullFailed('curl: (7)')).toContain('no latency measured (n/a)');
  });

  it('a failed /loadfleet/hist pull is a warning in the summary text and the report, which compare names', () => {
    const w = histPullFailed('curl: (7) Failed to connect');
    expect(w.startsWith(HIST_PULL_FAILED)).toBe(true);
    const none = { min: null, mean: null, p50: null, p90: null, p95: null, p99: null, max: null };
    const s = buildSummary({
      runId: 'r1', env: 'e', engine: 'locust', script: 's.py', startedAtMs: 1_700_000_000_000, endedAtMs: 1_700_000_010_000,
      plan: resolveLoad({ users: 1, durationS: 10 }), stats: { total: { name: 'Total', requests: 0, failures: 0, rps: 0, ...none }, endpoints: [], timeline: [], errors: {} },
      generators: [], interrupted: false, saturation: [], network: [], thresholds: [], merge: 'm', warnings: [w],
    });
    expect(s.warnings).toEqual([w]);
    expect(summaryText(s, '/d')).toContain(`  warning: ${HIST_PULL_FAILED}`);
    expect(reportHtml(s)).toContain('Warning: the per-second histograms (/loadfleet/hist on the Locust master) could not be pulled');
    // compare: the run kept no hist/, and says why.
    const run = (summary: typeof s): RunData => ({ dir: '/d', summary, meta: null, hist: null });
    // compare: comparable, on totals (errors tested, p95 not), the note naming the true cause.
    const reasons = comparability(run(s), run({ ...s, runId: 'r2', warnings: undefined }), DEFAULT_TOLERANCES);
    expect(reasons.join('\n')).not.toContain(HIST_PULL_FAILED);
    const base = synthRun({ seed: 71, seconds: 30, rps: 50, runId: 'b' });
    const failedCand = (failures: number): RunData => {
      const c = synthRun({ seed: 72, seconds: 30, rps: 50, runId: 'c' });
      const rows = locustWithoutHist({ ...c.summary, total: { ...c.summary.total, failures }, endpoints: c.summary.endpoints.map((e) => ({ ...e, failures })), timeline: [], errors: {} });
      return { ...c, hist: null, summary: { ...c.summary, total: rows.total, endpoints: rows.endpoints, warnings: [w] } as unknown as RunSummary };
    };
    const same = compareRuns(base, failedCand(0));
    expect(same.notes.join('\n')).toContain(`candidate run c: no per-second histogram (${HIST_PULL_FAILED}, so its latencies were not measured): compared on totals — errors tested, p95 not`);
    expect(same.notes.join('\n')).not.toContain('kept before loadfleet kept hist/');
    expect(same.reasons.join('\n')).not.toContain('cannot be tested');
    const worse = compareRuns(base, failedCand(150));
    expect(worse.verdict).toBe('regression');
    expect(worse.reasons.join('\n')).toMatch(/Total: errors 0% → 10% \(\+10pp\)/);
  });
});

describe('figures as measured: within [min, max], percentiles non-decreasing', () => {
  it('a histogram whose top bucket reports above the recorded max: p99 (and every percentile, the mean, p99.9) stays ≤ max', () => {
    const h = newHistogram();
    recordMs(h, 12.3456);
    recordMs(h, 88);
    recordMs(h, 88.001);
    const f = figures(h);
    expect(f.max).toBe(88.001);
    for (const k of ['mean', 'p50', 'p90', 'p95', 'p99'] as const) {
      expect(f[k]!).toBeLessThanOrEqual(f.max!);
      expect(f[k]!).toBeGreaterThanOrEqual(f.min!);
    }
    expect(f.p50!).toBeLessThanOrEqual(f.p90!);
    expect(f.p95!).toBeLessThanOrEqual(f.p99!);
    expect(percentileMs(h, 99.9)).toBeLessThanOrEqual(88.001);
    const ladder = Object.entries(percentileLadder(h)).sort(([a], [b]) => Number(a) - Number(b)).map(([, v]) => v);
    expect(ladder).toEqual([...ladder].sort((a, b) => a - b));
    expect(Math.max(...ladder)).toBe(88.001);
  });

  it("Locust's rounded percentiles (150 in the bucket of a 147 ms max) are clamped to its exact max", () => {
    const s = parseLocustStats(`${CSV_HEAD}\nGET,/,100,0,30,40,3,147,0,10,0,30,40,50,60,90,110,140,150,150,150,150\n,Aggregated,100,0,30,40,3,147,0,10,0,30,40,50,60,90,110,140,150,150,150,150\n`);
    expect(s.total).toMatchObject({ min: 3, p50: 30, p90: 90, p95: 110, p99: 147, max: 147 });
    expect(Math.max(...Object.values(s.total.percentiles!))).toBe(147);
  });
});

describe('null live percentiles: published as nothing, shown as n/a', () => {
  it('run metrics leave out a null quantile (never 0 s)', () => {
    const text = renderRunMetrics({ runId: 'r', engine: 'locust', startedAtMs: 1000, endedAtMs: null, users: 2, requests: 5, failures: 5, currentRps: 1, currentFailuresPerSecond: 1, percentilesMs: { p50: null, p95: null, p99: 30 } });
    expect(text).not.toContain('quantile="0.5"');
    expect(text).not.toContain('quantile="0.95"');
    expect(text).toContain('quantile="0.99"} 0.03');
  });

  it('the live line says "p95 n/a", never "p95 0 ms" or "n/a ms"', () => {
    const base = { users: 3, rps: 10, requests: 30, failures: 30 };
    expect(liveLine({ ...base, p95: null }, 4, 10)).toBe('[   4s/10s] users 3  rps 10  requests 30  errors 30  p95 n/a\n');
    expect(liveLine({ ...base, p95: 12 }, 4, 10)).toContain('p95 12 ms');
    expect(liveLine({ ...base, p95: null, mean: 7 }, 4, 10)).toContain('mean 7 ms');
  });

  it("Locust's live answer without figures gives null, not 0 (current percentiles None before any response; partial stats without min/max)", () => {
    const live = parseLocustLive({ state: 'running', user_count: 3, current_response_time_percentile_50: null, current_response_time_percentile_95: null, stats: [{ name: 'Aggregated', num_requests: 9, num_failures: 9 }] });
    expect(live.p50).toBeNull();
    expect(live.p95).toBeNull();
    const partial = locustPartialStats({ stats: [{ method: null, name: 'Aggregated', num_requests: 9, num_failures: 9 }] });
    expect(partial.total).toMatchObject({ requests: 9, min: null, mean: null, p50: null, p90: null, p99: null, max: null });
  });
});

describe("the Locust driver's watchdog step", () => {
  it("fails naming the watchdog on the controller, not the master (which was not asked anything), and releases nothing", async () => {
    const sent: string[] = [];
    const session = (host: string): SshSession => ({
      async exec(_cmd, o) {
        const script = o?.stdin ?? '';
        sent.push(`${host}: ${script}`);
        // The fault: the controller cannot start the watchdog (a full /run, say).
        if (script.includes('loadfleet-locust') && script.includes('while :; do')) return { code: 1, stdout: '', stderr: 'mkdir: cannot create directory: No space left on device' };
        return { code: 0, stdout: '', stderr: '' };
      },
      close() {},
    });
    const host = (name: string, role: string) => ({ name, role, privateIp: '10.0.0.1', publicIp: '', id: name }) as never;
    const driver = locustRun.create({
      p: { outputs: { env: 'e' } as never, kind: 'netns', engine: 'locust', scriptPath: '/s.py', scriptText: 'from locust import HttpUser\n', plan: resolveLoad({ users: 2, durationS: 10 }), thresholds: [], hostUrl: 'http://10.0.0.9:8080', passthrough: [] },
      controller: { host: host('controller', 'controller'), session: session('controller') },
      agents: [{ host: host('agent-1', 'agent'), session: session('agent-1') }],
      login: 'root', runId: 'r1', envDir: '/nonexistent',
    });
    const err = await driver.start().then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain("starting the run's watchdog on controller failed (exit 1): mkdir: cannot create directory");
    expect(err?.message).toContain('no load was released');
    expect(err?.message).not.toContain('master');
    // Nothing was swarmed, and stop() does not take the master-gone path (restarting every worker).
    expect(sent.some((s) => s.includes('/swarm'))).toBe(false);
    const before = sent.length;
    await driver.stop();
    expect(sent.slice(before).filter((s) => s.startsWith('agent-1'))).toEqual([]);
  });
});

describe("a stale locust.conf (left by a run killed with -9) never reaches the next run", () => {
  it('a run without options after -- removes locust.conf on every host before the services restart', async () => {
    const sent: { host: string; script: string }[] = [];
    const ac = new AbortController();
    const restart = restartLocustScript('netns');
    const session = (host: string): SshSession => ({
      async exec(_cmd, o) {
        const script = o?.stdin ?? '';
        sent.push({ host, script });
        if (script.includes(restart)) ac.abort(new Error('enough: the restart was asked'));
        return { code: 0, stdout: script.includes('nproc') ? `1\n${host}\n` : '', stderr: '' };
      },
      close() {},
    });
    const host = (name: string, role: string) => ({ name, role, privateIp: '10.0.0.1', publicIp: '', id: name }) as never;
    const driver = locustRun.create({
      p: { outputs: { env: 'e' } as never, kind: 'netns', engine: 'locust', scriptPath: '/s.py', scriptText: 'from locust import HttpUser\n', plan: resolveLoad({ users: 2, durationS: 10 }), thresholds: [], hostUrl: 'http://10.0.0.9:8080', passthrough: [] },
      controller: { host: host('controller', 'controller'), session: session('controller') },
      agents: [{ host: host('agent-1', 'agent'), session: session('agent-1') }, { host: host('agent-2', 'agent'), session: session('agent-2') }],
      login: 'root', runId: 'r1', envDir: '/nonexistent',
    });
    await expect(driver.prepare(ac.signal)).rejects.toThrow();
    for (const h of ['controller', 'agent-1', 'agent-2']) {
      const mine = sent.filter((x) => x.host === h).map((x) => x.script);
      const rm = mine.findIndex((x) => x.includes(`rm -f ${LOCUST.dir}/locust.conf`));
      const restarted = mine.findIndex((x) => x.includes(restart));
      expect(rm, h).toBeGreaterThanOrEqual(0);
      expect(restarted, h).toBeGreaterThan(rm);
    }
  });
});
