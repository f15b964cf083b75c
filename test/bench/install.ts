/**
 * install + doctor with Locust on 20 local hosts (controller + 19 agents, one worker per core each),
 * whole CLI processes. Baselines from the same run: the no-op rerun of install, and `tune` on the same
 * fleet (one script per host, the cheapest fan-out there is).
 */
import { localFleet } from '../harness/local-fleet';

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
}

export async function benchInstall(): Promise<void> {
  const hosts = 20;
  const fleet = await localFleet('bi20', 'bi', '10.231.85.0/24', { agents: { count: hosts - 1 }, targets: [], monitoring: { enabled: false } });
  try {
    const [tune, tuneS] = await timed(() => fleet.cli(['tune', '-c', fleet.config, '--json']));
    if (tune.exitCode !== 0) throw new Error(`tune failed: ${tune.stderr}`);
    const [first, firstS] = await timed(() => fleet.cli(['install', '-c', fleet.config, '--json']));
    if (first.exitCode !== 0) throw new Error(`install failed: ${first.stderr}`);
    // "all agents connected": doctor green, polled (workers connect a second or two after they start).
    const t0 = performance.now();
    let doctorS = 0;
    let tries = 0;
    for (;;) {
      tries++;
      const [d, s] = await timed(() => fleet.cli(['doctor', '-c', fleet.config, '--json']));
      doctorS = s;
      if (d.exitCode === 0) break;
      if (tries >= 30) throw new Error(`doctor never green: ${d.stderr}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
    const connectedS = (performance.now() - t0) / 1000;
    const [again, againS] = await timed(() => fleet.cli(['install', '-c', fleet.config, '--json']));
    if (again.exitCode !== 0) throw new Error(`second install failed: ${again.stderr}`);
    const changed = (JSON.parse(again.stdout) as { hosts: { value: { changed: string[] } }[] }).hosts.filter((h) => h.value.changed.length > 0).length;
    console.log(`${hosts} hosts (controller + ${hosts - 1} agents, 2 workers each on this 2-core machine), whole CLI:`);
    console.log(`  tune (baseline fan-out): ${tuneS.toFixed(2)} s`);
    console.log(`  install, first: ${firstS.toFixed(2)} s (${(firstS / tuneS).toFixed(1)}× tune); then doctor green after ${connectedS.toFixed(1)} s more (${tries} doctor run(s))`);
    console.log(`  doctor, one green run: ${doctorS.toFixed(2)} s (${(doctorS / tuneS).toFixed(1)}× tune)`);
    console.log(`  install, rerun: ${againS.toFixed(2)} s, ${changed} host(s) changed (${(againS / firstS).toFixed(2)}× the first install)`);
  } finally {
    await fleet.remove();
  }
}
