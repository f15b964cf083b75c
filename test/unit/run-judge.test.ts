import { describe, expect, it } from 'vitest';
import { describeBroken, evaluate, parseThreshold } from '../../scripts/run/thresholds';
import { judgeHost, networkCheck, networkFlags, parseEthtoolStats, parseNetCounters, parseSamples, samplerScript, type CpuSample } from '../../scripts/run/saturation';
import { UsageError } from '../../scripts/core/errors';
import type { EndpointStats } from '../../scripts/run/merge';

const st = (name: string, o: Partial<EndpointStats> = {}): EndpointStats => ({
  name, requests: 1000, failures: 5, rps: 250, min: 1, mean: 20, p50: 15, p90: 40, p95: 480, p99: 900, max: 1200, ...o,
});
const stats = { total: st('Total'), endpoints: [st('GET /api', { p95: 320 }), st('POST /login', { failures: 50 })] };

describe('thresholds', () => {
  it.each([
    ['p95<500ms', { metric: 'p95', op: '<', value: 500 }],
    ['p99 <= 1.5s', { metric: 'p99', op: '<=', value: 1500 }],
    ['errors<1%', { metric: 'errors', op: '<', value: 1 }],
    ['rps>200', { metric: 'rps', op: '>', value: 200 }],
    ['rps>=200/s', { metric: 'rps', op: '>=', value: 200 }],
    ['requests>=1000', { metric: 'requests', op: '>=', value: 1000 }],
    ['GET /api: p95<300ms', { endpoint: 'GET /api', metric: 'p95', op: '<', value: 300 }],
    ['GET http://t:80/x?a=1: mean<5ms', { endpoint: 'GET http://t:80/x?a=1', metric: 'mean', op: '<', value: 5 }],
  ])('parses %s', (expr, want) => expect(parseThreshold(expr)).toMatchObject(want));

  it.each([
    ['p95<500', 'needs a unit for p95'],
    ['p95<500%', 'has unit %, but p95 is a latency'],
    ['errors<1', 'needs % for errors'],
    ['errors<150%', 'more than 100 %'],
    ['rps>200ms', 'has unit ms, but rps is a count per second'],
    ['p100<5ms', 'asks for percentile 100'],
    ['pp95<5ms', 'is not a threshold'],
    ['p95=5ms', 'is not a threshold'],
    ['', 'is not a threshold'],
  ])('fails when the threshold is %j, naming it and the form', (expr, why) => {
    expect(() => parseThreshold(expr)).toThrow(UsageError);
    expect(() => parseThreshold(expr)).toThrow(why);
    expect(() => parseThreshold(expr)).toThrow("e.g. 'p95<500ms', 'p99.9<1s', 'errors<1%', 'rps>200'");
  });

  it('judges the total or the named endpoint, with the measured value', () => {
    const r = evaluate(['p95<500ms', 'p95<1ms', 'errors<1%', 'rps>200', 'GET /api: p95<300ms', 'POST /login: errors<1%', 'GET /nope: p95<1s'].map(parseThreshold), stats);
    expect(r.map((x) => [x.expr, x.ok, x.measured, x.endpoint])).toEqual([
      ['p95<500ms', true, 480, 'Total'],
      ['p95<1ms', false, 480, 'Total'],
      ['errors<1%', true, 0.5, 'Total'],
      ['rps>200', true, 250, 'Total'],
      ['GET /api: p95<300ms', false, 320, 'GET /api'],
      ['POST /login: errors<1%', false, 5, 'POST /login'],
      ['GET /nope: p95<1s', false, null, 'GET /nope'],
    ]);
    expect(describeBroken(r[1]!)).toBe("threshold 'p95<1ms' broken: Total p95 was 480ms");
    expect(describeBroken(r[6]!)).toBe('threshold \'GET /nope: p95<1s\' broken: endpoint "GET /nope" was never requested');
  });

  it('breaks latency and error thresholds when the run made no requests (Locust N/A read as 0)', () => {
    const none = st('Total', { requests: 0, failures: 0, rps: 0, min: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 });
    const r = evaluate(['p95<500ms', 'errors<1%', 'mean<=1s', 'requests>=0', 'rps>=0', 'GET /idle: p99<1s'].map(parseThreshold),
      { total: none, endpoints: [st('GET /idle', { requests: 0, failures: 0, p99: 0 })] });
    expect(r.map((x) => [x.ok, x.measured, x.missing])).toEqual([
      [false, null, 'no requests'],
      [false, null, 'no requests'],
      [false, null, 'no requests'],
      [true, 0, undefined],
      [true, 0, undefined],
      [false, null, 'no requests'],
    ]);
    expect(describeBroken(r[0]!)).toBe("threshold 'p95<500ms' broken: Total p95 was not measured (no requests)");
    expect(describeBroken(r[1]!)).toBe("threshold 'errors<1%' broken: Total errors was not measured (no requests)");
  });
});

describe('generator saturation', () => {
  const samples = (pcts: number[], machine: number | null = 10): CpuSample[] =>
    pcts.map((p, i) => ({ atMs: 1000 * i, machinePct: machine, topThreadPct: p, topThread: 'locust', runQueue: 1, tcpSockets: 20 }));

  it('flags a host above 85 % for more than 10 s, naming it and the busiest process', () => {
    const h = judgeHost('agent-2', 'agent', samples([10, ...Array(12).fill(99), 20]), false);
    expect(h).toMatchObject({ host: 'agent-2', bound: true, secondsAbove: 12, maxCpuPct: 99, busiestThread: 'locust' });
    expect(h.reason).toContain('CPU above 85 % for 12 s');
  });
  it('does not flag 10 s or less, nor interrupted stretches', () => {
    expect(judgeHost('a', 'agent', samples(Array(10).fill(99)), false).bound).toBe(false);
    expect(judgeHost('a', 'agent', samples([...Array(8).fill(99), 50, ...Array(8).fill(99)]), false).bound).toBe(false);
    expect(judgeHost('a', 'agent', samples(Array(20).fill(85)), false).bound).toBe(false); // "above" 85, not at
  });
  it('says unknown (never "not bound") when the samples do not cover release → stop: a sampler that died after 3 of 25 s, one that started late, a gap', () => {
    const run = { fromMs: 0, toMs: 25_000 };
    const died = judgeHost('agent-1', 'agent', samples([10, 10, 10]), false, run);
    expect(died.bound).toBeNull();
    expect(died.reason).toBe("saturation unknown: the CPU samples stop at 2 s of the run (the sampler died or stopped answering): 3 samples over the run's 25 s (about 25 expected)");
    const late = samples(Array(26).fill(10)).map((x) => ({ ...x, atMs: x.atMs + 4000 }));
    expect(judgeHost('a', 'agent', late, false, { fromMs: 0, toMs: 29_000 }).reason).toMatch(/^saturation unknown: the CPU samples start 4 s after the release/);
    const gap = samples(Array(26).fill(10)).filter((x) => x.atMs < 8000 || x.atMs > 14_000);
    expect(judgeHost('a', 'agent', gap, false, run).reason).toMatch(/^saturation unknown: no CPU sample for 8 s from 7 s/);
    expect(judgeHost('a', 'agent', [], false, run).bound).toBeNull();
    // Covered (a sample a second, from before the release to the stop): judged as before.
    expect(judgeHost('a', 'agent', samples(Array(26).fill(10)), false, run)).toMatchObject({ bound: false });
    expect(judgeHost('a', 'agent', samples(Array(26).fill(10)), false, run).reason).toBeUndefined();
    // A stretch above the limit seen before the sampler died is still bound: that much was measured.
    expect(judgeHost('a', 'agent', samples([10, ...Array(12).fill(99)]), false, run).bound).toBe(true);
  });
  it('counts the machine’s CPU only where the host is the machine (EC2)', () => {
    const busyMachine = samples(Array(15).fill(5), 95);
    expect(judgeHost('a', 'agent', busyMachine, true).bound).toBe(true);
    expect(judgeHost('a', 'agent', busyMachine, false).bound).toBe(false);
  });

  it('parses the sampler’s lines into machine share, busiest process, run queue and sockets', () => {
    const out = parseSamples('1000 100 1000 2 30 12.5 sshd\n2000 190 1100 3 31 97.2 locust\n3000 200 1200 0 12 1.0 sh\n3000 2');
    expect(out).toEqual([
      { atMs: 1000, machinePct: null, topThreadPct: 12.5, topThread: 'sshd', runQueue: 2, tcpSockets: 30 },
      { atMs: 2000, machinePct: 90, topThreadPct: 97.2, topThread: 'locust', runQueue: 3, tcpSockets: 31 },
      { atMs: 3000, machinePct: 10, topThreadPct: 1, topThread: 'sh', runQueue: 0, tcpSockets: 12 },
    ]);
  });
  it('the sampler is one awk program reading only /proc', () => {
    const s = samplerScript(2);
    expect(s.startsWith('exec awk')).toBe(true);
    expect(s).toContain('/proc/stat');
    expect(s).toContain('/proc/loadavg');
    expect(s).toContain('system("sleep " iv)');
    expect(s).toContain('-v iv=2');
  });
});

// `ethtool -S eth0` on an ENA instance (counter names from the ENA driver's documentation) and on a veth.
const ENA_BEFORE = `NIC statistics:
     tx_timeout: 0
     suspend: 0
     bw_in_allowance_exceeded: 0
     bw_out_allowance_exceeded: 12
     pps_allowance_exceeded: 0
     conntrack_allowance_exceeded: 0
     linklocal_allowance_exceeded: 0
     queue_0_tx_cnt: 3411
`;
const ENA_AFTER = ENA_BEFORE.replace('bw_out_allowance_exceeded: 12', 'bw_out_allowance_exceeded: 40').replace('pps_allowance_exceeded: 0', 'pps_allowance_exceeded: 7');
const VETH = 'NIC statistics:\n     peer_ifindex: 7\n     rx_queue_0_xdp_packets: 0\n';

describe('ENA network allowances', () => {
  it('reads the five allowance counters and nothing else', () => {
    expect(parseEthtoolStats(ENA_BEFORE)).toEqual({
      bw_in_allowance_exceeded: 0, bw_out_allowance_exceeded: 12, pps_allowance_exceeded: 0, conntrack_allowance_exceeded: 0, linklocal_allowance_exceeded: 0,
    });
  });
  it('flags every counter that grew, naming host and counter', () => {
    expect(networkFlags('agent-1', ENA_BEFORE, ENA_AFTER)).toEqual([
      { host: 'agent-1', counter: 'bw_out_allowance_exceeded', increase: 28 },
      { host: 'agent-1', counter: 'pps_allowance_exceeded', increase: 7 },
    ]);
    expect(networkFlags('agent-1', ENA_BEFORE, ENA_BEFORE)).toEqual([]);
  });
  it('skips counters a driver does not have (veth here, or an older ENA without linklocal)', () => {
    expect(networkFlags('a', VETH, VETH)).toEqual([]);
    expect(networkFlags('a', ENA_BEFORE.replace(/.*linklocal.*\n/, ''), ENA_AFTER)).toEqual(networkFlags('a', ENA_BEFORE, ENA_AFTER));
  });
});

// Issue 16.10: the counters of the default-route interface (netCountersScript prints `iface NAME` or `gap WHY`).
describe('ENA counters of the default-route interface', () => {
  it('reads the interface the script found, and flags a counter that grew', () => {
    expect(parseNetCounters(`iface ens5\n${ENA_BEFORE}`)).toEqual({ iface: 'ens5', stats: `\n${ENA_BEFORE}` });
    expect(networkCheck('agent-1', `iface ens5\n${ENA_BEFORE}`, `iface ens5\n${ENA_AFTER}`, true)).toEqual({
      flags: [{ host: 'agent-1', counter: 'bw_out_allowance_exceeded', increase: 28 }, { host: 'agent-1', counter: 'pps_allowance_exceeded', increase: 7 }],
    });
  });

  it('reports a gap on EC2, not silence, when the counters cannot be read or the interface has none', () => {
    expect(networkCheck('agent-1', 'gap no default route (/proc/net/route has none), so no interface to read', `iface ens5\n${ENA_AFTER}`, true))
      .toEqual({ flags: [], gap: 'ENA allowance counters unknown: no default route (/proc/net/route has none), so no interface to read' });
    expect(networkCheck('agent-1', `iface ens5\n${ENA_BEFORE}`, 'gap ethtool -S ens5 failed: Cannot get stats strings information: Operation not supported', true).gap)
      .toBe('ENA allowance counters unknown: ethtool -S ens5 failed: Cannot get stats strings information: Operation not supported');
    expect(networkCheck('agent-1', `iface ens5\n${VETH}`, `iface ens5\n${VETH}`, true))
      .toEqual({ flags: [], gap: 'ENA allowance counters unknown: ens5 has none (not the ena driver?)' });
  });

  it('reports no gap where ENA counters are not expected (namespace hosts: a veth, often no default route)', () => {
    expect(networkCheck('agent-1', 'gap no default route (/proc/net/route has none), so no interface to read', `iface eth0\n${VETH}`, false)).toEqual({ flags: [] });
  });
});
