/**
 * JMeter's merge: a CSV JTL of 1 million rows (JMeter 5.6.3's default 17 columns, 4 agents, 20 labels, one
 * label in ten quoted with a comma, 1 % failures) read back the way `run` does — gunzip stream → CsvRecords →
 * JtlMerge (HdrHistograms per label, total and timeline). Goal: a few seconds per million rows and heap
 * that does not grow with the row count. Baseline in the same run: only splitting the same text into lines
 * and fields (the least any CSV reading does).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { mergeJtlFile } from '../../scripts/drivers/jmeter';
import { finish } from '../../scripts/run/merge';

const HEADER = 'timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect';
/** Present when node runs with --expose-gc (then the heap figures are what the merge keeps). */
const gc = (globalThis as { gc?: () => void }).gc;
/** JS heap plus typed-array memory (where the histograms' counts live). */
const used = () => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const AGENTS = [1, 2, 3, 4].map((i) => ({ name: `agent-${i}`, remote: `10.0.1.${20 + i}:1099` }));

function* rows(n: number, perChunk = 10_000): Generator<string> {
  let s = 42;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const t0 = 1_764_090_000_000;
  yield `${HEADER}\n`;
  let buf: string[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 10 === 0 ? `"GET /search, page ${i % 20}"` : `GET /api/items/${i % 20}`;
    const ok = i % 100 !== 0;
    const ms = Math.round(2 + rnd() ** 3 * 900);
    buf.push(`${t0 + Math.floor((i / n) * 600_000)},${ms},${label},${ok ? 200 : 503},${ok ? 'OK' : 'Service Unavailable'},${AGENTS[i % 4]!.remote}-Thread Group 1-${i % 50},text,${ok},,615,118,50,200,http://10.0.2.10:8080/api,${ms - 1},0,1`);
    if (buf.length === perChunk) {
      yield `${buf.join('\n')}\n`;
      buf = [];
    }
  }
  if (buf.length) yield `${buf.join('\n')}\n`;
}

async function gzFile(n: number, file: string): Promise<void> {
  await pipeline(Readable.from(rows(n)), createGzip({ level: 1 }), fs.createWriteStream(file));
}

export async function benchJtl(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lf-bench-jtl-'));
  try {
    const results: Record<number, { s: number; heapMb: number; bytes: number }> = {};
    // Each merge stays referenced, so a later measurement does not see an earlier one freed.
    const kept: unknown[] = [];
    for (const n of [100_000, 1_000_000]) {
      const file = path.join(dir, `res-${n}.jtl.gz`);
      await gzFile(n, file);
      gc?.();
      const heap0 = used();
      const t0 = performance.now();
      const jm = await mergeJtlFile(file, AGENTS, 1);
      const st = finish(jm.merger, jm.spanS());
      const s = (performance.now() - t0) / 1000;
      if (st.total.requests !== n) throw new Error(`merged ${st.total.requests} of ${n} rows`);
      // What the merge keeps (histograms, maps) once the garbage of reading is collected.
      gc?.();
      const heapMb = (used() - heap0) / 2 ** 20;
      kept.push(jm);
      results[n] = { s, heapMb, bytes: fs.statSync(file).size };
      const heapText = gc ? `merge state kept on the heap ${heapMb.toFixed(1)} MB` : 'heap: run node with --expose-gc';
      console.log(`${String(n).padStart(9)} rows (${(results[n].bytes / 2 ** 20).toFixed(1)} MB gzipped): gunzip + parse + merge ${s.toFixed(2)} s (${Math.round(n / s).toLocaleString('en')} rows/s), ${heapText}; p95 ${st.total.p95} ms over ${jm.merger.endpoints.size} labels`);
    }
    // Baseline: the same million rows split into lines and fields, nothing else.
    const t1 = performance.now();
    let fields = 0;
    for (const chunk of rows(1_000_000)) for (const line of chunk.split('\n')) fields += line.split(',').length;
    const baseS = (performance.now() - t1) / 1000;
    console.log(`baseline (generate + split lines and fields only): ${baseS.toFixed(2)} s (${fields} fields); merge vs baseline ${(results[1_000_000]!.s / baseS).toFixed(2)}×`);
    console.log(`1M vs 100k rows: time ${(results[1_000_000]!.s / results[100_000]!.s).toFixed(1)}× (linear = 10×; the first run includes warm-up)${gc ? `, kept heap ${results[1_000_000]!.heapMb.toFixed(1)} vs ${results[100_000]!.heapMb.toFixed(1)} MB (goal: not growing with rows)` : ''}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
