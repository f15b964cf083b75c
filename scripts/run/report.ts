/**
 * report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) a user can open
 * or attach: the run's name and verdicts, latency and RPS over time, the per-endpoint table. Pure.
 */
import type { TimelinePoint } from './merge';
import type { RunSummary } from './summary';

const esc = (s: string | number | null): string =>
  (s === null ? 'n/a' : String(s)).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

interface Series {
  readonly label: string;
  readonly color: string;
  readonly values: readonly number[];
}

/** A line chart of series over the timeline's seconds, with axis labels; empty data says so. */
export function lineChart(title: string, unit: string, t: readonly number[], series: readonly Series[]): string {
  const W = 720;
  const H = 220;
  const L = 56;
  const B = 28;
  if (t.length === 0) return `<figure><figcaption>${esc(title)}</figcaption><p class="empty">no samples</p></figure>`;
  const tMax = Math.max(1, ...t);
  const yMax = Math.max(1e-9, ...series.flatMap((s) => s.values)) * 1.1;
  const x = (v: number) => L + (v / tMax) * (W - L - 10);
  const y = (v: number) => H - B - (v / yMax) * (H - B - 10);
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  const grid = ticks
    .map((v) => `<line x1="${L}" x2="${W - 10}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/><text x="${L - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(fmt(v))}</text>`)
    .join('');
  const xt = [0, 0.5, 1].map((f) => `<text x="${x(f * tMax).toFixed(1)}" y="${H - 8}" text-anchor="middle">${Math.round(f * tMax)} s</text>`).join('');
  const lines = series
    .map((s) => {
      const pts = s.values.map((v, i) => `${x(t[i]!).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
      return `<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${pts}"><title>${esc(s.label)}</title></polyline>`;
    })
    .join('');
  const legend = series.map((s) => `<span style="color:${s.color}">■ ${esc(s.label)}</span>`).join(' ');
  return `<figure><figcaption>${esc(title)} (${esc(unit)}) ${legend}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${grid}${xt}${lines}</svg></figure>`;
}

function fmt(v: number): string {
  return v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** A latency series, left out when the engine does not measure it (null everywhere: nGrinder's percentiles). */
function latencySeries(label: string, color: string, tl: readonly TimelinePoint[], pick: (p: TimelinePoint) => number | null | undefined): Series[] {
  const values = tl.map(pick);
  return values.some((v) => typeof v === 'number') ? [{ label, color, values: values.map((v) => v ?? 0) }] : [];
}

function timelineCharts(tl: readonly TimelinePoint[]): string {
  const t = tl.map((p) => p.t);
  return (
    lineChart('Latency over time', 'ms', t, [
      ...latencySeries('p50', '#1f77b4', tl, (p) => p.p50),
      ...latencySeries('p95', '#d62728', tl, (p) => p.p95),
      ...latencySeries('mean', '#9467bd', tl, (p) => p.mean),
    ]) +
    lineChart('Throughput over time', 'requests/s', t, [
      { label: 'RPS', color: '#2ca02c', values: tl.map((p) => p.rps) },
      { label: 'errors/s', color: '#ff7f0e', values: tl.map((p) => p.errorsPerS) },
    ])
  );
}

export function reportHtml(s: RunSummary): string {
  const cols = ['requests', 'failures', 'rps', 'min', 'mean', 'p50', 'p90', 'p95', 'p99', 'max'] as const;
  const row = (e: RunSummary['total'], cls = '') =>
    `<tr${cls ? ` class="${cls}"` : ''}><td>${esc(e.name)}</td>${cols.map((c) => `<td>${esc(e[c])}</td>`).join('')}</tr>`;
  const verdicts = [
    s.interrupted ? '<p class="bad">Interrupted: these are the results measured until the stop.</p>' : '',
    s.generatorBound ? `<p class="bad">Generator-bound: the load asked for was not the load made — ${s.boundBy.map(esc).join('; ')}</p>` : '',
    ...s.collectionFailures.map((c) => `<p class="bad">Collection failed on ${esc(c.host)}: ${esc(c.error)}</p>`),
    ...s.thresholds.map((t) => `<p class="${t.ok ? 'ok' : 'bad'}">${t.ok ? '✔' : '✘'} ${esc(t.expr)} — ${esc(t.endpoint)} ${esc(t.metric)} ${t.measured === null ? esc(t.missing ?? 'never requested') : `${esc(t.measured)}${esc(t.unit)}`}</p>`),
  ].join('');
  const gens = s.generators
    .map((g) => `<tr><td>${esc(g.name)}</td><td>${esc(g.startedAt ?? '—')}</td><td>${esc(g.startOffsetMs ?? '—')}</td><td>${esc(g.collectionError ?? 'ok')}</td></tr>`)
    .join('');
  const sat = s.saturation
    .map((h) => `<tr${h.bound ? ' class="bad"' : ''}><td>${esc(h.host)}</td><td>${esc(h.role)}</td><td>${esc(h.maxCpuPct)}</td><td>${esc(h.secondsAbove)}</td><td>${esc(h.busiestThread)}</td><td>${esc(h.maxRunQueue)}</td><td>${esc(h.maxTcpSockets)}</td></tr>`)
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>loadfleet run ${esc(s.runId)} — ${esc(s.env)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
tr.total{font-weight:bold}.bad{color:#b00020}.ok{color:#1b5e20}svg text{font-size:11px;fill:#555}.grid{stroke:#eee}
figure{margin:8px 0 16px}figcaption{font-weight:600;margin-bottom:4px}.empty{color:#888}
</style></head><body>
<h1>loadfleet run <code>${esc(s.runId)}</code></h1>
<p>env <b>${esc(s.env)}</b> · engine <b>${esc(s.engine)}</b> · script <code>${esc(s.script)}</code> · ${esc(s.startedAt)} → ${esc(s.endedAt)} (${esc(s.durationS)} s) · ${s.generators.length} generator(s), start spread ${esc(s.startSpreadMs ?? '—')} ms</p>
<p>load: ${esc(s.load.users)} users, rate ${esc(s.load.rate)}/s, ${esc(s.load.durationS)} s${s.load.stages.length > 1 ? `, stages ${esc(s.load.stages.map((st) => `${st.durationS}s→${st.target}`).join(', '))}` : ''}</p>
<p>rps = requests ÷ ${esc(s.rpsWindow.seconds)} s, the time load was sent: ${esc(s.rpsWindow.basis)}</p>
${verdicts}
${timelineCharts(s.timeline)}
<h2>Endpoints (latencies in ms)</h2>
<table><thead><tr><th>name</th>${cols.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>
${s.endpoints.map((e) => row(e)).join('\n')}
${row(s.total, 'total')}
</tbody></table>
<h2>Generators</h2>
<table><thead><tr><th>generator</th><th>started</th><th>offset ms</th><th>collection</th></tr></thead><tbody>${gens}</tbody></table>
<h2>Saturation</h2>
<table><thead><tr><th>host</th><th>role</th><th>peak CPU %</th><th>s above 85 %</th><th>busiest thread</th><th>run queue</th><th>TCP sockets</th></tr></thead><tbody>${sat}</tbody></table>
${s.network.length ? `<p class="bad">Network allowance exceeded: ${s.network.map((n) => `${esc(n.host)} ${esc(n.counter)} +${esc(n.increase)}`).join('; ')}</p>` : ''}
<p>Merging: ${esc(s.merge)}</p>
</body></html>
`;
}
