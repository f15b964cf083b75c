/** Benchmarks that need real tools: terraform + moto (`up`). */
import { startMoto } from '../harness/moto';
import { loadfleet } from '../harness/cli';
import { workspace } from '../harness/workspace';
import { PLUGIN_MIRROR, requireTerraformOffline } from '../harness/tools';
import { benchInventory, benchTune } from './tune';
import { benchSweep } from './sweep';
import { benchEvents } from './events';
import { benchMerge } from './merge';
import { benchK6Points } from './k6-points';
import { benchInstall } from './install';
import { benchMonitoring } from './monitoring';
import { benchRunOverhead } from './run-overhead';
import { benchJtl } from './jtl';
import { benchArtilleryPlugin } from './artillery-plugin';
import { benchCompare } from './compare';

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
}

/** `up` and `down` on moto for 3 and 50 agents: width should be nearly free. */
async function benchUp(): Promise<void> {
  requireTerraformOffline();
  const moto = await startMoto();
  const ws = workspace('lf-bench-');
  try {
    const env = { ...moto.env, LOADFLEET_HOME: ws.home, LOADFLEET_TF_PLUGIN_MIRROR: PLUGIN_MIRROR };
    const times: Record<number, { up: number; down: number }> = {};
    for (const agents of [3, 50]) {
      const cfg = ws.writeConfig(`f${agents}.yaml`, { name: `bench${agents}`, agents: { count: agents }, targets: [{ name: 'app' }] });
      const [up, upS] = await timed(() => loadfleet(['up', '-c', cfg, '--yes', '--json'], env));
      if (up.exitCode !== 0) throw new Error(`up failed: ${up.stderr}`);
      const [down, downS] = await timed(() => loadfleet(['down', '-c', cfg, '--yes'], env));
      if (down.exitCode !== 0) throw new Error(`down failed: ${down.stderr}`);
      times[agents] = { up: upS, down: downS };
      console.log(`${String(agents).padStart(3)} agents (+controller, target, monitoring): up ${upS.toFixed(1)} s, down ${downS.toFixed(1)} s (whole CLI: synth, init, apply/destroy, outputs)`);
    }
    console.log(`50 vs 3 agents: up ${(times[50]!.up / times[3]!.up).toFixed(2)}× (goal ≤ 1.5×); 3-agent up vs the public module's ~19 s apply: ${(times[3]!.up / 19).toFixed(2)}×`);
  } finally {
    await moto.stop();
    ws.remove();
  }
}

export const suites: [string, () => Promise<void>][] = [
  ['up', benchUp],
  ['inventory', benchInventory],
  ['tune', benchTune],
  ['sweep', benchSweep],
  ['events', benchEvents],
  ['merge', benchMerge],
  ['k6-points', benchK6Points],
  ['install', benchInstall],
  ['monitoring', benchMonitoring],
  ['run', benchRunOverhead],
  ['jtl', benchJtl],
  ['artillery-plugin', benchArtilleryPlugin],
  ['compare', benchCompare],
];
