import { describe, expect, it } from 'vitest';
import {
  artilleryPhases, formatDuration, jmeterProps, k6LoadArgs, locustSchedule, ngrinderLoad, parseDuration, parseStages, resolveLoad, splitEvenly,
} from '../../scripts/run/load';
import { UsageError } from '../../scripts/core/errors';

describe('parseDuration', () => {
  it.each([
    ['10s', 10], ['5m', 300], ['1h', 3600], ['1m30s', 90], ['250ms', 0.25], ['1.5s', 1.5], ['2h5m3s', 7503],
  ])('%s → %d s', (v, s) => expect(parseDuration('--duration', v)).toBe(s));

  it.each(['10', 'abc', '', '5x', '0s', '1m 30s', '-5s', 's'])('fails when the value is %j, naming it and the form', (v) => {
    expect(() => parseDuration('--duration', v)).toThrow(UsageError);
    expect(() => parseDuration('--duration', v)).toThrow(`--duration (${v}) must be a duration like 10s, 5m, 1h or 1m30s`);
  });

  it('formats back to the shortest engine form', () => {
    expect([90, 3600, 60, 5, 3725, 0.25].map(formatDuration)).toEqual(['1m30s', '1h', '1m', '5s', '1h2m5s', '250ms']);
  });
});

describe('parseStages', () => {
  it('reads durations as text or seconds', () => {
    expect(parseStages('inline', '[{"duration":"30s","target":10},{"duration":60,"target":50},{"duration":"1m","target":0}]')).toEqual([
      { durationS: 30, target: 10 }, { durationS: 60, target: 50 }, { durationS: 60, target: 0 },
    ]);
  });
  it.each([
    ['not json', 'is not JSON'],
    ['{}', 'is not a non-empty list'],
    ['[]', 'is not a non-empty list'],
    ['[{"duration":"30x","target":1}]', '--stages item 0 duration (30x) must be a duration'],
    ['[{"duration":"30s","target":-1}]', 'item 0 target (-1) is not a whole number'],
    ['[{"duration":"30s","target":1.5}]', 'item 0 target (1.5) is not a whole number'],
    ['[{"duration":"30s"}]', 'item 0 target (undefined)'],
    ['[{"duration":"30s","target":1,"vus":3}]', 'unknown field(s) vus'],
    ['[5]', 'item 0 is not an object'],
  ])('fails when stages are %s', (text, msg) => {
    expect(() => parseStages('s.json', text)).toThrow(UsageError);
    expect(() => parseStages('s.json', text)).toThrow(msg);
  });
});

describe('resolveLoad', () => {
  it('defaults to 10 users for 60 s, all started within a second', () => {
    expect(resolveLoad({})).toEqual({ users: 10, rate: 10, durationS: 60, staged: false, stages: [{ durationS: 1, target: 10 }, { durationS: 59, target: 10 }] });
  });
  it('ramps at --rate then holds', () => {
    const p = resolveLoad({ users: 100, rate: 10, durationS: 60 });
    expect(p.stages).toEqual([{ durationS: 10, target: 100 }, { durationS: 50, target: 100 }]);
  });
  it('cuts the ramp at the duration', () => {
    expect(resolveLoad({ users: 100, rate: 1, durationS: 10 }).stages).toEqual([{ durationS: 10, target: 100 }]);
  });
  it('takes users and duration from the stages', () => {
    const p = resolveLoad({ stages: [{ durationS: 10, target: 5 }, { durationS: 20, target: 20 }, { durationS: 5, target: 0 }] });
    expect(p).toMatchObject({ users: 20, durationS: 35, staged: true });
  });
  it('fails when --stages is combined with --users or --duration', () => {
    expect(() => resolveLoad({ users: 5, stages: [{ durationS: 1, target: 1 }] })).toThrow('--stages sets users and duration itself');
  });
  it('fails when stages never leave 0 users', () => {
    expect(() => resolveLoad({ stages: [{ durationS: 1, target: 0 }] })).toThrow(UsageError);
  });
});

describe('engine mappings', () => {
  it('splitEvenly adds up exactly', () => {
    for (let n = 1; n <= 20; n++) for (const t of [0, 1, 7, 100, 101]) {
      const s = splitEvenly(t, n);
      expect(s.reduce((a, b) => a + b, 0)).toBe(t);
      expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
    }
  });
  it('Locust: one swarm without stages, one per stage with the rate that reaches the target by its end', () => {
    expect(locustSchedule(resolveLoad({ users: 50, rate: 5, durationS: 30 }))).toEqual([{ atS: 0, userCount: 50, spawnRate: 5 }]);
    const p = resolveLoad({ stages: [{ durationS: 10, target: 20 }, { durationS: 30, target: 20 }, { durationS: 5, target: 0 }] });
    expect(locustSchedule(p)).toEqual([
      { atS: 0, userCount: 20, spawnRate: 2 }, { atS: 10, userCount: 20, spawnRate: 20 }, { atS: 40, userCount: 0, spawnRate: 4 },
    ]);
  });
  it('Artillery: every generator gets its share of the arrival rate and the VU cap', () => {
    const ph = artilleryPhases(resolveLoad({ users: 10, rate: 7, durationS: 20 }), 3);
    expect(ph.map((g) => g![0]!.arrivalRate)).toEqual([3, 2, 2]);
    expect(ph.map((g) => g![0]!.maxVusers)).toEqual([4, 3, 3]);
    expect(ph.every((g) => g![0]!.duration === 20)).toBe(true);
    const st = artilleryPhases(resolveLoad({ stages: [{ durationS: 10, target: 6 }, { durationS: 10, target: 6 }] }), 2);
    expect(st[0]).toEqual([{ name: 'stage 1', duration: 10, arrivalRate: 0, rampTo: 3 }, { name: 'stage 2', duration: 10, arrivalRate: 3 }]);
  });
  it('Artillery: a fractional --rate is split as whole arrival counts that add up to floor(rate × duration), never more', () => {
    // GIVEN --rate 4.5 for 10 s on 3 agents (45 arrivals asked; whole rates of 2+2+1 would send 50)
    const ph = artilleryPhases(resolveLoad({ users: 30, rate: 4.5, durationS: 10 }), 3);
    // THEN every agent gets a share of the 45 arrivals as arrivalCount, no fractional arrivalRate
    expect(ph.map((g) => g![0]!.arrivalCount)).toEqual([15, 15, 15]);
    expect(ph.every((g) => g![0]!.arrivalRate === undefined && g![0]!.duration === 10)).toBe(true);
    // 4.5/s for 3 s asks 13.5: 13 are sent, never 14
    expect(artilleryPhases(resolveLoad({ users: 3, rate: 4.5, durationS: 3 }), 3).reduce((a, g) => a + (g?.[0]?.arrivalCount ?? 0), 0)).toBe(13);
  });
  it('Artillery: a generator whose share is 0 is left out (null), not started with rate 0', () => {
    // GIVEN --rate 2 on 3 agents: whole shares 1, 1, 0
    const ph = artilleryPhases(resolveLoad({ users: 10, rate: 2, durationS: 5 }), 3);
    expect(ph.map((g) => g?.[0]?.arrivalRate ?? null)).toEqual([1, 1, null]);
    // the VU cap is split over the two that send
    expect(ph.map((g) => g?.[0]?.maxVusers ?? null)).toEqual([5, 5, null]);
    // 1.5/s for 2 s on 3 agents: 3 arrivals, one each; 0.5/s for 4 s: 2 arrivals, the third agent left out
    expect(artilleryPhases(resolveLoad({ users: 3, rate: 0.5, durationS: 4 }), 3).map((g) => g?.[0]?.arrivalCount ?? null)).toEqual([1, 1, null]);
    // stages whose every share is 0 on an agent leave it out too
    const st = artilleryPhases(resolveLoad({ stages: [{ durationS: 5, target: 1 }, { durationS: 5, target: 1 }] }), 2);
    expect(st[1]).toBeNull();
    expect(st[0]![1]!.arrivalRate).toBe(1);
  });
  it('fails when splitEvenly is handed a fraction (its shares could not add up)', () => {
    expect(() => splitEvenly(4.5, 3)).toThrow('whole number');
  });
  it('k6: --vus/--duration when constant, --stage per stage otherwise', () => {
    expect(k6LoadArgs(resolveLoad({ users: 20, durationS: 90, rate: 1000 }))).toEqual(['--stage', '20ms:20', '--stage', '89980ms:20']);
    expect(k6LoadArgs({ ...resolveLoad({ users: 20, durationS: 90 }), stages: [{ durationS: 90, target: 20 }] })).toEqual(['--vus', '20', '--duration', '1m30s']);
    expect(k6LoadArgs(resolveLoad({ stages: [{ durationS: 30, target: 10 }, { durationS: 60, target: 0 }] }))).toEqual(['--stage', '30s:10', '--stage', '1m:0']);
  });
  it('JMeter: threads per server (rounded up) and an Ultimate Thread Group schedule for stages', () => {
    expect(jmeterProps(resolveLoad({ users: 10, rate: 2, durationS: 60 }), 3)).toEqual({ threads: '4', rampup: '5', duration: '60' });
    const p = jmeterProps(resolveLoad({ stages: [{ durationS: 10, target: 4 }, { durationS: 10, target: 8 }] }), 2);
    expect(p.threads_schedule).toBe('spawn(2,0s,10s,10s,0s) spawn(2,10s,10s,1s,0s)');
    expect(() => jmeterProps(resolveLoad({ stages: [{ durationS: 10, target: 4 }, { durationS: 10, target: 1 }] }), 2)).toThrow(UsageError);
  });
  it('nGrinder: users per agent, ramp steps from the rate; stages refused', () => {
    expect(ngrinderLoad(resolveLoad({ users: 30, rate: 3, durationS: 120 }), 3)).toMatchObject({
      agentCount: 3, vuserPerAgent: 10, threads: 10, duration: 120_000, useRampUp: true, rampUpStep: 1, rampUpIncrementInterval: 1000,
    });
    expect(() => ngrinderLoad(resolveLoad({ stages: [{ durationS: 1, target: 1 }] }), 1)).toThrow('nGrinder has no stages');
  });
});

describe('Artillery: never more concurrent users than asked (review of issue 15.5)', () => {
  it('fails when --users is less than the agents that send, naming both and the fix', () => {
    expect(() => artilleryPhases(resolveLoad({ users: 1, rate: 3, durationS: 10 }), 3)).toThrow(/--users \(1\) is less than the agents that send load \(3\)/);
    const ok = artilleryPhases(resolveLoad({ users: 3, rate: 3, durationS: 10 }), 3);
    expect(ok.map((p) => p?.[0]?.maxVusers)).toEqual([1, 1, 1]);
  });
});
