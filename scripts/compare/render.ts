/**
 * compare's outputs: the text table, JUnit XML (one testcase per threshold of the candidate and per compared
 * figure; a regression is a <failure>, an inconclusive figure is <skipped> with its reason) and Markdown (a job
 * summary). Pure.
 */
import type { RunSummary } from '../run/summary';
import type { Check, CompareResult, Figures } from './verdict';

const n = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : String(Math.round(x * 1000) / 1000));
const change = (b: number | null, c: number | null) => (b === null || c === null || b === 0 ? '' : `${c / b - 1 >= 0 ? '+' : ''}${((c / b - 1) * 100).toFixed(1)}%`);
const name = (r: CompareResult['base']) => `${r.runId}${r.label ? ` (${r.label})` : ''}`;
const FIGS: (keyof Figures)[] = ['requests', 'rps', 'failures', 'p50', 'p90', 'p95', 'p99', 'max'];

export function compareText(r: CompareResult): string {
  const lines = [`compare: base ${name(r.base)} → candidate ${name(r.candidate)}`];
  for (const row of r.rows) {
    lines.push(`  ${row.endpoint}`);
    for (const f of FIGS) {
      const b = row.base?.[f] ?? null;
      const c = row.candidate?.[f] ?? null;
      lines.push(`    ${f.padEnd(9)}${n(b).padStart(12)} →${n(c).padStart(12)}  ${change(b, c)}`);
    }
  }
  lines.push(`verdict: ${r.verdict.toUpperCase()} (exit ${r.exitCode})`);
  for (const why of r.reasons) lines.push(`  - ${why}`);
  for (const note of r.notes) lines.push(`note: ${note}`);
  return `${lines.join('\n')}\n`;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function compareJunit(r: CompareResult, thresholds: RunSummary['thresholds'] = []): string {
  const cases: string[] = [];
  for (const t of thresholds) {
    const body = t.ok ? '' : `<failure message="${xml(`threshold ${t.expr} broken: ${t.endpoint} measured ${n(t.measured as number | null)}`)}"/>`;
    cases.push(`    <testcase classname="loadfleet.thresholds" name="${xml(t.expr)}">${body}</testcase>`);
  }
  const c = (k: Check) => {
    const body = k.verdict === 'regression' ? `<failure message="${xml(k.reason)}"/>` : k.verdict === 'inconclusive' ? `<skipped message="${xml(k.reason)}"/>` : '';
    return `    <testcase classname="loadfleet.compare.${xml(k.figure)}" name="${xml(`${k.endpoint} ${k.figure}`)}">${body}<system-out>${xml(k.reason)}</system-out></testcase>`;
  };
  cases.push(...r.checks.map(c));
  // Reasons the runs cannot be compared at all: one testcase, skipped, naming them.
  const blockers = r.verdict === 'inconclusive' ? r.reasons.filter((x) => !r.checks.some((k) => k.reason === x)) : [];
  if (blockers.length) cases.push(`    <testcase classname="loadfleet.compare" name="comparable"><skipped message="${xml(blockers.join('; '))}"/></testcase>`);
  const failures = r.checks.filter((k) => k.verdict === 'regression').length + thresholds.filter((t) => !t.ok).length;
  const skipped = r.checks.filter((k) => k.verdict === 'inconclusive').length + (blockers.length ? 1 : 0);
  const tests = thresholds.length + r.checks.length + (blockers.length ? 1 : 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="loadfleet" tests="${tests}" failures="${failures}" skipped="${skipped}">\n  <testsuite name="${xml(`compare ${name(r.base)} → ${name(r.candidate)}: ${r.verdict}`)}" tests="${tests}" failures="${failures}" skipped="${skipped}">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`;
}

const md = (s: string) => s.replace(/\|/g, '\\|');

export function compareMarkdown(r: CompareResult): string {
  const icon = { pass: '✅', regression: '❌', inconclusive: '⚠️' }[r.verdict];
  const lines = [
    `### loadfleet compare: ${icon} ${r.verdict} (exit ${r.exitCode})`,
    '',
    `Base \`${md(name(r.base))}\` → candidate \`${md(name(r.candidate))}\``,
    '',
    '| endpoint | requests | rps | errors | p50 ms | p95 ms | p99 ms | p95 change |',
    '|---|---|---|---|---|---|---|---|',
    ...r.rows.map((row) => {
      const both = (f: keyof Figures) => `${n(row.base?.[f] ?? null)} → ${n(row.candidate?.[f] ?? null)}`;
      return `| ${md(row.endpoint)} | ${both('requests')} | ${both('rps')} | ${both('failures')} | ${both('p50')} | ${both('p95')} | ${both('p99')} | ${change(row.base?.p95 ?? null, row.candidate?.p95 ?? null)} |`;
    }),
    '',
    ...(r.reasons.length ? ['**Why:**', '', ...r.reasons.map((x) => `- ${md(x)}`), ''] : []),
    ...(r.notes.length ? ['**Notes:**', '', ...r.notes.map((x) => `- ${md(x)}`), ''] : []),
    `<sub>Tolerances: p95 +${(r.tolerances.maxP95Increase * 100).toFixed(1)}%, rps −${(r.tolerances.maxRpsDrop * 100).toFixed(1)}%, errors +${r.tolerances.maxErrorIncreasePp}pp; alpha ${r.tolerances.alpha}. Method: ${md(r.method)}.</sub>`,
  ];
  return `${lines.join('\n')}\n`;
}
