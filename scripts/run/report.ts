/**
 * report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) a user can open
 * or attach: the run's name and verdicts, latency and RPS over time, the per-endpoint table. Pure.
 */
import { artilleryPhases, type ArtilleryPhase, type LoadPlan } from './load';
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

/** x position of percentile p on a log scale of 1/(1 − p): 0, 90, 99, 99.9, 99.99 evenly spaced. */
const nines = (p: number) => Math.log10(100 / (100 - Math.min(p, 99.999)));

/**
 * Latency by percentile, the view performance engineers read first: the total's percentiles (a merged histogram's
 * ladder, or Locust's own columns) on a log scale of the tail up to p99.99; max (p100) is named beside it.
 */
export function percentileChart(percentiles: Readonly<Record<string, number>> | undefined, mean: number | null = null): string {
  const title = 'Latency by percentile';
  const pts = Object.entries(percentiles ?? {}).map(([k, v]) => [Number(k), v] as const).filter(([p]) => p < 100).sort((a, b) => a[0] - b[0]);
  if (pts.length < 2) return `<figure class="pct"><figcaption>${title}</figcaption><p class="empty">${mean === null ? 'no latency measured' : `no percentiles: the engine gives a mean only (${esc(mean)} ms)`}</p></figure>`;
  const W = 720;
  const H = 240;
  const L = 56;
  const B = 28;
  const xMax = nines(99.99);
  const yMax = Math.max(1e-9, ...pts.map(([, v]) => v)) * 1.1;
  const x = (p: number) => L + (Math.min(nines(p), xMax) / xMax) * (W - L - 20);
  const y = (v: number) => H - B - (v / yMax) * (H - B - 10);
  const grid = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax)
    .map((v) => `<line x1="${L}" x2="${W - 20}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/><text x="${L - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(fmt(v))}</text>`).join('');
  const xt = [0, 90, 99, 99.9, 99.99].map((p) => `<line x1="${x(p).toFixed(1)}" x2="${x(p).toFixed(1)}" y1="10" y2="${H - B}" class="grid"/><text x="${x(p).toFixed(1)}" y="${H - 8}" text-anchor="middle">p${p}</text>`).join('');
  const line = `<polyline class="pct-line" fill="none" stroke="#d62728" stroke-width="1.8" points="${pts.map(([p, v]) => `${x(p).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`;
  const dots = pts.map(([p, v]) => `<circle class="pct-point" cx="${x(p).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="#d62728"><title>p${p} ${v} ms</title></circle>`).join('');
  const max = percentiles?.['100'];
  return `<figure class="pct"><figcaption>${title} (ms; log scale of the tail)${max !== undefined ? ` · max ${esc(max)} ms` : ''}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${title}">${grid}${xt}${line}${dots}</svg></figure>`;
}

/** What the engine was told to run (not the user's words): Artillery's arrival phases per agent, users elsewhere. */
export function engineLoad(engine: string, load: RunSummary['load'], generators: number): string {
  const staged = load.staged ?? load.stages.length > 1;
  const stages = staged ? `, stages ${load.stages.map((st) => `${st.durationS}s→${st.target}`).join(', ')}` : '';
  if (engine === 'artillery' && generators > 0) {
    const plan: LoadPlan = { ...load, staged };
    const phase = (x: ArtilleryPhase) => (x.arrivalCount !== undefined
      ? `${x.duration}s, ${x.arrivalCount} arrivals spread evenly`
      : `${x.duration}s at ${x.arrivalRate}${x.rampTo !== undefined ? `→${x.rampTo}` : ''} arrivals/s`) + (x.maxVusers !== undefined ? ` (max ${x.maxVusers} vusers)` : '');
    // null: an agent whose share of the load was 0, left out of the run.
    let split: ReturnType<typeof artilleryPhases>;
    try {
      split = artilleryPhases(plan, generators);
    } catch {
      return `Artillery: ${load.users} users at ${load.rate}/s, ${load.durationS} s`; // a report never fails on its load line
    }
    const per = split.map((ph) => (ph ? ph.map(phase).join(', ') : 'none (its share was 0)'));
    const same = per.every((t) => t === per[0]);
    return `Artillery phases ${same ? `on each of ${generators} agent(s): ${per[0]}` : per.map((t, i) => `agent ${i + 1}: ${t}`).join('; ')} — ${load.durationS} s`;
  }
  const users = engine === 'k6' ? 'VUs' : engine === 'jmeter' || engine === 'ngrinder' ? 'threads' : 'users';
  return `${engine}: ${load.users} ${users}${stages || `, started at ${load.rate}/s`}, ${load.durationS} s`;
}

/** Errors by type and endpoint ("GET /x: ConnectionRefusedError" → endpoint, type; an error of no endpoint → —). */
function errorsTable(errors: Readonly<Record<string, number>>): string {
  const rows = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  if (rows.length === 0) return '';
  const cells = rows.map(([k, n]) => {
    const m = /^([A-Z]+ \S+): (.*)$/s.exec(k);
    return `<tr><td>${esc(m ? m[2]! : k)}</td><td>${esc(m ? m[1]! : '—')}</td><td>${esc(n)}</td></tr>`;
  }).join('');
  return `<h2>Errors</h2>\n<table class="errors"><thead><tr><th>type</th><th>endpoint</th><th>count</th></tr></thead><tbody>${cells}</tbody></table>`;
}

export function reportHtml(s: RunSummary): string {
  const cols = ['requests', 'failures', 'rps', 'min', 'mean', 'p50', 'p90', 'p95', 'p99', 'max'] as const;
  const row = (e: RunSummary['total'], cls = '') =>
    `<tr${cls ? ` class="${cls}"` : ''}><td>${esc(e.name)}</td>${cols.map((c) => `<td>${esc(e[c])}</td>`).join('')}</tr>`;
  const verdicts = [
    s.interrupted ? `<p class="bad">${s.released === false ? 'Interrupted before the load was released: nothing was sent.' : 'Interrupted: these are the results measured until the stop.'}</p>` : '',
    s.abortedBy ? `<p class="bad">Aborted by threshold ${esc(s.abortedBy.expr)} at ${esc(s.abortedBy.atS)} s (${esc(s.abortedBy.measured)}${esc(s.abortedBy.unit)} on the live figures)</p>` : '',
    ...(s.stopFailures ?? []).map((c) => `<p class="bad">Stop failed on ${esc(c.host)} (it may still be sending): ${esc(c.error)}</p>`),
    ...(s.warnings ?? []).map((w) => `<p class="bad">Warning: ${esc(w)}</p>`),
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
<p>load: ${esc(engineLoad(s.engine, s.load, s.generators.length))}</p>
<p>rps = requests ÷ ${esc(s.rpsWindow.seconds)} s, the time load was sent: ${esc(s.rpsWindow.basis)}</p>
${verdicts}
${percentileChart(s.total.percentiles, s.total.percentiles ? null : s.total.mean)}
${timelineCharts(s.timeline)}
<h2>Endpoints (latencies in ms)</h2>
<table><thead><tr><th>name</th>${cols.map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>
${s.endpoints.map((e) => row(e)).join('\n')}
${row(s.total, 'total')}
</tbody></table>
${errorsTable(s.errors)}
<h2>Generators</h2>
<table><thead><tr><th>generator</th><th>started</th><th>offset ms</th><th>collection</th></tr></thead><tbody>${gens}</tbody></table>
<h2>Saturation</h2>
<table><thead><tr><th>host</th><th>role</th><th>peak CPU %</th><th>s above 85 %</th><th>busiest thread</th><th>run queue</th><th>TCP sockets</th></tr></thead><tbody>${sat}</tbody></table>
${s.network.length ? `<p class="bad">Network allowance exceeded: ${s.network.map((n) => `${esc(n.host)} ${esc(n.counter)} +${esc(n.increase)}`).join('; ')}</p>` : ''}
${(s.networkGaps ?? []).map((g) => `<p class="bad">${esc(g.host)}: ${esc(g.reason)}</p>`).join('')}
<p>Merging: ${esc(s.merge)}</p>
</body></html>
`;
}
