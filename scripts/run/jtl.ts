/**
 * JMeter's raw results, read the way JMeter 5.6.3 writes them. Pure: callers hand in text.
 *
 * - The CSV JTL (`-l res.jtl`, jmeter.save.saveservice.output_format=csv, the default): a header line
 *   `timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,
 *   sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect` (print_field_names=true), then one row per
 *   sample. A field holding the delimiter, a quote, CR or LF is written in double quotes with inner quotes
 *   doubled (CSVSaveService.quoteDelimiters in apache/jmeter), so a label may hold commas and a
 *   responseMessage may span lines. timeStamp is epoch ms, the sample's START (bin/jmeter.properties ships
 *   sampleresult.timestamp.start=true); elapsed is whole milliseconds.
 * - Thread names in distributed mode: RemoteJMeterEngineImpl.rconfigure sets the property
 *   THREAD_GROUP_DISTRIBUTED_PREFIX to the host string the client used (`-R` entry, here "10.0.1.5:1099"),
 *   and ThreadGroup.makeThread names each thread `<prefix>-<group name> <group#>-<thread#>`, so the text
 *   before the first "-" says which server (agent) made the sample.
 * - The Summariser's lines (reporters/Summariser.java, format()): `summary +     46 in 00:00:05 =    9.2/s
 *   Avg:   109 Min:   101 Max:   122 Err:     0 (0.00%) Active: 5 Started: 5 Finished: 0` for the delta
 *   of an interval (Active/Started/Finished only on "+" lines) and `summary = …` for the running total.
 */
import { Merger } from './merge';

// ---- CSV records ----

/**
 * Splits one CSV record that may hold quoted fields. `complete` is false when the text ends inside a
 * quoted field (the record goes on on the next line).
 */
export function splitQuoted(text: string, delim = ','): { fields: string[]; complete: boolean } {
  const fields: string[] = [];
  let i = 0;
  const n = text.length;
  for (;;) {
    if (i < n && text[i] === '"') {
      let v = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return { fields, complete: false };
        v += text.slice(j, q);
        if (text[q + 1] === '"') {
          v += '"';
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      // Anything between the closing quote and the delimiter is kept (JMeter never writes any).
      const d = text.indexOf(delim, j);
      fields.push(d < 0 ? v + text.slice(j) : v + text.slice(j, d));
      if (d < 0) return { fields, complete: true };
      i = d + 1;
    } else {
      const d = text.indexOf(delim, i);
      if (d < 0) {
        fields.push(text.slice(i));
        return { fields, complete: true };
      }
      fields.push(text.slice(i, d));
      i = d + 1;
    }
  }
}

/**
 * Streams CSV text in chunks of any size into records. A line without a quote (nearly every JTL row) is
 * split directly; a line with one goes through splitQuoted and, when a quoted field holds a line break,
 * is joined with the following lines until the field closes.
 */
export class CsvRecords {
  private rest = '';
  private open: string | null = null;
  /** Records seen so far (the header included). */
  records = 0;

  constructor(private readonly onRecord: (fields: string[]) => void) {}

  push(chunk: string): void {
    const text = this.rest + chunk;
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      this.line(text.slice(start, nl));
      start = nl + 1;
    }
    this.rest = text.slice(start);
  }

  /**
   * The last line when the text did not end with a line break (dropped with dropPartial: a writer that
   * always ends its records with one was cut mid-line); a record left open in quotes is dropped.
   * Returns whether something was dropped.
   */
  end(opts: { dropPartial?: boolean } = {}): boolean {
    const partial = this.rest !== '' || this.open !== null;
    if (this.rest && !opts.dropPartial) this.line(this.rest);
    const dropped = opts.dropPartial ? partial : this.open !== null;
    this.rest = '';
    this.open = null;
    return dropped;
  }

  private line(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (this.open !== null) {
      const joined = `${this.open}\n${line}`;
      const r = splitQuoted(joined);
      if (!r.complete) {
        this.open = joined;
        return;
      }
      this.open = null;
      this.emit(r.fields);
      return;
    }
    if (line === '') return;
    if (!line.includes('"')) {
      this.emit(line.split(','));
      return;
    }
    const r = splitQuoted(line);
    if (!r.complete) {
      this.open = line;
      return;
    }
    this.emit(r.fields);
  }

  private emit(fields: string[]): void {
    this.records++;
    this.onRecord(fields);
  }
}

// ---- JTL rows → the merge ----

/** JMeter 5.6.3's default CSV columns, in order (used when a JTL was written without its header line). */
export const JTL_DEFAULT_COLUMNS = [
  'timeStamp', 'elapsed', 'label', 'responseCode', 'responseMessage', 'threadName', 'dataType', 'success', 'failureMessage',
  'bytes', 'sentBytes', 'grpThreads', 'allThreads', 'URL', 'Latency', 'IdleTime', 'Connect',
] as const;

const REQUIRED = ['timeStamp', 'elapsed', 'label', 'success'] as const;

/**
 * TransactionController.isFromTransactionController: a Transaction Controller's own sample (its children
 * are rows of their own) carries this responseMessage; the Summariser leaves it out, and so does the merge.
 */
export const TRANSACTION_PREFIX = 'Number of samples in transaction : ';

/** One agent as the client named it in `-R`: its jmeter-server's "host:port". */
export interface JtlAgent {
  readonly name: string;
  readonly remote: string;
}

/** Maps a distributed thread name (`10.0.1.5:1099-Thread Group 1-3`) to the agent whose server ran it. */
export function agentOfThread(threadName: string, agents: readonly JtlAgent[]): string | null {
  const dash = threadName.indexOf('-');
  if (dash <= 0) return null;
  const prefix = threadName.slice(0, dash);
  const exact = agents.find((a) => a.remote === prefix);
  if (exact) return exact.name;
  // A -R entry without a port makes a prefix without one.
  const host = (s: string) => s.replace(/:\d+$/, '');
  return agents.find((a) => host(a.remote) === host(prefix))?.name ?? null;
}

/** Error kinds kept apart in the summary; past this many distinct ones the rest count as "other". */
const MAX_ERROR_KINDS = 50;

/**
 * Folds a JTL into a Merger: every sample (row) is recorded with its label as the endpoint, its start
 * timestamp for the timeline, its elapsed ms as the latency and success=false as a failure. Tracks each
 * agent's first sample (its actual start), the span of the samples (for rates) and failure kinds.
 */
export class JtlMerge {
  readonly merger: Merger;
  private columns: Map<string, number> | null = null;
  private readonly csv: CsvRecords;
  /** agent name → epoch ms of its first sample. */
  readonly firstSampleMs = new Map<string, number>();
  readonly samplesByAgent = new Map<string, number>();
  /** Samples whose thread name names no known agent (counted in the totals all the same). */
  unmapped = 0;
  /** Transaction Controller summary rows left out (their children are counted). */
  transactions = 0;
  /** Rows that could not be read (a number missing): not counted. */
  bad = 0;
  firstMs = Infinity;
  lastEndMs = -Infinity;
  readonly errorKinds = new Map<string, number>();
  private readonly threadAgent = new Map<string, string | null>();

  constructor(private readonly agents: readonly JtlAgent[], bucketS = 1) {
    this.merger = new Merger(bucketS);
    this.csv = new CsvRecords((f) => this.record(f));
  }

  push(chunk: string): void {
    this.csv.push(chunk);
  }

  /** JMeter ends every row with a line break: a last line without one was cut (a killed client) and is not counted. */
  end(): void {
    if (this.csv.end({ dropPartial: true })) this.bad++;
  }

  get samples(): number {
    return this.merger.total.count;
  }

  /** Seconds from the first sample's start to the last sample's end (JMeter's dashboard throughput span). */
  spanS(): number {
    return Number.isFinite(this.firstMs) ? Math.max(0.001, (this.lastEndMs - this.firstMs) / 1000) : 0;
  }

  private record(f: string[]): void {
    if (!this.columns) {
      if (f[0] === 'timeStamp') {
        this.columns = new Map(f.map((name, i) => [name, i]));
        const missing = REQUIRED.filter((c) => !this.columns!.has(c));
        if (missing.length) {
          throw new Error(`the JTL has no ${missing.join(', ')} column (header: ${f.join(',').slice(0, 300)}); JMeter must save them (jmeter.save.saveservice.time/label/successful)`);
        }
        return;
      }
      // print_field_names=false: JMeter's default order.
      this.columns = new Map(JTL_DEFAULT_COLUMNS.map((name, i) => [name, i]));
    }
    const c = this.columns;
    const at = Number(f[c.get('timeStamp')!]);
    const elapsed = Number(f[c.get('elapsed')!]);
    if (!Number.isFinite(at) || !Number.isFinite(elapsed) || f[c.get('timeStamp')!] === '') {
      this.bad++;
      return;
    }
    const msgIdx = c.get('responseMessage');
    const message = msgIdx === undefined ? '' : (f[msgIdx] ?? '');
    if (message.startsWith(TRANSACTION_PREFIX)) {
      this.transactions++;
      return;
    }
    const label = f[c.get('label')!] ?? '';
    const failed = f[c.get('success')!] !== 'true';
    // No response at all: JMeter's HTTP samplers set the response code to "Non HTTP response code: <exception>"
    // (apache/jmeter rel/v5.6.3, HTTPSamplerBase.errorResult, NON_HTTP_RESPONSE_CODE). elapsed is then the time to
    // the error, not a response time: counted and failed, with no latency (issue 15).
    const codeIdx = c.get('responseCode');
    if (failed && codeIdx !== undefined && (f[codeIdx] ?? '').startsWith('Non HTTP response code')) this.merger.recordUnanswered(label, at);
    else this.merger.recordSample(label, at, elapsed, failed);
    if (at < this.firstMs) this.firstMs = at;
    if (at + elapsed > this.lastEndMs) this.lastEndMs = at + elapsed;
    const tIdx = c.get('threadName');
    const thread = tIdx === undefined ? '' : (f[tIdx] ?? '');
    let agent = this.threadAgent.get(thread);
    if (agent === undefined) {
      agent = agentOfThread(thread, this.agents);
      this.threadAgent.set(thread, agent);
    }
    if (agent === null) this.unmapped++;
    else {
      const first = this.firstSampleMs.get(agent);
      if (first === undefined || at < first) this.firstSampleMs.set(agent, at);
      this.samplesByAgent.set(agent, (this.samplesByAgent.get(agent) ?? 0) + 1);
    }
    if (failed) {
      const code = f[c.get('responseCode') ?? -1] ?? '';
      const why = (f[c.get('failureMessage') ?? -1] || message).replace(/\s+/g, ' ').trim().slice(0, 160);
      let kind = `${code} ${why}`.trim() || 'failed';
      if (!this.errorKinds.has(kind) && this.errorKinds.size >= MAX_ERROR_KINDS) kind = 'other';
      this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
    }
  }
}

// ---- the Summariser's lines (live progress) ----

export interface SummariserLine {
  readonly kind: '+' | '=';
  readonly count: number;
  readonly elapsedS: number;
  /** Samples per second over the line's interval (0 when JMeter printed ****** for an empty interval). */
  readonly rate: number;
  readonly avg: number;
  readonly min: number;
  readonly max: number;
  readonly errors: number;
  /** Thread counts: on "+" lines only. */
  readonly active?: number;
  readonly started?: number;
  readonly finished?: number;
}

const SUMMARY_RE =
  /(?:^|\s)(\S+) ([+=]) +(\d+) in (\d+):(\d{2}):(\d{2}) = +(\S+)\/s Avg: +(-?\d+) Min: +(-?\d+) Max: +(-?\d+) Err: +(\d+) \([^)]*\)(?: Active: (\d+) Started: (\d+) Finished: (\d+))?/;

/** One Summariser line (from stdout or jmeter.log), or null. `name` is summariser.name ("summary" by default). */
export function parseSummariserLine(line: string, name = 'summary'): SummariserLine | null {
  const m = SUMMARY_RE.exec(line);
  if (!m || m[1] !== name) return null;
  // DecimalFormat("#0.0") follows the JVM's locale: "9,2" where the decimal mark is a comma.
  const rate = Number(m[7]!.replace(',', '.'));
  return {
    kind: m[2] as '+' | '=',
    count: Number(m[3]),
    elapsedS: Number(m[4]) * 3600 + Number(m[5]) * 60 + Number(m[6]),
    rate: Number.isFinite(rate) ? rate : 0,
    avg: Number(m[8]),
    min: Number(m[9]),
    max: Number(m[10]),
    errors: Number(m[11]),
    ...(m[12] !== undefined ? { active: Number(m[12]), started: Number(m[13]), finished: Number(m[14]) } : {}),
  };
}

export interface SummariserState {
  readonly requests: number;
  readonly failures: number;
  /** The last "+" interval's rate. */
  readonly rps: number;
  readonly failPerS: number;
  /** Active threads over all servers at the last "+" line (the client counts remote threads, Bug 54152). */
  readonly active: number;
  readonly lines: number;
}

/**
 * The run so far from the Summariser's lines in order: each "=" is the running total (authoritative),
 * each "+" adds its interval to it (the first interval has no "=" line, and the totals are printed after
 * the deltas).
 */
export function summariserState(text: string, name = 'summary'): SummariserState {
  let requests = 0;
  let failures = 0;
  let last: SummariserLine | undefined;
  let lines = 0;
  for (const line of text.split('\n')) {
    const s = parseSummariserLine(line, name);
    if (!s) continue;
    lines++;
    if (s.kind === '=') {
      requests = s.count;
      failures = s.errors;
    } else {
      requests += s.count;
      failures += s.errors;
      last = s;
    }
  }
  const rps = last?.rate ?? 0;
  return { requests, failures, rps, failPerS: last && last.count > 0 ? Math.round((rps * last.errors * 1000) / last.count) / 1000 : 0, active: last?.active ?? 0, lines };
}
