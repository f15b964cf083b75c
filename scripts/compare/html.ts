/**
 * compare's page (compare.html): self-contained (inline SVG and CSS, no script, no network), so it opens from a
 * CI artifact as it is. The verdict and its reasons; latency by percentile of both runs on one log-scale chart
 * (total and per endpoint, from the whole-run histograms); per-second RPS and p95 of both runs aligned on the
 * release (second 0 = each run's release). Pure.
 */
import type { CompareResult } from './verdict';

/** Percentiles plotted on the "nines" axis (x = log10(1 / (1 − p))). */
export const CURVE_PERCENTILES = [0, 25, 50, 75, 90, 95, 98, 99, 99.5, 99.9, 99.95, 99.99, 99.999];

export interface PageData {
  readonly result: CompareResult;
  /** endpoint (and 'Total') → [percentile, ms][] per run. */
  readonly curves: readonly { readonly endpoint: string; readonly base: readonly [number, number][]; readonly candidate: readonly [number, number][] }[];
  /** Total per second since each run's release. */
  readonly perSecond: { readonly base: { t: number; rps: number; p95: number }[]; readonly candidate: { t: number; rps: number; p95: number }[] };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const BASE_COLOR = '#1f77b4';
const CAND_COLOR = '#d62728';
const W = 640;
const H = 300;
const PAD = { l: 60, r: 20, t: 24, b: 40 };

const nines = (p: number) => Math.log10(1 / (1 - Math.min(p, 99.9999) / 100));

function axisTicksLog(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) for (const m of [1, 2, 5]) {
    const v = m * 10 ** e;
    if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
  }
  return out;
}

function percentileChart(title: string, base: readonly [number, number][], cand: readonly [number, number][]): string {
  const all = [...base, ...cand].map(([, v]) => v).filter((v) => v > 0);
  if (!all.length) return `<p>${esc(title)}: no latencies</p>`;
  const lo = Math.min(...all) * 0.9;
  const hi = Math.max(...all) * 1.1;
  const xMax = nines(99.999);
  const x = (p: number) => PAD.l + (nines(p) / xMax) * (W - PAD.l - PAD.r);
  const y = (v: number) => H - PAD.b - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (H - PAD.t - PAD.b);
  const line = (pts: readonly [number, number][], color: string, cls: string) =>
    `<polyline class="${cls}" fill="none" stroke="${color}" stroke-width="2" points="${pts.filter(([, v]) => v > 0).map(([p, v]) => `${x(p).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`;
  const yt = axisTicksLog(lo, hi).map((v) => `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/><text x="${PAD.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v}</text>`).join('');
  const xt = [0, 50, 90, 99, 99.9, 99.99, 99.999].map((p) => `<text x="${x(p).toFixed(1)}" y="${H - PAD.b + 16}" text-anchor="middle">${p === 0 ? 'min' : `p${p}`}</text>`).join('');
  return `<figure><figcaption>${esc(title)} — latency by percentile (ms, log scale)</figcaption><svg class="chart percentile" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)} latency by percentile">${yt}${xt}${line(base, BASE_COLOR, 'base')}${line(cand, CAND_COLOR, 'candidate')}</svg></figure>`;
}

function timeChart(title: string, unit: string, base: { t: number; v: number }[], cand: { t: number; v: number }[]): string {
  const all = [...base, ...cand];
  if (!all.length) return `<p>${esc(title)}: no seconds</p>`;
  const tMax = Math.max(1, ...all.map((p) => p.t));
  const vMax = Math.max(1e-9, ...all.map((p) => p.v)) * 1.1;
  const x = (t: number) => PAD.l + (t / tMax) * (W - PAD.l - PAD.r);
  const y = (v: number) => H - PAD.b - (v / vMax) * (H - PAD.t - PAD.b);
  const line = (pts: { t: number; v: number }[], color: string, cls: string) => `<polyline class="${cls}" fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ')}"/>`;
  const yt = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = (vMax / 1.1) * f;
    return `<line x1="${PAD.l}" x2="${W - PAD.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/><text x="${PAD.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${Math.round(v * 10) / 10}</text>`;
  }).join('');
  const xt = [0, 0.25, 0.5, 0.75, 1].map((f) => `<text x="${x(tMax * f).toFixed(1)}" y="${H - PAD.b + 16}" text-anchor="middle">${Math.round(tMax * f)} s</text>`).join('');
  return `<figure><figcaption>${esc(title)} (${esc(unit)}), seconds since the release</figcaption><svg class="chart time" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${yt}${xt}${line(base, BASE_COLOR, 'base')}${line(cand, CAND_COLOR, 'candidate')}</svg></figure>`;
}

export function compareHtml(d: PageData): string {
  const r = d.result;
  const who = (x: CompareResult['base']) => `${x.runId}${x.label ? ` (${x.label})` : ''}`;
  const color = { pass: '#2ca02c', regression: '#d62728', inconclusive: '#ff7f0e' }[r.verdict];
  const rows = r.rows.map((row) => {
    const c = (f: 'requests' | 'rps' | 'failures' | 'p50' | 'p95' | 'p99') => `<td>${row.base?.[f] ?? 'n/a'}</td><td>${row.candidate?.[f] ?? 'n/a'}</td>`;
    return `<tr><th>${esc(row.endpoint)}</th>${c('requests')}${c('rps')}${c('failures')}${c('p50')}${c('p95')}${c('p99')}</tr>`;
  }).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>loadfleet compare ${esc(who(r.base))} → ${esc(who(r.candidate))}: ${r.verdict}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
.verdict{font-size:22px;font-weight:600;color:${color}}
.legend span{display:inline-block;margin-right:16px}.legend i{display:inline-block;width:24px;height:3px;vertical-align:middle;margin-right:6px}
table{border-collapse:collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{text-align:left}
svg text{font-size:11px;fill:#444}.grid{stroke:#e5e5e5}
figure{display:inline-block;margin:8px 16px 8px 0}figcaption{font-weight:600;margin-bottom:4px}
</style></head><body>
<h1>loadfleet compare</h1>
<p class="verdict" id="verdict">${r.verdict.toUpperCase()} (exit ${r.exitCode})</p>
<p>Base <b>${esc(who(r.base))}</b> (${esc(r.base.startedAt)}) → candidate <b>${esc(who(r.candidate))}</b> (${esc(r.candidate.startedAt)})</p>
${r.reasons.length ? `<ul id="reasons">${r.reasons.map((x) => `<li>${esc(x)}</li>`).join('')}</ul>` : '<p id="reasons">No figure beyond its tolerance.</p>'}
<p class="legend"><span><i style="background:${BASE_COLOR}"></i>base</span><span><i style="background:${CAND_COLOR}"></i>candidate</span></p>
<table><tr><th>endpoint</th><th colspan="2">requests</th><th colspan="2">rps</th><th colspan="2">errors</th><th colspan="2">p50 ms</th><th colspan="2">p95 ms</th><th colspan="2">p99 ms</th></tr>${rows}</table>
<section id="percentiles">${d.curves.map((c) => percentileChart(c.endpoint, c.base, c.candidate)).join('\n')}</section>
<section id="timeline">${timeChart('Requests per second', 'req/s', d.perSecond.base.map((p) => ({ t: p.t, v: p.rps })), d.perSecond.candidate.map((p) => ({ t: p.t, v: p.rps })))}
${timeChart('p95 per second', 'ms', d.perSecond.base.map((p) => ({ t: p.t, v: p.p95 })), d.perSecond.candidate.map((p) => ({ t: p.t, v: p.p95 })))}</section>
<p><small>Tolerances: p95 +${(r.tolerances.maxP95Increase * 100).toFixed(1)}%, rps −${(r.tolerances.maxRpsDrop * 100).toFixed(1)}%, errors +${r.tolerances.maxErrorIncreasePp}pp; alpha ${r.tolerances.alpha}. Method: ${esc(r.method)}.</small></p>
</body></html>
`;
}
