import { describe, expect, it } from 'vitest';
import { doctorFailureKind, hostRows, parseProbeOutput, reachEndpoints, type Row } from '../../scripts/core/doctor';

const want = { version: '2.12.1', services: [{ name: 'locust-worker@1', nofile: 16384 }] };

describe('doctorFailureKind: which exit code a doctor failure gives `run`', () => {
  it('GIVEN a host with no engine and no service WHEN classified THEN usage (run loadfleet install first), even beside other failing rows', () => {
    const rows: Row[] = [
      ...hostRows('agent-1', parseProbeOutput('cores 1\ndisk 9999999'), want),
      { host: 'controller', check: 'master sees workers', ok: false, detail: "the master's web API on port 8089 does not answer", engineCheck: true },
    ];
    expect(rows.filter((r) => r.notInstalled).map((r) => r.check)).toEqual(['engine version', 'service locust-worker@1']);
    expect(doctorFailureKind(rows)).toBe('usage');
    // An agent of a fleet never installed cannot reach the master's port either: that row follows too.
    const agent = hostRows('agent-2', parseProbeOutput('cores 1\ndisk 9999999\ncheck reach master|FAIL|cannot connect to 10.0.0.10:5557'), want);
    expect(agent.find((r) => r.check === 'reach master')).toMatchObject({ ok: false, engineCheck: true });
    expect(doctorFailureKind([...rows, ...agent])).toBe('usage');
  });
  it('another version installed is usage too (the fix is loadfleet install)', () => {
    expect(doctorFailureKind(hostRows('a', parseProbeOutput('version 2.11.0\ncores 1\ndisk 9999999\nservice locust-worker@1 pid=5 nofile=16384/16384'), want))).toBe('usage');
  });
  it('GIVEN an installed host whose worker is down, or a host unreachable WHEN classified THEN external (exit 1)', () => {
    const down = hostRows('agent-2', parseProbeOutput('version 2.12.1\ncores 1\ndisk 9999999\nservice locust-worker@1 down not running'), want);
    expect(down.find((r) => r.check === 'service locust-worker@1')).toMatchObject({ ok: false, detail: expect.stringContaining('not running') });
    expect(down.some((r) => r.notInstalled)).toBe(false);
    expect(doctorFailureKind(down)).toBe('external');
    expect(doctorFailureKind([{ host: 'agent-3', check: 'reachable over SSH', ok: false, detail: 'connect ECONNREFUSED' }])).toBe('external');
  });
  it('GIVEN a not-installed row AND another host unreachable WHEN classified THEN external (exit 1): install alone would not fix it', () => {
    const rows: Row[] = [
      ...hostRows('agent-1', parseProbeOutput('cores 1\ndisk 9999999'), want),
      { host: 'agent-2', check: 'reachable over SSH', ok: false, detail: 'connect ECONNREFUSED' },
    ];
    expect(doctorFailureKind(rows)).toBe('external');
    // …and a worker down on an installed host beside a not-installed one: external too.
    const down = hostRows('agent-2', parseProbeOutput('version 2.12.1\ncores 1\ndisk 9999999\nservice locust-worker@1 down not running'), want);
    expect(doctorFailureKind([...hostRows('agent-1', parseProbeOutput('cores 1\ndisk 9999999'), want), ...down])).toBe('external');
  });
  it('an engine check failing with no not-installed row is external', () => {
    expect(doctorFailureKind([{ host: 'controller', check: 'master sees workers', ok: false, detail: '1 of 2 workers', engineCheck: true }])).toBe('external');
  });
  it('a passing row marked not installed does not count', () => {
    expect(doctorFailureKind([{ host: 'a', check: 'x', ok: true, detail: '', notInstalled: true }, { host: 'b', check: 'y', ok: false, detail: 'down' }])).toBe('external');
  });
});

describe('nothingInstalled: doctor\'s first words on a fleet never installed (issue 22)', () => {
  it('GIVEN no engine on any host AND a target nobody serves yet WHEN checked THEN nothing is installed is the diagnosis, said first', async () => {
    const { nothingInstalled, notInstalledHeadline } = await import('../../scripts/core/doctor');
    const rows: Row[] = [
      ...hostRows('controller', parseProbeOutput('cores 1\ndisk 9999999'), want),
      ...hostRows('agent-1', parseProbeOutput('cores 1\ndisk 9999999\ncheck reach app-1:8080|FAIL|cannot connect to 10.231.0.13:8080'), want),
    ];
    expect(doctorFailureKind(rows)).toBe('external'); // install alone would not make the target answer…
    expect(nothingInstalled(rows)).toBe(true); // …but install comes first
    expect(notInstalledHeadline(rows)).toBe('nothing is installed yet on controller, agent-1: run "loadfleet install" first');
    // one host installed: not "nothing installed"
    const mixed = [...rows, ...hostRows('agent-2', parseProbeOutput('version 2.12.1\ncores 1\ndisk 9999999\nservice locust-worker@1 pid=5 nofile=16384/16384'), want)];
    expect(nothingInstalled(mixed)).toBe(false);
  });
});

describe('reachEndpoints: what an agent must reach before a run', () => {
  const outputs = {
    master: { address: '10.0.0.10', port: 60001 },
    hosts: [
      { role: 'controller', name: 'controller', group: 'controller', instanceId: 'i-1', publicIp: '', privateIp: '10.0.0.10' },
      { role: 'target', name: 'app-1', group: 'app', instanceId: 'i-2', publicIp: '', privateIp: '10.0.0.20' },
    ],
  } as unknown as Parameters<typeof reachEndpoints>[1];
  const targets = [{ name: 'app', ports: [80] }] as unknown as Parameters<typeof reachEndpoints>[0]['targets'];

  it('JMeter: no "reach master" (the client callback port listens only during a run: probing it failed every JMeter doctor and so every JMeter run)', () => {
    const got = reachEndpoints({ engine: 'jmeter', targets }, outputs, { role: 'agent' });
    expect(got.map((e) => e.label)).toEqual(['reach app-1:80']);
  });

  it('Locust and nGrinder: the master port, then each target port; nothing for a non-agent', () => {
    for (const engine of ['locust', 'ngrinder'] as const) {
      const got = reachEndpoints({ engine, targets }, outputs, { role: 'agent' });
      expect(got).toEqual([{ label: 'reach master', address: '10.0.0.10', port: 60001 }, { label: 'reach app-1:80', address: '10.0.0.20', port: 80 }]);
    }
    expect(reachEndpoints({ engine: 'locust', targets }, outputs, { role: 'controller' })).toEqual([]);
  });
});
