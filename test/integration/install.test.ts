/**
 * install + doctor with Locust on real namespace hosts (controller, 3 agents, a target): Debian's
 * python3-locust with loadfleet's fix, the supervise loop, real workers connected to a real master.
 * Traffic goes only to these hosts' addresses.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leftoversOf, localFleet, type LocalFleet } from '../harness/local-fleet';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { controlScript, shQuote } from '../../scripts/core/supervise';
import { installAction } from '../../scripts/actions/install';
import { connectSsh } from '../../scripts/adapters/ssh';
import { asRootCommand } from '../../scripts/core/privilege';

const PREFIX = 'li';
const SUBNET = '10.231.81.0/24';
const MASTER = '10.231.81.10';
const AGENTS = ['agent-1', 'agent-2', 'agent-3'];
let fleet: LocalFleet;

const base = { agents: { count: 3 }, targets: [{ name: 'app', ports: [8080] }], monitoring: { enabled: false } };

/** Polls until `check` returns a value (not undefined), or gives up with the last state. No timing is asserted. */
async function until<T>(what: string, check: () => Promise<T | undefined>, tries = 60): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`gave up waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** A command as root on a host, whatever the login user (root, or a user with passwordless sudo). */
const root = (cmd: string) => (fleet.outputs().sshUser === 'root' ? cmd : `sudo -n sh -c ${shQuote(cmd)}`);

/** Workers ESTABLISHED to the master's port, seen from the agent's own network namespace. */
async function connectedWorkers(agent: string): Promise<number> {
  const r = await fleet.ssh(agent, `ss -tnH state established '( dport = :5557 )' | grep -c ' ${MASTER}:5557' || true`);
  return Number(r.stdout.trim());
}

async function cores(agent: string): Promise<number> {
  return Number((await fleet.ssh(agent, 'nproc')).stdout.trim());
}

async function allConnected(): Promise<void> {
  await until('every worker connected', async () => {
    for (const a of AGENTS) if ((await connectedWorkers(a)) < (await cores(a))) return undefined;
    return true;
  });
}

/** doctor until it is green (workers reconnect a few seconds after a restart). */
async function doctorGreen() {
  return until('doctor green', async () => {
    const d = await fleet.cli(['doctor', '-c', fleet.config, '--verbose']);
    return d.exitCode === 0 ? d : undefined;
  }, 30);
}

beforeAll(async () => {
  fleet = await localFleet('itest', PREFIX, SUBNET, base);
  expect((await fleet.cli(['tune', '-c', fleet.config])).exitCode).toBe(0);
  // Something for the agents to reach on the target's port.
  await fleet.ssh('app-1', 'cd /; setsid nohup /usr/bin/python3 -m http.server 8080 >/dev/null 2>&1 </dev/null &');
});

afterAll(async () => {
  const pids = fleet ? Object.values(await fleet.pids()) : [];
  await fleet?.remove();
  expect(await leftoversOf(PREFIX, pids)).toEqual([]);
});

describe('install and doctor with Locust on the local target', () => {
  it('fails with exit 2 before touching a host for a version with no pinned checksum', async () => {
    const bad = fleet.ws.writeConfig('bad-version.yaml', { name: 'itest', local: { prefix: PREFIX, subnet: SUBNET }, tuning: { nofile: 16384 }, ...base, engineVersion: '2.99.0' });
    const r = await fleet.cli(['install', '-c', bad]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('engineVersion ("2.99.0") has no pinned checksum for locust on the local target: known 2.12.1');
    expect((await fleet.ssh('agent-1', 'test -e /etc/loadfleet/locust && echo yes || echo no')).stdout.trim()).toBe('no');
  });

  it('fails with exit 2 before touching a host for an engine the local target cannot run', async () => {
    for (const engine of ['k6', 'ngrinder', 'jmeter'] as const) {
      const cfg = fleet.ws.writeConfig(`${engine}.yaml`, { name: 'itest', local: { prefix: PREFIX, subnet: SUBNET }, tuning: { nofile: 16384 }, ...base, engine });
      for (const verb of ['install', 'doctor']) {
        const r = await fleet.cli([verb, '-c', cfg]);
        expect(r.exitCode).toBe(2);
        expect(r.stderr).toContain(`engine (${engine}) cannot run on the local target`);
      }
    }
    expect((await fleet.ssh('controller', 'test -e /etc/loadfleet/locust && echo yes || echo no')).stdout.trim()).toBe('no');
  });

  it('fails with exit 2 naming the command to run first when the env is not up', async () => {
    const other = fleet.ws.writeConfig('not-up.yaml', { name: 'notup', local: { prefix: 'ln', subnet: '10.231.82.0/24' } });
    for (const verb of ['install', 'doctor']) {
      const r = await fleet.cli([verb, '-c', other]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain('env "notup" has no outputs');
      expect(r.stderr).toContain('run "loadfleet up" first');
    }
  });

  it('installs the master and one worker per core on each agent, all connected, supervised, with the tuned nofile', async () => {
    const r = await fleet.cli(['install', '-c', fleet.config]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/locust 2\.12\.1: 4 changed, 0 unchanged \(of 4 hosts\)/);
    await allConnected();
    for (const a of AGENTS) {
      // A brand-new SSH session: the workers outlived the install's sessions.
      const pids = (await fleet.ssh(a, "pgrep -f 'locust.*--worker'")).stdout.trim().split('\n');
      expect(pids).toHaveLength(await cores(a));
      for (const pid of pids) {
        expect((await fleet.ssh(a, `awk '/^Max open files/ {print $4, $5}' /proc/${pid}/limits`)).stdout.trim()).toBe('16384 16384');
        // Its supervisor hangs off the host's PID 1 (sshd), not off any SSH session.
        const sup = (await fleet.ssh(a, `ps -o ppid= -p ${pid}`)).stdout.trim();
        expect((await fleet.ssh(a, `ps -o ppid=,args= -p ${sup}`)).stdout.trim()).toMatch(/^1 \/bin\/sh \/etc\/loadfleet\/sv\/\.supervise locust-worker@\d$/);
      }
    }
    const master = await fleet.ssh('controller', "pgrep -f 'locust.*--master( |$)' | head -1 | xargs -I{} awk '/^Max open files/ {print $4, $5}' /proc/{}/limits");
    expect(master.stdout.trim()).toBe('16384 16384');
    expect((await fleet.ssh('agent-1', 'cat /etc/loadfleet/locust/locustfile.py')).stdout).toContain('class Idle(User)');
  });

  it('doctor is green: versions, services and limits, master sees every worker, targets reachable, clocks, disk', async () => {
    const d = await doctorGreen();
    for (const a of AGENTS) {
      expect(d.stdout).toMatch(new RegExp(`${a}\\s+reach master\\s+ok\\s+${MASTER}:5557`));
      expect(d.stdout).toMatch(new RegExp(`${a}\\s+reach app-1:8080\\s+ok`));
      expect(d.stdout).toMatch(new RegExp(`${a}\\s+service locust-worker@1\\s+ok\\s+pid \\d+, nofile 16384/16384`));
      expect(d.stdout).toMatch(new RegExp(`${a}\\s+clock\\s+ok`));
    }
    expect(d.stdout).toMatch(/controller\s+master sees workers\s+ok\s+\d+ workers connected from 3 agents/);
    expect(d.stdout).toMatch(/controller\s+engine version\s+ok\s+2\.12\.1/);
    // Without --verbose a green doctor is its one-line summary, whatever the fleet size (issue 19).
    const brief = await fleet.cli(['doctor', '-c', fleet.config]);
    expect(brief.exitCode).toBe(0);
    expect(brief.stdout.split('\n').filter((l) => /\s{2}ok\s{2}/.test(l))).toEqual([]); // no table row of a passing check
    expect(brief.stdout).toMatch(/^(\d+)\/\1 checks ok on 4 hosts \(--verbose or --json lists every check\)$/m);
  });

  it('tune --verify-only finds the running workers and shows the tuned nofile', async () => {
    const v = await fleet.cli(['tune', '-c', fleet.config, '--verify-only', '--hosts', 'agent', '--verbose']);
    expect(v.exitCode).toBe(0);
    expect(v.stdout).toMatch(/agent-1\s+agent pid \d+ nofile\s+16384\/16384\s+16384\/16384\s+ok/);
  });

  it('changes nothing on a second install', async () => {
    const before = (await fleet.ssh('agent-2', "pgrep -f 'locus[t].*--worker' | sort")).stdout;
    const r = await fleet.cli(['install', '-c', fleet.config]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('locust 2.12.1: 0 changed, 4 unchanged (of 4 hosts)');
    expect((await fleet.ssh('agent-2', "pgrep -f 'locus[t].*--worker' | sort")).stdout).toBe(before);
  });

  it('install --render writes, byte for byte and in order, the scripts install sends to each host (recorded on the wire)', async () => {
    // install itself, in this process, with its SSH connections wrapped: every command and stdin it sends, per host.
    const outputs = fleet.outputs();
    const sent: Record<string, { command: string; stdin: string }[]> = {};
    const connect: typeof connectSsh = async (address, o) => {
      const s = await connectSsh(address, o);
      const name = outputs.hosts.find((h) => (h.publicIp || h.privateIp) === address)!.name;
      return {
        exec: async (command, eo) => {
          (sent[name] ??= []).push({ command, stdin: eo?.stdin ?? '' });
          return s.exec(command, eo);
        },
        close: () => s.close(),
      };
    };
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write; // install's table: not this test's output
    try {
      await installAction({ config: fleet.config, home: fleet.ws.home, json: true }, { connect });
    } finally {
      process.stdout.write = write;
    }
    // Render with the core count install probed (every namespace host shares the machine's CPUs).
    const probed = Number((await fleet.ssh('agent-1', 'nproc')).stdout.trim());
    const out = path.join(fleet.ws.dir, 'render');
    const r = await fleet.cli(['install', '-c', fleet.config, '--render', out, '--render-cores', String(probed)]);
    expect(r.exitCode, r.stderr).toBe(0);
    const index = fs.readFileSync(path.join(out, 'README.md'), 'utf8');
    expect(index).toContain("Addresses: from the env's outputs.json");
    expect(Object.keys(sent).sort()).toEqual(['agent-1', 'agent-2', 'agent-3', 'controller']);
    for (const [host, calls] of Object.entries(sent)) {
      const files = fs.readdirSync(path.join(out, host)).filter((f) => f.endsWith('.sh')).sort();
      expect(files, host).toEqual(['00-probe.sh', '01-install-locust.sh', '02-services.sh']);
      expect(calls.map((c) => c.command), host).toEqual(calls.map(() => asRootCommand(outputs.sshUser)));
      expect(files.map((f) => fs.readFileSync(path.join(out, host, f), 'utf8')), host).toEqual(calls.map((c) => c.stdin));
      // The workers rendered are the ones running: one per probed core on each agent.
      if (host.startsWith('agent')) expect(fs.readFileSync(path.join(out, host, '02-services.sh'), 'utf8')).toContain(`locust-worker@${probed}`);
      // The readable copy of a file the scripts write is the file install put on the host.
      const runFile = host === 'controller' ? 'locust-master' : `locust-worker@${probed}`;
      const copy = fs.readFileSync(path.join(out, host, `files/etc/loadfleet/sv/${runFile}/run`), 'utf8');
      // (by sha256: the harness's ssh output loses a final newline)
      expect((await fleet.sshRoot(host, `sha256sum /etc/loadfleet/sv/${runFile}/run`)).stdout.split(' ')[0]).toBe(createHash('sha256').update(copy).digest('hex'));
    }
    expect(index).toMatch(new RegExp(`\\| agent-1 \\| agent \\| ${outputs.hosts.find((h) => h.name === 'agent-1')!.privateIp.replace(/\./g, '\\.')} \\|`));
  });

  it('restarts a killed worker (the supervisor)', async () => {
    const old = (await fleet.ssh('agent-2', 'cat /run/loadfleet/sv/locust-worker@1/pid')).stdout.trim();
    expect((await fleet.ssh('agent-2', root(`kill -9 ${old}`))).exitCode).toBe(0);
    const now = await until('a new worker pid', async () => {
      const p = (await fleet.ssh('agent-2', 'cat /run/loadfleet/sv/locust-worker@1/pid')).stdout.trim();
      return p && p !== old && (await fleet.ssh('agent-2', `test -d /proc/${p}`)).exitCode === 0 ? p : undefined;
    });
    expect((await fleet.ssh('agent-2', `tr '\\0' ' ' < /proc/${now}/cmdline`)).stdout).toContain(`--worker --master-host ${MASTER} --master-port 5557`);
    expect((await fleet.ssh('agent-2', 'cat /run/loadfleet/sv/locust-worker@1/restarts')).stdout.trim()).toBe('1');
    await allConnected();
  });

  it('fails doctor naming the host and the check when a worker is stopped for good; install repairs only that host', async () => {
    const stop = await fleet.ssh('agent-3', root(controlScript('stop', ['locust-worker@1'], 'netns')));
    expect(stop.exitCode).toBe(0);
    const d = await fleet.cli(['doctor', '-c', fleet.config]);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(/agent-3\s+service locust-worker@1\s+FAIL\s+not running/);
    expect(d.stdout).toMatch(/controller\s+master sees workers\s+FAIL\s+agent-3 has \d of \d workers connected/);
    expect(d.stderr).toMatch(/failed on .*agent-3: /);
    const r = await fleet.cli(['install', '-c', fleet.config]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('locust 2.12.1: 1 changed, 3 unchanged (of 4 hosts)');
    expect(r.stdout).toMatch(/agent-3\s+\S+\s+changed\s+\S+\s+started locust-worker@1/);
    await doctorGreen();
  });

  it('fails doctor on the agent that cannot reach the master port', async () => {
    expect((await fleet.ssh('agent-1', root(`ip route add blackhole ${MASTER}/32`))).exitCode).toBe(0);
    try {
      const d = await fleet.cli(['doctor', '-c', fleet.config]);
      expect(d.exitCode).toBe(1);
      expect(d.stdout).toMatch(new RegExp(`agent-1\\s+reach master\\s+FAIL\\s+cannot connect to ${MASTER}:5557`));
      // only what fails is listed (issue 19): agent-2's passing reach is in the summary's count
      expect(d.stdout).not.toMatch(/agent-2\s+reach master/);
      expect(d.stdout).toMatch(/^\d+\/\d+ checks ok on 4 hosts \(passing checks not listed: --verbose or --json lists every check\)$/m);
    } finally {
      await fleet.ssh('agent-1', root(`ip route del blackhole ${MASTER}/32`));
    }
  });

  it('fails the row of an unreachable host and finishes the others', async () => {
    // agent-3 drops off the network (its link goes down a moment after this session returns).
    const r = await fleet.ssh('agent-3', root('cd /; setsid nohup sh -c "sleep 1; ip link set eth0 down" >/dev/null 2>&1 </dev/null &'));
    expect(r.exitCode).toBe(0);
    await new Promise((res) => setTimeout(res, 2000));
    const d = await fleet.cli(['doctor', '-c', fleet.config, '--verbose']);
    expect(d.exitCode).toBe(1);
    expect(d.stdout).toMatch(/agent-3\s+reachable over SSH\s+FAIL/);
    expect(d.stdout).toMatch(/agent-2\s+reach master\s+ok/);
  });
});
