/**
 * Synthetic kept runs for compare's tests and bench: per-second latencies drawn from a log-normal (the usual
 * shape of response times), written through the same hist/ writer run uses and read back with compare's reader.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { histFiles, readSeries, type SecondCounts } from '../../scripts/compare/hlog';
import type { RunData, RunMeta } from '../../scripts/compare/verdict';
import { mulberry32 } from '../../scripts/compare/stats';
import type { RunSummary } from '../../scripts/run/summary';

export interface SynthSpec {
  readonly seed: number;
  readonly seconds: number;
  /** Requests per second per endpoint. */
  readonly rps: number;
  readonly endpoints?: number;
  /** Median latency ms, per endpoint index (default 20 ms). */
  readonly medianMs?: (endpoint: number) => number;
  /** Multiplies every latency (1.10 = a 10 % shift of every percentile, p95 included). */
  readonly scale?: number;
  readonly sigma?: number;
  readonly runId?: string;
  readonly summary?: Partial<RunSummary>;
  readonly meta?: Partial<RunMeta>;
}

const START_MS = 1_700_000_000_000;

export function synthRun(spec: SynthSpec): RunData {
  return synthRunFiles(spec).run;
}

/** The run and its hist/ files (name → text), to write a run folder. */
export function synthRunFiles(spec: SynthSpec): { run: RunData; files: Map<string, string> } {
  const rnd = mulberry32(spec.seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const n = spec.endpoints ?? 1;
  const eps = new Map<string, Map<number, SecondCounts>>();
  const sigma = spec.sigma ?? 0.5;
  for (let e = 0; e < n; e++) {
    const name = `GET /e${e}`;
    const secs = new Map<number, SecondCounts>();
    const med = (spec.medianMs?.(e) ?? 20) * (spec.scale ?? 1);
    for (let s = 0; s < spec.seconds; s++) {
      const us = new Map<number, number>();
      for (let i = 0; i < spec.rps; i++) {
        const v = Math.round(med * Math.exp(sigma * gauss()) * 1000);
        us.set(v, (us.get(v) ?? 0) + 1);
      }
      secs.set(START_MS / 1000 + s, { count: spec.rps, failures: 0, us });
    }
    eps.set(name, secs);
  }
  return fromSparse(spec, eps);
}

export function fromSparse(spec: Pick<SynthSpec, 'runId' | 'summary' | 'meta' | 'seconds'>, eps: Map<string, Map<number, SecondCounts>>): { run: RunData; files: Map<string, string> } {
  const { files, index } = histFiles(START_MS, eps, 'synthetic');
  // As compare reads a kept run: series.json (per second its requests, answered or not), the .hlog files' cache.
  const series = readSeries(files.get('series.json')!)!;
  const total = series.total;
  const endpoints = new Map(index.endpoints.map((e) => [e.name, series.endpoints.get(e.name)!]));
  const row = (name: string, requests: number, failures: number) => ({ name, requests, failures, rps: Math.round((requests / spec.seconds) * 1000) / 1000, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 });
  const summary = {
    runId: spec.runId ?? 'synthetic',
    env: 'synth',
    engine: 'locust',
    script: 'locustfile.py',
    startedAt: new Date(START_MS).toISOString(),
    endedAt: new Date(START_MS + spec.seconds * 1000).toISOString(),
    durationS: spec.seconds,
    load: { users: 10, rate: 10, durationS: 60, stages: [] },
    total: row('Total', index.total.requests, index.total.failures),
    endpoints: index.endpoints.map((e) => row(e.name, e.requests, e.failures)),
    timeline: [],
    errors: {},
    generators: [{ name: 'agent-1', startedAt: null, startOffsetMs: 0, rawFile: null }],
    startSpreadMs: 0,
    interrupted: false,
    generatorBound: false,
    boundBy: [],
    saturation: [],
    network: [],
    thresholds: [],
    collectionFailures: [],
    stopFailures: [],
    merge: 'synthetic',
    rpsWindow: { from: '', to: '', seconds: spec.seconds, basis: 'synthetic' },
    ...spec.summary,
  } as unknown as RunSummary;
  const meta: RunMeta = { format: 'loadfleet-run-meta/1', label: null, scriptSha256: 'a'.repeat(64), engineVersion: null, agents: { count: 1, instanceType: 'c5.large' }, controllerType: 'c5.large', target: 'http://10.0.0.5:8080', hostKind: 'netns', ...spec.meta };
  files.set('index.json', JSON.stringify(index));
  return { run: { dir: `/synthetic/${summary.runId}`, summary, meta, hist: { index, total, endpoints } }, files };
}

/** A kept run folder as run writes it: summary.json, meta.json, hist/. */
export function writeSynthRun(dir: string, spec: SynthSpec): RunData {
  const { run, files } = synthRunFiles(spec);
  fs.mkdirSync(path.join(dir, 'hist'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(run.summary));
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(run.meta));
  for (const [name, text] of files) fs.writeFileSync(path.join(dir, 'hist', name), text);
  return { ...run, dir };
}
