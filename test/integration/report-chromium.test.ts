/**
 * report.html in a real browser (Debian's chromium, headless): the page a user opens renders — its charts
 * are laid out (the DOM after rendering holds the percentile chart's points and the errors table) and a
 * screenshot is painted. No network: the page is self-contained.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { requireTool } from '../harness/tools';
import { Merger, finish } from '../../scripts/run/merge';
import { buildSummary } from '../../scripts/run/summary';
import { reportHtml } from '../../scripts/run/report';
import { resolveLoad } from '../../scripts/run/load';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-report-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function chromiumArgs(profile: string): string[] {
  // --no-sandbox: the tests run as root, where chromium's sandbox refuses to start.
  return ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${profile}`, '--window-size=900,1400'];
}

describe('report.html in headless chromium', () => {
  it('renders the latency-by-percentile chart, the timeline, the errors and the stop failures', async () => {
    const chromium = requireTool('chromium', 'apt-get install chromium');
    // GIVEN a run's merged results: 2,000 requests, a slow tail, some errors without a response
    const m = new Merger();
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 2000; i++) m.recordSample(i % 4 ? 'GET /' : 'GET /api', t0 + i * 5, i % 100 === 0 ? 400 + i / 10 : 10 + (i % 7), false);
    m.recordError('ECONNREFUSED', 7);
    const stats = finish(m, 10, t0 / 1000, 1);
    const s = buildSummary({
      runId: '20261207-220000-c0de', env: 'demo', engine: 'artillery', script: 'test.yml', startedAtMs: t0, endedAtMs: t0 + 10_000,
      plan: resolveLoad({ users: 30, rate: 6, durationS: 10 }), stats, generators: [{ name: 'agent-1', startedAtMs: t0, rawFile: 'raw/agent-1' }],
      interrupted: false, saturation: [], network: [], thresholds: [], merge: 'HdrHistogram',
      stopFailures: [{ host: 'agent-1', error: 'ssh: timed out' }],
    });
    const page = path.join(dir, 'report.html');
    fs.writeFileSync(page, reportHtml(s));
    // WHEN chromium loads and renders it
    const dom = await execa(chromium, [...chromiumArgs(path.join(dir, 'p1')), '--dump-dom', `file://${page}`], { reject: false, timeout: 120_000, stdin: 'ignore' });
    expect(dom.exitCode, dom.stderr).toBe(0);
    // THEN the rendered DOM has the chart's points (p0 … p99.99), the timeline and the tables
    expect(dom.stdout.match(/<circle class="pct-point"/g)).toHaveLength(8);
    expect(dom.stdout).toContain('Latency by percentile (ms; log scale of the tail)');
    expect(dom.stdout).toContain('<polyline class="pct-line"');
    expect(dom.stdout).toContain('Throughput over time');
    expect(dom.stdout).toContain('<td>ECONNREFUSED</td><td>—</td><td>7</td>');
    expect(dom.stdout).toContain('Stop failed on agent-1 (it may still be sending): ssh: timed out');
    expect(dom.stdout).toMatch(/load: Artillery phases [^<]*arrivals\/s/);
    // AND it paints: a screenshot of the page is written (looked at by hand when the report changes)
    const shot = path.join(dir, 'report.png');
    const r = await execa(chromium, [...chromiumArgs(path.join(dir, 'p2')), `--screenshot=${shot}`, `file://${page}`], { reject: false, timeout: 120_000, stdin: 'ignore', cwd: dir });
    expect(r.exitCode, r.stderr).toBe(0);
    const png = fs.readFileSync(shot);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.length).toBeGreaterThan(20_000);
    if (process.env.LOADFLEET_KEEP_REPORT_PNG) fs.copyFileSync(shot, process.env.LOADFLEET_KEEP_REPORT_PNG);
  }, 300_000);
});
