/**
 * The local target expires too: a forgotten local fleet releases its namespaces, processes and mounts at
 * its expiry with nobody running a command (the timer `up` leaves behind). Real namespace hosts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { startMoto } from '../harness/moto';
import { loadfleet } from '../harness/cli';

const PREFIX = 'lx';
let fleet: LocalFleet | undefined;

afterAll(async () => {
  await fleet?.remove();
  delete process.env.LOADFLEET_LOCAL_EXPIRY_SECONDS;
});

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('local expiry', () => {
  it('removes a forgotten local fleet at its expiry without any command', async () => {
    // GIVEN a local fleet whose timer fires after 6 s (the test's stand-in for ttlHours)
    process.env.LOADFLEET_LOCAL_EXPIRY_SECONDS = '6';
    fleet = await localFleet('lexp', PREFIX, '10.231.93.0/24', { agents: { count: 1 }, targets: [], monitoring: { enabled: false } });
    const envDir = path.join(fleet.ws.home, 'lexp');
    const pids = Object.values(await fleet.pids());
    expect(pids.length).toBe(2);
    const timer = JSON.parse(fs.readFileSync(path.join(envDir, 'expiry.json'), 'utf8')) as { pid: number };
    expect(fs.readFileSync(`/proc/${timer.pid}/cmdline`, 'utf8')).toContain('loadfleet-expiry-timer');
    // WHEN nobody does anything THEN the fleet is gone and the record says so
    const record = () => JSON.parse(fs.readFileSync(path.join(envDir, 'env.json'), 'utf8')) as { status: string };
    await until('the expiry timer to take the fleet down', () => record().status === 'down');
    expect(await leftoversOf(PREFIX, pids)).toEqual([]);
    await until('the timer process to end', () => !fs.existsSync(`/proc/${timer.pid}`) || fs.readFileSync(`/proc/${timer.pid}/cmdline`, 'utf8') === '');
    expect(fs.existsSync(path.join(envDir, 'expiry.json'))).toBe(false);
    expect(fs.readFileSync(path.join(envDir, 'expiry.log'), 'utf8')).not.toMatch(/error/i);
  });

  it('stops the timer when the fleet is taken down by hand', async () => {
    process.env.LOADFLEET_LOCAL_EXPIRY_SECONDS = '3600';
    await fleet?.remove();
    fleet = await localFleet('lexp2', PREFIX, '10.231.94.0/24', { agents: { count: 1 }, targets: [], monitoring: { enabled: false } });
    const envDir = path.join(fleet.ws.home, 'lexp2');
    const timer = JSON.parse(fs.readFileSync(path.join(envDir, 'expiry.json'), 'utf8')) as { pid: number };
    const down = await fleet.cli(['down', '--env', 'lexp2', '--yes']);
    expect(down.stderr + down.exitCode).toMatch(/0$/);
    await until('the timer to be stopped', () => !fs.existsSync(`/proc/${timer.pid}`) || fs.readFileSync(`/proc/${timer.pid}/cmdline`, 'utf8') === '', 10_000);
    expect(fs.existsSync(path.join(envDir, 'expiry.json'))).toBe(false);
  });

  it('sweep --expired takes down an expired local env; a dry run and a sweep without --yes change nothing', async () => {
    // GIVEN a local fleet whose timer would not fire during the test, past its expiry
    process.env.LOADFLEET_LOCAL_EXPIRY_SECONDS = '3600';
    await fleet?.remove();
    fleet = await localFleet('lexp3', PREFIX, '10.231.95.0/24', { agents: { count: 1 }, targets: [], monitoring: { enabled: false } });
    const envDir = path.join(fleet.ws.home, 'lexp3');
    const pids = Object.values(await fleet.pids());
    const recordFile = path.join(envDir, 'env.json');
    const record = JSON.parse(fs.readFileSync(recordFile, 'utf8')) as { status: string; expiresAt: string };
    // Time passing, written into the record: the expiry is now in the past.
    fs.writeFileSync(recordFile, JSON.stringify({ ...record, expiresAt: new Date(Date.now() - 60_000).toISOString() }));
    const moto = await startMoto();
    try {
      const env = { ...moto.env, LOADFLEET_HOME: fleet.ws.home };
      // WHEN a dry run, then the sweep
      const dry = await loadfleet(['sweep', '--expired', '--dry-run', '--json'], env);
      expect(dry.stderr + dry.exitCode).toMatch(/0$/);
      expect(JSON.parse(dry.stdout).local).toEqual([{ env: 'lexp3', home: fleet.ws.home, expiresAt: expect.any(String), removed: false }]);
      expect(JSON.parse(fs.readFileSync(recordFile, 'utf8')).status).toBe('up');
      const noYes = await loadfleet(['sweep', '--expired'], env);
      expect(noYes.exitCode).toBe(2);
      const r = await loadfleet(['sweep', '--expired', '--yes', '--json'], env);
      // THEN the expired local env is down and nothing of it is left
      expect(r.stderr + r.exitCode).toMatch(/0$/);
      expect(JSON.parse(r.stdout).local).toEqual([{ env: 'lexp3', home: fleet.ws.home, expiresAt: expect.any(String), removed: true }]);
      expect(JSON.parse(fs.readFileSync(recordFile, 'utf8')).status).toBe('down');
      expect(await leftoversOf(PREFIX, pids)).toEqual([]);
    } finally {
      await moto.stop();
    }
  });
});
