/**
 * `compare` on kept run folders given by path (synthetic runs written as run keeps them: summary.json, meta.json,
 * hist/*.hlog), through the real CLI: the exit code of each verdict, --json, --junit, --markdown and
 * $GITHUB_STEP_SUMMARY, and the HTML page rendered by Debian's headless chromium — its screenshot decoded and
 * the curves of both runs found in its pixels.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { inflateSync } from 'node:zlib';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadfleet } from '../harness/cli';
import { workspace } from '../harness/workspace';
import { writeSynthRun } from '../harness/synthetic-runs';

let ws: ReturnType<typeof workspace>;
const dir = (n: string) => path.join(ws.dir, n);

beforeAll(() => {
  ws = workspace('lf-compare-');
  // GET /e1 is 40 % slower in "slow"; GET /e0 is unchanged.
  writeSynthRun(dir('base'), { seed: 1, seconds: 60, rps: 100, endpoints: 2, runId: '20260101-000000-base' });
  writeSynthRun(dir('same'), { seed: 2, seconds: 60, rps: 100, endpoints: 2, runId: '20260101-000100-same' });
  writeSynthRun(dir('slow'), { seed: 3, seconds: 60, rps: 100, endpoints: 2, runId: '20260101-000200-slow', medianMs: (e) => (e === 1 ? 28 : 20) });
  writeSynthRun(dir('cut'), { seed: 4, seconds: 30, rps: 100, endpoints: 2, runId: '20260101-000300-cut', summary: { interrupted: true } });
});

afterAll(() => ws.remove());

/** RGBA/RGB 8-bit PNG → pixels (the five PNG filters), enough for chromium's screenshots. */
function decodePng(buf: Buffer): { width: number; height: number; channels: number; data: Uint8Array } {
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 4;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    const body = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      if (body[8] !== 8) throw new Error('only 8-bit PNGs');
      channels = body[9] === 6 ? 4 : body[9] === 2 ? 3 : 0;
      if (!channels) throw new Error(`PNG colour type ${body[9]}`);
    } else if (type === 'IDAT') idat.push(body);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const data = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x]!;
      const a = x >= channels ? data[y * stride + x - channels]! : 0;
      const b = y > 0 ? data[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? data[(y - 1) * stride + x - channels]! : 0;
      const p = a + b - c;
      const pred = f === 0 ? 0 : f === 1 ? a : f === 2 ? b : f === 3 ? (a + b) >> 1 : Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      data[y * stride + x] = (v + pred) & 0xff;
    }
  }
  return { width, height, channels, data };
}

function chromium(): string {
  for (const c of ['/usr/bin/chromium', '/usr/bin/chromium-browser']) if (fs.existsSync(c)) return c;
  throw new Error('chromium is not installed: apt-get install -y --no-install-recommends chromium (scripts/setup.sh installs it)');
}

describe('compare on run folders', () => {
  it('same distribution → pass (exit 0); interrupted → inconclusive (exit 4) saying so', async () => {
    const p = await loadfleet(['compare', dir('base'), dir('same')], {});
    expect(p.exitCode, p.stdout + p.stderr).toBe(0);
    expect(p.stdout).toContain('verdict: PASS (exit 0)');
    const i = await loadfleet(['compare', dir('base'), dir('cut'), '--json'], {});
    expect(i.exitCode).toBe(4);
    const j = JSON.parse(i.stdout) as { verdict: string; reasons: string[] };
    expect(j.verdict).toBe('inconclusive');
    expect(j.reasons).toContain('candidate run 20260101-000300-cut was interrupted');
  });

  it('fails with exit 2 for a bad tolerance or a folder that is no run, naming it', async () => {
    const t = await loadfleet(['compare', dir('base'), dir('same'), '--max-p95-increase', 'ten'], {});
    expect(t.exitCode).toBe(2);
    expect(t.stderr).toContain('--max-p95-increase (ten) must be a number with %, e.g. 10%');
    const n = await loadfleet(['compare', dir('base'), ws.dir], {});
    expect(n.exitCode).toBe(2);
    expect(n.stderr).toContain(`CANDIDATE (${ws.dir}) is not a run folder: it has no summary.json`);
    const e = await loadfleet(['compare', 'latest', dir('same')], {});
    expect(e.exitCode).toBe(2);
    expect(e.stderr).toContain('BASE (latest) is a run id or label: say which env');
  });

  it('a slower endpoint → regression (exit 3): JUnit, Markdown (and the job summary), and a page chromium renders with both runs\' curves', async () => {
    const junit = dir('c.xml');
    const md = dir('c.md');
    const html = dir('c.html');
    const summary = dir('step-summary.md');
    fs.writeFileSync(summary, '# earlier step\n');
    const r = await loadfleet(['compare', dir('base'), dir('slow'), '--junit', junit, '--markdown', md, '--html', html], { GITHUB_STEP_SUMMARY: summary });
    expect(r.exitCode, r.stdout + r.stderr).toBe(3);
    expect(r.stdout).toMatch(/- GET \/e1: p95 [\d.]+ ms → [\d.]+ ms \(\+\d+\.\d%\), beyond \+10\.0%; supported/);
    expect(r.stdout).not.toMatch(/- GET \/e0: p95/);
    expect(r.stderr).toContain('loadfleet: compare: regression: GET /e1: p95');
    const x = fs.readFileSync(junit, 'utf8');
    expect(x).toMatch(/<testsuites name="loadfleet" tests="9" failures="\d+" skipped="0">/);
    expect(x).toMatch(/name="GET \/e1 p95"><failure message="GET \/e1: p95/);
    expect(x).toMatch(/name="GET \/e0 p95"><system-out>/);
    expect(fs.readFileSync(md, 'utf8')).toContain('### loadfleet compare: ❌ regression (exit 3)');
    expect(fs.readFileSync(summary, 'utf8')).toMatch(/^# earlier step\n### loadfleet compare: ❌ regression/);

    // The page in a real browser: the DOM chromium built, and its pixels.
    const bin = chromium();
    const url = `file://${html}`;
    const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', `--user-data-dir=${dir('chromium-profile')}`];
    const dom = await execa(bin, [...flags, '--dump-dom', url], { timeout: 120_000 });
    expect(dom.stdout).toContain('<p class="verdict" id="verdict">REGRESSION (exit 3)</p>');
    expect(dom.stdout.match(/<svg class="chart percentile"/g)).toHaveLength(3); // Total, GET /e0, GET /e1
    expect(dom.stdout.match(/<svg class="chart time"/g)).toHaveLength(2); // rps and p95 per second
    expect(dom.stdout.match(/<polyline class="(base|candidate)"/g)).toHaveLength(10);
    const png = dir('page.png');
    await execa(bin, [...flags, `--screenshot=${png}`, '--window-size=1400,1800', url], { timeout: 120_000 });
    const img = decodePng(fs.readFileSync(png));
    expect(img.width).toBe(1400);
    let blue = 0;
    let red = 0;
    for (let i = 0; i < img.data.length; i += img.channels) {
      const [r0, g0, b0] = [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
      if (Math.abs(r0 - 0x1f) < 40 && Math.abs(g0 - 0x77) < 40 && Math.abs(b0 - 0xb4) < 40) blue++;
      if (Math.abs(r0 - 0xd6) < 40 && Math.abs(g0 - 0x27) < 40 && Math.abs(b0 - 0x28) < 40) red++;
    }
    // Both runs' lines are drawn (thousands of pixels each across five charts), not only the legend's swatches.
    expect(blue).toBeGreaterThan(2000);
    expect(red).toBeGreaterThan(2000);
  });
});
