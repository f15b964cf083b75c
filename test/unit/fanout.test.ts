import { describe, expect, it } from 'vitest';
import { fanout, hostsFailed, PermanentError, resultTable, worstExitCode, type SshSession } from '../../scripts/core/fanout';
import { exitCodeFor, ExternalError, UsageError } from '../../scripts/core/errors';
import { DEFAULT_TIMING } from '../../scripts/core/timing';
import { decideHostKey, fingerprint, formatKey, hostKeyChangedMessage, parseKnownHosts } from '../../scripts/core/known-hosts';
import { planLocal, sshdConfig } from '../../scripts/core/local-plan';
import { validateFleetConfig } from '../../stacks/config';
import { configInput } from '../harness/fixtures';

const timing = { ...DEFAULT_TIMING, connectAttempts: 4, connectBackoffMs: 1, connectBackoffMaxMs: 2 };
const session = (exec: SshSession['exec'] = async () => ({ code: 0, stdout: 'ok', stderr: '' })): SshSession => ({ exec, close: () => undefined });
const hosts = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `h${i}`, address: `10.0.0.${i}` }));

describe('fanout', () => {
  it('retries a host that is still booting, with backoff, and then succeeds', async () => {
    let tries = 0;
    const sleeps: number[] = [];
    const [r] = await fanout(hosts(1), async () => (++tries < 3 ? Promise.reject(new Error('ECONNREFUSED')) : session()), async (s) => (await s.exec('x')).stdout, {
      timing: { ...timing, connectBackoffMs: 100, connectBackoffMaxMs: 150 },
      sleep: async (ms) => void sleeps.push(ms),
    });
    expect(r).toMatchObject({ ok: true, value: 'ok', attempts: 3 });
    expect(sleeps).toEqual([100, 150]);
  });

  it('fails a host whose key is refused at once, without retrying, and finishes the others', async () => {
    let wrongTries = 0;
    const results = await fanout(
      hosts(3),
      async (h) => {
        if (h.name === 'h1') {
          wrongTries++;
          throw new PermanentError('login refused');
        }
        if (h.name === 'h2') throw new Error('EHOSTUNREACH');
        return session();
      },
      async () => 'done',
      { timing, sleep: async () => undefined },
    );
    expect(results.map((r) => [r.host, r.ok, r.error ?? r.value, r.attempts])).toEqual([
      ['h0', true, 'done', 1],
      ['h1', false, 'login refused', 1],
      ['h2', false, 'EHOSTUNREACH', 4],
    ]);
    expect(wrongTries).toBe(1);
    expect(resultTable(results, (v) => v)).toMatch(/h2\s+10\.0\.0\.2\s+FAILED\s+4\s+\S+\s+EHOSTUNREACH/);
  });

  it('keeps each failure\'s kind: a bug in the task is 70 and a usage error 2, never "a host said no"', async () => {
    const failing = async (task: (h: { name: string }) => Promise<string>) => fanout(hosts(4), async () => session(), async (_s, h) => task(h), { timing, sleep: async () => undefined });
    const results = await failing(async (h) => {
      if (h.name === 'h0') throw new TypeError("Cannot read properties of undefined (reading 'version')");
      if (h.name === 'h1') throw new UsageError('engine version 9.9 is not pinned');
      if (h.name === 'h2') throw new Error('Channel open failure'); // what ssh2 throws when the host drops us
      return 'done';
    });
    expect(results.map((r) => [r.host, r.ok, r.exitCode])).toEqual([['h0', false, 70], ['h1', false, 2], ['h2', false, 1], ['h3', true, undefined]]);
    expect(worstExitCode(results)).toBe(70);
    const bug = hostsFailed(results, '3 of 4 host(s) failed');
    expect(exitCodeFor(bug)).toBe(70);
    expect(bug.message).toMatch(/a bug on h0: Cannot read properties/);

    const usage = await failing(async (h) => {
      if (h.name === 'h0') throw new UsageError('engine version 9.9 is not pinned');
      throw new ExternalError('apt said no');
    });
    expect(worstExitCode(usage)).toBe(2);
    expect(exitCodeFor(hostsFailed(usage, '4 of 4 host(s) failed'))).toBe(2);

    const said = await failing(async (h) => {
      if (h.name === 'h0') throw new ExternalError('apt said no');
      return 'done';
    });
    const e = hostsFailed(said, '1 of 4 host(s) failed');
    expect(e).toBeInstanceOf(ExternalError);
    expect(exitCodeFor(e)).toBe(1);
    // Connect failures (refused, key refused, timed out) are the host saying no.
    const unreachable = await fanout(hosts(2), async (h) => { throw h.name === 'h0' ? new PermanentError('login refused') : new Error('ECONNREFUSED'); }, async () => 'x', { timing, sleep: async () => undefined });
    expect(unreachable.map((r) => r.exitCode)).toEqual([1, 1]);
  });

  it('never has more hosts in flight than the concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const progress: number[] = [];
    await fanout(hosts(20), async () => session(), async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((r) => setTimeout(r, 5));
      inFlight--;
    }, { concurrency: 4, timing, onProgress: (p) => progress.push(p.inFlight) });
    expect(peak).toBe(4);
    expect(Math.max(...progress)).toBe(4);
  });

  it('fails a step that runs past its timeout', async () => {
    const { withTimeout } = await import('../../scripts/core/fanout');
    await expect(withTimeout(new Promise(() => undefined), 10, 'remote command on h0')).rejects.toThrow('remote command on h0 timed out after 0 s');
  });
});

describe('known hosts', () => {
  const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 4]), Buffer.from('abcd')]);
  const key = formatKey(blob);

  it('formats a raw key blob as an OpenSSH public key', () => {
    expect(key).toBe(`ssh-ed25519 ${blob.toString('base64')}`);
    expect(fingerprint(key)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('pins on first contact, matches after, and refuses a changed key', () => {
    const known = parseKnownHosts(`# comment\n10.0.0.1 ${key}\n`);
    expect(decideHostKey(known, '10.0.0.2', key)).toEqual({ kind: 'new' });
    expect(decideHostKey(known, '10.0.0.1', key)).toEqual({ kind: 'match' });
    const other = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAUU03p86sVDxvZB9hmLfNn647teuXctp+2fcmHI9NW';
    expect(decideHostKey(known, '10.0.0.1', other)).toEqual({ kind: 'changed', expected: [key] });
    expect(hostKeyChangedMessage('10.0.0.1', other, [key], '/e/known_hosts')).toMatch(/CHANGED.*ssh-keygen -R 10\.0\.0\.1 -f \/e\/known_hosts/);
  });

  it('never advises removing a pinned key without saying how to tell a rebuilt host from an impostor (issue 22)', () => {
    const other = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFAUU03p86sVDxvZB9hmLfNn647teuXctp+2fcmHI9NW';
    const m = hostKeyChangedMessage('10.0.0.1', other, [key], '/e/known_hosts');
    // the check comes first, and names the fingerprint the removal is conditional on
    const check = m.indexOf('ssh-keygen -lf /e/local/<host>/etc-upper/ssh/loadfleet_host_ed25519_key.pub');
    const console = m.indexOf('aws ec2 get-console-output');
    const removal = m.indexOf(`Only when that fingerprint is ${fingerprint(other)}, remove the old key with: ssh-keygen -R`);
    expect(check).toBeGreaterThan(0);
    expect(console).toBeGreaterThan(0);
    expect(removal).toBeGreaterThan(check);
    expect(m).toMatch(/another fleet answering on this address/);
  });
});

describe('local plan', () => {
  it('gives each host an address, a namespace and interface names under 15 characters', () => {
    const plan = planLocal(validateFleetConfig(configInput({ agents: { count: 120 }, local: { subnet: '10.231.0.0/24', prefix: 'lfx' } })));
    expect(plan).toMatchObject({ bridge: 'lfxbr0', bridgeIp: '10.231.0.1', prefixLength: 24 });
    expect(plan.hosts[0]).toMatchObject({ name: 'controller', ip: '10.231.0.10', netns: 'lfx-demo-controller' });
    expect(plan.hosts.at(-1)).toMatchObject({ name: 'monitoring', ip: '10.231.0.131' });
    expect(Math.max(...plan.hosts.flatMap((h) => [h.rootIf.length, h.peerIf.length]))).toBeLessThanOrEqual(15);
  });

  it('lets only the login user in by key, and root only when root is the login user (as on Amazon Linux)', () => {
    const user = sshdConfig('10.231.0.10', 'ec2-user');
    expect(user).toMatch(/^PermitRootLogin no$/m);
    expect(user).toMatch(/^AllowUsers ec2-user$/m);
    expect(user).toMatch(/^PasswordAuthentication no$/m);
    expect(user).toMatch(/^UsePAM yes$/m);
    const root = sshdConfig('10.231.0.10', 'root');
    expect(root).toMatch(/^PermitRootLogin prohibit-password$/m);
    expect(root).toMatch(/^AllowUsers root$/m);
  });

  it('fails when the subnet has no room for the fleet', () => {
    expect(() => planLocal(validateFleetConfig(configInput({ agents: { count: 300 } })))).toThrow(/has room for 245 hosts.*larger subnet/);
  });
});
