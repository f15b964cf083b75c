/**
 * npm run bench [-- synth|up|tune|...]: speed and memory goals, printed as ratios against a named
 * baseline measured in the same run. Not a test: it prints figures; the goals are shown beside them.
 */
import { benchSynth } from './synth';
import { benchStart, benchSynthProcess } from './process';

const which = new Set(process.argv.slice(2));
const all = which.size === 0;
const suites: [string, () => Promise<void>][] = [['start', benchStart], ['synth', async () => { await benchSynthProcess(); await benchSynth(); }]];
const more = await import('./suites').catch(() => undefined);
if (more) suites.push(...more.suites);
for (const [name, run] of suites) {
  if (all || which.has(name)) {
    console.log(`\n== ${name} ==`);
    await run();
  }
}
