/** Issue 19: what doctor, tune and progress print does not grow with the fleet when nothing fails. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatDoctorReport, type Row } from '../../scripts/core/doctor';
import { formatReport, type HostTuning } from '../../scripts/actions/tune';
import type { HostResult } from '../../scripts/core/fanout';
import { PROGRESS_INTERVAL_MS, throttled } from '../../scripts/core/timing';
import { runSteps } from '../../scripts/adapters/progress';

const HOSTS = 1_000;
const doctorRows = (failing: (host: string, check: string) => boolean): Row[] =>
  Array.from({ length: HOSTS }, (_, i) => `agent-${i + 1}`).flatMap((host) =>
    ['engine version', 'service locust-worker@1', 'reach master', 'clock', 'free disk'].map((check) => ({ host, check, ok: !failing(host, check), detail: failing(host, check) ? 'not running' : 'fine' })),
  );
const tuned = (short: (host: string) => boolean, failed: (host: string) => boolean = () => false): HostResult<HostTuning>[] =>
  Array.from({ length: HOSTS }, (_, i) => `agent-${i + 1}`).map((host) =>
    failed(host)
      ? { host, address: '10.0.0.1', ok: false, error: 'cannot connect', attempts: 6, ms: 1 }
      : {
          host,
          address: '10.0.0.1',
          ok: true,
          attempts: 1,
          ms: 1,
          value: { changed: [], rows: ['nofile soft', 'nofile hard', 'sysctl net.core.somaxconn'].map((setting) => ({ setting, requested: '16384', effective: short(host) && setting === 'nofile hard' ? '1024' : '16384', ok: !(short(host) && setting === 'nofile hard'), reason: 'capped' })) },
        },
  );

describe('doctor report at 1,000 hosts', () => {
  it('GIVEN every check passing WHEN reported THEN one summary line, not a row per check', () => {
    const out = formatDoctorReport(doctorRows(() => false), HOSTS, { verbose: false });
    expect(out.split('\n')).toEqual([`5000/5000 checks ok on ${HOSTS} hosts (--verbose or --json lists every check)`]);
  });
  it('GIVEN 2 failing checks WHEN reported THEN one line per failing check (with its header) and the summary', () => {
    const out = formatDoctorReport(doctorRows((h, c) => (h === 'agent-7' || h === 'agent-900') && c === 'service locust-worker@1'), HOSTS, { verbose: false });
    const lines = out.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^HOST\s+CHECK\s+RESULT\s+DETAIL$/);
    expect(lines[1]).toMatch(/^agent-7\s+service locust-worker@1\s+FAIL\s+not running$/);
    expect(lines[2]).toMatch(/^agent-900\s+service locust-worker@1\s+FAIL\s+not running$/);
    expect(lines[3]).toBe(`4998/5000 checks ok on ${HOSTS} hosts (passing checks not listed: --verbose or --json lists every check)`);
  });
  it('GIVEN --verbose WHEN reported THEN every check is a row', () => {
    const out = formatDoctorReport(doctorRows(() => false), HOSTS, { verbose: true });
    expect(out.split('\n')).toHaveLength(1 + 5000 + 1);
    expect(out).toMatch(/^agent-1000\s+free disk\s+ok\s+fine$/m);
  });
});

describe('tune report at 1,000 hosts', () => {
  it('GIVEN every setting as requested WHEN reported THEN only the summary line', () => {
    expect(formatReport(tuned(() => false), { verbose: false }).split('\n')).toEqual([`${HOSTS}/${HOSTS} hosts reached; 0 changed, ${HOSTS} already as requested; 3000 settings ok (--verbose or --json lists every setting)`]);
  });
  it('GIVEN one host short and one unreachable WHEN reported THEN exactly their lines, then the summary', () => {
    const lines = formatReport(tuned((h) => h === 'agent-3', (h) => h === 'agent-4'), { verbose: false }).split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^agent-3\s+nofile hard\s+16384\s+1024\s+SHORT: capped$/);
    expect(lines[2]).toMatch(/^agent-4\s+-\s+-\s+-\s+FAILED: cannot connect$/);
    expect(lines[3]).toMatch(/^999\/1000 hosts reached/);
  });
  it('GIVEN --verbose WHEN reported THEN every setting of every host', () => {
    expect(formatReport(tuned(() => false), { verbose: true }).split('\n')).toHaveLength(1 + 3000 + 1);
  });
});

describe('progress without a terminal', () => {
  afterEach(() => vi.restoreAllMocks());
  it('throttled: the first text at once, then at most one per interval, and the newest held back on flush', () => {
    let now = 0;
    const seen: string[] = [];
    const t = throttled((s) => seen.push(s), 5_000, () => now);
    for (let i = 1; i <= 1_000; i++) {
      now = i * 10; // 1,000 hosts done in 10 s
      t.report(`${i} done`);
    }
    t.flush();
    expect(seen).toEqual(['1 done', '501 done', '1000 done']);
  });
  it('GIVEN 1,000 host updates within a second on a non-terminal WHEN run THEN a few lines, the last count among them', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      return true;
    }) as typeof process.stdout.write);
    await runSteps([{ title: 'Tune 1000 hosts', run: async (report) => { for (let i = 1; i <= 1_000; i++) report(`${i} done, 0 failed of 1000`); } }], { quiet: false, tty: false });
    vi.restoreAllMocks();
    const progress = lines.filter((l) => /done, 0 failed of 1000/.test(l));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.length).toBeLessThanOrEqual(2);
    expect(progress.at(-1)).toMatch(/1000 done, 0 failed of 1000/);
    expect(PROGRESS_INTERVAL_MS).toBeGreaterThanOrEqual(2_000);
  });
});
