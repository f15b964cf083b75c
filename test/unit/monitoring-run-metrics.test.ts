import { describe, expect, it } from 'vitest';
import { renderRunMetrics, runMetricsPath, runMetricsWriteCommand, runMetricsWriteScript, type RunSnapshot } from '../../scripts/monitoring/run-metrics';

const SNAP: RunSnapshot = {
  runId: '20261125-141500-ab12', engine: 'locust', startedAtMs: 1_764_080_100_000, endedAtMs: null,
  users: 50, requests: 12345, failures: 7, currentRps: 410.5, currentFailuresPerSecond: 0.25, percentilesMs: { p50: 12, p95: 48, p99: 130 },
};

function samples(text: string): Map<string, string> {
  return new Map(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.lastIndexOf(' ')), l.slice(l.lastIndexOf(' ') + 1)]));
}

describe('run metrics (textfile)', () => {
  it('publishes an active run: users, cumulative counts, current rates and percentiles in seconds', () => {
    const s = samples(renderRunMetrics(SNAP));
    const l = 'run_id="20261125-141500-ab12",engine="locust"';
    expect(s.get(`loadfleet_run_active{${l}}`)).toBe('1');
    expect(s.get(`loadfleet_run_start_time_seconds{${l}}`)).toBe('1764080100');
    expect(s.has(`loadfleet_run_end_time_seconds{${l}}`)).toBe(false);
    expect(s.get(`loadfleet_run_users{${l}}`)).toBe('50');
    expect(s.get(`loadfleet_run_requests_total{${l}}`)).toBe('12345');
    expect(s.get(`loadfleet_run_failures_total{${l}}`)).toBe('7');
    expect(s.get(`loadfleet_run_requests_per_second{${l}}`)).toBe('410.5');
    expect(s.get(`loadfleet_run_response_time_seconds{${l},quantile="0.99"}`)).toBe('0.13');
    expect(s.get(`loadfleet_run_response_time_seconds{${l},quantile="0.5"}`)).toBe('0.012');
  });

  it('marks an ended run inactive with its end time and no users', () => {
    const s = samples(renderRunMetrics({ ...SNAP, endedAtMs: SNAP.startedAtMs + 60_000 }));
    const l = 'run_id="20261125-141500-ab12",engine="locust"';
    expect(s.get(`loadfleet_run_active{${l}}`)).toBe('0');
    expect(s.get(`loadfleet_run_end_time_seconds{${l}}`)).toBe('1764080160');
    expect(s.get(`loadfleet_run_users{${l}}`)).toBe('0');
  });

  it('declares every metric once with HELP and TYPE (the textfile collector rejects duplicates)', () => {
    const text = renderRunMetrics(SNAP);
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);
    expect(types).toContain('# TYPE loadfleet_run_requests_total counter');
  });

  it('fails on a bad run id, a negative count or an end before the start', () => {
    expect(() => renderRunMetrics({ ...SNAP, runId: 'a"b' })).toThrow(/runId/);
    expect(() => renderRunMetrics({ ...SNAP, requests: -1 })).toThrow(/requests \(-1\)/);
    expect(() => renderRunMetrics({ ...SNAP, currentRps: Number.NaN })).toThrow(/currentRps/);
    expect(() => renderRunMetrics({ ...SNAP, endedAtMs: 1 })).toThrow(/before startedAtMs/);
  });

  it('writes atomically into the controller\'s textfile directory', () => {
    expect(runMetricsPath('netns')).toBe('/run/loadfleet/textfile/loadfleet_run.prom');
    expect(runMetricsPath('ec2')).toBe('/var/lib/loadfleet/textfile/loadfleet_run.prom');
    expect(runMetricsWriteCommand('ec2')).toMatch(/cat > .*loadfleet_run\.prom\.tmp.* && mv /);
  });

  it('carries the text in a quoted here-document for sh -s, then renames it into place', () => {
    const text = renderRunMetrics(SNAP);
    const script = runMetricsWriteScript('netns', text);
    expect(script).toContain(`<<'LOADFLEET_RUN_METRICS'\n${text}LOADFLEET_RUN_METRICS\nmv '/run/loadfleet/textfile/loadfleet_run.prom.tmp' '/run/loadfleet/textfile/loadfleet_run.prom'`);
  });
});
