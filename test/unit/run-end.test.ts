/**
 * How `run` ends once the load may have been released (scripts/actions/run.ts): a driver whose collect throws
 * still leaves a summary, a stop that failed is recorded per host and makes the run exit 1, and the order in
 * which these decide the exit code. Pure: no host, no process.
 */
import { describe, expect, it } from 'vitest';
import { collectGuarded, emptyStats, runEndError, stopFailureHosts } from '../../scripts/actions/run';
import { ExternalError, exitCodeFor } from '../../scripts/core/errors';
import type { Collected } from '../../scripts/drivers/types';
import { buildSummary } from '../../scripts/run/summary';
import { resolveLoad } from '../../scripts/run/load';

const base = { runId: 'r1', runDir: '/w/runs/r1', summary: { collectionFailures: [], thresholds: [] }, failure: undefined, stopFailures: [], collectError: undefined, samplerFailures: [], interrupted: false, released: true };
const T0 = Date.UTC(2026, 10, 25, 17, 0, 0);

describe('collectGuarded: a collect that throws still gives run a summary', () => {
  it('GIVEN a driver whose collect throws WHEN guarded THEN empty stats, every generator marked with the error, and the error kept', async () => {
    const boom = new TypeError("Cannot read properties of undefined (reading 'tests')");
    const got = await collectGuarded({ collect: async () => { throw boom; } }, ['agent-1', 'agent-2'], ['/raw', T0, T0 + 5000, new Map([['agent-1', T0 + 10]])]);
    expect(got.error).toBe(boom);
    expect(got.collected.stats.total).toMatchObject({ requests: 0, failures: 0, p95: null, mean: null });
    expect(got.collected.generators).toEqual([
      { name: 'agent-1', startedAtMs: T0 + 10, rawFile: null, collectionError: "collecting the results failed: Cannot read properties of undefined (reading 'tests')" },
      { name: 'agent-2', startedAtMs: null, rawFile: null, collectionError: "collecting the results failed: Cannot read properties of undefined (reading 'tests')" },
    ]);
    // The summary builds from it, listing every generator as a collection failure.
    const s = buildSummary({ runId: 'r1', env: 'e', engine: 'ngrinder', script: '/w/t.groovy', startedAtMs: T0, endedAtMs: T0 + 5000, plan: resolveLoad({ users: 2, durationS: 5 }), stats: got.collected.stats, generators: got.collected.generators, interrupted: false, saturation: [], network: [], thresholds: [], merge: got.collected.merge });
    expect(s.collectionFailures.map((f) => f.host)).toEqual(['agent-1', 'agent-2']);
    expect(s.stopFailures).toEqual([]);
  });

  it('passes a collect that works through unchanged', async () => {
    const c: Collected = { stats: emptyStats(), merge: 'm', generators: [{ name: 'agent-1', startedAtMs: T0, rawFile: 'raw/x' }] };
    expect(await collectGuarded({ collect: async () => c }, ['agent-1'], ['/raw', T0, T0, new Map()])).toEqual({ collected: c });
  });
});

describe('runEndError: the exit once the summary is written', () => {
  it('a collect that threw an ExternalError exits 1; a bug exits 70 — both after the summary', () => {
    const ext = runEndError({ ...base, collectError: new ExternalError('nGrinder on controller: HTTP 0') })!;
    expect(exitCodeFor(ext)).toBe(1);
    expect(ext.message).toBe('run r1: collecting the results failed: nGrinder on controller: HTTP 0; the summary without statistics is in /w/runs/r1');
    expect(exitCodeFor(runEndError({ ...base, collectError: new TypeError('x is undefined') }))).toBe(70);
  });

  it('fails with exit 1 naming the host when stop failed: a generator there may still be sending', () => {
    const e = runEndError({ ...base, stopFailures: [{ host: 'agent-2', error: 'ssh: connect to host 10.0.1.22 port 22: No route to host' }] })!;
    expect(exitCodeFor(e)).toBe(1);
    expect(e.message).toBe('run r1: stopping the load failed on agent-2 (a generator there may still be sending: check it, or run "loadfleet doctor"): ssh: connect to host 10.0.1.22 port 22: No route to host; what was measured is in /w/runs/r1');
  });

  it('the watch failure keeps its own kind and names a stop failure too', () => {
    const e = runEndError({ ...base, failure: new ExternalError('master gone'), stopFailures: [{ host: 'controller', error: 'no answer' }] })!;
    expect(exitCodeFor(e)).toBe(1);
    expect(e.message).toContain('run r1 failed: master gone; stopping the load failed on controller');
  });

  it('an interrupt before the release says nothing was sent (exit 1); after it, partial results', () => {
    expect(runEndError({ ...base, interrupted: true, released: false })!.message).toBe('run r1 was interrupted before the load was released: nothing was sent (/w/runs/r1)');
    expect(exitCodeFor(runEndError({ ...base, interrupted: true, released: false }))).toBe(1);
    expect(runEndError({ ...base, interrupted: true })!.message).toContain('partial results');
    expect(runEndError(base)).toBeUndefined();
  });
});

describe('stopFailureHosts', () => {
  const hosts = ['controller', 'agent-1', 'agent-10'];
  it('names the hosts the error names (whole names only)', () => {
    expect(stopFailureHosts('the nGrinder controller on controller did not stop test 7', hosts, ['agent-1', 'agent-10'])).toEqual(['controller']);
    expect(stopFailureHosts('stopping the k6 run on agent-10: exit 255', hosts, ['agent-1', 'agent-10'])).toEqual(['agent-10']);
  });
  it('names every generator when the error names no host: any of them may still be sending', () => {
    expect(stopFailureHosts('socket hang up', hosts, ['agent-1', 'agent-10'])).toEqual(['agent-1', 'agent-10']);
  });
});
