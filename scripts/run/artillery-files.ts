/**
 * What loadfleet's Artillery plugin (scripts/run/artillery-plugin) leaves per worker, read back: the small
 * counters + endpoints document, the live document, and the append-only per-second lines. Pure: the driver
 * hands in the text it read over SSH.
 *
 * The live view reads only what is new: each tick asks every buckets file from the byte offset it reached
 * (LiveBuckets.offsets), so a tick's cost does not grow with the run's length.
 */
import { Cell, Merger, type GeneratorHdr } from './merge';
import { PerSecond } from './per-second';

type EncodedCell = { count: number; failures: number; hist: string };

/** Counters every plugin document carries (Artillery's own definitions, kept by the plugin). */
export interface PluginCounters {
  readonly firstRequestAtMs: number | null;
  readonly lastResponseAtMs: number | null;
  /** Artillery's http.requests: requests sent. */
  readonly sent: number;
  /** Artillery's http.responses. */
  readonly responses: number;
  /** Artillery's errors.<code>. */
  readonly errors: Readonly<Record<string, number>>;
  /** The most virtual users running at once since the worker's previous flush (about a second). */
  readonly vusers: number;
  /** The last second whose bucket line is written (every earlier one is too). */
  readonly completeThroughS: number | null;
  /** The worker stopped on loadfleet's stop file (its counters are final). */
  readonly stopped: boolean;
}

export type PluginHdr = PluginCounters & { readonly generator: string; readonly endpoints: Readonly<Record<string, EncodedCell>> };
export type PluginLive = PluginCounters & { readonly generator: string; readonly total: EncodedCell };

/**
 * One bucket line of buckets-<id>.ndjson: the second's total, and (`e`) its counts per endpoint —
 * name → [requests, failures, {µs: count}] — for the per-second histograms compare reads (hist/).
 */
type BucketLine = EncodedCell & { t: number; e?: Record<string, [number, number, Record<string, number>]> };

/** The worker's per-second bucket lines, parsed; a line cut by a KILL mid-write is skipped (the seconds before it are whole). */
function* bucketLinesOf(bucketLines: string): Generator<BucketLine> {
  for (const line of bucketLines.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      yield JSON.parse(line) as BucketLine;
    } catch {
      continue;
    }
  }
}

/** A worker's bucket lines → its per-second counts per endpoint (lines cut by a KILL are skipped, as in generatorDoc). */
export function perSecondOfLines(bucketLines: string, into: PerSecond = new PerSecond()): PerSecond {
  for (const b of bucketLinesOf(bucketLines)) {
    for (const [name, [n, f, us]] of Object.entries(b.e ?? {})) into.addCell(name, b.t, n, f, Object.entries(us).map(([k, v]) => [Number(k), v] as [number, number]));
  }
  return into;
}

/** A worker's files → the merge format: requests = sent; sent − responses = failed without a response. */
export function generatorDoc(h: PluginHdr, bucketLines: string): GeneratorHdr {
  const buckets: Record<string, EncodedCell> = {};
  for (const b of bucketLinesOf(bucketLines)) {
    // One line per second by construction; a second seen twice (it cannot, but) is added, not replaced.
    const prev = buckets[String(b.t)];
    if (prev) {
      const m = new Merger();
      m.addGenerator({ format: 'loadfleet-hdr/1', generator: h.generator, unit: 'us', bucketS: 1, endpoints: {}, buckets: { [b.t]: prev } });
      m.addGenerator({ format: 'loadfleet-hdr/1', generator: h.generator, unit: 'us', bucketS: 1, endpoints: {}, buckets: { [b.t]: b } });
      buckets[String(b.t)] = m.toHdr(h.generator).buckets[String(b.t)]!;
    } else buckets[String(b.t)] = { count: b.count, failures: b.failures, hist: b.hist };
  }
  return {
    format: 'loadfleet-hdr/1',
    generator: h.generator,
    unit: 'us',
    bucketS: 1,
    firstRequestAtMs: h.firstRequestAtMs,
    endpoints: h.endpoints,
    buckets,
    ...(Object.keys(h.errors).length ? { errors: h.errors } : {}),
    noResponse: Math.max(0, h.sent - h.responses),
  };
}

/** Per-second response counts from the buckets files, read from where the last tick stopped. */
export class LiveBuckets {
  /** file → bytes consumed (only whole lines). */
  readonly offsets = new Map<string, number>();
  private readonly perSecond = new Map<number, { count: number; failures: number }>();
  private lastReportedS = -Infinity;
  private last = { rps: 0, failPerS: 0 };

  /** One file's new bytes (from its offset); a half-written last line is left for the next tick. */
  add(file: string, chunk: string): void {
    let consumed = 0;
    for (const line of chunk.split('\n')) {
      const end = consumed + line.length + 1;
      if (end > chunk.length) break; // no newline after it yet
      if (line.startsWith('{')) {
        const b = JSON.parse(line) as BucketLine;
        const c = this.perSecond.get(b.t) ?? { count: 0, failures: 0 };
        this.perSecond.set(b.t, { count: c.count + b.count, failures: c.failures + b.failures });
      }
      consumed = end;
    }
    this.offsets.set(file, (this.offsets.get(file) ?? 0) + consumed);
  }

  /**
   * Responses in the latest second every running worker has written (completeThroughS): a true count per
   * second, not a difference of totals taken at flushes that do not line up with the ticks.
   */
  perSecondFigures(workers: readonly PluginCounters[]): { rps: number; failPerS: number } {
    const running = workers.filter((w) => !w.stopped && w.completeThroughS !== null);
    if (running.length === 0) return this.last;
    const s = Math.min(...running.map((w) => w.completeThroughS!));
    if (s > this.lastReportedS) {
      this.lastReportedS = s;
      const c = this.perSecond.get(s) ?? { count: 0, failures: 0 };
      this.last = { rps: c.count, failPerS: c.failures };
      for (const k of this.perSecond.keys()) if (k < s - 5) this.perSecond.delete(k);
    }
    return this.last;
  }
}

/** The live figures of every worker: totals of the counters, percentiles of the merged total histograms. */
export function liveTotals(docs: readonly PluginLive[]): { requests: number; failures: number; users: number; total: Cell } {
  const m = new Merger();
  let requests = 0;
  let failures = 0;
  let users = 0;
  for (const d of docs) {
    m.addGenerator({ format: 'loadfleet-hdr/1', generator: d.generator, unit: 'us', bucketS: 1, endpoints: { Total: d.total }, buckets: {} });
    requests += d.sent;
    // Failed responses, plus requests that ended in a network error (Node's E… codes: ECONNREFUSED, ETIMEDOUT);
    // a failed capture had its response, and a request still in flight has not failed yet.
    failures += d.total.failures + Object.entries(d.errors).filter(([k]) => /^E[A-Z_]+$/.test(k)).reduce((a, [, n]) => a + n, 0);
    users += d.vusers;
  }
  return { requests, failures, users, total: m.total };
}

/** The collect command's output (see the Artillery driver): per worker `H <id>`, its document, `B`, its bucket lines, `E`. */
export function parseCollected(stdout: string): { id: string; doc: GeneratorHdr; perSecond: PerSecond }[] {
  const out: { id: string; doc: GeneratorHdr; perSecond: PerSecond }[] = [];
  const re = /^H (\S+)\n(\{.*\})\nB\n([\s\S]*?)^E$/gm;
  for (let m = re.exec(stdout); m; m = re.exec(stdout)) out.push({ id: m[1]!, doc: generatorDoc(JSON.parse(m[2]!) as PluginHdr, m[3]!), perSecond: perSecondOfLines(m[3]!) });
  return out;
}

/** The tick command's output: `L <live json>` lines, then per buckets file `B <file> <offset>`, its new bytes, `E`. */
export function parseTick(stdout: string, buckets: LiveBuckets): PluginLive[] {
  const live = stdout.split('\n').filter((l) => l.startsWith('L {')).map((l) => JSON.parse(l.slice(2)) as PluginLive);
  const re = /^B (\S+) (\d+)\n([\s\S]*?)\nE$/gm;
  for (let m = re.exec(stdout); m; m = re.exec(stdout)) {
    // Only if the offset asked is still ours (a tick that failed half-way is simply read again).
    if ((buckets.offsets.get(m[1]!) ?? 0) === Number(m[2])) buckets.add(m[1]!, m[3]!);
  }
  return live;
}
