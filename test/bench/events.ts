/**
 * Following terraform's -json output of a 1,000-instance apply: summarizing every line seen so far on each
 * new line (the old way, quadratic) against folding each line once (scripts/core/terraform-events.ts).
 */
import { foldEvent, NO_PROGRESS, summarizeEvents } from '../../scripts/core/terraform-events';

/** The lines an apply of `n` instances prints: planned, start, two progress ticks, complete, per instance. */
export function applyLines(n: number): string[] {
  const lines: string[] = [];
  const res = (i: number) => ({ addr: `aws_instance.agents[${i}]`, resource_type: 'aws_instance', implied_provider: 'aws' });
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ '@level': 'info', '@message': `aws_instance.agents[${i}]: Plan to create`, type: 'planned_change', change: { resource: res(i), action: 'create' } }));
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ '@level': 'info', '@message': `aws_instance.agents[${i}]: Creating...`, type: 'apply_start', hook: { resource: res(i), action: 'create' } }));
  for (let t = 0; t < 2; t++) for (let i = 0; i < n; i++) lines.push(JSON.stringify({ '@level': 'info', '@message': `aws_instance.agents[${i}]: Still creating... [${(t + 1) * 10}s elapsed]`, type: 'apply_progress', hook: { resource: res(i), action: 'create', elapsed_seconds: (t + 1) * 10 } }));
  for (let i = 0; i < n; i++) lines.push(JSON.stringify({ '@level': 'info', '@message': `aws_instance.agents[${i}]: Creation complete after 30s`, type: 'apply_complete', hook: { resource: res(i), action: 'create', elapsed_seconds: 30 } }));
  return lines;
}

export async function benchEvents(): Promise<void> {
  const lines = applyLines(1000); // 5,000 lines
  // The old way on a prefix (it is quadratic: the whole run would take tens of seconds), extrapolated by n².
  const prefix = 600;
  let t0 = performance.now();
  const seen: string[] = [];
  for (const l of lines.slice(0, prefix)) {
    seen.push(l);
    summarizeEvents(seen);
  }
  const oldPrefixMs = performance.now() - t0;
  const oldFullMs = oldPrefixMs * (lines.length / prefix) ** 2;
  t0 = performance.now();
  let p = NO_PROGRESS;
  for (const l of lines) p = foldEvent(p, l);
  const newMs = performance.now() - t0;
  if (p.done !== 1000 || p.planned !== 1000) throw new Error(`fold miscounted: ${JSON.stringify({ planned: p.planned, done: p.done })}`);
  console.log(`terraform -json lines of a 1,000-instance apply (${lines.length} lines):`);
  console.log(`  re-summarize all lines per line: ${oldPrefixMs.toFixed(0)} ms for the first ${prefix} lines → ~${(oldFullMs / 1000).toFixed(1)} s for all (n², blocking the event loop)`);
  console.log(`  fold one line at a time:        ${newMs.toFixed(1)} ms for all  (ratio ~${Math.round(oldFullMs / newMs)}×)`);
}
