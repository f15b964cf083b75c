/** Issue 22 item 9: load only to the fleet's targets unless asked; a run where nothing succeeded fails and says why. */
import { describe, expect, it } from 'vitest';
import { externalHostProblem, multiRegionHostProblem, topErrors } from '../../scripts/run/host-check';
import { runEndError } from '../../scripts/actions/run';
import { exitCodeFor } from '../../scripts/core/errors';
import type { FleetOutputs } from '../../scripts/core/env-record';

const outputs: Pick<FleetOutputs, 'env' | 'hosts'> = {
  env: 'demo',
  hosts: [
    { role: 'agent', group: 'agent', name: 'agent-1', id: 'a', publicIp: '10.231.0.11', privateIp: '10.231.0.11' },
    { role: 'target', group: 'app', name: 'app-1', id: 't', publicIp: '54.1.2.3', privateIp: '10.231.0.13' },
  ],
} as Pick<FleetOutputs, 'env' | 'hosts'>;
const base = { runId: 'r1', runDir: '/w/runs/r1', failure: undefined, stopFailures: [], collectError: undefined, samplerFailures: [], interrupted: false, released: true };
const stats = (requests: number, failures: number) => ({ requests, failures }) as never;

describe('--host outside the fleet (issue 22)', () => {
  it('accepts a target host by private or public address', () => {
    expect(externalHostProblem('http://10.231.0.13:8080', outputs)).toBeUndefined();
    expect(externalHostProblem('https://54.1.2.3/', outputs)).toBeUndefined();
  });
  it('fails when --host is not a target (an agent, a typo, a public name), naming the targets and the flag', () => {
    expect(externalHostProblem('http://example.invalid:8080', outputs)).toBe('--host (http://example.invalid:8080) is not a target host of env demo (its targets: app-1 10.231.0.13): pass --allow-external-host to load a server outside the fleet (one you may load), or leave --host out to use the first target');
    expect(externalHostProblem('http://10.231.0.11:8080', outputs)).toMatch(/is not a target host of env demo/);
  });
});

describe('run on agents in several regions without --host (issue 18 review, item 8)', () => {
  const spread = {
    env: 'demo',
    hosts: [
      { role: 'agent', group: 'agent', name: 'agent-1', id: 'a1', publicIp: '3.1.1.1', privateIp: '10.231.0.11', region: 'us-east-1' },
      { role: 'agent', group: 'agent', name: 'agent-2', id: 'a2', publicIp: '34.2.2.2', privateIp: '10.231.0.11', region: 'eu-west-1' },
      { role: 'target', group: 'app', name: 'app-1', id: 't', publicIp: '54.1.2.3', privateIp: '10.231.0.13', region: 'us-east-1' },
    ],
  } as Pick<FleetOutputs, 'env' | 'hosts'>;
  it('refuses the default (private) target address, naming the regions and the --host to pass, as a usage error (exit 2)', () => {
    const problem = multiRegionHostProblem(spread, 8080);
    expect(problem).toBe("env demo has agents in several regions (us-east-1, eu-west-1): the default --host, the target's private address, does not route from the other regions' VPCs. Pass --host with an address every agent can reach, e.g. --host http://54.1.2.3:8080 (app-1's public address, which its security group opens to every agent's public address)");
  });
  it('leaves a one-region fleet alone', () => {
    expect(multiRegionHostProblem(outputs, 8080)).toBeUndefined();
    expect(multiRegionHostProblem({ ...spread, hosts: spread.hosts.filter((h) => h.name !== 'agent-2') }, 8080)).toBeUndefined();
  });
});

describe('a run in which no request succeeded (issue 22)', () => {
  it('fails with exit 1 naming the top errors, even with no threshold', () => {
    const errors = { 'ConnectionError: Name or service not known': 800, 'HTTP 503': 8, a: 1, b: 1, c: 1, d: 1 };
    const e = runEndError({ ...base, summary: { collectionFailures: [], thresholds: [], total: stats(808, 808), errors } })!;
    expect(exitCodeFor(e)).toBe(1);
    expect(e.message).toBe('run r1: none of the 808 requests succeeded; top errors: ConnectionError: Name or service not known ×800; HTTP 503 ×8; a ×1; b ×1; c ×1; the results are in /w/runs/r1');
  });
  it('fails with exit 3 when a threshold the user set broke, still naming the top errors', () => {
    const thresholds = [{ expr: 'p95<500ms', ok: false, measured: null, missing: 'no latency measured', endpoint: 'Total', metric: 'p95', unit: 'ms' }] as unknown as Parameters<typeof runEndError>[0]['summary']['thresholds'];
    const e = runEndError({ ...base, summary: { collectionFailures: [], thresholds, total: stats(60, 60), errors: { ECONNREFUSED: 60 } } })!;
    expect(exitCodeFor(e)).toBe(3);
    expect(e.message).toMatch(/no latency measured.*; none of the 60 requests succeeded; top errors: ECONNREFUSED ×60$/);
  });
  it('fails with exit 1 when a released run sent no request at all', () => {
    const e = runEndError({ ...base, summary: { collectionFailures: [], thresholds: [], total: stats(0, 0), errors: {} } })!;
    expect(exitCodeFor(e)).toBe(1);
    expect(e.message).toMatch(/^run r1: no request was sent \(does the script reach its first request\?/);
  });
  it('passes a run with one success among failures (thresholds decide that)', () => {
    expect(runEndError({ ...base, summary: { collectionFailures: [], thresholds: [], total: stats(808, 807), errors: {} } })).toBeUndefined();
  });
  it('topErrors: most frequent first, ties by message, at most n', () => {
    expect(topErrors({ x: 2, b: 5, a: 2 }, 2)).toEqual([['b', 5], ['a', 2]]);
  });
});

describe('the summary prints the top 5 error messages with counts (issue 22)', () => {
  it('lists five, most frequent first, and not the sixth', async () => {
    const { buildSummary, summaryText } = await import('../../scripts/run/summary');
    const { resolveLoad } = await import('../../scripts/run/load');
    const e = { name: 'Total', requests: 30, failures: 21, rps: 3, min: 1, mean: 3, p50: 2, p90: 5, p95: 7, p99: 9, max: 12 };
    const s = buildSummary({
      runId: 'r1', env: 'demo', engine: 'artillery', script: 's.yml', startedAtMs: 0, endedAtMs: 10_000, plan: resolveLoad({ users: 2, durationS: 10 }),
      stats: { total: e, endpoints: [], timeline: [], errors: { ECONNREFUSED: 9, ETIMEDOUT: 5, 'HTTP 503': 3, 'HTTP 500': 2, EPIPE: 1, ECONNRESET: 1 } },
      generators: [{ name: 'agent-1', startedAtMs: 0, rawFile: null }], interrupted: false, saturation: [], network: [], thresholds: [], merge: 'm',
    });
    const lines = summaryText(s, '/x').split('\n');
    const at = lines.indexOf('  top errors:');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 1, at + 6).map((l) => l.trim())).toEqual(['9 × ECONNREFUSED', '5 × ETIMEDOUT', '3 × HTTP 503', '2 × HTTP 500', '1 × ECONNRESET']);
    expect(summaryText(s, '/x')).not.toContain('EPIPE');
  });
});
