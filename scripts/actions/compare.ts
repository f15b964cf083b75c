/**
 * `loadfleet runs` (the env's kept runs) and `loadfleet compare BASE CANDIDATE` (issue 17). Reads run folders
 * (summary.json, meta.json, hist/); the judgement is scripts/compare/verdict.ts. compare's exit code is its
 * verdict: 0 pass, 3 regression, 4 inconclusive.
 */
import { writeFileAtomic } from './keep-run';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { resolveEnv, type CommonOptions } from '../adapters/context';
import { UsageError, VerdictError } from '../core/errors';
import { readHlog, readSeries, type HistIndex, type LogSeries } from '../compare/hlog';
import { betweenRunNoise, compareRuns, DEFAULT_TOLERANCES, type BetweenRunNoise, type CompareResult, type RunData, type RunMeta, type Tolerances } from '../compare/verdict';
import { compareJunit, compareMarkdown, compareText } from '../compare/render';
import { compareHtml, CURVE_PERCENTILES, type PageData } from '../compare/html';
import type { RunSummary } from '../run/summary';

async function readJson<T>(file: string): Promise<T | null> {
  const text = await fs.readFile(file, 'utf8').catch(() => null);
  return text === null ? null : (JSON.parse(text) as T);
}

/** One kept run folder, with its per-second histograms when it has them. */
export async function loadRun(dir: string): Promise<RunData> {
  const summary = await readJson<RunSummary>(path.join(dir, 'summary.json'));
  if (!summary) throw new UsageError(`${dir} is not a run folder (no summary.json): give a run id, a --label, latest, or a run folder`);
  const meta = await readJson<RunMeta>(path.join(dir, 'meta.json'));
  const index = await readJson<HistIndex>(path.join(dir, 'hist', 'index.json'));
  let hist: RunData['hist'] = null;
  // series.json (written with the logs) when present and readable, else the .hlog files themselves.
  const cached = index ? await fs.readFile(path.join(dir, 'hist', 'series.json'), 'utf8').then(readSeries, () => null) : null;
  if (index && cached) hist = { index, total: cached.total, endpoints: cached.endpoints };
  else if (index) {
    const read = async (file: string) => readHlog(await fs.readFile(path.join(dir, 'hist', file), 'utf8'));
    const endpoints = new Map<string, LogSeries | null>();
    for (const e of index.endpoints) endpoints.set(e.name, await read(e.file));
    hist = { index, total: await read(index.total.file), endpoints };
  }
  return { dir, summary, meta, hist };
}

interface Listed {
  dir: string;
  summary: RunSummary;
  meta: RunMeta | null;
}

/** The env's kept runs, oldest first (run ids start with their UTC start time). */
export async function listRuns(runsDir: string): Promise<Listed[]> {
  const names = (await fs.readdir(runsDir).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
  const out: Listed[] = [];
  for (const name of names) {
    const dir = path.join(runsDir, name);
    const summary = await readJson<RunSummary>(path.join(dir, 'summary.json')).catch(() => null);
    if (!summary) continue;
    out.push({ dir, summary, meta: await readJson<RunMeta>(path.join(dir, 'meta.json')).catch(() => null) });
  }
  return out;
}

/** A run id, a label (its newest run), `latest`, or a run folder's path → the folder. */
export async function resolveRun(ref: string, runsDir: string | null, what: string, exclude?: string): Promise<string> {
  if (ref.includes('/') || ref.startsWith('.')) {
    const dir = path.resolve(ref);
    if (!(await fs.stat(path.join(dir, 'summary.json')).catch(() => null))) throw new UsageError(`${what} (${ref}) is not a run folder: it has no summary.json`);
    return dir;
  }
  if (!runsDir) throw new UsageError(`${what} (${ref}) is a run id or label: say which env with -c <fleet.yaml> or --env <name>, or give the run folder's path`);
  // run --baseline: the run being judged is never its own baseline (latest = the newest run before it).
  const runs = (await listRuns(runsDir)).filter((r) => r.dir !== exclude);
  if (ref === 'latest') {
    const last = runs.at(-1);
    if (!last) throw new UsageError(`${what} (latest): env has no kept runs in ${runsDir}`);
    return last.dir;
  }
  const byId = runs.find((r) => r.summary.runId === ref);
  if (byId) return byId.dir;
  const byLabel = runs.filter((r) => r.meta?.label === ref).at(-1);
  if (byLabel) return byLabel.dir;
  throw new UsageError(`${what} (${ref}) is neither a run id nor a label of a run in ${runsDir}: see "loadfleet runs"`);
}

const percent = (flag: string, v: string | undefined, dflt: number, unit: '%' | 'pp'): number => {
  if (v === undefined) return dflt;
  const m = new RegExp(`^(\\d+(?:\\.\\d+)?)(${unit})?$`).exec(v.trim());
  if (!m) throw new UsageError(`${flag} (${v}) must be a number with ${unit}, e.g. ${unit === '%' ? '10%' : '0.5pp'}`);
  return unit === '%' ? Number(m[1]) / 100 : Number(m[1]);
};

export interface CompareOptions extends CommonOptions {
  readonly json?: boolean;
  readonly junit?: string;
  readonly markdown?: string;
  readonly html?: string;
  readonly maxP95Increase?: string;
  readonly maxRpsDrop?: string;
  readonly maxErrorIncrease?: string;
  readonly alpha?: string;
  readonly maxStartSpread?: string;
  readonly minSeconds?: string;
  readonly minRequests?: string;
}

export function tolerancesOf(o: CompareOptions): Tolerances {
  const num = (flag: string, v: string | undefined, dflt: number, ok: (x: number) => boolean, what: string) => {
    if (v === undefined) return dflt;
    const x = Number(v);
    if (!Number.isFinite(x) || !ok(x)) throw new UsageError(`${flag} (${v}) must be ${what}`);
    return x;
  };
  return {
    maxP95Increase: percent('--max-p95-increase', o.maxP95Increase, DEFAULT_TOLERANCES.maxP95Increase, '%'),
    maxRpsDrop: percent('--max-rps-drop', o.maxRpsDrop, DEFAULT_TOLERANCES.maxRpsDrop, '%'),
    maxErrorIncreasePp: percent('--max-error-increase', o.maxErrorIncrease, DEFAULT_TOLERANCES.maxErrorIncreasePp, 'pp'),
    alpha: num('--alpha', o.alpha, DEFAULT_TOLERANCES.alpha, (x) => x > 0 && x < 0.5, 'a number between 0 and 0.5, e.g. 0.05'),
    maxStartSpreadMs: num('--max-start-spread', o.maxStartSpread?.replace(/ms$/, ''), DEFAULT_TOLERANCES.maxStartSpreadMs, (x) => x >= 0, 'milliseconds, e.g. 1000ms'),
    minSeconds: num('--min-seconds', o.minSeconds, DEFAULT_TOLERANCES.minSeconds, (x) => Number.isInteger(x) && x >= 3, 'a whole number ≥ 3'),
    minRequests: num('--min-requests', o.minRequests, DEFAULT_TOLERANCES.minRequests, (x) => Number.isInteger(x) && x >= 1, 'a whole number ≥ 1'),
  };
}

/** The env's runs folder when -c/--env is given, else null (run folders by path only). */
async function runsDirOf(opts: CommonOptions): Promise<string | null> {
  if (!opts.config && !opts.env) return null;
  const ctx = await resolveEnv(opts, false, false);
  return ctx.envDir.file('runs');
}

/** The page's data: percentile curves from the whole-run histograms, the total's per-second series. */
export function pageData(r: CompareResult, base: RunData, cand: RunData): PageData {
  const curve = (d: RunData, endpoint: string): [number, number][] => {
    const s = endpoint === 'Total' ? d.hist?.total : d.hist?.endpoints.get(endpoint);
    if (!s || s.whole.totalCount === 0) return [];
    return CURVE_PERCENTILES.map((p) => [p, (p === 0 ? s.whole.minNonZeroValue : s.whole.getValueAtPercentile(p)) / 1000]);
  };
  const secs = (d: RunData) => {
    const s = d.hist?.total;
    return s ? s.startS.map((t, i) => ({ t, rps: s.count[i]!, p95: s.p95[i]! })) : [];
  };
  const order = ['Total', ...r.rows.map((x) => x.endpoint).filter((e) => e !== 'Total')];
  return { result: r, curves: order.map((endpoint) => ({ endpoint, base: curve(base, endpoint), candidate: curve(cand, endpoint) })), perSecond: { base: secs(base), candidate: secs(cand) } };
}

/** Writes --junit / --markdown (and $GITHUB_STEP_SUMMARY) for a result. */
export async function writeCiOutputs(r: CompareResult, o: { junit?: string; markdown?: string }, thresholds: RunSummary['thresholds'], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (o.junit) await fs.writeFile(o.junit, compareJunit(r, thresholds));
  const mdText = compareMarkdown(r);
  if (o.markdown) await fs.writeFile(o.markdown, mdText);
  if (env.GITHUB_STEP_SUMMARY) await fs.appendFile(env.GITHUB_STEP_SUMMARY, mdText);
}

/**
 * The between-run noise of the base: its label's kept runs (in the base's own runs folder) of the same script,
 * engine and load, without the candidate. null when the base has no label or fewer than 2 such runs.
 */
export async function baseNoise(base: RunData, candDir: string): Promise<BetweenRunNoise | null> {
  const label = base.meta?.label;
  if (!label) return null;
  const same = (await listRuns(path.dirname(base.dir))).filter(
    (r) => r.meta?.label === label && r.dir !== candDir && r.meta.scriptSha256 === base.meta!.scriptSha256 && r.summary.engine === base.summary.engine && JSON.stringify(r.summary.load) === JSON.stringify(base.summary.load) && !r.summary.interrupted,
  );
  return betweenRunNoise(label, same.map((r) => r.summary));
}

export async function compareAction(baseRef: string, candRef: string, opts: CompareOptions): Promise<void> {
  const tol = tolerancesOf(opts);
  const runsDir = await runsDirOf(opts);
  const base = await loadRun(await resolveRun(baseRef, runsDir, 'BASE'));
  const cand = await loadRun(await resolveRun(candRef, runsDir, 'CANDIDATE'));
  const r = compareRuns(base, cand, tol, await baseNoise(base, cand.dir));
  await writeCiOutputs(r, opts, cand.summary.thresholds);
  // The page goes beside the candidate's results unless --html says where.
  const html = opts.html ?? path.join(cand.dir, `compare-${base.summary.runId}.html`);
  await fs.writeFile(html, compareHtml(pageData(r, base, cand)));
  process.stdout.write(opts.json ? `${JSON.stringify({ ...r, html }, null, 2)}\n` : `${compareText(r)}page: ${html}\n`);
  if (r.verdict !== 'pass') throw new VerdictError(r.verdict, `compare: ${r.verdict}: ${r.reasons.join('; ')}`);
}

export async function runsAction(opts: CommonOptions & { json?: boolean }): Promise<void> {
  const runsDir = await runsDirOf(opts);
  if (!runsDir) throw new UsageError('say which env: -c <fleet.yaml> or --env <name>');
  const runs = await listRuns(runsDir);
  const rows = runs.map(({ dir, summary: s, meta }) => ({
    runId: s.runId,
    label: meta?.label ?? null,
    startedAt: s.startedAt,
    engine: s.engine,
    script: s.script,
    load: s.load,
    requests: s.total.requests,
    rps: s.total.rps,
    p95: s.total.p95,
    errors: s.total.failures,
    thresholds: s.thresholds.length ? (s.thresholds.every((t) => t.ok) ? 'pass' : 'broken') : null,
    baseline: meta?.baseline?.verdict ?? null,
    interrupted: s.interrupted,
    generatorBound: s.generatorBound,
    dir,
  }));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  if (!rows.length) {
    process.stdout.write(`no kept runs in ${runsDir}\n`);
    return;
  }
  const lines = rows.map((r) => {
    const flags = [r.interrupted ? 'INTERRUPTED' : '', r.generatorBound ? 'GENERATOR-BOUND' : '', r.thresholds ? `thresholds ${r.thresholds}` : '', r.baseline ? `baseline ${r.baseline}` : ''].filter(Boolean).join(', ');
    return `${r.runId}  ${(r.label ?? '-').padEnd(12)} ${r.startedAt}  ${r.engine.padEnd(9)} ${path.basename(r.script)}  ${r.load.users} users ${r.load.durationS}s  ${r.requests} req  ${r.rps} rps  p95 ${r.p95 ?? 'n/a'} ms  ${r.errors} errors${flags ? `  [${flags}]` : ''}`;
  });
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * run --baseline REF: the run just kept (runDir) judged against REF, checked before any host is touched
 * (resolveRun) and judged once the run is kept. Writes compare.json into the run folder and the verdict into its
 * meta.json; prints the comparison on stderr (stdout is the run's own output).
 */
export async function judgeBaseline(runDir: string, runsDir: string, ref: string, opts: CompareOptions & { say: (s: string) => void }): Promise<CompareResult> {
  const baseDir = await resolveRun(ref, runsDir, '--baseline', runDir);
  const base = await loadRun(baseDir);
  const cand = await loadRun(runDir);
  const r = compareRuns(base, cand, tolerancesOf(opts), await baseNoise(base, cand.dir));
  // Atomic: a crash or a full disk mid-write never leaves a half meta.json the next compare cannot read, and a
  // symlink placed in the run folder is replaced, not written through.
  await writeFileAtomic(path.join(runDir, 'compare.json'), `${JSON.stringify(r, null, 2)}\n`);
  if (cand.meta) await writeFileAtomic(path.join(runDir, 'meta.json'), `${JSON.stringify({ ...cand.meta, baseline: { ref, runId: base.summary.runId, verdict: r.verdict, reasons: r.reasons } }, null, 2)}\n`);
  await writeCiOutputs(r, opts, cand.summary.thresholds);
  await fs.writeFile(path.join(runDir, 'compare.html'), compareHtml(pageData(r, base, cand)));
  opts.say(`${compareText(r)}page: ${path.join(runDir, 'compare.html')}\n`);
  return r;
}
