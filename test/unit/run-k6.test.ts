/**
 * k6's run support, the pure parts: its raw points (`--out json`, NDJSON as documented in k6's "Results output ›
 * JSON" page; request trails as k6's lib/netext/httpext writes them), its REST API documents (k6 docs "k6 REST
 * API"), the merge of several instances, the options loadfleet owns, and the script check. Fixtures follow
 * those documented shapes; no real k6 produced them (k6 cannot run on this machine).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../scripts/core/errors';
import { driverModule } from '../../scripts/drivers/index';
import { k6Run } from '../../scripts/drivers/k6';
import { k6Commands } from '../../scripts/run/commands';
import { combineK6Live, k6Endpoint, K6PointReader, k6ReadyToRelease, lineSplitter, parseK6Metrics, parseK6Status } from '../../scripts/run/k6-output';
import { checkK6Passthrough, checkK6Script, k6AgentPaths, k6CancelScript, k6LoadfleetEnv, k6ReleaseScript, k6StartScript, k6StopScript, K6_STOP_BODY } from '../../scripts/run/k6-run';
import { resolveLoad } from '../../scripts/run/load';
import { finish, Merger } from '../../scripts/run/merge';

const FIXTURE = fs.readFileSync(path.join(__dirname, 'fixtures', 'k6-points.ndjson'), 'utf8');

function fold(text: string, m = new Merger()): { m: Merger; r: K6PointReader } {
  const r = new K6PointReader(m);
  for (const l of text.split('\n')) r.line(l);
  r.end();
  return { m, r };
}

describe('k6 run driver', () => {
  it('is registered for engine k6, needs no controller and stops by itself', () => {
    expect(driverModule('k6')).toBe(k6Run);
    expect(k6Run.needsController).toBe(false);
    expect(k6Run.scriptKind).toBe('a k6 script');
  });
});

describe('k6 raw points (--out json)', () => {
  it('counts one request per http_req_duration point, per METHOD name, failed by its http_req_failed point or, without one, its status', () => {
    // GIVEN the documented format: Metric declarations, other metrics' points, trails, a torn last line
    const { m, r } = fold(FIXTURE);
    // THEN
    const st = finish(m, 1);
    expect(st.endpoints.map((e) => [e.name, e.requests, e.failures])).toEqual([
      ['GET http://test.k6.io/', 2, 1], // 200, and a dial timeout (status 0, http_req_failed 1)
      ['GET http://test.k6.io/news.php', 2, 1], // no response callback: no http_req_failed, 404 by status
      ['POST login', 1, 1], // the name tag wins over the URL; 503
    ]);
    expect([st.total.requests, st.total.failures]).toEqual([5, 3]);
    expect(st.total.max).toBeCloseTo(459.866, 0);
    expect(r.skipped).toBe(1);
    // The actual start is the first request sent: its end time minus its duration (time zones honoured).
    expect(r.firstRequestAtMs).toBe(Math.round(Date.parse('2017-05-09T12:34:45.239Z') - 459.865729));
    expect(r.lastResponseAtMs).toBe(Date.parse('2017-05-09T12:34:47.200Z'));
  });

  it('counts a request k6 tagged status 0 (no response: refused, reset, timed out) as failed with no latency', () => {
    const pt = (value: number, status: string, time: string) => JSON.stringify({ metric: 'http_req_duration', type: 'Point', data: { time, value, tags: { method: 'GET', name: 'a', status } } });
    const { m } = fold([pt(3001, '0', '2026-01-01T00:00:01Z'), pt(2, '0', '2026-01-01T00:00:01Z'), pt(7, '200', '2026-01-01T00:00:02Z')].join('\n'));
    const st = finish(m, 1);
    expect([st.total.requests, st.total.failures]).toEqual([3, 2]);
    expect([st.total.min, st.total.max]).toEqual([7, 7]); // the one response, never the times to the errors
    const dead = fold([pt(3001, '0', '2026-01-01T00:00:01Z')].join('\n'));
    expect(finish(dead.m, 1).total).toMatchObject({ requests: 1, failures: 1, p95: null, max: null });
  });

  it('takes http_req_failed over the tags when both are there, and ignores one with no request before it', () => {
    const tags = { method: 'GET', name: 'a', status: '200', expected_response: 'true' };
    const pt = (metric: string, value: number, time: string) => JSON.stringify({ metric, type: 'Point', data: { time, value, tags } });
    const { m } = fold([
      pt('http_req_failed', 1, '2026-01-01T00:00:00Z'), // orphan
      pt('http_req_duration', 5, '2026-01-01T00:00:01Z'),
      pt('http_req_failed', 1, '2026-01-01T00:00:01Z'), // a custom response callback said no
      pt('http_req_duration', 6, '2026-01-01T00:00:02Z'),
      pt('http_req_failed', 1, '2026-01-01T00:00:03Z'), // another time: not this request's
    ].join('\n'));
    expect([m.total.count, m.total.failures]).toEqual([2, 1]);
  });

  it('reads lines split anywhere across chunks', () => {
    const m1 = fold(FIXTURE).m;
    const m2 = new Merger();
    const r = new K6PointReader(m2);
    const split = lineSplitter((l) => r.line(l));
    for (let i = 0; i < FIXTURE.length; i += 37) split.push(FIXTURE.slice(i, i + 37));
    split.end();
    r.end();
    expect(finish(m2, 1)).toEqual(finish(m1, 1));
  });

  it('names endpoints "METHOD name", the name defaulting to the URL', () => {
    expect(k6Endpoint({ method: 'POST', name: 'login', url: 'http://x/l' })).toBe('POST login');
    expect(k6Endpoint({ method: 'GET', url: 'http://x/' })).toBe('GET http://x/');
    expect(k6Endpoint(null)).toBe('GET ?');
  });
});

describe('merging k6 instances', () => {
  /** Deterministic samples (no Math.random in assertions). */
  function lcg(seed: number) {
    let s = seed;
    return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  }
  function points(n: number, t0: number, latency: () => number): { text: string; values: number[] } {
    const values: number[] = [];
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      const v = Math.round(latency() * 1e6) / 1e6;
      values.push(v);
      const tags = { expected_response: 'true', group: '', method: 'GET', name: 'http://10.0.0.5:8080/', proto: 'HTTP/1.1', scenario: 'default', status: '200', url: 'http://10.0.0.5:8080/' };
      const time = new Date(t0 + i * 10).toISOString().replace('Z', '123456+00:00');
      lines.push(JSON.stringify({ metric: 'http_reqs', type: 'Point', data: { time, value: 1, tags } }));
      lines.push(JSON.stringify({ metric: 'http_req_duration', type: 'Point', data: { time, value: v, tags } }));
      lines.push(JSON.stringify({ metric: 'http_req_failed', type: 'Point', data: { time, value: 0, tags } }));
    }
    return { text: lines.join('\n'), values };
  }
  const exact = (sorted: number[], p: number) => sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1]!;

  it('the merged p95 is the p95 of the union of both instances\' points, not the mean of their p95s', () => {
    // GIVEN agent-1 answered fast; agent-2 hit a slow tail on a fifth of its requests
    const r1 = lcg(1);
    const r2 = lcg(2);
    const a1 = points(4000, Date.UTC(2026, 10, 25, 12), () => 5 + 10 * r1());
    const a2 = points(1000, Date.UTC(2026, 10, 25, 12), () => (r2() < 0.2 ? 200 + 200 * r2() : 5 + 10 * r2()));
    // WHEN each generator is folded on its own and the documents are added, as the driver's collect does
    const total = new Merger();
    const per = [a1, a2].map((a, i) => {
      const m = fold(a.text).m;
      total.addGenerator(m.toHdr(`agent-${i + 1}`));
      return finish(m, 1).total;
    });
    const merged = finish(total, 1).total;
    // THEN every percentile is the union's, to HdrHistogram's 3 significant digits (+1 µs rounding)
    const union = [...a1.values, ...a2.values].sort((a, b) => a - b);
    for (const p of [50, 90, 95, 99] as const) {
      const want = exact(union, p);
      expect(Math.abs(merged[`p${p}`]! - want)).toBeLessThanOrEqual(want * 0.001 + 0.002);
    }
    expect(merged.requests).toBe(5000);
    // AND the mean of the per-instance p95s is far from it (the mistake k6-operator#812 warns about)
    const meanOfP95 = (per[0]!.p95! + per[1]!.p95!) / 2;
    expect(per[1]!.p95).toBeGreaterThan(200);
    expect(Math.abs(meanOfP95 - merged.p95!) / merged.p95!).toBeGreaterThan(0.2);
  });
});

describe('k6 REST API documents', () => {
  // As in k6's docs ("k6 REST API": Get Status, List Metrics), trimmed.
  const STATUS = (status: number, paused: boolean) => JSON.stringify({ data: { attributes: { status, paused, vus: 1, 'vus-max': 1, stopped: false, running: !paused, tainted: false }, id: 'default', type: 'status' } });
  const METRICS = (count: number, rate: number, p95: number, vus: number) => JSON.stringify({
    data: [
      { type: 'metrics', id: 'http_req_duration', attributes: { type: 'trend', contains: 'time', tainted: null, sample: { avg: 122.5, max: 179.1, med: 115.8, min: 107.7, 'p(90)': 136.9, 'p(95)': p95 } } },
      { type: 'metrics', id: 'http_reqs', attributes: { type: 'counter', contains: 'default', tainted: null, sample: { count, rate: 0.8 } } },
      { type: 'metrics', id: 'http_req_failed', attributes: { type: 'rate', contains: 'default', tainted: null, sample: { rate } } },
      { type: 'metrics', id: 'vus', attributes: { type: 'gauge', contains: 'default', tainted: null, sample: { value: vus } } },
    ],
  });

  it('is ready to release when paused before the run (status 4)', () => {
    expect(k6ReadyToRelease(parseK6Status(STATUS(4, true))!)).toBe(true);
    expect(k6ReadyToRelease(parseK6Status(STATUS(1, true))!)).toBe(false); // still initialising VUs
    expect(k6ReadyToRelease(parseK6Status(STATUS(7, false))!)).toBe(false);
    expect(parseK6Status('curl: (7) Failed to connect')).toBeUndefined();
  });

  it('reads live counts, and combines instances by adding counts and taking the highest p95 (an upper bound, live only)', () => {
    const a = parseK6Metrics(METRICS(100, 0.05, 150, 5))!;
    const b = parseK6Metrics(METRICS(300, 0, 20, 5))!;
    expect(a).toEqual({ requests: 100, failures: 5, vus: 5, p50: 115.8, p95: 150, p99: null });
    expect(combineK6Live([a, b])).toMatchObject({ requests: 400, failures: 5, vus: 10, p95: 150 });
    expect(parseK6Metrics('')).toBeUndefined();
  });

  it('gives a live p99 of null, not 0, when no instance reports one (k6 v2.0.0 TrendSink.Format: min, max, avg, med, p(90), p(95) only)', () => {
    const a = parseK6Metrics(METRICS(100, 0.05, 150, 5))!;
    const b = parseK6Metrics(METRICS(300, 0, 20, 5))!;
    expect(combineK6Live([a, b])).toMatchObject({ p50: 115.8, p95: 150, p99: null });
    expect(combineK6Live([])).toMatchObject({ requests: 0, p50: null, p95: null, p99: null });
    // v2.0.0's REST API never reports p(99) (metrics/sink.go ignores summaryTrendStats); a k6 that did would show it.
    expect(combineK6Live([{ ...a, p99: 190.5 }, b])).toMatchObject({ p99: 190.5 });
  });
});

describe('k6 options after --', () => {
  const refused = (args: string[]) => {
    try {
      checkK6Passthrough(args);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as Error).message;
    }
    return undefined;
  };

  it.each([
    [['--paused'], '--paused'],
    [['-p'], '-p (--paused)'],
    [['-qp'], '-p (--paused)'],
    [['--address', '0.0.0.0:6565'], '--address'],
    [['--address=0.0.0.0:6565'], '--address'],
    [['-a', 'x'], '-a (--address)'],
    [['--execution-segment', '0:1/2'], '--execution-segment'],
    [['--execution-segment-sequence=0,1'], '--execution-segment-sequence'],
    [['--vus', '50'], '--vus'],
    [['-u10'], '-u (--vus)'],
    [['--duration=1m'], '--duration'],
    [['-d', '1m'], '-d (--duration)'],
    [['--stage', '10s:5'], '--stage'],
    [['-s', '10s:5'], '-s (--stage)'],
    [['--iterations', '100'], '--iterations'],
    [['-i', '100'], '-i (--iterations)'],
    [['--linger'], '--linger'],
    [['--summary-mode=full'], '--summary-mode'],
    [['--out', 'json=/tmp/x.json'], '--out json=/tmp/x.json'],
    [['--out=csv=/tmp/x.csv'], '--out csv=/tmp/x.csv'],
    [['-o', 'json'], '-o json'],
    [['-ojson=/tmp/y'], '-o json=/tmp/y'],
  ])('fails when %j is given, naming %s', (args, named) => {
    const msg = refused(args);
    expect(msg).toContain(`the k6 option ${named} (after --) is set by loadfleet`);
  });

  it.each([
    [['--system-tags', 'method,url'], '--system-tags', /lumped into one endpoint and failures cannot be told apart/],
    [['--system-tags=status'], '--system-tags', /name, method, url, status and expected_response/],
    [['--summary-trend-stats', 'avg,p(99)'], '--summary-trend-stats', /would change nothing: .*REST API reports trends with a fixed set \(min, max, avg, med, p\(90\), p\(95\)/],
    [['--summary-trend-stats=med'], '--summary-trend-stats', /TrendSink\.Format in metrics\/sink\.go ignores summaryTrendStats/],
    // k6 v2.0.0 internal/cmd/run.go: no summary and no thresholds → no metrics ingester → an empty /v1/metrics.
    [['--no-thresholds'], '--no-thresholds', /GET \/v1\/metrics would stay empty/],
    [['--config', 'k6.json'], '--config', /only the script is pushed to the agents/],
    [['--config=k6.json'], '--config', /config file would not exist there/],
    [['-c', 'k6.json'], '-c (--config)', /only the script is pushed/],
    [['-qc', 'k6.json'], '-c (--config)', /only the script is pushed/],
  ])('fails when %j is given, naming %s and why it cannot work', (args, named, why) => {
    const msg = refused(args);
    expect(msg).toContain(`the k6 option ${named} (after --) cannot be used with loadfleet run: `);
    expect(msg).toMatch(why);
  });

  it('passes everything else through, including flag-like values', () => {
    expect(refused(['--tag', 'team=a', '-e', 'BASE=/api', '-e', 'X=--vus', '--out', 'experimental-prometheus-rw', '-q', '--http-debug=full', '--summary-export=/tmp/s.json', '-e', 'C=--config'])).toBeUndefined();
  });

  it('reach every instance after loadfleet\'s own options, before the script', () => {
    const cmds = k6Commands({ agents: [{ name: 'agent-1', privateIp: '10.0.0.11' }], plan: resolveLoad({ users: 5, durationS: 10 }), script: '/s.js', runId: 'r', passthrough: ['--tag', 'team=a'] });
    expect(cmds[0]!.argv.slice(-3)).toEqual(['--tag', 'team=a', '/s.js']);
  });
});

describe('k6 metrics into the monitoring Prometheus (issue 16.9)', () => {
  const agents = [{ name: 'agent-1', privateIp: '10.0.0.11' }, { name: 'agent-2', privateIp: '10.0.0.12' }];
  const plan = resolveLoad({ users: 4, durationS: 30 });

  it('pushes every instance to the monitoring host with remote write, trends as native histograms, env/run/host labels', () => {
    const cmds = k6Commands({ agents, plan, script: '/s.js', runId: 'r1', passthrough: ['--tag', 'team=a'], monitoring: { ip: '10.0.0.99', env: 'demo' } });
    for (const [i, c] of cmds.entries()) {
      const argv = c.argv.join(' ');
      // grafana/k6 v2.0.0 internal/cmd/builtin_output_gen.go: the built-in output's name.
      expect(argv).toContain(`-o experimental-prometheus-rw --tag env=demo --tag run_id=r1 --tag host=agent-${i + 1}`);
      // The raw points stay (they are what is merged); the user's options still come last, before the script.
      expect(argv).toContain('--out json=');
      expect(c.argv.slice(-3)).toEqual(['--tag', 'team=a', '/s.js']);
      // internal/output/prometheusrw/remotewrite/config.go's variables.
      expect(c.env).toEqual({
        K6_PROMETHEUS_RW_SERVER_URL: 'http://10.0.0.99:9090/api/v1/write',
        K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM: 'true',
        K6_PROMETHEUS_RW_PUSH_INTERVAL: '5s',
      });
      // ... and the start sh gives them to k6 (as the k6 user, through env).
      const sh = k6StartScript(k6AgentPaths('r1', c.rawFile), c, 60);
      expect(sh).toContain("K6_PROMETHEUS_RW_SERVER_URL='\\''http://10.0.0.99:9090/api/v1/write'\\''");
      expect(sh).toContain("K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM='\\''true'\\''");
    }
  });

  it('pushes nothing without a monitoring host (monitoring.enabled: false)', () => {
    const [c] = k6Commands({ agents, plan, script: '/s.js', runId: 'r1' });
    expect(c!.argv).not.toContain('experimental-prometheus-rw');
    expect(c!.env).toEqual({});
    expect(k6StartScript(k6AgentPaths('r1', c!.rawFile), c!, 60)).not.toContain('K6_PROMETHEUS');
  });
});

describe('k6 script check', () => {
  it('accepts a script with a default export', () => {
    expect(() => checkK6Script('s.js', 'import http from "k6/http";\nexport default function () { http.get("http://x/"); }\n')).not.toThrow();
    expect(() => checkK6Script('s.js', 'const f = () => {};\nexport { f as default };\nexport const options = { scenarios: {} };\n')).not.toThrow();
    expect(() => checkK6Script('s.ts', 'export default async function (): Promise<void> {}\n')).not.toThrow();
  });

  it('fails when the script is empty', () => {
    expect(() => checkK6Script('e.js', '  \n')).toThrow(/e\.js\) is empty/);
  });

  it('fails when scenarios only exec named functions, saying loadfleet\'s load replaces them', () => {
    const text = 'export const options = { scenarios: { a: { executor: "constant-vus", exec: "browse", vus: 1, duration: "1m" } } };\nexport function browse() {}\n';
    expect(() => checkK6Script('sc.js', text)).toThrow(/has scenarios but no default export: .*replace the script's scenarios/);
  });

  it.each([
    ['import { login } from "./lib/login.js";\nexport default function () { login(); }\n', './lib/login.js'],
    ["import * as h from '../helpers.js';\nexport default function () {}\n", '../helpers.js'],
    ["import './setup.js';\nexport default function () {}\n", './setup.js'],
    ["export { x } from './x.js';\nexport default function () {}\n", './x.js'],
    ["const lib = require('./lib.js');\nexport default function () {}\n", './lib.js'],
  ])('fails on a local module import, saying only the script is pushed (%#)', (text, spec) => {
    expect(() => checkK6Script('s.js', text)).toThrow(UsageError);
    expect(() => checkK6Script('s.js', text)).toThrow(`--script (s.js) imports the local module "${spec}": only the script file is pushed to the agents`);
  });

  it.each([
    ["const users = JSON.parse(open('./users.json'));\nexport default function () {}\n", './users.json'],
    ['const csv = open("data/users.csv");\nexport default function () {}\n', 'data/users.csv'],
    ["const bin = open('../img.png', 'b');\nexport default function () {}\n", '../img.png'],
  ])('fails on open() of a relative path, saying only the script is pushed (%#)', (text, file) => {
    expect(() => checkK6Script('s.js', text)).toThrow(`--script (s.js) opens the local file "${file}": only the script file is pushed to the agents`);
  });

  it('accepts remote modules, k6 modules, absolute and run-time paths, and local files named only in comments', () => {
    const text = [
      'import http from "k6/http";',
      "import { check } from 'k6';",
      "import { randomItem } from 'https://jslib.k6.io/k6-utils/1.4.0/index.js';",
      "import sql from 'k6/x/sql';",
      '// import { old } from "./old.js";',
      "/* const data = open('./data.json'); */",
      "const hosts = open('/etc/hosts');",
      'const f = open(__ENV.DATA_FILE);',
      'const g = open(`${__ENV.DIR}/users.csv`);',
      'export default function () { http.get("http://x/"); } // see ./README',
    ].join('\n');
    expect(() => checkK6Script('s.js', text)).not.toThrow();
  });

  it('fails when it is not a k6 script at all (a locustfile, an archive)', () => {
    expect(() => checkK6Script('locustfile.py', 'from locust import HttpUser\n')).toThrow(/does not look like a k6 script/);
    expect(() => checkK6Script('test.tar', 'x\u0000y')).toThrow(/archives are not supported/);
  });
});

describe('k6 on each agent (sh)', () => {
  const inst = k6Commands({ agents: [{ name: 'agent-1', privateIp: '10.0.0.11' }, { name: 'agent-2', privateIp: '10.0.0.12' }], plan: resolveLoad({ users: 4, durationS: 30 }), script: '/var/lib/loadfleet/runs/k6/r1/script.js', runId: 'r1', passthrough: ['-e', "Q=it's"] })[1]!;
  const paths = k6AgentPaths('r1', inst.rawFile);

  it('keeps a TypeScript script\'s extension (k6 reads .ts as TypeScript); anything else becomes script.js', () => {
    expect(k6AgentPaths('r1', '', 'load.test.ts').script).toBe('/var/lib/loadfleet/runs/k6/r1/script.ts');
    expect(k6AgentPaths('r1', '', 'test.mjs').script).toBe('/var/lib/loadfleet/runs/k6/r1/script.mjs');
    expect(k6AgentPaths('r1', '', 'test').script).toBe('/var/lib/loadfleet/runs/k6/r1/script.js');
  });

  it('gives each instance loadfleet\'s __ENV: the target and which generator it is', () => {
    expect(k6LoadfleetEnv('http://10.0.0.5:8080', 'agent-2', 2, 3)).toEqual(['-e', 'LOADFLEET_HOST=http://10.0.0.5:8080', '-e', 'LOADFLEET_GENERATOR=agent-2', '-e', 'LOADFLEET_GENERATOR_INDEX=2', '-e', 'LOADFLEET_GENERATORS=3']);
  });

  it('starts one paused instance as the k6 user, detached and bounded by timeout', () => {
    const s = k6StartScript(paths, inst, 300.2);
    expect(s).toContain('setsid nohup timeout -k 10 301 sh -c ');
    expect(s).toContain("setpriv --reuid=k6 --regid=k6 --init-groups");
    expect(s).toContain('--execution-segment');
    expect(s).toContain('1/2:1');
    // k6's exit code is written inside the dropped process (a second sh -c after setpriv), into the k6 user's
    // out/ folder, never by root (issue 20.5)
    expect(paths.exit).toBe(`${paths.out}/k6.exit`);
    const dropped = s.slice(s.indexOf('setpriv'));
    expect(dropped.indexOf(' sh -c ')).toBeGreaterThan(0);
    expect(dropped.indexOf(' sh -c ')).toBeLessThan(dropped.indexOf(paths.exit));
    expect(s).toContain(`> '${paths.log}' 2>&1 < /dev/null &`);
  });

  it('releases at the agreed instant with k6-operator\'s PATCH body, unless cancelled', () => {
    const s = k6ReleaseScript(paths, inst.apiAddress, 1_800_000_000_123);
    expect(s).toContain('at=1800000000123');
    expect(s.indexOf('release.cancel')).toBeLessThan(s.indexOf('curl'));
    expect(s).toContain(`'{"data":{"type":"status","id":"default","attributes":{"paused":false}}}' 'http://127.0.0.1:6565/v1/status'`);
  });

  it('stops through the API, then TERM and KILL to the process group; without a pid it reads the start\'s pid file; a cancel only cancels', () => {
    const s = k6StopScript(paths, 4242, inst.apiAddress, 10);
    expect(s).toContain('pid=4242');
    expect(s).toContain(K6_STOP_BODY);
    expect(JSON.parse(K6_STOP_BODY)).toEqual({ data: { type: 'status', id: 'default', attributes: { stopped: true } } });
    expect(s.indexOf('kill -TERM -"$pid"')).toBeLessThan(s.indexOf('kill -KILL -"$pid"'));
    const unknown = k6StopScript(paths, undefined, inst.apiAddress, 10);
    expect(unknown).toContain(`pid=$(cat '${paths.pid}' 2>/dev/null || true)`);
    // Only while that pid is still the run's timeout (a pid reused since is left alone).
    expect(unknown).toContain('[ "$(cat "/proc/$pid/comm" 2>/dev/null)" != timeout ]');
    expect(k6StartScript(paths, inst, 300)).toContain(`echo $! > '${paths.pid}'`);
    expect(k6CancelScript(paths)).not.toContain('kill');
    expect(k6CancelScript(paths)).toContain(`touch '${paths.cancel}'`);
  });
});

describe('k6 and the abort form', () => {
  it('fails on a p99 abort (k6 v2.0.0 reports no live p99), allows p95 and an end-of-run p99', async () => {
    const { parseThreshold } = await import('../../scripts/run/thresholds');
    const prepared = (exprs: string[]) => ({ thresholds: exprs.map(parseThreshold) }) as never;
    expect(() => k6Run.check!(prepared(['p99<1s:abort']))).toThrow(/k6's live figures have no p99/);
    expect(() => k6Run.check!(prepared(['p95<1s:abort', 'p99<2s']))).not.toThrow();
  });
});
