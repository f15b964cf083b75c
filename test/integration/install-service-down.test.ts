/**
 * install does not report success while a service is down: on real namespace hosts, a Locust whose
 * locustfile fails to load exits right after start; install exits 1 naming the host and the service.
 * With the locustfile fixed, install starts it again and exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { shQuote } from '../../scripts/core/supervise';
import { LOCUST } from '../../scripts/engines/locust';

const PREFIX = 'ld';
let fleet: LocalFleet;

const root = (cmd: string) => (fleet.outputs().sshUser === 'root' ? cmd : `sudo -n sh -c ${shQuote(cmd)}`);

beforeAll(async () => {
  fleet = await localFleet('downtest', PREFIX, '10.231.93.0/24', { agents: { count: 1 }, targets: [], monitoring: { enabled: false } });
});

afterAll(async () => {
  const pids = fleet ? Object.values(await fleet.pids()) : [];
  await fleet?.remove();
  expect(await leftoversOf(PREFIX, pids)).toEqual([]);
});

describe('install with a service that cannot start', () => {
  it('exits 1 naming the host and the service, then recovers once the cause is gone', async () => {
    // A locustfile that raises on import: the process exits at once (install keeps an existing locustfile).
    const w = await fleet.ssh('agent-1', root(`mkdir -p $(dirname ${LOCUST.locustfile}) && printf 'raise SystemExit("broken on purpose")\\n' > ${LOCUST.locustfile}`));
    expect(w.exitCode, w.stderr).toBe(0);
    const bad = await fleet.cli(['install', '-c', fleet.config]);
    expect(bad.exitCode, bad.stdout + bad.stderr).toBe(1);
    const out = bad.stdout + bad.stderr;
    // The host's row names the service and carries the process's own last words.
    expect(out).toMatch(/agent-1 .*FAILED.*step start locust-worker@1 failed: locust-worker@1 exited .*broken on purpose/);
    expect(out).toMatch(/controller .*changed/);

    const fix = await fleet.ssh('agent-1', root(`rm -f ${LOCUST.locustfile}`));
    expect(fix.exitCode, fix.stderr).toBe(0);
    const good = await fleet.cli(['install', '-c', fleet.config]);
    expect(good.exitCode, good.stdout + good.stderr).toBe(0);
  });
});
