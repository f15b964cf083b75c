import { execaSync } from 'execa';
import { describe, expect, it } from 'vitest';
import {
  LOCUST_OWNER, locustApiScript, locustFirstRequestSuffix, locustOwnerFile, locustWatchdogScript, parseFirstRequest, parseLocustApiOutput, workerLogSinceScript,
} from '../../scripts/run/locust-control';

/** sh parses it, and shellcheck finds nothing (shellcheck: apt-get install shellcheck). */
const sh = (script: string) => {
  const r = execaSync('shellcheck', ['-s', 'sh', '-e', 'SC2016', '-'], { input: script, reject: false });
  if (r.exitCode !== 0) return r;
  return execaSync('sh', ['-n'], { input: script, reject: false });
};

describe("Locust's control path (pure sh and Python)", () => {
  it('calls the master on 127.0.0.1 only, with the form quoted and the owner refreshed without being created', () => {
    const s = locustApiScript(8089, '/swarm', { form: { user_count: '4', host: "http://x/'; rm -rf /" }, owner: '/run/loadfleet-locust/r1.owner' });
    expect(s).toContain("'http://127.0.0.1:8089/swarm'");
    expect(s).toContain("touch -c '/run/loadfleet-locust/r1.owner'");
    expect(s).toContain("--data-raw 'user_count=4&host=http%3A%2F%2Fx%2F%27%3B+rm+-rf+%2F'");
    expect(sh(s).exitCode).toBe(0);
    expect(parseLocustApiOutput('{"a":1}\n--loadfleet-http-status 200')).toEqual({ body: '{"a":1}', status: 200 });
    expect(parseLocustApiOutput('curl: (7) refused')).toEqual({ body: 'curl: (7) refused', status: null });
  });

  it('starts a detached watchdog bounded by staleness and by duration + grace, that stops the master on 127.0.0.1', () => {
    const s = locustWatchdogScript({ runId: 'r1', webPort: 8089, durationS: 60 });
    expect(sh(s).exitCode).toBe(0);
    expect(s).toContain(`touch '${locustOwnerFile('r1')}'`);
    expect(s).toContain('setsid nohup sh -c');
    expect(s).toContain(`-gt ${LOCUST_OWNER.staleS} ]`);
    expect(s).toContain(`d=$(( $(date +%s) + ${60 + LOCUST_OWNER.graceS} ))`);
    expect(s).toContain('http://127.0.0.1:8089/stop');
    expect(locustOwnerFile('a/../b')).toBe('/run/loadfleet-locust/a_.._b.owner');
  });

  it("finds this run's earliest first request among a generator's workers; other runs' marks do not count", () => {
    const log = 'x\nloadfleet-first-request run=old at_ms=100\nloadfleet-first-request run=r1 at_ms=2500\n[..] loadfleet-first-request run=r1 at_ms=2000\n';
    expect(parseFirstRequest(log, 'r1')).toBe(2000);
    expect(parseFirstRequest(log, 'r2')).toBeNull();
  });

  it('appends a hook that Python can compile after any locustfile, printing the mark with the run id', () => {
    const src = `from locust import HttpUser, task\nclass W(HttpUser):\n    @task\n    def t(self):\n        pass${locustFirstRequestSuffix('r1')}`;
    const r = execaSync('python3', ['-c', 'import ast,sys; ast.parse(sys.stdin.read())'], { input: src, reject: false });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(src).toContain('"loadfleet-first-request run=r1 at_ms=%d\\n"');
  });

  it("pulls only what each worker log got since the marks (the whole file when it shrank or is new); EC2 reads the journal since the second", () => {
    const s = workerLogSinceScript('netns', '/var/log/loadfleet/locust-worker@1.log 1234\n/var/log/loadfleet/locust-worker@2.log 99\njunk; rm -rf /\n');
    expect(sh(s).exitCode).toBe(0);
    expect(s).toContain("'/var/log/loadfleet/locust-worker@1.log') s=1234 ;;");
    expect(s).toContain('tail -c +$((s + 1)) "$f"');
    // The marks are taken before the restart: the old process's last lines are cut at the restarted worker's start.
    expect(s).toContain("grep -n 'Starting Locust' | tail -n 1");
    expect(s).not.toContain('rm -rf');
    const e = workerLogSinceScript('ec2', 'since 1700000000');
    expect(e).toContain("journalctl -u 'locust-worker@*' --since @1700000000");
    expect(sh(e).exitCode).toBe(0);
  });
});

describe('locust --list before a run (issue 20.6)', () => {
  it('imports the user\'s locustfile as the services\' own user on EC2, never as root', async () => {
    const { locustListScript } = await import('../../scripts/drivers/locust');
    const ec2 = locustListScript('ec2');
    expect(ec2).toMatch(/timeout 60 setpriv --reuid=loadfleet --regid=loadfleet --init-groups "\$\(grep [^\n]*\)" -f \S+ --list/);
    // The local target's services run as root (README: local hosts are not a security boundary): the same there.
    expect(locustListScript('netns')).not.toContain('setpriv');
  });

  it('the import check on EC2: as the services\' user, on the pushed copy in a private folder it owns, never in the live folder', async () => {
    const { locustImportScript } = await import('../../scripts/drivers/locust');
    const ec2 = locustImportScript('ec2', 'from locust import HttpUser\n', 'Locust is not installed');
    expect(ec2).toContain('setpriv --reuid=loadfleet');
    expect(ec2).toContain('-f "$d/locustfile.py"');
    expect(ec2).toContain('chown loadfleet "$d"');
    expect(ec2).not.toContain('cd /etc/loadfleet/locust');
    const local = locustImportScript('netns', 'x', 'missing');
    expect(local).not.toContain('setpriv');
    expect(local).not.toContain('chown');
  });

  it('an import check killed by timeout (124) or a missing command (127/126) is the host\'s failure (exit 1), not the script\'s (exit 2)', async () => {
    const { importCheckError } = await import('../../scripts/drivers/locust');
    const timedOut = importCheckError(124, '', 'my.py', 'controller');
    expect(timedOut.exitCode).toBe(1);
    expect(timedOut.message).toContain('did not finish within 60 s (timeout, exit 124)');
    const gone = importCheckError(127, 'sh: 1: : not found\n', 'my.py', 'controller');
    expect(gone.exitCode).toBe(1);
    expect(gone.message).toMatch(/exit 127: a command was not found — the Locust venv named in \/etc\/systemd\/system\/\S+\.service, or setpriv/);
    expect(gone.message).toContain('sh: 1: : not found');
    expect(importCheckError(126, 'x', 'my.py', 'c').exitCode).toBe(1);
    // Python's traceback from Locust itself: the user's script, exit 2, naming their file and line.
    const tb = 'Traceback (most recent call last):\n  File "@LOCUSTFILE@", line 3, in <module>\n    import nope\nModuleNotFoundError: No module named \'nope\'\n';
    const bad = importCheckError(1, tb, 'my.py', 'controller');
    expect(bad.exitCode).toBe(2);
    expect(bad.message).toContain('File "my.py", line 3');
    expect(bad.message).toContain("ModuleNotFoundError: No module named 'nope'");
  });
});
