/**
 * Merge of raw per-generator results: 20 generators × 1 million samples each (goal: < 1 s, and memory
 * independent of the sample count). Baseline in the same run: sorting the raw samples of 2 generators
 * (what merging without histograms would need, for a tenth of the data).
 */
import { Cell, Merger } from '../../scripts/run/merge';
import { decode, HDR } from '../../scripts/run/histogram';

function generatorDoc(g: number, samples: number): ReturnType<Merger['toHdr']> {
  const m = new Merger();
  let s = 12345 + g;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const t0 = 1_800_000_000_000;
  for (let i = 0; i < samples; i++) m.recordSample(i % 5 === 0 ? 'GET /api' : 'GET /', t0 + Math.floor((i / samples) * 300_000), 1 + rnd() ** 2 * 800, false);
  return m.toHdr(`agent-${g + 1}`);
}

export async function benchMerge(): Promise<void> {
  const G = 20;
  const N = 1_000_000;
  const docs = [];
  const t0 = performance.now();
  for (let g = 0; g < G; g++) docs.push(generatorDoc(g, N));
  const recordS = (performance.now() - t0) / 1000;
  const bytes = docs.reduce((a, d) => a + JSON.stringify(d).length, 0);
  const heap0 = process.memoryUsage().heapUsed;
  const t1 = performance.now();
  const m = new Merger(1);
  for (const d of docs) m.addGenerator(JSON.parse(JSON.stringify(d)) as typeof d);
  const p95 = m.total.hist.getValueAtPercentile(95) / 1000;
  const mergeS = (performance.now() - t1) / 1000;
  const heap1 = process.memoryUsage().heapUsed;
  // The same merge the way it was first written: every histogram decoded into a new one, then added.
  const t4 = performance.now();
  const total = new Cell();
  const ends = new Map<string, Cell>();
  const buckets = new Map<string, Cell>();
  for (const text of docs.map((d) => JSON.stringify(d))) {
    const d = JSON.parse(text) as (typeof docs)[number];
    for (const [k, v] of Object.entries(d.endpoints)) {
      const h = decode(v.hist);
      if (!ends.has(k)) ends.set(k, new Cell());
      ends.get(k)!.add(v.count, v.failures, h);
      total.add(v.count, v.failures, h);
    }
    for (const [k, v] of Object.entries(d.buckets)) {
      if (!buckets.has(k)) buckets.set(k, new Cell(HDR.timelineDigits));
      buckets.get(k)!.add(v.count, v.failures, decode(v.hist));
    }
  }
  const viaDecodeS = (performance.now() - t4) / 1000;
  if (total.hist.getValueAtPercentile(95) / 1000 !== p95) throw new Error('the two merge paths disagree on p95');
  // Where the time goes: the same merge without the per-second timeline histograms.
  const t3 = performance.now();
  const mt = new Merger(1);
  for (const d of docs) mt.addGenerator({ ...d, buckets: {} });
  const totalsOnlyS = (performance.now() - t3) / 1000;
  // Memory: same merge of generators with 10× fewer samples — the merged state must be the same size.
  const small = Array.from({ length: G }, (_, g) => generatorDoc(g, N / 10));
  const ms = new Merger(1);
  for (const d of small) ms.addGenerator(d);
  const sizeOf = (x: Merger) => [x.total, ...x.endpoints.values(), ...x.buckets.values()].reduce((a, c) => a + c.hist.estimatedFootprintInBytes, 0);
  const t2 = performance.now();
  const raw = new Float64Array(2 * N);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.random() * 800;
  raw.sort();
  const sortS = (performance.now() - t2) / 1000;
  console.log(`recording ${G} × ${N.toLocaleString()} samples into histograms (the generators' side): ${recordS.toFixed(1)} s; ${G} raw documents ${(bytes / 1e6).toFixed(2)} MB`);
  console.log(`merge of ${G} generators × ${N.toLocaleString()} samples (parse + inflate + add into the merged counts, 300 one-second buckets, 2 endpoints): ${mergeS.toFixed(2)} s (goal < 1 s), total ${m.total.count.toLocaleString()}, p95 ${p95} ms`);
  console.log(`  of which totals and endpoints alone: ${totalsOnlyS.toFixed(2)} s; the rest is adding ${G} × 300 per-second timeline histograms`);
  console.log(`  the same merge through decode + add (a decoded histogram per cell, the first implementation): ${viaDecodeS.toFixed(2)} s → direct add is ${(viaDecodeS / mergeS).toFixed(2)}× faster`);
  console.log(`merged state: ${(sizeOf(m) / 1e6).toFixed(2)} MB for 1 M samples/generator vs ${(sizeOf(ms) / 1e6).toFixed(2)} MB for 100 k (independent of the sample count); heap delta ${((heap1 - heap0) / 1e6).toFixed(1)} MB`);
  console.log(`baseline, sorting 2 M raw samples (2 generators' worth): ${sortS.toFixed(2)} s → merge / sort = ${(mergeS / sortS).toFixed(2)}×`);
}
