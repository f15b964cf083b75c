/**
 * compare's verdict on two kept runs: pass / regression / inconclusive, with every reason. Pure: the action
 * reads the run folders (summary.json, meta.json, hist/) and hands them in.
 *
 * Order of judgement: first whether the runs can be compared at all (same engine and version, script content,
 * load plan, fleet shape, target; neither interrupted, generator-bound or partly collected; start spread and
 * sample counts within what the comparison needs) — any failure makes the verdict inconclusive, whatever the
 * figures say. Then each figure (p95 per endpoint and total, rps, error rate) against its tolerance, with the
 * tests of stats.ts at a family-wise false-alarm rate alpha (Bonferroni over every test made).
 */
import { HIST_PULL_FAILED } from '../run/locust-hist';
import type { RunSummary } from '../run/summary';
import type { HistIndex, LogSeries } from './hlog';
import { mannWhitneyGreater, proportionGreater } from './stats';
import { NGRINDER_NO_HIST } from '../run/per-second';

export type Verdict = 'pass' | 'regression' | 'inconclusive';
export const VERDICT_EXIT: Record<Verdict, number> = { pass: 0, regression: 3, inconclusive: 4 };

/** What run records beside summary.json to make runs comparable (meta.json). */
export interface RunMeta {
  readonly format: 'loadfleet-run-meta/1';
  readonly label: string | null;
  readonly scriptSha256: string;
  /** The engine version the config pinned, or null for the engine's default pin. */
  readonly engineVersion: string | null;
  readonly agents: { readonly count: number; readonly instanceType: string | null };
  readonly controllerType: string | null;
  /**
   * What the run was aimed at, as asked: the --host URL as given (a DNS name stays a name) or the env's target
   * host by name. compare matches runs on this — runs kept before it held the URL with the target's IP.
   */
  readonly target: string;
  /** The URL the engine was given (the fleet target's by its current IP). */
  readonly targetUrl?: string;
  /** The address the target had (resolved when the run was kept); shown, never matched on. */
  readonly targetAddress?: string | null;
  readonly hostKind: string;
  /** The baseline verdict when run --baseline judged this run. */
  readonly baseline?: { readonly ref: string; readonly runId: string; readonly verdict: Verdict; readonly reasons: readonly string[] };
}

export interface RunData {
  readonly dir: string;
  readonly summary: RunSummary;
  readonly meta: RunMeta | null;
  /** null when the run kept no hist/ (an engine without per-second histograms, or a run older than them). */
  readonly hist: { readonly index: HistIndex; readonly total: LogSeries; readonly endpoints: ReadonlyMap<string, LogSeries | null> } | null;
}

export interface Tolerances {
  /** Largest p95 increase that passes, as a fraction (0.10 = 10 %). */
  readonly maxP95Increase: number;
  /** Largest rps drop that passes, as a fraction. */
  readonly maxRpsDrop: number;
  /** Largest error-rate increase that passes, in percentage points. */
  readonly maxErrorIncreasePp: number;
  /** Family-wise false-alarm rate of the tests. */
  readonly alpha: number;
  /** Largest generator start spread either run may have, ms. */
  readonly maxStartSpreadMs: number;
  /** Fewest seconds with requests, per endpoint and run, for a figure to be tested. */
  readonly minSeconds: number;
  /** Fewest requests, per endpoint and run, for its p95 to be tested. */
  readonly minRequests: number;
}

export const DEFAULT_TOLERANCES: Tolerances = { maxP95Increase: 0.1, maxRpsDrop: 0.05, maxErrorIncreasePp: 0.5, alpha: 0.05, maxStartSpreadMs: 1000, minSeconds: 5, minRequests: 100 };

export interface Figures {
  readonly requests: number;
  readonly failures: number;
  readonly rps: number;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export interface Check {
  readonly endpoint: string;
  readonly figure: 'p95' | 'rps' | 'errors';
  readonly base: number | null;
  readonly candidate: number | null;
  /** Relative change for p95 and rps (0.12 = +12 %), percentage points for errors. */
  readonly change: number | null;
  readonly tolerance: string;
  /** One-sided p-value of "beyond the tolerance" (null when not tested). */
  readonly p: number | null;
  readonly verdict: Verdict;
  readonly reason: string;
}

export interface Row {
  readonly endpoint: string;
  readonly base: Figures | null;
  readonly candidate: Figures | null;
}

export interface CompareResult {
  readonly verdict: Verdict;
  readonly exitCode: number;
  /** Why, in order: comparability first, then the figures that decided. Empty for a clean pass. */
  readonly reasons: readonly string[];
  readonly base: RunRef;
  readonly candidate: RunRef;
  readonly tolerances: Tolerances;
  readonly method: string;
  readonly rows: readonly Row[];
  readonly checks: readonly Check[];
  /** What the comparison could not use and how it was made instead (a run compared on totals); no effect on the verdict. */
  readonly notes: readonly string[];
  /** The between-run noise used, when the base's label has several kept runs. */
  readonly noise: BetweenRunNoise | null;
}

/**
 * How far runs of the same thing land apart: measured over the kept runs sharing the base's label (same script,
 * engine and load), per endpoint and total. One pair of runs cannot see it — its seconds only show the noise
 * within each run — so a p95 change or rps drop that repeated baselines show as ordinary is not a regression.
 */
export interface BetweenRunNoise {
  readonly label: string;
  readonly runs: number;
  /** endpoint → max/min − 1 of the runs' p95. */
  readonly p95: ReadonlyMap<string, number>;
  /** endpoint → 1 − min/max of the runs' rps. */
  readonly rps: ReadonlyMap<string, number>;
}

/** The spread of the given runs' p95 and rps per endpoint (null below 2 runs). */
export function betweenRunNoise(label: string, runs: readonly RunSummary[]): BetweenRunNoise | null {
  if (runs.length < 2) return null;
  const p95 = new Map<string, number>();
  const rps = new Map<string, number>();
  const names = new Set(runs.flatMap((r) => [...r.endpoints.map((e) => e.name), 'Total']));
  for (const name of names) {
    const of = (r: RunSummary) => (name === 'Total' ? r.total : r.endpoints.find((e) => e.name === name));
    const ps = runs.map((r) => of(r)?.p95).filter((x): x is number => typeof x === 'number' && x > 0);
    const rs = runs.map((r) => of(r)?.rps).filter((x): x is number => typeof x === 'number' && x > 0);
    if (ps.length >= 2) p95.set(name, Math.max(...ps) / Math.min(...ps) - 1);
    if (rs.length >= 2) rps.set(name, 1 - Math.min(...rs) / Math.max(...rs));
  }
  return { label, runs: runs.length, p95, rps };
}

export interface RunRef {
  readonly runId: string;
  readonly label: string | null;
  readonly dir: string;
  readonly engine: string;
  readonly startedAt: string;
}

export const METHOD =
  'per-second series from each second\'s own HdrHistogram (first and last second of each run dropped: partial); one-sided Mann–Whitney rank test of candidate against base scaled by the tolerance (p95: base × (1 + tolerance); rps: base × (1 − tolerance)); error rate: one-sided two-proportion z-test against base + tolerance; family-wise alpha split over every test (Bonferroni); when the base\'s label has ≥ 2 kept runs of the same script and load, their spread is the between-run noise: a change within it is inconclusive, and a regression must exceed the larger of tolerance and noise';

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
const ms = (x: number | null) => (x === null ? 'n/a' : `${Math.round(x * 100) / 100} ms`);
const pfmt = (p: number) => (p < 0.0001 ? '<0.0001' : p.toPrecision(2));
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function refOf(r: RunData): RunRef {
  return { runId: r.summary.runId, label: r.meta?.label ?? null, dir: r.dir, engine: r.summary.engine, startedAt: r.summary.startedAt };
}

function figuresOf(r: RunData, endpoint: string): Figures | null {
  const s = endpoint === 'Total' ? r.summary.total : r.summary.endpoints.find((e) => e.name === endpoint);
  if (!s) return null;
  const series = endpoint === 'Total' ? r.hist?.total : r.hist?.endpoints.get(endpoint);
  // Percentiles from the kept histograms when there are any (the whole run's, added from its seconds), else the summary's.
  if (series && series.whole.totalCount > 0) {
    const h = series.whole;
    return { requests: s.requests, failures: s.failures, rps: s.rps, p50: r3(h.getValueAtPercentile(50) / 1000), p90: r3(h.getValueAtPercentile(90) / 1000), p95: r3(h.getValueAtPercentile(95) / 1000), p99: r3(h.getValueAtPercentile(99) / 1000), max: r3(h.maxValue / 1000) };
  }
  return { requests: s.requests, failures: s.failures, rps: s.rps, p50: s.p50, p90: s.p90, p95: s.p95, p99: s.p99, max: s.max };
}

/** Why the two runs cannot be compared (empty when they can). */
export function comparability(base: RunData, cand: RunData, tol: Tolerances): string[] {
  const out: string[] = [];
  const b = base.summary;
  const c = cand.summary;
  const differ = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`different ${what}: base ${fmt(x)}, candidate ${fmt(y)}`);
  };
  differ('engine', b.engine, c.engine);
  if (base.meta && cand.meta) {
    differ('engine version', base.meta.engineVersion ?? 'default pin', cand.meta.engineVersion ?? 'default pin');
    differ('script (content sha256)', base.meta.scriptSha256.slice(0, 12), cand.meta.scriptSha256.slice(0, 12));
    differ('agent instance type', base.meta.agents.instanceType, cand.meta.agents.instanceType);
    differ('controller instance type', base.meta.controllerType, cand.meta.controllerType);
    // Matched on the target as asked (a DNS name, the env's target host), not its address: on AWS every `up`
    // gives the target a new IP, and a name behind a load balancer resolves to changing ones.
    if (base.meta.target !== cand.meta.target) out.push(`different target: base ${base.meta.target}${addr(base.meta)}, candidate ${cand.meta.target}${addr(cand.meta)}`);
  } else {
    for (const r of [base, cand].filter((x) => !x.meta)) out.push(`run ${r.summary.runId} has no meta.json (script hash, engine version, fleet, target): it was kept before loadfleet recorded them`);
  }
  differ('load plan', b.load, c.load);
  differ('agent count', base.meta?.agents.count ?? b.generators.length, cand.meta?.agents.count ?? c.generators.length);
  for (const [side, r] of [['base', base], ['candidate', cand]] as const) {
    const s = r.summary;
    if (s.interrupted) out.push(`${side} run ${s.runId} was interrupted`);
    if (s.generatorBound) out.push(`${side} run ${s.runId} was generator-bound (${s.boundBy.join('; ')})`);
    if (s.collectionFailures.length) out.push(`${side} run ${s.runId} lacks results from ${s.collectionFailures.map((f) => f.host).join(', ')}`);
    if (s.startSpreadMs !== null && s.startSpreadMs > tol.maxStartSpreadMs) out.push(`${side} run ${s.runId}: its generators started ${s.startSpreadMs} ms apart (more than --max-start-spread ${tol.maxStartSpreadMs} ms)`);
  }
  return out;
}

const addr = (m: RunMeta) => (m.targetAddress && !m.target.includes(m.targetAddress) ? ` (${m.targetAddress})` : '');

/** Why a run has no hist/, said once per run: it is then compared on its totals. */
function totalsNotes(base: RunData, cand: RunData): string[] {
  const out: string[] = [];
  for (const [side, r] of [['base', base], ['candidate', cand]] as const) {
    if (r.hist) continue;
    // Locust whose /loadfleet/hist could not be pulled: its latencies are n/a (Locust's own include no-response
    // time), its counts Locust's CSV — compared on totals like any run without hist/, for its true cause.
    const pullFailed = (r.summary.warnings ?? []).some((w) => w.startsWith(HIST_PULL_FAILED));
    const why = r.summary.engine === 'ngrinder' ? NGRINDER_NO_HIST : pullFailed ? `no per-second histogram (${HIST_PULL_FAILED}, so its latencies were not measured): compared on totals — errors tested, p95 not` : `no per-second histogram (run ${r.summary.runId} was kept before loadfleet kept hist/ for ${r.summary.engine}): compared on totals, precision: the summary's figures; a change beyond a tolerance cannot be tested and is inconclusive`;
    out.push(`${side} run ${r.summary.runId}: ${why}`);
  }
  return out;
}

function fmt(x: unknown): string {
  if (x === null || x === undefined) return 'unknown';
  return typeof x === 'string' ? x : JSON.stringify(x);
}

/** The verdict on candidate against base. */
export function compareRuns(base: RunData, cand: RunData, tol: Tolerances = DEFAULT_TOLERANCES, noise: BetweenRunNoise | null = null): CompareResult {
  const notComparable = comparability(base, cand, tol);
  const notes = totalsNotes(base, cand);
  const noiseOf = (kind: 'p95' | 'rps', endpoint: string) => noise?.[kind].get(endpoint) ?? 0;
  const noiseS = (kind: 'p95' | 'rps', endpoint: string) => `within the between-run noise of ${noise!.runs} kept runs labelled ${noise!.label} (their ${kind} ${kind === 'p95' ? 'spread +' : 'drop -'}${(noiseOf(kind, endpoint) * 100).toFixed(1)}%)`;
  const names = [...new Set([...base.summary.endpoints.map((e) => e.name), ...cand.summary.endpoints.map((e) => e.name)])].sort();
  const rows: Row[] = [...names, 'Total'].map((endpoint) => ({ endpoint, base: figuresOf(base, endpoint), candidate: figuresOf(cand, endpoint) }));
  const reasons: string[] = [...notComparable];
  for (const r of rows) {
    if (!r.base) reasons.push(`endpoint ${r.endpoint} is only in the candidate`);
    if (!r.candidate) reasons.push(`endpoint ${r.endpoint} is only in the base`);
  }
  const both = rows.filter((r) => r.base && r.candidate);
  // Tests: p95 and rps per endpoint and total, errors per endpoint and total.
  const m = Math.max(1, both.length * 3);
  const level = tol.alpha / m;
  const checks: Check[] = [];
  const seriesOf = (r: RunData, endpoint: string) => (endpoint === 'Total' ? r.hist?.total : r.hist?.endpoints.get(endpoint)) ?? null;
  for (const row of both) {
    const name = row.endpoint;
    const bs = seriesOf(base, name);
    const cs = seriesOf(cand, name);
    const bf = row.base!;
    const cf = row.candidate!;
    // Which per-second values a test may use: seconds with requests (answered or not: a request without a
    // response is a request, and an error); for p95, seconds with latencies.
    const secs = (s: LogSeries | null) => (s ? s.count.filter((n) => n > 0).length : 0);
    const latSecs = (s: LogSeries | null) => (s ? s.latencies.filter((n) => n > 0).length : 0);
    const enough = (s: LogSeries | null, f: Figures, side: string): string | null => {
      // Without per-second histograms (nGrinder) only totals: enough requests, and no test of a p95 or rps change.
      if (!s) return f.requests < tol.minRequests ? `${name}: too few samples in the ${side} run (${f.requests} requests; the comparison needs ≥ ${tol.minRequests})` : null;
      const n = secs(s);
      if (n < tol.minSeconds || f.requests < tol.minRequests) return `${name}: too few samples in the ${side} run (${n} s with requests, ${f.requests} requests; the comparison needs ≥ ${tol.minSeconds} s and ≥ ${tol.minRequests} requests)`;
      return null;
    };
    const enoughLatencies = (s: LogSeries | null, side: string): string | null => {
      if (!s) return null;
      const n = latSecs(s);
      const answered = s.latencies.reduce((a, b) => a + b, 0);
      if (n < tol.minSeconds || answered < tol.minRequests) return `${name}: too few latencies in the ${side} run (${n} s with answered requests, ${answered} answered; the comparison needs ≥ ${tol.minSeconds} s and ≥ ${tol.minRequests})`;
      return null;
    };
    // Errors and rps: requests only. p95: requests with a latency too.
    const short = enough(bs, bf, 'base') ?? enough(cs, cf, 'candidate');
    const shortP95 = short ?? enoughLatencies(bs, 'base') ?? enoughLatencies(cs, 'candidate');
    const untestable = !bs || !cs ? `${name}: no per-second histogram in ${!bs && !cs ? 'either run' : !bs ? 'the base run' : 'the candidate run'} to test it (compared on totals)` : null;

    // p95
    {
      const tolS = `+${(tol.maxP95Increase * 100).toFixed(1)}%`;
      const b = bf.p95;
      const c = cf.p95;
      if (b === null && c === null && !bs && !cs) {
        // An engine without percentiles (nGrinder): not a check, a note.
        notes.push(`${name}: p95 not measured in either run (${base.summary.engine}): not compared`);
      } else if (b === null || c === null || b <= 0) {
        checks.push({ endpoint: name, figure: 'p95', base: b, candidate: c, change: null, tolerance: tolS, p: null, verdict: 'inconclusive', reason: `${name}: p95 not measured in both runs` });
      } else {
        const change = c / b - 1;
        if (shortP95) checks.push({ endpoint: name, figure: 'p95', base: b, candidate: c, change, tolerance: tolS, p: null, verdict: 'inconclusive', reason: shortP95 });
        else if (change <= tol.maxP95Increase) checks.push({ endpoint: name, figure: 'p95', base: b, candidate: c, change, tolerance: tolS, p: null, verdict: 'pass', reason: `${name}: p95 ${ms(b)} → ${ms(c)} (${pct(change)}), within ${tolS}` });
        else if (change <= noiseOf('p95', name)) checks.push({ endpoint: name, figure: 'p95', base: b, candidate: c, change, tolerance: tolS, p: null, verdict: 'inconclusive', reason: `${name}: p95 ${ms(b)} → ${ms(c)} (${pct(change)}) is beyond ${tolS} but ${noiseS('p95', name)}` });
        else if (untestable) checks.push({ endpoint: name, figure: 'p95', base: b, candidate: c, change, tolerance: tolS, p: null, verdict: 'inconclusive', reason: `${name}: p95 ${ms(b)} → ${ms(c)} (${pct(change)}) is beyond ${tolS}; ${untestable}` });
        else {
          // Seconds with requests, without the first and last (partial, and the first holds connection set-up).
          const inner = (z: LogSeries) => z.p95.filter((_, i) => z.latencies[i]! > 0).slice(1, -1);
          // The larger of the tolerance and the measured between-run noise is what the candidate must exceed.
          const x = inner(bs!).map((v) => v * (1 + Math.max(tol.maxP95Increase, noiseOf('p95', name))));
          const y = inner(cs!);
          const t = mannWhitneyGreater(x, y);
          const ok = t.p < level;
          checks.push({
            endpoint: name, figure: 'p95', base: b, candidate: c, change, tolerance: tolS, p: t.p, verdict: ok ? 'regression' : 'inconclusive',
            reason: ok
              ? `${name}: p95 ${ms(b)} → ${ms(c)} (${pct(change)}), beyond ${tolS}; supported by the per-second p95s (p=${pfmt(t.p)} < ${pfmt(level)}, ${t.nx}/${t.ny} s)`
              : `${name}: p95 ${ms(b)} → ${ms(c)} (${pct(change)}) is beyond ${tolS} but within the run-to-run noise (p=${pfmt(t.p)} ≥ ${pfmt(level)}, ${t.nx}/${t.ny} s)`,
          });
        }
      }
    }
    // rps (a drop is the regression)
    {
      const tolS = `-${(tol.maxRpsDrop * 100).toFixed(1)}%`;
      const b = bf.rps;
      const c = cf.rps;
      const change = b > 0 ? c / b - 1 : 0;
      if (b <= 0) checks.push({ endpoint: name, figure: 'rps', base: b, candidate: c, change: null, tolerance: tolS, p: null, verdict: 'inconclusive', reason: `${name}: no rps in the base run` });
      else if (change >= -tol.maxRpsDrop) checks.push({ endpoint: name, figure: 'rps', base: b, candidate: c, change, tolerance: tolS, p: null, verdict: 'pass', reason: `${name}: rps ${b} → ${c} (${pct(change)}), within ${tolS}` });
      else if (short) checks.push({ endpoint: name, figure: 'rps', base: b, candidate: c, change, tolerance: tolS, p: null, verdict: 'inconclusive', reason: short });
      else if (-change <= noiseOf('rps', name)) checks.push({ endpoint: name, figure: 'rps', base: b, candidate: c, change, tolerance: tolS, p: null, verdict: 'inconclusive', reason: `${name}: rps ${b} → ${c} (${pct(change)}) drops beyond ${tolS} but ${noiseS('rps', name)}` });
      else if (untestable) checks.push({ endpoint: name, figure: 'rps', base: b, candidate: c, change, tolerance: tolS, p: null, verdict: 'inconclusive', reason: `${name}: rps ${b} → ${c} (${pct(change)}) drops beyond ${tolS}; ${untestable}` });
      else {
        // Full seconds only: the first and last second of a run are partial.
        const inner = (s: LogSeries) => s.count.slice(1, -1);
        const x = inner(cs!);
        const y = inner(bs!).map((v) => v * (1 - Math.max(tol.maxRpsDrop, noiseOf('rps', name))));
        const t = mannWhitneyGreater(x, y);
        const ok = t.p < level;
        checks.push({
          endpoint: name, figure: 'rps', base: b, candidate: c, change, tolerance: tolS, p: t.p, verdict: ok ? 'regression' : 'inconclusive',
          reason: ok
            ? `${name}: rps ${b} → ${c} (${pct(change)}), a drop beyond ${tolS}; supported by the per-second counts (p=${pfmt(t.p)} < ${pfmt(level)}, ${t.nx}/${t.ny} s)`
            : `${name}: rps ${b} → ${c} (${pct(change)}) drops beyond ${tolS} but within the run-to-run noise (p=${pfmt(t.p)} ≥ ${pfmt(level)})`,
        });
      }
    }
    // error rate, percentage points
    {
      const tolS = `+${tol.maxErrorIncreasePp}pp`;
      const b = bf.requests ? (bf.failures / bf.requests) * 100 : 0;
      const c = cf.requests ? (cf.failures / cf.requests) * 100 : 0;
      const change = c - b;
      const shown = (x: number) => `${Math.round(x * 1000) / 1000}%`;
      if (change <= tol.maxErrorIncreasePp) checks.push({ endpoint: name, figure: 'errors', base: r3(b), candidate: r3(c), change: r3(change), tolerance: tolS, p: null, verdict: 'pass', reason: `${name}: errors ${shown(b)} → ${shown(c)}, within ${tolS}` });
      // Too few samples decide nothing, for the error rate as for p95 and rps (3 requests are no evidence).
      else if (short) checks.push({ endpoint: name, figure: 'errors', base: r3(b), candidate: r3(c), change: r3(change), tolerance: tolS, p: null, verdict: 'inconclusive', reason: short });
      else {
        const p = proportionGreater(bf.failures, bf.requests, cf.failures, cf.requests, tol.maxErrorIncreasePp / 100);
        const ok = p < level;
        checks.push({
          endpoint: name, figure: 'errors', base: r3(b), candidate: r3(c), change: r3(change), tolerance: tolS, p, verdict: ok ? 'regression' : 'inconclusive',
          reason: ok ? `${name}: errors ${shown(b)} → ${shown(c)} (+${r3(change)}pp), beyond ${tolS} (p=${pfmt(p)})` : `${name}: errors ${shown(b)} → ${shown(c)} is beyond ${tolS} but within the noise of ${bf.requests}/${cf.requests} requests (p=${pfmt(p)})`,
        });
      }
    }
  }
  const regressions = checks.filter((c) => c.verdict === 'regression');
  const unsure = checks.filter((c) => c.verdict === 'inconclusive');
  let verdict: Verdict;
  if (reasons.length) verdict = 'inconclusive';
  else if (regressions.length) verdict = 'regression';
  else if (unsure.length) verdict = 'inconclusive';
  else verdict = 'pass';
  if (verdict === 'regression') reasons.push(...regressions.map((c) => c.reason));
  else if (verdict === 'inconclusive') reasons.push(...[...new Set(unsure.map((c) => c.reason))]);
  return { verdict, exitCode: VERDICT_EXIT[verdict], reasons, base: refOf(base), candidate: refOf(cand), tolerances: tol, method: METHOD, rows, checks, notes, noise };
}
