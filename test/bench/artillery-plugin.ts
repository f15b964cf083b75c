/**
 * Artillery plugin flush and live tick over a 1-hour synthetic run (item: "flush cost grows with run
 * length"). One worker at 100 responses/s over 3 endpoints, flushed every (simulated) second into a temp
 * folder with the plugin's own code; three such agents read by the live view the way `run` does (the live
 * files + the buckets lines from the last offset). Goal: write and tick the same at 1 h as at 1 min.
 * Baseline in the same run: the former flush, which re-encoded every second's histogram so far each time.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { LiveBuckets, liveTotals, parseTick } from '../../scripts/run/artillery-files';

const require = createRequire(import.meta.url);
const hdr = require('hdr-histogram-js') as { build(o: object): { recordValue(v: number): void }; encodeIntoCompressedBase64(h: unknown): string };
const plugin = require('../../scripts/run/artillery-plugin/artillery-plugin-loadfleet-hdr/index.js') as {
  createRecorder(o: Record<string, unknown>): { record(n: string, ms: number, f: boolean): void; flush(final: boolean): void; countRequest(): void; countResponse(): void };
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchArtilleryPlugin(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-bench-art-'));
  try {
    const clock = { t: 1_800_000_000_000 };
    const files = { file: path.join(dir, 'hdr-w.json'), liveFile: path.join(dir, 'live-w.json'), bucketsFile: path.join(dir, 'buckets-w.ndjson') };
    const rec = plugin.createRecorder({ hdr, now: () => clock.t, generator: 'agent-1', ...files });
    const live = new LiveBuckets();
    const oldBuckets: { recordValue(v: number): void }[] = [];
    const build = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3600000000, numberOfSignificantValueDigits: 2, bitBucketSize: 32, useWebAssembly: false });
    const write: Record<string, number[]> = { min1: [], h1: [] };
    const tick: Record<string, number[]> = { min1: [], h1: [] };
    const oldWrite: Record<string, number[]> = { min1: [], h1: [] };
    let s = 7;
    const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const RATE = 100;
    for (let sec = 0; sec < 3600; sec++) {
      for (let i = 0; i < RATE; i++) {
        clock.t = 1_800_000_000_000 + sec * 1000 + i * (1000 / RATE);
        const ms = 1 + rnd() ** 2 * 300;
        rec.countRequest();
        rec.countResponse();
        rec.record(['GET /', 'GET /api/items', 'POST /cart'][i % 3]!, ms, false);
      }
      clock.t = 1_800_000_000_000 + (sec + 1) * 1000 + 5;
      const at = sec >= 30 && sec < 60 ? 'min1' : sec >= 3570 ? 'h1' : null;
      const t0 = performance.now();
      rec.flush(false);
      const t1 = performance.now();
      // The live view: 3 agents' live files and the new bucket lines (the same worker's files stand in for each).
      // Only the bytes after each offset are read (what `tail -c +N` does on the agents).
      const size = fs.statSync(files.bucketsFile).size;
      const fd = fs.openSync(files.bucketsFile, 'r');
      let out = '';
      for (const a of ['agent-1', 'agent-2', 'agent-3']) {
        const key = `${a}:buckets`;
        const off = live.offsets.get(key) ?? 0;
        const buf = Buffer.alloc(size - off);
        fs.readSync(fd, buf, 0, buf.length, off);
        out += `L ${fs.readFileSync(files.liveFile, 'utf8')}\nB ${key} ${off}\n${buf.toString('utf8')}\nE\n`;
      }
      fs.closeSync(fd);
      const docs = parseTick(out, live);
      liveTotals(docs);
      live.perSecondFigures(docs);
      const t2 = performance.now();
      if (at) {
        write[at]!.push(t1 - t0);
        tick[at]!.push(t2 - t1);
      }
    }
    // The former flush, apart (its garbage would slow the loop above): every second so far re-encoded into one
    // document, rewritten whole.
    for (let sec = 0; sec < 3600; sec++) {
      const old = build();
      oldBuckets.push(old);
      for (let i = 0; i < RATE; i++) old.recordValue(Math.round((1 + rnd() ** 2 * 300) * 1000));
      const at = sec >= 50 && sec < 60 ? 'min1' : sec >= 3590 ? 'h1' : null;
      if (!at) continue;
      const t3 = performance.now();
      fs.writeFileSync(path.join(dir, 'old.json'), JSON.stringify(Object.fromEntries(oldBuckets.map((h, i) => [i, hdr.encodeIntoCompressedBase64(h)]))));
      oldWrite[at]!.push(performance.now() - t3);
    }
    const f = (x: number) => `${x.toFixed(2)} ms`;
    console.log(`plugin flush (one worker, 100 req/s, 3 endpoints): after 1 min ${f(median(write.min1!))}, after 1 h ${f(median(write.h1!))} (×${(median(write.h1!) / median(write.min1!)).toFixed(2)}; goal ≈ 1×)`);
    console.log(`live tick (3 agents: live files + new bucket lines, merge, per-second rps): after 1 min ${f(median(tick.min1!))}, after 1 h ${f(median(tick.h1!))} (×${(median(tick.h1!) / median(tick.min1!)).toFixed(2)}; goal ≈ 1×)`);
    console.log(`baseline, the former flush (every second re-encoded each time): after 1 min ${f(median(oldWrite.min1!))}, after 1 h ${f(median(oldWrite.h1!))} (×${(median(oldWrite.h1!) / median(oldWrite.min1!)).toFixed(1)})`);
    console.log(`buckets file after 1 h: ${(fs.statSync(files.bucketsFile).size / 1e6).toFixed(1)} MB appended once; hdr file ${(fs.statSync(files.file).size / 1e3).toFixed(1)} kB rewritten each second`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
