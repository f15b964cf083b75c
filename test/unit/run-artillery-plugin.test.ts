/**
 * loadfleet's Artillery plugin and the files it leaves, read back: pure (a temp folder, a fake clock; no
 * Artillery, no sockets). The plugin's hooks inside a real Artillery are covered by run-artillery.test.ts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { generatorDoc, LiveBuckets, liveTotals, parseCollected, parseTick, type PluginHdr, type PluginLive } from '../../scripts/run/artillery-files';
import { finish, Merger } from '../../scripts/run/merge';
import { artilleryRun } from '../../scripts/drivers/artillery';
import { UsageError } from '../../scripts/core/errors';

const require = createRequire(import.meta.url);
const plugin = require('../../scripts/run/artillery-plugin/artillery-plugin-loadfleet-hdr/index.js') as {
  createRecorder(o: Record<string, unknown>): Recorder;
  endpointName(req: { method?: string; url: string; name?: string }): string;
  MAX_ENDPOINTS: number;
  OTHER: string;
};
interface Recorder {
  record(name: string, ms: number, failed: boolean): void;
  flush(final: boolean): void;
  countRequest(): void;
  countResponse(): void;
  countError(code: string): void;
  vuStarted(): void;
  vuEnded(): void;
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function recorder(clock: { t: number }, maxEndpoints?: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-plugin-'));
  dirs.push(dir);
  const files = { file: path.join(dir, 'hdr-a.json'), liveFile: path.join(dir, 'live-a.json'), bucketsFile: path.join(dir, 'buckets-a.ndjson') };
  const rec = plugin.createRecorder({ hdr: require('hdr-histogram-js'), now: () => clock.t, generator: 'agent-1', maxEndpoints, ...files });
  return { rec, ...files };
}

describe('Artillery plugin: endpoints', () => {
  it('keys an endpoint by method and path without the query string, or by the request name', () => {
    expect(plugin.endpointName({ method: 'get', url: 'http://t:8080/items?id=12345' })).toBe('GET /items');
    expect(plugin.endpointName({ method: 'post', url: 'http://t/x?id=1', name: 'create item' })).toBe('POST create item');
  });

  it('caps the endpoints it keeps apart: further names share one "(other)" row, and nothing is lost', () => {
    // GIVEN 1,200 distinct paths (e.g. /item/{{ $randomNumber }})
    const clock = { t: 1_800_000_000_000 };
    const { rec, file } = recorder(clock);
    for (let i = 0; i < 1200; i++) rec.record(`GET /item/${i}`, 5, false);
    rec.flush(true);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as PluginHdr;
    // THEN at most MAX_ENDPOINTS + 1 rows, the extra one named (other), every response counted once
    expect(Object.keys(doc.endpoints)).toHaveLength(plugin.MAX_ENDPOINTS + 1);
    expect(doc.endpoints[plugin.OTHER]!.count).toBe(1200 - plugin.MAX_ENDPOINTS);
    expect(Object.values(doc.endpoints).reduce((a, e) => a + e.count, 0)).toBe(1200);
  });
});

describe('Artillery plugin: counts', () => {
  it('counts requests as sent and a request without a response as a failed request; errors are a breakdown', () => {
    // GIVEN 10 requests sent, 7 answered (one 500), 3 refused; 2 answered ones failed their capture
    const clock = { t: 1_800_000_000_000 };
    const { rec, file, bucketsFile } = recorder(clock);
    for (let i = 0; i < 10; i++) rec.countRequest();
    for (let i = 0; i < 7; i++) {
      rec.countResponse();
      rec.record('GET /', 4, i === 0);
    }
    for (let i = 0; i < 3; i++) rec.countError('ECONNREFUSED');
    for (let i = 0; i < 2; i++) rec.countError('Failed capture or match');
    rec.flush(true);
    const doc = generatorDoc(JSON.parse(fs.readFileSync(file, 'utf8')) as PluginHdr, fs.readFileSync(bucketsFile, 'utf8'));
    const m = new Merger();
    m.addGenerator(doc);
    const st = finish(m, 1);
    // THEN 10 requests (not 10 + 5 errors), 1 failed response + 3 without a response
    expect(st.total).toMatchObject({ requests: 10, failures: 4 });
    expect(st.endpoints.map((e) => [e.name, e.requests, e.failures])).toEqual([['GET /', 7, 1]]);
    expect(st.errors).toEqual({ ECONNREFUSED: 3, 'Failed capture or match': 2 });
  });
});

describe('Artillery plugin: per-second files and the live view', () => {
  it('appends each finished second once, and the live view reads only what is new', () => {
    const clock = { t: 1_800_000_000_000 };
    const { rec, liveFile, bucketsFile } = recorder(clock);
    const live = new LiveBuckets();
    const ticks: number[] = [];
    const sizes: number[] = [];
    // GIVEN a steady 60 responses per second for 10 s, flushed every second, a tick after every flush
    for (let s = 0; s < 10; s++) {
      for (let i = 0; i < 60; i++) {
        clock.t = 1_800_000_000_000 + s * 1000 + i * 16;
        rec.countRequest();
        rec.countResponse();
        rec.record('GET /', 3, false);
      }
      clock.t = 1_800_000_000_000 + (s + 1) * 1000 + 5;
      rec.flush(false);
      const off = live.offsets.get('a:buckets') ?? 0;
      const text = fs.readFileSync(bucketsFile, 'utf8');
      sizes.push(text.length - off);
      const out = `L ${fs.readFileSync(liveFile, 'utf8')}\nB a:buckets ${off}\n${text.slice(off)}\nE\n`;
      const docs = parseTick(out, live);
      ticks.push(live.perSecondFigures(docs).rps);
      expect(liveTotals(docs).requests).toBe((s + 1) * 60);
    }
    // THEN every tick reports the true 60/s (not 0/120 alternating), from one new line each time
    expect(ticks).toEqual(Array(10).fill(60));
    expect(Math.max(...sizes)).toBeLessThan(Math.min(...sizes) * 1.5);
    expect(fs.readFileSync(bucketsFile, 'utf8').trim().split('\n')).toHaveLength(10);
  });

  it('reports the most virtual users running at once in the last second, not 0', () => {
    const clock = { t: 1_800_000_000_000 };
    const { rec, liveFile } = recorder(clock);
    const users = () => liveTotals([JSON.parse(fs.readFileSync(liveFile, 'utf8')) as PluginLive]).users;
    // GIVEN 5 VUs start, one finishes; then 3 short-lived ones that are over before the flush
    for (let i = 0; i < 5; i++) rec.vuStarted();
    rec.vuEnded();
    rec.flush(false);
    expect(users()).toBe(5);
    for (let i = 0; i < 4; i++) rec.vuEnded();
    for (let i = 0; i < 3; i++) (rec.vuStarted(), rec.vuEnded());
    rec.flush(false);
    expect(users()).toBe(4);
    rec.flush(false);
    expect(users()).toBe(0);
  });

  it('reads the collect output back per worker, skipping a line cut by a KILL', () => {
    const clock = { t: 1_800_000_000_000 };
    const { rec, file, bucketsFile } = recorder(clock);
    rec.countRequest();
    rec.countResponse();
    rec.record('GET /', 3, false);
    rec.flush(true);
    const out = `H agent-1-1-1\n${fs.readFileSync(file, 'utf8')}\nB\n${fs.readFileSync(bucketsFile, 'utf8')}{"t":12,"cou\nE\n`;
    const got = parseCollected(out);
    expect(got.map((g) => g.id)).toEqual(['agent-1-1-1']);
    expect(Object.values(got[0]!.doc.buckets).map((b) => b.count)).toEqual([1]);
  });
});

describe('Artillery script validation', () => {
  it('fails with a usage error naming config.processor, which loadfleet does not push', async () => {
    const yml = 'config:\n  target: http://x\n  processor: "./helpers.js"\nscenarios:\n  - flow:\n      - get: { url: "/" }\n';
    await expect(artilleryRun.validate('t.yml', yml)).rejects.toThrow(UsageError);
    await expect(artilleryRun.validate('t.yml', yml)).rejects.toThrow('config.processor ("./helpers.js")');
  });
  it('fails with a usage error naming config.payload and its file', async () => {
    const yml = 'config:\n  target: http://x\n  payload:\n    path: "users.csv"\n    fields: [a]\nscenarios:\n  - flow:\n      - get: { url: "/" }\n';
    await expect(artilleryRun.validate('t.yml', yml)).rejects.toThrow('config.payload (["users.csv"])');
  });
});
