/**
 * Two commands on one env at once: the second refuses with a clear message and writes nothing; a lock
 * left by a dead process is taken over. Real CLI, real terraform on moto.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { BIN, loadfleet } from '../harness/cli';
import { useMotoEnv } from '../harness/moto-env';

const ctx = useMotoEnv();

async function until(what: string, check: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('env lock', () => {
  it('refuses down and tune while up runs, then lets them run; state is written by up alone', async () => {
    const config = ctx.ws.writeConfig('busy.yaml', { name: 'busy', agents: { count: 1 }, monitoring: { enabled: false } });
    const lock = path.join(ctx.ws.home, 'busy', 'lock');
    // GIVEN an up in progress
    const up = execa(process.execPath, [BIN, 'up', '-c', config, '--yes', '--json'], { env: { ...process.env, ...ctx.env }, reject: false, stdin: 'ignore' });
    await until('up to take the lock', () => fs.existsSync(lock));
    const holder = JSON.parse(fs.readFileSync(lock, 'utf8')) as { pid: number; command: string };
    expect(holder).toMatchObject({ pid: up.pid, command: 'up' });
    // WHEN down and tune start meanwhile
    const [down, tune] = await Promise.all([loadfleet(['down', '--env', 'busy', '--yes'], ctx.env), loadfleet(['tune', '-c', config, '--json'], ctx.env)]);
    const stillRunning = up.exitCode === undefined || up.exitCode === null;
    // THEN both refuse, naming the holder, while up is still running
    expect(stillRunning).toBe(true);
    expect(down.exitCode).toBe(2);
    expect(down.stderr).toContain(`env "busy" is busy: "loadfleet up" (pid ${up.pid})`);
    expect(tune.exitCode).toBe(2);
    expect(tune.stderr).toMatch(/is busy: "loadfleet up"/);
    const r = await up;
    expect(r.stderr + r.exitCode).toMatch(/0$/);
    expect(fs.existsSync(lock)).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(ctx.ws.home, 'busy', 'env.json'), 'utf8'))).toMatchObject({ status: 'up' });

    // WHEN a lock is left by a process that no longer runs THEN the next command takes it over
    const dead = await execa(process.execPath, ['-e', 'console.log(process.pid)']);
    fs.writeFileSync(lock, JSON.stringify({ pid: Number(dead.stdout), command: 'tune', since: new Date().toISOString() }));
    const down2 = await loadfleet(['down', '--env', 'busy', '--yes'], ctx.env);
    expect(down2.stderr + down2.exitCode).toMatch(/0$/);
    expect(fs.existsSync(lock)).toBe(false);
  });
});
