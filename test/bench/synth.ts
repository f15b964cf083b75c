import { execa } from 'execa';
import * as path from 'node:path';

const CHILD = path.join(import.meta.dirname, 'synth-child.ts');

async function once(agents: number, mode: 'submodules' | 'index') {
  const t0 = performance.now();
  // In-process figures of the sources (tsx's ESM hooks); the whole-process figures of the build are in process.ts.
  const r = await execa(process.execPath, ['--import', 'tsx/esm', CHILD, String(agents), mode]);
  return { ...(JSON.parse(r.stdout) as { ms: number; rssMb: number }), wallMs: performance.now() - t0 };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Synth of 10/100/500-agent fleets vs the same app importing the provider index. Medians of 3. */
export async function benchSynth(): Promise<void> {
  console.log('agents  loadfleet ms (wall)  peak MB | baseline(index) ms (wall)  peak MB | speed-up  memory');
  for (const agents of [10, 100, 500]) {
    const ours = [await once(agents, 'submodules'), await once(agents, 'submodules'), await once(agents, 'submodules')];
    const base = [await once(agents, 'index'), await once(agents, 'index'), await once(agents, 'index')];
    const o = { ms: median(ours.map((x) => x.ms)), wall: median(ours.map((x) => x.wallMs)), mb: median(ours.map((x) => x.rssMb)) };
    const b = { ms: median(base.map((x) => x.ms)), wall: median(base.map((x) => x.wallMs)), mb: median(base.map((x) => x.rssMb)) };
    console.log(
      `${String(agents).padStart(6)}  ${o.ms.toFixed(0).padStart(12)} (${o.wall.toFixed(0)})  ${o.mb.toFixed(0).padStart(7)} | ${b.ms.toFixed(0).padStart(18)} (${b.wall.toFixed(0)})  ${b.mb.toFixed(0).padStart(7)} | ${(b.ms / o.ms).toFixed(1).padStart(7)}×  ${(b.mb / o.mb).toFixed(1)}×`,
    );
  }
  console.log('goal: 100 agents ≤ 500 ms and ≤ 150 MB, ≥ 4× faster than the baseline (ms = in-process import+synth of the TypeScript sources; wall includes node/tsx start; whole-process figures of the build above)');
}
