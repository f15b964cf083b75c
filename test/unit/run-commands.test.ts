import { describe, expect, it } from 'vitest';
import { jmeterClientArgs, k6Commands, k6ReleaseRequest, segmentSequence, segments } from '../../scripts/run/commands';
import { resolveLoad } from '../../scripts/run/load';
import { k6RunFacts } from '../../scripts/engines/k6';
import { jmeterRunFacts } from '../../scripts/engines/jmeter';

/** Exact rational "a/b" | "0" | "1" → [num, den] as BigInt, the way k6 parses segment fractions. */
function rat(s: string): [bigint, bigint] {
  const [a, b] = s.split('/');
  return [BigInt(a!), BigInt(b ?? '1')];
}
const eq = (x: [bigint, bigint], y: [bigint, bigint]) => x[0] * y[1] === y[0] * x[1];
const lt = (x: [bigint, bigint], y: [bigint, bigint]) => x[0] * y[1] < y[0] * x[1];

describe('k6 execution segments', () => {
  it('cover 0..1 exactly, without gap or overlap, for 1 to 50 instances', () => {
    for (let n = 1; n <= 50; n++) {
      const segs = segments(n);
      expect(segs).toHaveLength(n);
      expect(eq(rat(segs[0]!.from), [0n, 1n])).toBe(true);
      expect(eq(rat(segs[n - 1]!.to), [1n, 1n])).toBe(true);
      let width: [bigint, bigint] = [0n, 1n];
      segs.forEach((s, i) => {
        expect(lt(rat(s.from), rat(s.to))).toBe(true); // non-empty
        if (i > 0) expect(s.from).toBe(segs[i - 1]!.to); // contiguous: no gap, no overlap
        const [a, b] = [rat(s.from), rat(s.to)];
        const w: [bigint, bigint] = [b[0] * a[1] - a[0] * b[1], a[1] * b[1]];
        width = [width[0] * w[1] + w[0] * width[1], width[1] * w[1]];
      });
      expect(eq(width, [1n, 1n])).toBe(true); // widths add up to exactly 1
      // The sequence lists exactly the segments' boundaries, in order, and is the same string for every instance.
      expect(segmentSequence(n).split(',')).toEqual([segs[0]!.from, ...segs.map((s) => s.to)]);
    }
  });

  it('writes fractions k6 accepts', () => {
    expect(segments(3).map((s) => `${s.from}:${s.to}`)).toEqual(['0:1/3', '1/3:2/3', '2/3:1']);
    expect(segmentSequence(1)).toBe('0,1');
    expect(segmentSequence(4)).toBe('0,1/4,2/4,3/4,1');
  });

  it('fails when n is not a whole number ≥ 1', () => {
    expect(() => segments(0)).toThrow(RangeError);
    expect(() => segments(2.5)).toThrow(RangeError);
  });
});

describe('k6 command lines', () => {
  const agents = [1, 2, 3].map((i) => ({ name: `agent-${i}`, privateIp: `10.0.0.${10 + i}` }));
  const cmds = k6Commands({ agents, plan: resolveLoad({ users: 30, durationS: 60, rate: 30 }), script: '/opt/loadfleet/run/script.js', runId: 'r1' });

  it('starts each instance paused, with its API on its private address, its segment and the same sequence', () => {
    cmds.forEach((c, i) => {
      const a = c.argv;
      // the REST API has no login: loopback only, every call is curl on the agent itself
      expect(a.slice(0, 5)).toEqual([k6RunFacts.bin, 'run', '--paused', '--address', '127.0.0.1:6565']);
      expect(a[a.indexOf('--execution-segment') + 1]).toBe(segments(3)[i]!.from + ':' + segments(3)[i]!.to);
      expect(a[a.indexOf('--execution-segment-sequence') + 1]).toBe('0,1/3,2/3,1');
      expect(a).toContain(`json=${k6RunFacts.results.agent.dir}/r1/out/points.json.gz`);
      expect(c.rawFile).toBe(`${k6RunFacts.results.agent.dir}/r1/out/points.json.gz`);
      expect(a.at(-1)).toBe('/opt/loadfleet/run/script.js');
    });
    // The whole fleet's load goes to every instance: k6 takes each one's share through the segment.
    expect(cmds[0]!.argv).toEqual(expect.arrayContaining(['--stage', '1s:30', '--stage', '59s:30']));
  });

  it('releases with PATCH /v1/status paused=false', () => {
    const r = k6ReleaseRequest(cmds[1]!.apiAddress);
    expect(r.method).toBe('PATCH');
    expect(r.url).toBe('http://127.0.0.1:6565/v1/status');
    expect(JSON.parse(r.body)).toEqual({ data: { type: 'status', id: 'default', attributes: { paused: false } } });
  });
});

describe('JMeter client command line', () => {
  it('is non-GUI, with the shared properties, the controller as RMI hostname, every server, properties with -G, -X, one JTL and the dashboard', () => {
    const a = jmeterClientArgs({ version: '5.6.3', plan: 'plan.jmx', controllerIp: '10.0.0.10', servers: ['10.0.0.11', '10.0.0.12'], props: { threads: '5', duration: '60' }, runDir: '/r' });
    expect(a).toEqual([
      jmeterRunFacts.bin('5.6.3'), '-n', '-t', 'plan.jmx', ...jmeterRunFacts.propertiesArgs, '-Djava.rmi.server.hostname=10.0.0.10',
      ...jmeterRunFacts.remoteHostsArg(['10.0.0.11', '10.0.0.12']), '-Gthreads=5', '-Gduration=60', '-X', '-l', '/r/res.jtl', '-e', '-o', '/r/dashboard',
    ]);
    expect(a[a.indexOf('-R') + 1]).toMatch(/^10\.0\.0\.11:\d+,10\.0\.0\.12:\d+$/);
  });
  it('fails without servers', () => {
    expect(() => jmeterClientArgs({ version: '5.6.3', plan: 'p', controllerIp: '1', servers: [], props: {}, runDir: 'r' })).toThrow(RangeError);
  });
});
