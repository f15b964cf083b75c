/**
 * What a run leaves behind: summary.json (this model), stats.csv and report.html. Pure: builds the
 * documents, the action writes them into .loadfleet/<env>/runs/<run-id>/.
 */
import type { EndpointStats, MergedStats, TimelinePoint } from './merge';
import type { LoadPlan } from './load';
import type { HostSaturation, NetworkFlag } from './saturation';
import type { ThresholdResult } from './thresholds';
import { topErrors } from './host-check';

export interface GeneratorRecord {
  readonly name: string;
  /** ISO time the generator actually started (its own report, or the master's). */
  readonly startedAt: string | null;
  /** ms after the earliest generator's start. */
  readonly startOffsetMs: number | null;
  /** Raw results pulled from this host (null when there were none to pull or collection failed). */
  readonly rawFile: string | null;
  readonly collectionError?: string;
}

export interface RunSummary {
  readonly runId: string;
  readonly env: string;
  readonly engine: string;
  readonly script: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly durationS: number;
  /** staged: the stages are the user's (--stages), not derived from --users/--rate (LoadPlan.staged). */
  readonly load: { readonly users: number; readonly rate: number; readonly durationS: number; readonly stages: LoadPlan['stages']; readonly staged?: boolean };
  readonly total: EndpointStats;
  readonly endpoints: readonly EndpointStats[];
  readonly timeline: readonly TimelinePoint[];
  readonly errors: Readonly<Record<string, number>>;
  readonly generators: readonly GeneratorRecord[];
  /** max − min of the generators' start times, ms (null when fewer than one start is known). */
  readonly startSpreadMs: number | null;
  readonly interrupted: boolean;
  /** false: the run ended (interrupted) before the load was released — nothing was sent, nothing collected. */
  readonly released: boolean;
  /**
   * The abort-form threshold (`errors<5%:abort`) that stopped the run on the live figures: its expression, the
   * seconds after the release it was lost at, and what it measured then. Absent when no threshold stopped it.
   */
  readonly abortedBy?: { readonly expr: string; readonly atS: number; readonly measured: number; readonly unit: string };
  readonly generatorBound: boolean;
  /** Hosts (and why) that made the result generator-bound. */
  readonly boundBy: readonly string[];
  readonly saturation: readonly HostSaturation[];
  readonly network: readonly NetworkFlag[];
  /** Hosts whose network allowance counters could not be read where they should be (EC2), and why (issue 16.10). */
  readonly networkGaps?: readonly { readonly host: string; readonly reason: string }[];
  readonly thresholds: readonly ThresholdResult[];
  readonly collectionFailures: readonly { readonly host: string; readonly error: string }[];
  /** Hosts the load could not be stopped on (the driver's stop() failed): a generator there may still be sending. */
  readonly stopFailures: readonly { readonly host: string; readonly error: string }[];
  /** How the percentiles were merged and how exact they are. */
  readonly merge: string;
  /** What to know before trusting these figures (e.g. Locust's per-second histograms could not be pulled). Absent = none. */
  readonly warnings?: readonly string[];
  /**
   * What every rps figure (total.rps, endpoints[].rps) divides by: the span the load was really sent over
   * (per engine: see basis), not durationS (the wall time from the release to the stop, ramp-down included).
   */
  readonly rpsWindow: { readonly from: string; readonly to: string; readonly seconds: number; readonly basis: string };
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

/** The rps of every endpoint and of the total, recomputed as requests ÷ seconds (0 when seconds ≤ 0). */
export function rpsOver(stats: MergedStats, seconds: number): MergedStats {
  const rps = (n: number) => (seconds > 0 ? r3(n / seconds) : 0);
  return { ...stats, total: { ...stats.total, rps: rps(stats.total.requests) }, endpoints: stats.endpoints.map((e) => ({ ...e, rps: rps(e.requests) })) };
}

/** The send window a driver reported, or the release → stop wall time when it gave none (said in basis). */
export function rpsWindowOf(window: { fromMs: number; toMs: number; basis: string } | undefined, startedAtMs: number, endedAtMs: number): { fromMs: number; toMs: number; seconds: number; basis: string } {
  const w = window && window.toMs > window.fromMs ? window : { fromMs: startedAtMs, toMs: endedAtMs, basis: 'wall time from the release to the stop (the engine reported no send window)' };
  return { ...w, seconds: (w.toMs - w.fromMs) / 1000 };
}

/** ms between the earliest and the latest start, with each generator's offset from the earliest. */
export function startSpread(starts: readonly (number | null)[]): { spreadMs: number | null; offsets: (number | null)[] } {
  const known = starts.filter((s): s is number => s !== null);
  if (known.length === 0) return { spreadMs: null, offsets: starts.map(() => null) };
  const min = Math.min(...known);
  return { spreadMs: Math.max(...known) - min, offsets: starts.map((s) => (s === null ? null : s - min)) };
}

export function buildSummary(p: {
  runId: string;
  env: string;
  engine: string;
  script: string;
  startedAtMs: number;
  endedAtMs: number;
  plan: LoadPlan;
  stats: MergedStats;
  generators: readonly { name: string; startedAtMs: number | null; rawFile: string | null; collectionError?: string }[];
  interrupted: boolean;
  abortedBy?: RunSummary['abortedBy'];
  /** The load was released (default true). */
  released?: boolean;
  saturation: readonly HostSaturation[];
  network: readonly NetworkFlag[];
  networkGaps?: readonly { host: string; reason: string }[];
  thresholds: readonly ThresholdResult[];
  merge: string;
  /** The span rps divides by (rpsWindowOf); stats' rps must already be over it (rpsOver). Default: release → stop. */
  rpsWindow?: { fromMs: number; toMs: number; seconds: number; basis: string };
  /** Failures of hosts that are not generators (the controller), listed in collectionFailures after the generators'. */
  hostFailures?: readonly { host: string; error: string }[];
  /** Hosts whose load could not be stopped (run exits 1 naming them). */
  stopFailures?: readonly { host: string; error: string }[];
  /** The driver's warnings about its figures (Collected.warnings). */
  warnings?: readonly string[];
}): RunSummary {
  const w = p.rpsWindow ?? rpsWindowOf(undefined, p.startedAtMs, p.endedAtMs);
  const { spreadMs, offsets } = startSpread(p.generators.map((g) => g.startedAtMs));
  const boundBy = [
    ...p.saturation.filter((s) => s.bound).map((s) => `${s.host}: ${s.reason}`),
    ...p.network.map((n) => `${n.host}: ${n.counter} +${n.increase}`),
  ];
  return {
    runId: p.runId,
    env: p.env,
    engine: p.engine,
    script: p.script,
    startedAt: new Date(p.startedAtMs).toISOString(),
    endedAt: new Date(p.endedAtMs).toISOString(),
    durationS: Math.round(p.endedAtMs - p.startedAtMs) / 1000,
    load: { users: p.plan.users, rate: p.plan.rate, durationS: p.plan.durationS, stages: p.plan.stages, staged: p.plan.staged },
    total: p.stats.total,
    endpoints: p.stats.endpoints,
    timeline: p.stats.timeline,
    errors: p.stats.errors,
    generators: p.generators.map((g, i) => ({
      name: g.name,
      startedAt: g.startedAtMs === null ? null : new Date(g.startedAtMs).toISOString(),
      startOffsetMs: offsets[i] ?? null,
      rawFile: g.rawFile,
      ...(g.collectionError ? { collectionError: g.collectionError } : {}),
    })),
    startSpreadMs: spreadMs,
    interrupted: p.interrupted,
    released: p.released ?? true,
    ...(p.abortedBy ? { abortedBy: p.abortedBy } : {}),
    generatorBound: boundBy.length > 0,
    boundBy,
    saturation: p.saturation,
    network: p.network,
    networkGaps: [...(p.networkGaps ?? [])],
    thresholds: p.thresholds,
    collectionFailures: [...p.generators.filter((g) => g.collectionError).map((g) => ({ host: g.name, error: g.collectionError! })), ...(p.hostFailures ?? [])],
    stopFailures: [...(p.stopFailures ?? [])],
    merge: p.merge,
    ...(p.warnings?.length ? { warnings: [...p.warnings] } : {}),
    rpsWindow: { from: new Date(w.fromMs).toISOString(), to: new Date(w.toMs).toISOString(), seconds: r3(w.seconds), basis: w.basis },
  };
}

const STAT_COLUMNS = ['name', 'requests', 'failures', 'rps', 'min', 'mean', 'p50', 'p90', 'p95', 'p99', 'max'] as const;

/**
 * A figure the engine did not give — null: not measured (nGrinder's percentiles) or not collected (a partial
 * summary's p95) — is shown as n/a and is an empty CSV field, never 0.
 */
const shown = (x: number | null) => (x !== null && Number.isFinite(x) ? String(x) : 'n/a');

function csvField(v: string | number | null): string {
  if (v === null || (typeof v === 'number' && !Number.isFinite(v))) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per endpoint and a last "Total" row; latencies in ms. */
export function statsCsv(s: Pick<RunSummary, 'endpoints' | 'total'>): string {
  const rows = [...s.endpoints, s.total].map((e) => STAT_COLUMNS.map((c) => csvField(e[c])).join(','));
  return `${STAT_COLUMNS.map((c) => (c === 'name' ? c : ['requests', 'failures', 'rps'].includes(c) ? c : `${c}_ms`)).join(',')}\n${rows.join('\n')}\n`;
}

/** The progress line printed each tick; a latency nothing measured yet is "n/a", never "0 ms". */
export function liveLine(t: { users: number; rps: number; requests: number; failures: number; p95: number | null; mean?: number | null }, elapsedS: number, durationS: number): string {
  const ms = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : `${x} ms`);
  const latency = t.p95 === null && t.mean !== undefined ? `mean ${ms(t.mean)}` : `p95 ${ms(t.p95)}`;
  return `[${String(Math.round(elapsedS)).padStart(4)}s/${durationS}s] users ${t.users}  rps ${t.rps}  requests ${t.requests}  errors ${t.failures}  ${latency}\n`;
}

/** The few lines printed at the end of a run. */
export function summaryText(s: RunSummary, dir: string): string {
  const t = s.total;
  const lines = [
    `run ${s.runId} on ${s.env} (${s.engine}, ${s.generators.length} generator${s.generators.length === 1 ? '' : 's'})${s.interrupted ? ' — INTERRUPTED' : ''}${s.abortedBy ? ` — ABORTED by threshold '${s.abortedBy.expr}' at ${s.abortedBy.atS} s (${s.abortedBy.measured}${s.abortedBy.unit} on the live figures)` : ''}`,
    ...(s.released === false
      ? [`  nothing was sent: the run was interrupted before the load was released (run took ${s.durationS} s)`]
      : [`  requests ${t.requests}, failures ${t.failures}, ${t.rps} req/s over the ${s.rpsWindow.seconds} s load was sent (run took ${s.durationS} s)`]),
    // A mean without a distribution is an engine that keeps only a mean (nGrinder); nothing at all is n/a everywhere.
    s.released === false ? '' : t.p50 === null && t.p95 === null && t.p99 === null && t.mean !== null
      ? `  latency ms: mean ${shown(t.mean)} (${s.engine} measures no percentiles)`
      : `  latency ms: p50 ${shown(t.p50)}  p90 ${shown(t.p90)}  p95 ${shown(t.p95)}  p99 ${shown(t.p99)}  max ${shown(t.max)}`,
    ...(s.startSpreadMs !== null ? [`  start spread across generators: ${s.startSpreadMs} ms`] : []),
    ...s.endpoints.map((e) => `  ${e.name}: ${e.requests} req, ${e.failures} failed, ${e.p95 === null && e.mean !== null ? `mean ${shown(e.mean)}` : `p95 ${shown(e.p95)}`} ms`),
    // The top 5 error messages with their counts (issue 22): a failing run says why.
    ...(Object.keys(s.errors ?? {}).length ? ['  top errors:', ...topErrors(s.errors, 5).map(([m, c]) => `    ${String(c).padStart(7)} × ${m}`)] : []),
    ...(s.generatorBound ? [`  GENERATOR-BOUND (the load asked for was not the load made): ${s.boundBy.join('; ')}`] : []),
    ...s.collectionFailures.map((c) => `  collection FAILED on ${c.host}: ${c.error}`),
    ...(s.stopFailures ?? []).map((c) => `  stop FAILED on ${c.host} (it may still be sending): ${c.error}`),
    ...(s.warnings ?? []).map((w) => `  warning: ${w}`),
    `  results: ${dir} (report.html, summary.json, stats.csv)`,
  ];
  return `${lines.filter((l) => l !== '').join('\n')}\n`;
}
