/**
 * JMeter's raw results as JMeter 5.6.3 writes them (scripts/run/jtl.ts cites the source): the CSV JTL with
 * JMeter's quoting (CSVSaveService.quoteDelimiters), distributed thread names (RemoteJMeterEngineImpl +
 * ThreadGroup.makeThread) and the Summariser's lines (Summariser.format). The fixtures follow those
 * formats; none was written by a real JMeter (it cannot run on this machine).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { agentOfThread, CsvRecords, JtlMerge, parseSummariserLine, splitQuoted, summariserState, type JtlAgent } from '../../scripts/run/jtl';
import { finish } from '../../scripts/run/merge';

const FIXTURES = path.join(__dirname, 'fixtures', 'jmeter');
const AGENTS: JtlAgent[] = [
  { name: 'agent-1', remote: '10.0.1.21:1099' },
  { name: 'agent-2', remote: '10.0.1.22:1099' },
];
const HEADER = 'timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect';

/** CSVSaveService.quoteDelimiters: quote a field holding the delimiter, a quote, CR or LF; double inner quotes. */
const q = (s: string) => (/[,"\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
function row(at: number, elapsed: number, label: string, thread: string, ok = true, message = 'OK'): string {
  return [at, elapsed, q(label), ok ? 200 : 503, q(message), q(thread), 'text', ok, ok ? '' : q('Test failed: code, expected 200'), 615, 118, 4, 8, 'http://10.0.2.10:8080/', elapsed, 0, 1].join(',');
}

/** Exact nearest-rank percentile over the raw values. */
function nearestRank(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

describe('CSV records in JMeter quoting', () => {
  it('splits plain and quoted fields, with commas and doubled quotes inside', () => {
    expect(splitQuoted('a,"b, c",d')).toEqual({ fields: ['a', 'b, c', 'd'], complete: true });
    expect(splitQuoted('"say ""hi""",x,')).toEqual({ fields: ['say "hi"', 'x', ''], complete: true });
    expect(splitQuoted('1,"open\n').complete).toBe(false);
  });

  it('joins a quoted field across line breaks and reads CRLF, whatever the chunking', () => {
    const text = 'h1,h2\r\n1,"two\nlines, ""quoted"""\r\n3,4\n5,"x"';
    const whole: string[][] = [];
    const w = new CsvRecords((f) => whole.push(f));
    w.push(text);
    w.end();
    expect(whole).toEqual([['h1', 'h2'], ['1', 'two\nlines, "quoted"'], ['3', '4'], ['5', 'x']]);
    // One character at a time: the same records.
    const bytewise: string[][] = [];
    const b = new CsvRecords((f) => bytewise.push(f));
    for (const ch of text) b.push(ch);
    b.end();
    expect(bytewise).toEqual(whole);
  });
});

describe('thread name → agent', () => {
  it('maps the distributed prefix (the -R entry) back to the agent', () => {
    expect(agentOfThread('10.0.1.21:1099-Thread Group 1-3', AGENTS)).toBe('agent-1');
    expect(agentOfThread('10.0.1.22:1099-Group-with-dashes 2-10', AGENTS)).toBe('agent-2');
  });

  it('maps a prefix without the port (a -R entry given without one) by host', () => {
    expect(agentOfThread('10.0.1.22-Thread Group 1-1', AGENTS)).toBe('agent-2');
  });

  it('gives null for a local (non-distributed) thread or an unknown server', () => {
    expect(agentOfThread('Thread Group 1-1', AGENTS)).toBeNull();
    expect(agentOfThread('10.9.9.9:1099-Thread Group 1-1', AGENTS)).toBeNull();
    expect(agentOfThread('', AGENTS)).toBeNull();
  });
});

describe('JtlMerge over the fixture JTL', () => {
  it('counts samples per label, failures, error kinds, each agent\'s first sample and leaves Transaction Controller rows out', () => {
    const jm = new JtlMerge(AGENTS);
    jm.push(fs.readFileSync(path.join(FIXTURES, 'res.jtl'), 'utf8'));
    jm.end();
    const st = finish(jm.merger, jm.spanS());
    expect(st.total.requests).toBe(5);
    expect(st.total.failures).toBe(2);
    expect(st.endpoints.map((e) => [e.name, e.requests, e.failures])).toEqual([
      ['GET /, home', 3, 0],
      ['GET /slow', 1, 1],
      ['POST /api/items', 1, 1],
    ]);
    expect(jm.transactions).toBe(1);
    expect(jm.firstSampleMs.get('agent-1')).toBe(1764090000000);
    expect(jm.firstSampleMs.get('agent-2')).toBe(1764090000004);
    expect(jm.samplesByAgent.get('agent-2')).toBe(3);
    // Span: first start to the last end (1764090000030 + 2001).
    expect(jm.spanS()).toBeCloseTo(2.031, 3);
    expect([...jm.errorKinds.keys()].sort()).toEqual([
      '500 Test failed: code expected to contain /201/, got "500"',
      'Non HTTP response code: java.net.SocketTimeoutException Non HTTP response message: Read timed out at the socket',
    ]);
    // GET /slow's only sample timed out (Non HTTP response code): counted and failed, but its 2001 ms are the
    // time to the error, not a response time — no latency (issue 15).
    expect(st.endpoints.find((e) => e.name === 'GET /slow')!.max).toBeNull();
    expect(st.total.max).toBeLessThan(2001);
  });

  it('reads a JTL written without its header line in JMeter\'s default column order', () => {
    const jm = new JtlMerge(AGENTS);
    // A group name with a comma makes JMeter quote the thread name: it still maps to its agent.
    jm.push(`${row(1000, 5, 'a', '10.0.1.21:1099-TG 1-1')}\n${row(1001, 7, 'a', '10.0.1.22:1099-TG, checkout 1-1', false)}\n`);
    jm.end();
    expect(jm.samples).toBe(2);
    expect(jm.merger.total.failures).toBe(1);
    expect(jm.samplesByAgent.get('agent-2')).toBe(1);
  });

  it('does not count a last row cut by a killed client (no line break at its end)', () => {
    const jm = new JtlMerge(AGENTS);
    jm.push(`${HEADER}\n${row(1000, 5, 'a', '10.0.1.21:1099-TG 1-1')}\n1764090000999,1`);
    jm.end();
    expect(jm.samples).toBe(1);
    expect(jm.bad).toBe(1);
  });

  it('fails when the header lacks a column the merge needs', () => {
    const jm = new JtlMerge(AGENTS);
    expect(() => jm.push('timeStamp,label,success\n')).toThrow(/no elapsed column/);
  });

  it('merged p95 is the p95 of all samples of both agents, not the mean of their p95s', () => {
    // GIVEN agent-1 answers in 10–19 ms; agent-2 mostly in 20 ms, one sample in ten in 1 s.
    const lines = [HEADER];
    const all: number[] = [];
    const a1: number[] = [];
    const a2: number[] = [];
    const t0 = 1_764_090_000_000;
    for (let i = 0; i < 1000; i++) {
      const x = 10 + (i % 10);
      a1.push(x);
      lines.push(row(t0 + i * 10, x, 'GET /, home', `10.0.1.21:1099-Thread Group 1-${(i % 4) + 1}`));
      const y = i % 10 === 0 ? 1000 : 20;
      a2.push(y);
      lines.push(row(t0 + 250 + i * 10, y, 'GET /api, "v2"', `10.0.1.22:1099-Thread Group 1-${(i % 4) + 1}`));
    }
    all.push(...a1, ...a2);
    // WHEN the JTL is merged, fed in odd-sized chunks.
    const jm = new JtlMerge(AGENTS);
    const text = `${lines.join('\n')}\n`;
    for (let i = 0; i < text.length; i += 4093) jm.push(text.slice(i, i + 4093));
    jm.end();
    const st = finish(jm.merger, jm.spanS());
    // THEN the total p95 is the exact p95 over the union (within HdrHistogram's 0.1 %) …
    const exact = nearestRank(all, 95);
    expect(exact).toBe(20);
    expect(Math.abs(st.total.p95! - exact) / exact).toBeLessThan(0.001);
    expect(Math.abs(st.total.p99! - nearestRank(all, 99)) / nearestRank(all, 99)).toBeLessThan(0.001);
    // … and far from the average of the per-agent p95s (19 and 1000 → 509.5).
    const meanOfP95s = (nearestRank(a1, 95) + nearestRank(a2, 95)) / 2;
    expect(meanOfP95s).toBe(509.5);
    expect(Math.abs(st.total.p95! - meanOfP95s)).toBeGreaterThan(400);
    expect(st.total.requests).toBe(2000);
    expect(st.endpoints.map((e) => e.name)).toEqual(['GET /, home', 'GET /api, "v2"']);
    expect(jm.firstSampleMs.get('agent-2')! - jm.firstSampleMs.get('agent-1')!).toBe(250);
  });
});

describe('Summariser lines', () => {
  it('reads a delta line with thread counts', () => {
    expect(parseSummariserLine('summary +     46 in 00:00:05 =    9.2/s Avg:   109 Min:   101 Max:   122 Err:     0 (0.00%) Active: 5 Started: 5 Finished: 0')).toEqual({
      kind: '+', count: 46, elapsedS: 5, rate: 9.2, avg: 109, min: 101, max: 122, errors: 0, active: 5, started: 5, finished: 0,
    });
  });

  it('reads a total line (no thread counts), an empty interval\'s ****** rate and a comma decimal mark', () => {
    const t = parseSummariserLine('summary =   1234 in 01:02:03 =    0,3/s Avg:    88 Min:     2 Max:  2001 Err:    12 (0.97%)')!;
    expect(t).toMatchObject({ kind: '=', count: 1234, elapsedS: 3723, rate: 0.3, errors: 12 });
    expect(t.active).toBeUndefined();
    expect(parseSummariserLine('summary +      0 in 00:00:00 = ******/s Avg:     0 Min: 9223372036854775807 Max: -9223372036854775808 Err:     0 (0.00%) Active: 0 Started: 0 Finished: 0')!.rate).toBe(0);
  });

  it('ignores other summarisers and other lines', () => {
    expect(parseSummariserLine('other +  1 in 00:00:01 =  1.0/s Avg: 1 Min: 1 Max: 1 Err: 0 (0.00%) Active: 1 Started: 1 Finished: 0')).toBeNull();
    expect(parseSummariserLine('Tidying up remote @ November 25, 2026 (1764090000000)')).toBeNull();
  });

  it('keeps the running total: "=" is authoritative, later "+" lines add to it', () => {
    const text = [
      'Remote engines have been started:{10.0.1.21:1099=…}',
      'summary +     50 in 00:00:05 =   10.0/s Avg:   100 Min:    90 Max:   120 Err:     1 (2.00%) Active: 4 Started: 4 Finished: 0',
      'summary +     60 in 00:00:06 =   10.0/s Avg:   100 Min:    90 Max:   120 Err:     0 (0.00%) Active: 8 Started: 8 Finished: 0',
      'summary =    110 in 00:00:11 =   10.0/s Avg:   100 Min:    90 Max:   120 Err:     1 (0.91%)',
      'summary +     40 in 00:00:05 =    8.0/s Avg:   100 Min:    90 Max:   120 Err:     4 (10.00%) Active: 8 Started: 8 Finished: 0',
    ].join('\n');
    expect(summariserState(text)).toEqual({ requests: 150, failures: 5, rps: 8, failPerS: 0.8, active: 8, lines: 4 });
    expect(summariserState('')).toMatchObject({ requests: 0, active: 0, lines: 0 });
  });
});
