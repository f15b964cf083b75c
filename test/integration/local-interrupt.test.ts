/**
 * Ctrl-C during a first `up --target local`: a real SIGINT to the CLI's process group (as a terminal sends
 * it) while the hosts are being created. Everything made is removed and the record says `down`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadfleet } from '../harness/cli';
import { startJob } from '../harness/terminal';
import { leftoversOf, requireLocalTools } from '../harness/local-fleet';
import { workspace } from '../harness/workspace';
import { LocalHosts } from '../../scripts/adapters/local-hosts';

const PREFIX = 'li';
const NAME = 'lintr';
requireLocalTools();
const ws = workspace('lf-li-');
const env = { LOADFLEET_HOME: ws.home };
const envDir = path.join(ws.home, NAME);
const config = ws.writeConfig('fleet.yaml', { name: NAME, sshUser: 'root', local: { prefix: PREFIX, subnet: '10.231.81.0/24' }, tuning: { nofile: 16384 }, agents: { count: 8 }, monitoring: { enabled: false } });
const seenPids: number[] = [];
const hosts = new LocalHosts(path.join(envDir, 'local'));

afterAll(async () => {
  await hosts.destroy().catch(() => undefined);
  ws.remove();
  expect(await leftoversOf(PREFIX, seenPids)).toEqual([]);
});

describe('Ctrl-C during a first local up', () => {
  it('removes the hosts already made, and the record says down', async () => {
    const job = startJob(['up', '--target', 'local', '-c', config, '--yes', '--json'], env);
    await job.waitFor('the first host running', async () => {
      const p = await hosts.pids().catch(() => ({}));
      seenPids.push(...Object.values(p));
      return Object.keys(p).length > 0;
    });
    job.interrupt();
    const r = await job.done;
    expect(await leftoversOf(PREFIX, seenPids)).toEqual([]);
    expect(r.stderr).toMatch(/SIGINT: stopping between hosts, then removing the hosts, namespaces and bridge this up made/);
    expect(r.stderr).not.toMatch(/terraform/i);
    expect(r.exitCode).toBe(1);
    expect(fs.existsSync(path.join(envDir, 'outputs.json'))).toBe(false);
    const st = await loadfleet(['status', '--env', NAME, '--json'], env);
    expect(st.exitCode).toBe(0);
    expect((JSON.parse(st.stdout) as { status: string }).status).toBe('down');
  });
});
